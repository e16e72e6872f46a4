#!/usr/bin/env bash
# Runs every test on a fresh machine: installs and starts what the tests need (Docker Engine,
# the busybox test image), checks formatting and lints, then runs the whole workspace's tests,
# the Docker provider's conformance suite and cloudctl's end-to-end tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_all
ensure_postgres
ensure_smtp
ensure_api_tools
ensure_swagger_ui
ensure_chromium
ensure_libvirtd
ensure_test_guest
ensure_moto
ensure_kubernetes
ensure_web
NUBES_TEST_K8S_KUBECONFIG=$NUBES_K8S_KUBECONFIG
NUBES_TEST_SWAGGER_UI_DIR=$NUBES_SWAGGER_UI_DIR
NUBES_TEST_LIBVIRT_URI=$NUBES_LIBVIRT_URI
NUBES_TEST_GUEST_DIR=$NUBES_GUEST_DIR
export NUBES_TEST_POSTGRES_URL NUBES_TEST_SMTP_URL NUBES_TEST_MAILDIR NUBES_TEST_PYTHON NUBES_TEST_SCHEMATHESIS \
  NUBES_TEST_SWAGGER_UI_DIR NUBES_TEST_CHROMIUM NUBES_TEST_LIBVIRT_URI NUBES_TEST_GUEST_DIR \
  NUBES_TEST_AWS_ENDPOINT NUBES_TEST_AWS_PYTHON NUBES_TEST_K8S_KUBECONFIG

# A moto with nothing in it: what an earlier run left does not count in this one.
curl -fsS -X POST "$NUBES_TEST_AWS_ENDPOINT/moto-api/reset" >/dev/null

# Test namespaces an earlier run left on a cluster that stayed up, and the scope namespaces
# made beside them (tests name theirs nt-*).
kubectl --kubeconfig "$NUBES_K8S_KUBECONFIG" delete namespace -l nubes-test=true --wait=false >/dev/null 2>&1 || true
kubectl --kubeconfig "$NUBES_K8S_KUBECONFIG" get namespace -l io.nubes.base -o name 2>/dev/null \
    | grep '^namespace/nt-' \
    | xargs -r kubectl --kubeconfig "$NUBES_K8S_KUBECONFIG" delete --wait=false >/dev/null 2>&1 || true

# moto checks no signature; the SDK's credential chain reads these, as it would real ones.
export AWS_ACCESS_KEY_ID=nubes-test-key AWS_SECRET_ACCESS_KEY=nubes-test-secret-never-shown

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
# Every tier runs here: QEMU's real guest (TCG), the AWS provider against moto, and the
# Kubernetes provider on the v1.20.2 cluster built from Debian's source and started above.
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "${NUBES_TEST_LOG:-/tmp/nubes-test.log}"
status=${PIPESTATUS[0]}

# The Python package, built by maturin into its venv: pytest (memory, Docker, a local directory,
# qemu-img, a live `cloudctl serve` and S3 on moto), mypy --strict, and the examples.
log "python package: pytest, mypy --strict, examples"
ensure_python_package
export NUBES_TEST_CLOUDCTL="${CARGO_TARGET_DIR:-$PWD/target}/debug/cloudctl"
# Chained: inside `( ) || status=1` errexit is off, so each step must stop the rest itself.
(
  cd bindings/python &&
  "$NUBES_TEST_PY" -m pytest -q -s &&
  "$NUBES_TEST_PY" -m mypy --strict --cache-dir /dev/null python/nubes tests examples &&
  "$NUBES_TEST_PY" examples/run_and_exec.py docker:// &&
  "$NUBES_TEST_PY" examples/upload_directory.py python/nubes 'memory://' &&
  "$NUBES_TEST_PY" examples/fan_out.py docker:// &&
  # Exit after asyncio.run once crashed about one run in 25 (runtime::drain): fifty runs.
  for _ in $(seq 50); do
    "$NUBES_TEST_PY" examples/fan_out.py 'memory://?images=busybox' >/dev/null || exit 1
  done
) || status=1

# The dashboard: Vitest on its forms and event reducer, then the portal end to end in headless
# Chromium against a real `cloudctl up` with its agent on Docker (screenshots in
# web/e2e/screenshots/).
log "dashboard: vitest, then end to end in chromium"
(
  cd web &&
  npx vitest run &&
  NUBES_TEST_CHROMIUM=$NUBES_TEST_CHROMIUM NUBES_TEST_IMAGE=$NUBES_TEST_IMAGE node e2e/portal.mjs
) || status=1

# Tier 2: the Docker conformance suite again, on an engine whose storage driver enforces disk
# limits, so the positive side of `disk_limit` runs. Reported as skipped, with the reason, only
# where this machine cannot run btrfs; a tier that could run here and did not is a failure.
btrfs=0; reason=$(ensure_btrfs_docker 2>&1) || btrfs=$?
if [ "$btrfs" -eq 0 ]; then
  DOCKER_HOST=unix://$NUBES_BTRFS_SOCK ensure_test_image
  log "docker conformance on btrfs (disk limits enforced)"
  NUBES_DOCKER_URI="docker://$NUBES_BTRFS_SOCK" NUBES_EXPECT_DISK_LIMIT=1 \
    cargo test --locked -p nubes-docker --test conformance || status=1
elif [ "$btrfs" -eq 2 ]; then
  log "SKIPPED docker-on-btrfs tier (disk limits): $reason"
else
  log "FAILED docker-on-btrfs tier (disk limits) could run here but did not start: $reason"
  status=1
fi
# Tier 3: the Kubernetes kits again on a cluster of your own, where NUBES_TEST_KUBECONFIG names
# one (its nodes need the image: NUBES_TEST_K8S_IMAGE and NUBES_TEST_K8S_PULL say which and how).
if [ -n "${NUBES_TEST_KUBECONFIG:-}" ]; then
  log "kubernetes kits on the cluster of $NUBES_TEST_KUBECONFIG"
  NUBES_TEST_K8S_KUBECONFIG=$NUBES_TEST_KUBECONFIG \
    cargo test --locked -p nubes-kubernetes --test conformance --test cluster || status=1
else
  log "SKIPPED kubernetes bring-your-own-cluster tier: NUBES_TEST_KUBECONFIG names no cluster (the kits ran on the test script's own cluster above)"
fi
exit "$status"
