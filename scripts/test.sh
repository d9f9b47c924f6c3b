#!/usr/bin/env bash
# Runs every Patchbay test, installing what is missing first:
#   lint → Rust tests (SQLite and Postgres) → each fuzz target briefly
#   (PATCHBAY_FUZZ_SECONDS, default 15) → browser tests on a debug build
#   (SQLite) → browser tests on a release build (Postgres; the release build
#   is the only place the wasm-opt trap in ../shared/TOOLCHAIN.md shows).
# The Postgres half runs whenever a server answers on 127.0.0.1:5432 (or
# PATCHBAY_TEST_POSTGRES_URL). Under CI=true a missing Postgres fails the run.
# The SSM half of the secret store tests starts moto_server itself (installed
# here when missing) and stops it when done; a moto that fails to start fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

phases=()
phase() {
  local name=$1; shift
  local started=$SECONDS
  log "── $name"
  "$@"
  phases+=("$(printf '%-28s %4ss' "$name" $((SECONDS - started)))")
}
summary() {
  local status=$?
  printf '\nPhase timings:\n' >&2
  for p in "${phases[@]}"; do printf '  %s\n' "$p" >&2; done
  [ $status -ne 0 ] && printf '  (stopped by a failure, exit %s)\n' $status >&2
  return $status
}
trap summary EXIT

is_ci() { [ -n "${CI:-}" ] && [ "${CI}" != "false" ] && [ "${CI}" != "0" ]; }

postgres_answers() {
  (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
}

check_postgres() {
  if [ -n "${PATCHBAY_TEST_POSTGRES_URL:-}" ]; then
    export PATCHBAY_REQUIRE_POSTGRES=1
    return
  fi
  if ! postgres_answers && command -v pg_ctlcluster >/dev/null; then
    log "Postgres is not answering; starting the local cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 20); do postgres_answers && break; sleep 0.5; done
  fi
  if postgres_answers; then
    # It answers, so every Postgres test must run: none may skip quietly.
    export PATCHBAY_REQUIRE_POSTGRES=1
  elif is_ci; then
    echo "Postgres is required under CI but nothing answers on 127.0.0.1:5432." >&2
    exit 1
  else
    printf '\033[1;33mWARNING: no Postgres on 127.0.0.1:5432; the Postgres half of the tests is SKIPPED.\033[0m\n' >&2
  fi
}

# Every workspace crate but `frontend`, the WASM entry: its `hydrate`
# feature and the server's `ssr` cannot be on in one build, and the browser
# tests build it. A new connector crate is linted and tested without an edit
# here.
WORKSPACE=(--workspace --exclude frontend --features app/ssr)

lint() {
  cargo fmt --all --check
  cargo clippy --locked "${WORKSPACE[@]}" --all-targets -- -D warnings
}

rust_tests() {
  cargo test --locked "${WORKSPACE[@]}"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The debug build's browser tests run on SQLite (the embedded default) and
# the release build's on a fresh Postgres database, when Postgres answers,
# so that pages and forms are proven on both databases in a real browser.
browser_tests() {
  local profile=$1 database_url="" bin
  if [ "$profile" = release ]; then
    # The release run proves the size-optimised WASM (`wasm-release`, with
    # wasm-opt: the trap in ../shared/TOOLCHAIN.md). The server it drives
    # is built in the lighter `e2e-server` profile: a release build of the
    # server alone took most of this phase's 20 minutes on two cores.
    cargo leptos build --release --frontend-only
    # cargo-leptos builds the server with LEPTOS_OUTPUT_NAME set, and Leptos
    # reads it at compile time to name the WASM file (`patchbay.wasm`, not
    # wasm-bindgen's `patchbay_bg.wasm`); a plain cargo build must say so too.
    LEPTOS_OUTPUT_NAME=patchbay cargo build --locked -p server --bin patchbay --profile e2e-server
    bin="$PWD/target/e2e-server/patchbay"
  else
    cargo leptos build
    bin="$PWD/target/debug/patchbay"
  fi
  local admin_url=${PATCHBAY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  local name="patchbay_e2e_$$"
  if [ "$profile" = release ] && [ -n "${PATCHBAY_REQUIRE_POSTGRES:-}" ]; then
    psql "$admin_url" -qc "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
    database_url="${admin_url%/*}/$name"
    log "browser tests on Postgres ($name)"
  fi
  local status=0
  (cd end2end && PATCHBAY_BIN="$bin" E2E_PORT=$(free_port) \
    FAKE_PROVIDER_PORT=$(free_port) E2E_SYNC_PORT=$(free_port) E2E_DATABASE_URL="$database_url" \
    npx playwright test) || status=$?
  if [ -n "$database_url" ]; then psql "$admin_url" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)"; fi
  return $status
}

install_tools() {
  ensure_build
  ensure_e2e
  ensure_peers
  ensure_fuzz
  # Installed above, so the SSM tests must run: none may skip quietly.
  export PATCHBAY_REQUIRE_MOTO=1
}

phase "install tools" install_tools
phase "postgres check" check_postgres
phase "lint" lint
phase "rust tests" rust_tests
phase "fuzz (${PATCHBAY_FUZZ_SECONDS:-15} s per target)" scripts/fuzz.sh "${PATCHBAY_FUZZ_SECONDS:-15}"
phase "browser tests (debug)" browser_tests debug
phase "browser tests (release)" browser_tests release
