#!/usr/bin/env bash
# Installs what Patchbay's build and tests need, and skips what is already there.
# Sourced by scripts/console.sh and scripts/test.sh; runnable on its own:
#   scripts/setup.sh [build|e2e|peers|fuzz|all]
# Pins and their reasons are in ../shared/TOOLCHAIN.md (cargo-leptos 0.3.11,
# wasm-bindgen-cli matching Cargo.lock, npm binaryen, Debian chromium).
set -euo pipefail

PB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION=0.3.11
BINARYEN_VERSION=132
export PATH="$HOME/.cargo/bin:$PB_ROOT/.tools/node_modules/.bin:$PATH"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

# wasm-bindgen-cli must be exactly the crate version Cargo.lock resolved.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$PB_ROOT/Cargo.lock"
}

# Copies a crate's source out of the registry so its lockfile can be adjusted.
crate_source() {
  local name=$1 version=$2 dest
  cargo info "$name@$version" >/dev/null
  dest="$(mktemp -d)/$name"
  cp -r "$(ls -d "$HOME"/.cargo/registry/src/*/"$name-$version" | head -n1)" "$dest"
  echo "$dest"
}

ensure_wasm_target() {
  if rustup target list --installed | grep -qx wasm32-unknown-unknown; then return; fi
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
}

ensure_cargo_leptos() {
  if cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then return; fi
  log "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 20 minutes on 2 cores)"
  local src; src=$(crate_source cargo-leptos "$CARGO_LEPTOS_VERSION")
  # Its lockfile pulls cargo-util-schemas 0.14.2, which needs a newer rustc.
  (cd "$src" && cargo update -q -p cargo-util-schemas --precise 0.14.1)
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install --quiet --path "$src" --locked --features no_downloads
  rm -rf "$(dirname "$src")"
}

ensure_wasm_bindgen() {
  local want; want=$(wasm_bindgen_version)
  if wasm-bindgen --version 2>/dev/null | grep -q " $want\$"; then return; fi
  log "installing wasm-bindgen-cli $want"
  local src; src=$(crate_source wasm-bindgen-cli "$want")
  # The registry mirror lacks webpki-roots 1.0.11.
  (cd "$src" && cargo update -q -p webpki-roots --precise 1.0.10)
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install --quiet --path "$src" --locked --force
  rm -rf "$(dirname "$src")"
}

# Debian's binaryen (wasm-opt 108) breaks hydration; use npm's instead.
ensure_wasm_opt() {
  if [ -x "$PB_ROOT/.tools/node_modules/.bin/wasm-opt" ]; then return; fi
  log "installing npm binaryen@$BINARYEN_VERSION into .tools/"
  mkdir -p "$PB_ROOT/.tools"
  (cd "$PB_ROOT/.tools" && [ -f package.json ] || echo '{"private":true}' >package.json
   npm install --silent --no-audit --no-fund "binaryen@$BINARYEN_VERSION")
}

apt_updated=""
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return
  log "apt-get install ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  if [ -z "$apt_updated" ]; then $sudo apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The end2end packages package-lock.json pins and are not installed at
# that version (Playwright, the MCP SDK the MCP test drives), one a line.
e2e_packages_missing() {
  node -e '
    const fs = require("fs");
    const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
    const wanted = Object.keys(JSON.parse(fs.readFileSync("package.json", "utf8")).devDependencies);
    for (const name of wanted) {
      const want = lock.packages["node_modules/" + name].version;
      let have = "none";
      try { have = JSON.parse(fs.readFileSync("node_modules/" + name + "/package.json", "utf8")).version; } catch {}
      if (want !== have) console.log(name + "@" + want);
    }'
}

ensure_e2e() {
  apt_install chromium
  local missing
  missing=$(cd "$PB_ROOT/end2end" && e2e_packages_missing | tr '\n' ' ')
  if [ -z "$missing" ]; then return; fi
  log "installing end2end npm packages ($missing)"
  (cd "$PB_ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
}

# cargo-fuzz runs the fuzz targets (fuzz/, SECURITY G4).
CARGO_FUZZ_VERSION=0.13.2
ensure_fuzz() {
  if cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then return; fi
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install --quiet --locked "cargo-fuzz@$CARGO_FUZZ_VERSION"
}

ensure_bench() {
  apt_install wrk curl
}

# moto_server from PyPI stands in for AWS SSM in the secret store's tests.
MOTO_REQUIREMENT='moto[server]>=5.1,<6'
ensure_moto() {
  if python3 -c 'import moto, moto.server, flask, flask_cors' >/dev/null 2>&1; then return; fi
  log "installing $MOTO_REQUIREMENT (the SSM endpoint for tests)"
  python3 -m pip install --quiet --disable-pip-version-check "$MOTO_REQUIREMENT" \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$MOTO_REQUIREMENT"
}

# npm oidc-provider is the strict third-party OAuth server of the
# conformance tests (server/tests/conformance.rs); 8.x runs on Node 20.
OIDC_PEER_DIR="$PB_ROOT/server/tests/peers/oidc-provider"
ensure_oidc_provider() {
  local want have
  want=$(node -p 'require(process.argv[1]).packages["node_modules/oidc-provider"].version' "$OIDC_PEER_DIR/package-lock.json")
  have=$(node -p 'try { require(process.argv[1]).version } catch { "none" }' \
    "$OIDC_PEER_DIR/node_modules/oidc-provider/package.json")
  if [ "$want" = "$have" ]; then return; fi
  log "installing oidc-provider $want (the OAuth server for conformance tests)"
  (cd "$OIDC_PEER_DIR" && npm ci --silent --no-audit --no-fund)
}

ensure_peers() {
  ensure_moto
  ensure_oidc_provider
}

ensure_build() {
  ensure_wasm_target
  ensure_wasm_bindgen
  ensure_cargo_leptos
  ensure_wasm_opt
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-all}" in
    build) ensure_build ;;
    e2e) ensure_e2e ;;
    peers) ensure_peers ;;
    fuzz) ensure_fuzz ;;
    bench) ensure_bench ;;
    all) ensure_build; ensure_e2e; ensure_peers; ensure_fuzz ;;
    *) echo "usage: $0 [build|e2e|peers|fuzz|bench|all]" >&2; exit 2 ;;
  esac
fi
