"""The nubes Python package against docker-py on the same Docker Engine and boto3 on the same
moto endpoint, interleaved round by round in one run; prints medians and ratios (not a test:
nothing here passes or fails).

Goals (issue 17): run to completion <= 0.95x docker-py's `containers.run(remove=True)`,
inspect <= 0.6x `containers.get`, exec round trip, a no-op call into the native module <= 2x a
pure-Python no-op, small S3 get <= 0.9x boto3's `get_object` and read.

    python benches/python/clients.py   # scripts/bench.sh builds the package (release) and starts moto
"""

import os
import statistics
import time
import timeit
from typing import Callable, Dict, List

import boto3
import docker

import nubes
from nubes import _nubes

IMAGE = os.environ.get("NUBES_TEST_IMAGE", "nubes-test/busybox:latest")
ROUNDS = int(os.environ.get("NUBES_BENCH_ROUNDS", "15"))

samples: Dict[str, List[float]] = {}


def timed(name: str, f: Callable[[], object]) -> None:
    started = time.perf_counter()
    f()
    samples.setdefault(name, []).append(time.perf_counter() - started)


def main() -> None:
    cloud = nubes.Cloud.connect("docker://")
    compute = cloud.compute
    client = docker.from_env()
    nub = compute.create("bench-py-nubes", IMAGE, cpus=1, memory="64Mi", command=["sleep", "3600"])
    raw = client.containers.get(nub.id)
    counter = [0]
    endpoint = os.environ["NUBES_TEST_AWS_ENDPOINT"]
    s3 = nubes.Cloud.connect(f"aws://us-east-1?endpoint={endpoint}").storage
    bucket = f"bench-py-{os.getpid()}"
    s3.create_bucket(bucket)
    s3.put(bucket, "small", os.urandom(1024))
    boto = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")

    def nubes_run() -> None:
        counter[0] += 1
        i = compute.create(f"bench-py-run-{counter[0]}", IMAGE, cpus=1, memory="64Mi", command=["true"])
        compute.wait_for(i.id, "stopped", timeout=30)
        compute.delete(i.id, force=True)

    # The same on Docker's shared bridge, as docker-py's containers run: what the network of
    # its own that each instance gets by default costs.
    bridged = nubes.Cloud.connect("docker://?network=bridge").compute

    def bridged_run() -> None:
        counter[0] += 1
        i = bridged.create(f"bench-py-run-{counter[0]}", IMAGE, cpus=1, memory="64Mi", command=["true"])
        bridged.wait_for(i.id, "stopped", timeout=30)
        bridged.delete(i.id, force=True)

    def docker_run() -> None:
        client.containers.run(IMAGE, ["true"], remove=True, mem_limit="64m", nano_cpus=10**9)

    try:
        for _ in range(ROUNDS):
            timed("run to completion/nubes", nubes_run)
            timed("run to completion/docker-py", docker_run)
            timed("run, shared bridge/nubes", bridged_run)
            timed("run, shared bridge/docker-py", docker_run)
            timed("inspect/nubes", lambda: compute.get(nub.id))
            timed("inspect/docker-py", lambda: client.containers.get(nub.id))
            timed("exec round trip/nubes", lambda: compute.exec(nub.id, ["true"]))
            timed("exec round trip/docker-py", lambda: raw.exec_run(["true"]))
            for _ in range(5):
                timed("small S3 get/nubes", lambda: s3.get(bucket, "small"))
                timed("small S3 get/boto3",
                      lambda: boto.get_object(Bucket=bucket, Key="small")["Body"].read())
        n = 200_000
        native = min(timeit.repeat(_nubes.noop, number=n, repeat=5)) / n

        def python_noop() -> None:
            pass

        pure = min(timeit.repeat(python_noop, number=n, repeat=5)) / n
    finally:
        compute.delete(nub.id, force=True)
        s3.delete(bucket, "small")
        s3.delete_bucket(bucket)

    print(f"\nnubes (Python) vs docker-py on the same engine and boto3 on the same moto, {ROUNDS} rounds, medians:")
    print(f"{'operation':<22}{'nubes':>12}{'theirs':>12}{'ratio':>8}")
    for op, theirs in [("run to completion", "docker-py"), ("run, shared bridge", "docker-py"),
                       ("inspect", "docker-py"),
                       ("exec round trip", "docker-py"), ("small S3 get", "boto3")]:
        a = statistics.median(samples[f"{op}/nubes"])
        b = statistics.median(samples[f"{op}/{theirs}"])
        print(f"{op:<22}{a * 1000:>10.1f}ms{b * 1000:>10.1f}ms{a / b:>8.2f}")
    print(f"{'no-op call':<22}{native * 1e9:>10.0f}ns{pure * 1e9:>10.0f}ns{native / pure:>8.2f}   (vs a pure-Python no-op)")


if __name__ == "__main__":
    main()
