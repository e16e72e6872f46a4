"""Instances through Python, sync and asyncio, on memory, the Docker Engine, a Nubes server, EC2
(moto) and Kubernetes."""

import asyncio
from typing import List

import pytest

import nubes
from conftest import IMAGE, aws_ami, connect_async, unique


@pytest.mark.parametrize("backend", ["memory", "docker", "remote", "aws", "kubernetes"])
def test_lifecycle_exec_and_logs(backend: str, request: pytest.FixtureRequest) -> None:
    cloud: nubes.Cloud = request.getfixturevalue(backend)
    c = cloud.compute
    # The live server runs its instances on memory compute.
    image = {"docker": IMAGE, "kubernetes": IMAGE}.get(backend, "busybox")
    if backend == "aws":
        image = aws_ami()
    name = unique("py")
    made = c.create(name, image, cpus=0.5, memory="64Mi",
                    command=["sh", "-c", "echo started; sleep 600"], labels={"suite": "py"})
    try:
        assert made.state == "running" and made.name == name
        assert "Instance(" in repr(made) and name in repr(made)
        # EC2 gives the smallest instance type that holds what was asked.
        assert made.memory == 64 << 20 if backend != "aws" else (made.memory or 0) >= 64 << 20
        assert [i.name for i in c.list(labels={"suite": "py"}) if i.name == name] == [name]
        if backend not in ("docker", "kubernetes"):
            assert c.stop(made.id).state == "stopped"
            assert c.start(made.id).state == "running"
            return
        out = c.exec(made.id, ["sh", "-c", "cat; echo oops >&2; exit 3"], stdin="hello")
        assert (out.exit_code, out.stdout, out.stderr, out.ok) == (3, b"hello", b"oops\n", False)
        assert c.exec(made.id, ["sh", "-c", "echo $A"], env={"A": "b"}).stdout == b"b\n"
        if backend == "docker":
            # On the test cluster this once failed at the exec's start with the kubelet's
            # "container not found" for a pod two execs had just used (the Rust kit's exec
            # timeout case covers Kubernetes); see the issue 17 note.
            with pytest.raises(nubes.Timeout):
                c.exec(made.id, ["sleep", "30"], timeout=1.0)
            # The test cluster has no metrics-server.
            stats = c.stats(made.id)
            assert stats.memory_bytes > 0 and "InstanceStats(" in repr(stats)
        chunks: List[bytes] = []
        for chunk in c.logs(made.id, follow=True):
            chunks.append(chunk.data)
            if b"started" in b"".join(chunks):
                break
        assert c.stop(made.id, timeout=1.0).state == "stopped"
        assert c.wait_for(made.id, "stopped", timeout=30).state == "stopped"  # type: ignore[union-attr]
        assert c.start(made.id).state == "running"
    finally:
        c.delete(made.id, force=True)
    with pytest.raises(nubes.NotFound):
        c.get(made.id)


@pytest.mark.parametrize("backend", ["memory", "docker", "remote", "aws", "kubernetes"])
async def test_async_fan_out(backend: str, request: pytest.FixtureRequest) -> None:
    c = (await connect_async(backend, request)).compute
    image = {"docker": IMAGE, "kubernetes": IMAGE}.get(backend, "busybox")
    if backend == "aws":
        image = aws_ami()
    names = [unique("pya") for _ in range(4)]
    made = await asyncio.gather(*(c.create(n, image, cpus=0.1, memory="32Mi", command=["sleep", "600"])
                                  for n in names))
    try:
        assert sorted(i.name for i in made) == sorted(names)
        assert (await c.get(made[0].id)).state == "running"
        if backend in ("docker", "kubernetes"):
            out = await c.exec(made[0].id, ["cat"], stdin=b"async")
            assert out.stdout == b"async"
            logs = await c.logs(made[0].id, tail=10)
            assert [chunk async for chunk in logs] == []
    finally:
        await asyncio.gather(*(c.delete(i.id, force=True) for i in made))
    with pytest.raises(nubes.NotFound):
        await c.get(made[0].id)
