#!/usr/bin/env bash
# Runs each fuzz target (SECURITY G4) for a while, seeded from fuzz/seeds and,
# for catalog files, from the built-in providers/. Needs cargo-fuzz
# (scripts/setup.sh fuzz installs it). libFuzzer's flags need nightly;
# RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
#   scripts/fuzz.sh [seconds per target, default 60] [target ...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(callback_query token_response catalog_file)
export RUSTC_BOOTSTRAP=1
# A debug build without a sanitizer: the parsers are safe Rust, so coverage
# and assertions find what matters, and it builds in minutes on 2 cores.
flags=(--dev --sanitizer none)
cargo fuzz build "${flags[@]}"
for target in "${targets[@]}"; do
  corpus=(corpus/"$target")
  mkdir -p "${corpus[0]}"
  [ -d "seeds/$target" ] && corpus+=("seeds/$target")
  [ "$target" = catalog_file ] && corpus+=(../providers)
  echo "fuzzing $target for ${seconds}s"
  log=$(mktemp)
  if ! cargo fuzz run "${flags[@]}" "$target" "${corpus[@]}" -- -max_total_time="$seconds" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^Done' "$log"
  rm -f "$log"
done
