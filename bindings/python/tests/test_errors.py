"""Every error raised as its class from a real backend's answer, never built by hand here, and
the idiomatic built-in bases."""

import os
import subprocess
import tempfile
import threading
import time
from typing import Iterator, Tuple

import pytest

import nubes
from conftest import IMAGE, account, post, unique


def test_the_table_names_a_class_for_every_kind() -> None:
    table = nubes.error_classes()
    assert len(table) == 13
    for kind, name in table.items():
        cls = getattr(nubes, name)
        assert issubclass(cls, nubes.Error), kind
    assert issubclass(nubes.NotFound, LookupError)
    assert issubclass(nubes.Timeout, TimeoutError)
    assert issubclass(nubes.InvalidInput, ValueError)


def test_memory_errors(memory: nubes.Cloud) -> None:
    c = memory.compute
    with pytest.raises(LookupError) as missing:
        c.get("nope")
    assert isinstance(missing.value, nubes.NotFound)
    assert missing.value.kind == "not_found" and missing.value.temporary is False
    with pytest.raises(ValueError) as bad:
        c.create("Bad Name!", "busybox")
    assert isinstance(bad.value, nubes.InvalidInput) and bad.value.kind == "invalid_input"
    c.create("twice", "busybox")
    with pytest.raises(nubes.AlreadyExists):
        c.create("twice", "busybox")
    with pytest.raises(nubes.InvalidInput):
        c.create("sized", "busybox", memory="lots")


def test_docker_errors(docker: nubes.Cloud) -> None:
    with pytest.raises(nubes.Unsupported):
        docker.disk
    c = docker.compute
    made = c.create(unique("pye"), IMAGE, cpus=0.1, memory="32Mi", command=["sleep", "600"])
    try:
        with pytest.raises(nubes.Conflict) as running:
            c.delete(made.id)
        assert (running.value.kind, running.value.provider) == ("conflict", "docker")
        with pytest.raises(TimeoutError) as slow:
            c.exec(made.id, ["sleep", "30"], timeout=0.5)
        assert isinstance(slow.value, nubes.Timeout)
    finally:
        c.delete(made.id, force=True)


def test_server_errors(server: Tuple[str, str]) -> None:
    url, _ = server
    with pytest.raises(nubes.Unauthenticated):
        nubes.Cloud.connect(url, "not-a-token").compute.list()
    with pytest.raises(nubes.Unavailable) as down:
        nubes.Cloud.connect("http://127.0.0.1:9", "token")
    assert down.value.temporary
    with pytest.raises(nubes.InvalidInput):
        nubes.Cloud.connect("memory://", org="o-1")


def test_a_viewer_may_look_but_not_create(server: Tuple[str, str]) -> None:
    url, _ = server
    owner, owner_token = account(url)
    org = post(f"{url}/v1/orgs", {"name": unique("pyorg")}, owner)["id"]
    code = post(f"{url}/v1/orgs/{org}/invites", {"role": "viewer"}, owner)["code"]
    viewer, viewer_token = account(url)
    post(f"{url}/v1/orgs/join", {"code": code}, viewer)
    made = nubes.Cloud.connect(url, owner_token, org=org).compute.create(unique("pyv"), "busybox")
    seen = nubes.Cloud.connect(url, viewer_token, org=org).compute
    assert seen.get(made.name).id == made.id
    with pytest.raises(nubes.PermissionDenied) as denied:
        seen.create(unique("pyv"), "busybox")
    assert (denied.value.kind, denied.value.provider) == ("permission_denied", "remote")
    with pytest.raises(nubes.PermissionDenied):
        seen.delete(made.name, force=True)
    # To someone outside the organization the instance is not there at all.
    with pytest.raises(nubes.NotFound):
        nubes.Cloud.connect(url, account(url)[1]).compute.get(made.id)


def test_the_server_holds_running_invocations_per_user(server: Tuple[str, str]) -> None:
    url, _ = server
    f = nubes.Cloud.connect(url, account(url)[1]).function
    name = unique("pyr")
    f.deploy(name, IMAGE, ["sleep", "4"], timeout=30)
    try:
        # The server lets one user run 8 invocations at once.
        for _ in range(8):
            f.invoke_async(name, b"")
        with pytest.raises(nubes.RateLimited) as limited:
            f.invoke_async(name, b"")
        assert limited.value.kind == "rate_limited"
        assert "running invocations" in str(limited.value)
    finally:
        deadline = time.monotonic() + 60
        while True:
            try:
                f.delete(name)
                break
            except nubes.Conflict:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


@pytest.fixture(scope="module")
def billing_server() -> Iterator[Tuple[str, str]]:
    """A server that bills, whose Free plan grants 1 credit a month."""
    data = tempfile.mkdtemp(prefix="nubes-py-billing-")
    settings = os.path.join(data, "billing.json")
    with open(settings, "w") as f:
        f.write('{"plans": {"free": {"monthly": "1"}}}')
    proc = subprocess.Popen(
        [os.environ["NUBES_TEST_CLOUDCTL"], "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
         "--compute", "memory://?images=busybox", "--disk", "none", "--billing",
         "--billing-settings", settings],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    url = next(line.split()[-1] for line in proc.stdout if line.startswith("listening on "))
    yield url, account(url)[1]
    proc.terminate()
    proc.wait(timeout=10)


def test_plan_errors(billing_server: Tuple[str, str]) -> None:
    cloud = nubes.Cloud.connect(*billing_server)
    # The Free plan holds 2 cores.
    with pytest.raises(nubes.QuotaExceeded) as over:
        cloud.compute.create(unique("big"), "busybox", cpus=3)
    assert over.value.kind == "quota_exceeded"
    # The first hour of one core is paid from the 1 credit; a second is more than is left.
    first = cloud.compute.create(unique("one"), "busybox", cpus=1, memory="256Mi")
    with pytest.raises(nubes.InsufficientCredits):
        cloud.compute.create(unique("two"), "busybox", cpus=1, memory="256Mi")
    cloud.compute.delete(first.id, force=True)


def test_threads_exec_in_parallel(docker: nubes.Cloud) -> None:
    c = docker.compute
    made = c.create(unique("pyg"), IMAGE, cpus=0.5, memory="32Mi", command=["sleep", "600"])
    try:
        def one() -> None:
            assert c.exec(made.id, ["sleep", "0.5"]).exit_code == 0

        started = time.monotonic()
        one()
        single = time.monotonic() - started
        n = 4
        threads = [threading.Thread(target=one) for _ in range(n)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        together = time.monotonic() - started
        print(f"\n{n} threads exec: {together:.2f}s; one: {single:.2f}s ({together / single:.2f}x)")
        # Serialized on the GIL they would take n times as long.
        assert together < single * n * 0.6, (together, single)
    finally:
        c.delete(made.id, force=True)
