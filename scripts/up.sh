#!/usr/bin/env bash
# Runs the Nubes platform on this machine: installs and starts Docker Engine when missing, builds
# cloudctl, then `cloudctl up` (the server on embedded SQLite with this machine's providers,
# signed in as its first admin through the `local` context). Arguments go to `cloudctl up`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_all
ensure_swagger_ui
ensure_web
export NUBES_SWAGGER_UI_DIR NUBES_WEB_DIR

log "building cloudctl"
cargo build --locked -q -p nubes-cli
link_cloudctl "$CARGO_TARGET_DIR/debug/cloudctl"
exec "$CARGO_TARGET_DIR/debug/cloudctl" up "$@"
