#!/usr/bin/env bash
# A short guided run of cloudctl on this machine's Docker Engine: create an instance with limits,
# exec into it, look at it, and delete it. Installs and starts what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_all

log "building cloudctl"
cargo build --locked -q -p nubes-cli
cloudctl="$CARGO_TARGET_DIR/debug/cloudctl"
name="demo-$$"

step() { printf '\n\033[1;34m$ cloudctl %s\033[0m\n' "$*"; "$cloudctl" "$@"; }
trap '"$cloudctl" instance delete --force "$name" >/dev/null 2>&1 || true' EXIT

step instance create "$name" --image "$NUBES_TEST_IMAGE" --cpus 0.5 --memory 128Mi -- sh -c 'echo hello from nubes; exec sleep 3600'
step instance list
step instance exec "$name" -- sh -c 'echo "inside $(hostname): $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max) bytes of memory"'
step instance logs "$name"
step instance stats "$name"
step instance delete --force "$name"
trap - EXIT
printf '\n\033[1mdone: the instance was created, used and deleted on Docker Engine.\033[0m\n'
