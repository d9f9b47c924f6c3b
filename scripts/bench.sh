#!/usr/bin/env bash
# Benchmarks one release server on loopback, in one run so the figures compare:
#   requests/s and p99 latency of /healthz, of a signed-out console page
#   (/login: rendering alone) and of a signed-in one (/integrations: rendering
#   plus reading the session and the user), each page's ratio to /healthz,
#   and the gzipped size of the release WASM.
# The team has BENCH_INSTALLATIONS connections (default 25), each with a
# finished sync, so /integrations renders that many live cards: the page
# must not cost a query per connection (issue 20's N+1).
# Settings: BENCH_DURATION (default 10s), BENCH_CONNECTIONS (default 32),
# BENCH_INSTALLATIONS (default 25).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_build
ensure_bench

duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-32}
installations=${BENCH_INSTALLATIONS:-25}
page=/integrations

log "building the release"
cargo leptos build --release >&2

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d)
server_log="$data/server.log"
PATCHBAY_BIND="127.0.0.1:$port" PATCHBAY_DATA_DIR="$data" target/release/patchbay serve 2>"$server_log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null

# Console pages need a signed-in session: create a team beside the running
# server, sign in, and send that session's cookie with every page request,
# so the figure includes reading the session and the user.
password="bench-$(date +%s)-passphrase"
echo "$password" | PATCHBAY_DATA_DIR="$data" target/release/patchbay admin create-team \
  --name Bench --email bench@example.com --password-stdin 2>/dev/null
# The team's connections: the first providers of the catalog, as connected
# by an admin, each with a completed sync (straight into the tables).
team=$(sqlite3 "$data/patchbay.db" "SELECT id FROM teams WHERE name = 'Bench'")
providers=$(for f in providers/*.toml; do basename "$f" .toml; done | awk -v n="$installations" 'NR <= n')
i=0
for provider in $providers; do
  i=$((i + 1))
  installation=$(python3 -c 'import uuid; print(uuid.uuid4())')
  sqlite3 "$data/patchbay.db" "
    INSERT INTO installations (id, team_id, provider, state, account_id, display_name, settings, updated_at)
      VALUES ('$installation', '$team', '$provider', 'connected', 'acct-$i', 'Bench account', '{}', 0);
    INSERT INTO jobs (id, team_id, provider, installation_id, kind, state, payload, attempts, max_attempts,
      run_after, progress_done, items, created_at, updated_at, finished_at)
      SELECT lower(hex(randomblob(16))), team_id, provider, id, 'incremental', 'completed', 'null', 1, 8, 0,
        10, 10, 0, 0, 1 FROM installations WHERE team_id = '$team' AND provider = '$provider';"
done
log "the team has $i connections"
cookie=$(curl -fsS -o /dev/null -D - "http://127.0.0.1:$port/api/login" \
  --data-urlencode email=bench@example.com --data-urlencode "password=$password" \
  | tr -d '\r' | sed -n 's/^set-cookie: \(patchbay_session=[^;]*\).*/\1/ip')
[ -n "$cookie" ] || { echo "could not sign in for the benchmark" >&2; exit 1; }
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "http://127.0.0.1:$port$page")
[ "$status" = 200 ] || { echo "$page answered $status with the benchmark session" >&2; exit 1; }

# Runs wrk once and prints "<requests/s> <p99 in ms>".
measure() {
  local out rps p99
  out=$(wrk --latency -t2 -c"$connections" -d"$duration" -H "Cookie: $cookie" "http://127.0.0.1:$port$1")
  if grep -q "Non-2xx" <<<"$out"; then echo "non-2xx answers from $1:" >&2; echo "$out" >&2; exit 1; fi
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}' <<<"$out")
  echo "$rps $p99"
}

log "warming up"
wrk -t1 -c4 -d2s -H "Cookie: $cookie" "http://127.0.0.1:$port$page" >/dev/null
wrk -t1 -c4 -d2s "http://127.0.0.1:$port/healthz" >/dev/null

log "measuring /healthz, /login and $page: $connections connections, $duration each"
read -r health_rps health_p99 < <(measure /healthz)
read -r login_rps login_p99 < <(measure /login)
read -r page_rps page_p99 < <(measure "$page")

wasm="target/site/pkg/patchbay.wasm"
wasm_gz=$(gzip -9 -c "$wasm" | wc -c)
wasm_raw=$(wc -c <"$wasm")

python3 - "$health_rps" "$health_p99" "$login_rps" "$login_p99" "$page_rps" "$page_p99" "$wasm_raw" "$wasm_gz" "$connections" "$i" <<'PY'
import sys
health_rps, health_p99, login_rps, login_p99, page_rps, page_p99 = map(float, sys.argv[1:7])
wasm_raw, wasm_gz = int(sys.argv[7]), int(sys.argv[8])
connections = sys.argv[9]
rows = [
    ("/healthz requests/s", f"{health_rps:,.0f}", ""),
    ("/healthz p99", f"{health_p99:.2f} ms", "<= 10 ms", health_p99 <= 10),
]
for name, rps, p99 in [("/login (signed out)", login_rps, login_p99), ("/integrations (signed in)", page_rps, page_p99)]:
    rows += [
        (f"{name} requests/s", f"{rps:,.0f}", ""),
        (f"{name} p99", f"{p99:.2f} ms", "<= 10 ms", p99 <= 10),
        (f"{name} / healthz", f"{rps / health_rps:.1%}", ">= 30%", rps / health_rps >= 0.30),
    ]
rows.append(("release WASM gzipped", f"{wasm_gz / 1000:.1f} KB ({wasm_raw / 1000:.1f} KB raw)", "<= 300 KB", wasm_gz <= 300_000))
print(f"\nPatchbay benchmark: one release server, {connections} connections, loopback, signed-in session, "
      f"{sys.argv[10]} integrations connected")
for row in rows:
    name, value, target = row[:3]
    verdict = "" if len(row) == 3 else ("  ok" if row[3] else "  MISSED")
    print(f"  {name:<38} {value:>24}  {target:<10}{verdict}")
sys.exit(0 if all(len(r) == 3 or r[3] for r in rows) else 1)
PY
