"""Run a container and exec in it (Docker)."""

import os
import sys

import nubes

image = os.environ.get("NUBES_TEST_IMAGE", "nubes-test/busybox:latest")
cloud = nubes.Cloud.connect(sys.argv[1] if len(sys.argv) > 1 else "docker://")
web = cloud.compute.create("py-example-web", image, cpus=0.5, memory="64Mi", command=["sleep", "300"])
try:
    out = cloud.compute.exec(web.id, ["sh", "-c", "echo hello from $(hostname)"])
    print(web, out.stdout.decode().strip())
finally:
    cloud.compute.delete(web.id, force=True)
