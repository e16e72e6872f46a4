"""The nubes Python package against docker-py on the same Docker Engine, interleaved round by
round in one run; prints medians and ratios (not a test: nothing here passes or fails).

Goals (issue 17): run to completion <= 0.95x docker-py's `containers.run(remove=True)`,
inspect <= 0.6x `containers.get`, exec round trip, a no-op call into the native module <= 2x a
pure-Python no-op. Small S3 get against boto3 on moto is still to be added.

    python benches/python/docker_py.py   # scripts/bench.sh builds the package (release) first
"""

import os
import statistics
import time
import timeit
from typing import Callable, Dict, List

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

    def nubes_run() -> None:
        counter[0] += 1
        i = compute.create(f"bench-py-run-{counter[0]}", IMAGE, cpus=1, memory="64Mi", command=["true"])
        compute.wait_for(i.id, "stopped", timeout=30)
        compute.delete(i.id, force=True)

    def docker_run() -> None:
        client.containers.run(IMAGE, ["true"], remove=True, mem_limit="64m", nano_cpus=10**9)

    try:
        for _ in range(ROUNDS):
            timed("run to completion/nubes", nubes_run)
            timed("run to completion/docker-py", docker_run)
            timed("inspect/nubes", lambda: compute.get(nub.id))
            timed("inspect/docker-py", lambda: client.containers.get(nub.id))
            timed("exec round trip/nubes", lambda: compute.exec(nub.id, ["true"]))
            timed("exec round trip/docker-py", lambda: raw.exec_run(["true"]))
        n = 200_000
        native = min(timeit.repeat(_nubes.noop, number=n, repeat=5)) / n

        def python_noop() -> None:
            pass

        pure = min(timeit.repeat(python_noop, number=n, repeat=5)) / n
    finally:
        compute.delete(nub.id, force=True)

    print(f"\nnubes (Python) vs docker-py on the same engine, {ROUNDS} rounds, medians:")
    print(f"{'operation':<22}{'nubes':>12}{'docker-py':>12}{'ratio':>8}")
    for op in ["run to completion", "inspect", "exec round trip"]:
        a = statistics.median(samples[f"{op}/nubes"])
        b = statistics.median(samples[f"{op}/docker-py"])
        print(f"{op:<22}{a * 1000:>10.1f}ms{b * 1000:>10.1f}ms{a / b:>8.2f}")
    print(f"{'no-op call':<22}{native * 1e9:>10.0f}ns{pure * 1e9:>10.0f}ns{native / pure:>8.2f}   (vs a pure-Python no-op)")
    print("small S3 get vs boto3: not measured here yet (needs a release build with the aws feature and moto)")


if __name__ == "__main__":
    main()
