"""Buckets and objects through Python on memory, a local directory and a live Nubes server."""

import io

import pytest

import nubes
from conftest import connect_async, unique

BACKENDS = ["memory", "local", "remote", "aws"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_objects(backend: str, request: pytest.FixtureRequest) -> None:
    s = request.getfixturevalue(backend).storage
    bucket = unique("pyb")
    s.create_bucket(bucket)
    assert bucket in [b.name for b in s.list_buckets()]
    assert s.put(bucket, "small", b"hello world").size == 11
    big = bytes(range(256)) * 12289  # just over 3 MiB: several pieces from a file
    assert s.put(bucket, "dir/big", io.BytesIO(big)).size == len(big)
    assert s.get(bucket, "small") == b"hello world"
    assert s.get(bucket, "small", range=(6, None)) == b"world"
    assert s.get(bucket, "dir/big", range=(1, 4)) == big[1:4]
    out = io.BytesIO()
    assert s.get_into(bucket, "dir/big", out) == len(big)
    assert out.getvalue() == big
    assert s.head(bucket, "dir/big").size == len(big)
    for i in range(5):
        s.put(bucket, f"many/{i}", b"x")
    keys = [o.key for o in s.list(bucket, prefix="many/", page_size=2)]
    assert keys == [f"many/{i}" for i in range(5)]
    with pytest.raises(nubes.Conflict):
        s.delete_bucket(bucket)
    for o in list(s.list(bucket)):
        s.delete(bucket, o.key)
    with pytest.raises(nubes.NotFound):
        s.get(bucket, "small")
    with pytest.raises(nubes.InvalidInput):
        s.get(bucket, "x", range=(5, 2))
    s.delete_bucket(bucket)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_objects_async(backend: str, request: pytest.FixtureRequest) -> None:
    s = (await connect_async(backend, request)).storage
    bucket = unique("pyab")
    await s.create_bucket(bucket)
    for i in range(3):
        await s.put(bucket, f"k{i}", f"v{i}".encode())
    assert [o.key async for o in s.list(bucket, page_size=1)] == ["k0", "k1", "k2"]
    assert await s.get(bucket, "k1", range=(1, 2)) == b"1"
    big = bytes(range(256)) * (3 * 4096 + 7)  # a little over 3 MiB: several pieces
    assert (await s.put(bucket, "big", io.BytesIO(big))).size == len(big)
    assert await s.get(bucket, "big") == big
    with pytest.raises(OSError, match="disk on fire"):
        await s.put(bucket, "k0", Broken())
    assert await s.get(bucket, "k0") == b"v0"
    for k in ["k0", "k1", "k2", "big"]:
        await s.delete(bucket, k)
    await s.delete_bucket(bucket)


class Broken(io.RawIOBase):
    """A file whose read fails after its first piece."""

    def __init__(self) -> None:
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise OSError("disk on fire")
        return b"x" * 1024


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failed_read_writes_nothing(backend: str, request: pytest.FixtureRequest) -> None:
    s = request.getfixturevalue(backend).storage
    bucket = unique("pyf")
    s.create_bucket(bucket)
    s.put(bucket, "kept", b"old")
    with pytest.raises(OSError, match="disk on fire"):
        s.put(bucket, "kept", Broken())
    assert s.get(bucket, "kept") == b"old"
    with pytest.raises(OSError):
        s.put(bucket, "new", Broken())
    with pytest.raises(nubes.NotFound):
        s.head(bucket, "new")
    s.delete(bucket, "kept")
    s.delete_bucket(bucket)
