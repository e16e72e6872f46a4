"""Upload a directory to a bucket, each file streamed from disk."""

import pathlib
import sys

import nubes

source = pathlib.Path(sys.argv[1])
cloud = nubes.Cloud.connect(sys.argv[2] if len(sys.argv) > 2 else "memory://")
bucket = sys.argv[3] if len(sys.argv) > 3 else "uploads"
cloud.storage.create_bucket(bucket)
for path in sorted(p for p in source.rglob("*") if p.is_file()):
    with path.open("rb") as f:
        info = cloud.storage.put(bucket, path.relative_to(source).as_posix(), f)
    print(info)
print(sum(1 for _ in cloud.storage.list(bucket)), "objects in", bucket)
