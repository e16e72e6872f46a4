#!/usr/bin/env bash
# Runs the benchmarks against the real backends (starting them first) and prints ratio tables.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_all
cargo bench --locked -p nubes-benches --bench docker
cargo bench --locked -p nubes-benches --bench server
cargo bench --locked -p nubes-benches --bench placement
ensure_moto
# The Python package (a release build) against docker-py on the same engine and boto3 on moto.
ensure_python_tools
VIRTUAL_ENV=$NUBES_PY_VENV PATH="$NUBES_PY_VENV/bin:$PATH" \
  maturin develop --release --quiet --manifest-path bindings/python/Cargo.toml >/dev/null
NUBES_TEST_AWS_ENDPOINT=$NUBES_TEST_AWS_ENDPOINT AWS_ACCESS_KEY_ID=nubes-bench \
  AWS_SECRET_ACCESS_KEY=nubes-bench "$NUBES_TEST_PY" benches/python/clients.py
NUBES_TEST_AWS_ENDPOINT=$NUBES_TEST_AWS_ENDPOINT NUBES_TEST_AWS_PYTHON=$NUBES_TEST_AWS_PYTHON \
  AWS_ACCESS_KEY_ID=nubes-bench AWS_SECRET_ACCESS_KEY=nubes-bench \
  cargo bench --locked -p nubes-benches --bench aws
ensure_kubernetes
NUBES_TEST_K8S_KUBECONFIG=$NUBES_K8S_KUBECONFIG cargo bench --locked -p nubes-benches --bench kubernetes
ensure_postgres
NUBES_TEST_POSTGRES_URL=$NUBES_TEST_POSTGRES_URL cargo bench --locked -p nubes-benches --bench billing
ensure_libvirtd
ensure_test_guest
NUBES_TEST_LIBVIRT_URI=$NUBES_LIBVIRT_URI NUBES_TEST_GUEST_DIR=$NUBES_GUEST_DIR \
  cargo bench --locked -p nubes-benches --bench qemu
# 1000 simulated agents hold a connection each, on both ends of this machine.
ulimit -n 20000 2>/dev/null || true
cargo bench --locked -p nubes-benches --bench agents
