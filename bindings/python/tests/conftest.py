"""The backends the tests run on, each real and started by the test script: memory, the Docker
Engine (``nubes-test/busybox``), a local directory, qemu-img, and a live Nubes server
(``cloudctl serve``, its binary in ``NUBES_TEST_CLOUDCTL``)."""

import json
import os
import subprocess
import tempfile
import time
import urllib.request
import uuid
from typing import Dict, Iterator, Optional, Tuple

import pytest

import nubes

IMAGE = os.environ.get("NUBES_TEST_IMAGE", "nubes-test/busybox:latest")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def post(url: str, body: Dict[str, str], token: str = "") -> Dict[str, str]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req) as r:
        answer: Dict[str, str] = json.load(r)
        return answer


def account(url: str) -> Tuple[str, str]:
    """A new user on the server at ``url``: their access token and an API token."""
    creds = {"email": f"{unique('py')}@example.com", "password": "correct horse battery"}
    post(f"{url}/v1/auth/register", creds)
    access = post(f"{url}/v1/auth/login", creds)["access_token"]
    return access, post(f"{url}/v1/auth/tokens", {"name": "py"}, access)["token"]


@pytest.fixture(scope="session")
def server() -> Iterator[Tuple[str, str]]:
    """A Nubes server on memory compute and disks, local storage and Docker functions, and an
    API token of a user on it."""
    cloudctl = os.environ.get("NUBES_TEST_CLOUDCTL")
    if not cloudctl:
        pytest.fail("NUBES_TEST_CLOUDCTL is not set: run through scripts/test.sh, which builds cloudctl")
    data = tempfile.mkdtemp(prefix="nubes-py-server-")
    proc = subprocess.Popen(
        [cloudctl, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
         "--compute", "memory://?images=busybox", "--disk", "memory://",
         "--function", "docker://"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    url = ""
    for line in proc.stdout:
        if line.startswith("listening on "):
            url = line.split()[-1].strip()
            break
    assert url, "cloudctl serve printed no address"
    yield url, account(url)[1]
    proc.terminate()
    proc.wait(timeout=10)


# Each backend as a target, (uri, token), that the sync fixtures below and the asyncio tests
# (`nubes.AsyncCloud.connect(*target)`) both connect to.
Target = Tuple[str, Optional[str]]


@pytest.fixture
def memory_target() -> Target:
    return "memory://?images=busybox", None


@pytest.fixture
def docker_target() -> Target:
    return "docker://", None


@pytest.fixture
def local_target(tmp_path: "os.PathLike[str]") -> Target:
    return f"local://{tmp_path}", None


@pytest.fixture
def qemu_target(tmp_path: "os.PathLike[str]") -> Target:
    return f"qemu://?pool={tmp_path}", None


def aws_uri() -> str:
    endpoint = os.environ.get("NUBES_TEST_AWS_ENDPOINT")
    if not endpoint:
        pytest.fail("NUBES_TEST_AWS_ENDPOINT is not set: run through scripts/test.sh, which starts moto")
    return f"aws://us-east-1?endpoint={endpoint}"


def boto3(service: str, code: str) -> str:
    """Runs ``code`` with boto3 (moto's venv has it) and ``client`` a ``service`` client on
    moto; its stdout, stripped."""
    python = os.environ.get("NUBES_TEST_AWS_PYTHON")
    if not python:
        pytest.fail("NUBES_TEST_AWS_PYTHON is not set: run through scripts/test.sh, which starts moto")
    prelude = ("import boto3\nclient = boto3.client("
               f"{service!r}, endpoint_url={os.environ['NUBES_TEST_AWS_ENDPOINT']!r}, region_name='us-east-1')\n")
    return subprocess.run([python, "-c", prelude + code], check=True, capture_output=True,
                          text=True).stdout.strip()


def aws_ami() -> str:
    """An AMI moto serves."""
    return boto3("ec2", "print(client.describe_images(Owners=['amazon'])['Images'][0]['ImageId'])")


@pytest.fixture
def aws_target() -> Target:
    """S3, EC2 and Lambda on the moto server the test script starts; functions run as an IAM
    role made in moto."""
    role = boto3("iam", """
try:
    print(client.create_role(RoleName='nubes-py', AssumeRolePolicyDocument='{}')['Role']['Arn'])
except client.exceptions.EntityAlreadyExistsException:
    print(client.get_role(RoleName='nubes-py')['Role']['Arn'])
""")
    return f"{aws_uri()}&role={role}", None


@pytest.fixture
def remote_target(server: Tuple[str, str]) -> Target:
    return server


@pytest.fixture
def kubernetes_target() -> Iterator[Target]:
    """Pods in a namespace of their own on the cluster the test script starts (its nodes have
    the test image and no registry: pods never pull)."""
    kubeconfig = os.environ.get("NUBES_TEST_K8S_KUBECONFIG")
    if not kubeconfig:
        pytest.fail("NUBES_TEST_K8S_KUBECONFIG is not set: run through scripts/test.sh, which starts the cluster")
    ns = unique("nt-py")
    kubectl = ["kubectl", "--kubeconfig", kubeconfig]
    subprocess.run(kubectl + ["create", "namespace", ns], check=True, capture_output=True)
    try:
        subprocess.run(kubectl + ["label", "namespace", ns, "nubes-test=true"], check=True,
                       capture_output=True)
        # Pods need the namespace's default service account, which a controller makes a moment later.
        for _ in range(100):
            if subprocess.run(kubectl + ["-n", ns, "get", "serviceaccount", "default"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        yield f"kubernetes://?kubeconfig={kubeconfig}&namespace={ns}&pull=never", None
    finally:
        subprocess.run(kubectl + ["delete", "namespace", ns, "--wait=false"], capture_output=True)


@pytest.fixture
def memory(memory_target: Target) -> nubes.Cloud:
    return nubes.Cloud.connect(*memory_target)


@pytest.fixture
def docker(docker_target: Target) -> nubes.Cloud:
    return nubes.Cloud.connect(*docker_target)


@pytest.fixture
def local(local_target: Target) -> nubes.Cloud:
    return nubes.Cloud.connect(*local_target)


@pytest.fixture
def qemu(qemu_target: Target) -> nubes.Cloud:
    return nubes.Cloud.connect(*qemu_target)


@pytest.fixture
def aws(aws_target: Target) -> nubes.Cloud:
    return nubes.Cloud.connect(*aws_target)


@pytest.fixture
def remote(remote_target: Target) -> nubes.Cloud:
    return nubes.Cloud.connect(*remote_target)


@pytest.fixture
def kubernetes(kubernetes_target: Target) -> nubes.Cloud:
    return nubes.Cloud.connect(*kubernetes_target)


async def connect_async(backend: str, request: pytest.FixtureRequest) -> nubes.AsyncCloud:
    """The asyncio connection to `backend`'s target."""
    target: Target = request.getfixturevalue(f"{backend}_target")
    return await nubes.AsyncCloud.connect(*target)
