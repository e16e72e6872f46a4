"""The backends the tests run on, each real and started by the test script: memory, the Docker
Engine (``nubes-test/busybox``), a local directory, qemu-img, and a live Nubes server
(``cloudctl serve``, its binary in ``NUBES_TEST_CLOUDCTL``)."""

import json
import os
import subprocess
import tempfile
import urllib.request
import uuid
from typing import Dict, Iterator, Tuple

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


@pytest.fixture(scope="session")
def server() -> Iterator[Tuple[str, str]]:
    """A Nubes server on memory compute and local storage, and an API token of a user on it."""
    cloudctl = os.environ.get("NUBES_TEST_CLOUDCTL")
    if not cloudctl:
        pytest.fail("NUBES_TEST_CLOUDCTL is not set: run through scripts/test.sh, which builds cloudctl")
    data = tempfile.mkdtemp(prefix="nubes-py-server-")
    proc = subprocess.Popen(
        [cloudctl, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
         "--compute", "memory://?images=busybox", "--disk", "none"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    url = ""
    for line in proc.stdout:
        if line.startswith("listening on "):
            url = line.split()[-1].strip()
            break
    assert url, "cloudctl serve printed no address"
    creds = {"email": f"{unique('py')}@example.com", "password": "correct horse battery"}
    post(f"{url}/v1/auth/register", creds)
    access = post(f"{url}/v1/auth/login", creds)["access_token"]
    token = post(f"{url}/v1/auth/tokens", {"name": "py"}, access)["token"]
    yield url, token
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def memory() -> nubes.Cloud:
    return nubes.Cloud.connect("memory://?images=busybox")


@pytest.fixture
def docker() -> nubes.Cloud:
    return nubes.Cloud.connect("docker://")


@pytest.fixture
def local(tmp_path: "os.PathLike[str]") -> nubes.Cloud:
    return nubes.Cloud.connect(f"local://{tmp_path}")


@pytest.fixture
def qemu(tmp_path: "os.PathLike[str]") -> nubes.Cloud:
    return nubes.Cloud.connect(f"qemu://?pool={tmp_path}")


def aws_uri() -> str:
    endpoint = os.environ.get("NUBES_TEST_AWS_ENDPOINT")
    if not endpoint:
        pytest.fail("NUBES_TEST_AWS_ENDPOINT is not set: run through scripts/test.sh, which starts moto")
    return f"aws://us-east-1?endpoint={endpoint}"


@pytest.fixture
def aws() -> nubes.Cloud:
    """S3, EC2 and Lambda on the moto server the test script starts."""
    return nubes.Cloud.connect(aws_uri())


@pytest.fixture
def remote(server: Tuple[str, str]) -> nubes.Cloud:
    url, token = server
    return nubes.Cloud.connect(url, token)
