#!/usr/bin/env bash
# Runs the Patchbay console with its embedded defaults: SQLite in ./data,
# http://127.0.0.1:3000. Installs the build tools it lacks first.
# Extra arguments go to `patchbay serve`; settings come from the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_build

log "building the console (release)"
cargo leptos build --release
log "starting: open ${PATCHBAY_PUBLIC_URL:-http://${PATCHBAY_BIND:-127.0.0.1:3000}} (Ctrl-C stops it)"
exec target/release/patchbay serve "$@"
