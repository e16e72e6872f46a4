"""Disks (memory, qemu-img, a Nubes server's) and functions (Docker, a Nubes server's on Docker,
Lambda on moto) through Python."""

import io
import zipfile
from typing import List

import pytest

import nubes
from conftest import IMAGE, connect_async, unique


@pytest.mark.parametrize("backend", ["memory", "qemu", "remote"])
def test_disks(backend: str, request: pytest.FixtureRequest) -> None:
    d = request.getfixturevalue(backend).disk
    name = unique("pyd")
    made = d.create(name, "qcow2", "64Mi")
    assert (made.format, made.virtual_size) == ("qcow2", 64 << 20)
    assert d.resize(name, 128 << 20).virtual_size == 128 << 20
    seen: List[float] = []
    raw = d.convert(name, "raw", name + "-raw", progress=seen.append)
    assert raw.format == "raw" and seen and seen[-1] == 100.0
    assert d.rename(name + "-raw", name + "-r").name == name + "-r"
    assert sorted(i.name for i in d.list() if i.name.startswith(name)) == [name, name + "-r"]
    with pytest.raises(nubes.InvalidInput):
        d.create(unique("pyd"), "floppy", "1Mi")
    for n in [name, name + "-r"]:
        d.delete(n)
    with pytest.raises(nubes.NotFound):
        d.get(name)


@pytest.mark.parametrize("backend", ["memory", "qemu", "remote"])
async def test_disks_async(backend: str, request: pytest.FixtureRequest) -> None:
    d = (await connect_async(backend, request)).disk
    name = unique("pyad")
    made = await d.create(name, "raw", 1 << 20)
    assert made.virtual_size == 1 << 20
    assert [i.name for i in await d.list() if i.name == name] == [name]
    assert (await d.resize(name, 2 << 20)).virtual_size == 2 << 20
    await d.delete(name)
    with pytest.raises(nubes.NotFound):
        await d.get(name)


@pytest.mark.parametrize("backend", ["docker", "remote"])
def test_functions(backend: str, request: pytest.FixtureRequest) -> None:
    f = request.getfixturevalue(backend).function
    name = unique("pyf")
    f.deploy(name, IMAGE, ["tr", "a-z", "A-Z"], timeout=30)
    try:
        assert name in [i.name for i in f.list()]
        r = f.invoke(name, "hello")
        assert (r.payload, r.ok) == (b"HELLO", True)
        f.deploy(name + "-bad", IMAGE, ["sh", "-c", "echo bad >&2; exit 4"], timeout=30)
        failed = f.invoke(name + "-bad", b"")
        assert (failed.ok, failed.exit_code) == (False, 4)
        assert failed.error is not None and "bad" in failed.error
        assert f.invoke_async(name, "x")
        with pytest.raises(nubes.AlreadyExists):
            f.deploy(name, IMAGE, ["cat"])
    finally:
        f.delete(name)
        f.delete(name + "-bad")
    with pytest.raises(nubes.NotFound):
        f.get(name)


@pytest.mark.parametrize("backend", ["docker", "remote"])
async def test_functions_async(backend: str, request: pytest.FixtureRequest) -> None:
    f = (await connect_async(backend, request)).function
    name = unique("pyaf")
    await f.deploy(name, IMAGE, ["cat"], timeout=30)
    try:
        assert (await f.invoke(name, b"echo")).payload == b"echo"
    finally:
        await f.delete(name)


def zipped(name: str, script: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        info = zipfile.ZipInfo(name)
        info.external_attr = 0o755 << 16
        z.writestr(info, script)
    return out.getvalue()


def test_functions_on_lambda(aws: nubes.Cloud) -> None:
    f = aws.function
    name = unique("pyl")
    made = f.deploy(name, "provided.al2", ["echo.sh"], timeout=30,
                    code=zipped("echo.sh", "cat\n"))
    try:
        assert (made.name, made.image) == (name, "provided.al2")
        assert name in [i.name for i in f.list()]
        assert f.invoke(name, b'{"a": 1}').payload.strip() == b'{"a": 1}'
        with pytest.raises(nubes.AlreadyExists):
            f.deploy(name, "provided.al2", ["echo.sh"], code=zipped("echo.sh", "cat\n"))
    finally:
        f.delete(name)
    with pytest.raises(nubes.NotFound):
        f.get(name)


async def test_functions_async_on_lambda(request: pytest.FixtureRequest) -> None:
    f = (await connect_async("aws", request)).function
    name = unique("pyal")
    await f.deploy(name, "provided.al2", ["echo.sh"], timeout=30, code=zipped("echo.sh", "cat\n"))
    try:
        assert (await f.invoke(name, b'{"b": 2}')).payload.strip() == b'{"b": 2}'
    finally:
        await f.delete(name)
