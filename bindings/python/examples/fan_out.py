"""Create ten instances concurrently with asyncio, then delete them."""

import asyncio
import os
import sys

import nubes


async def main(uri: str) -> None:
    image = "busybox" if uri.startswith("memory") else os.environ.get("NUBES_TEST_IMAGE", "nubes-test/busybox:latest")
    compute = (await nubes.AsyncCloud.connect(uri)).compute
    made = await asyncio.gather(
        *(compute.create(f"py-fan-{i}", image, cpus=0.1, memory="32Mi", command=["sleep", "300"]) for i in range(10))
    )
    print(len(made), "running:", sorted(i.name for i in made))
    await asyncio.gather(*(compute.delete(i.id, force=True) for i in made))


asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "memory://?images=busybox"))
