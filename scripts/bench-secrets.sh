#!/usr/bin/env bash
# Measures the secret store in one run (issue: secret store benchmark):
#   a cached SSM read (µs), an uncached SSM read against moto (ms), a local
#   store read (µs), and the SSM calls that 1,000 token reads for one
#   connection make within a token's lifetime (target: at most 1; the
#   command exits non-zero when it is missed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_moto
cargo run --quiet --release --locked -p platform --features test-support --example secrets_bench
