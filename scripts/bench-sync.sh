#!/usr/bin/env bash
# Benchmarks the sync runner: release `patchbay backfill` pulling the
# sandbox's items through a release console on loopback, in one run so the
# figures compare:
#   1. pull: records/s of a full backfill of BENCH_ITEMS items in pages of
#      100 into SQLite and into Postgres, and the backfill process's peak RSS;
#   2. ceiling: the same pages read with nothing stored (`--no-store`), and
#      the ratio of the pull to it;
#   3. memory growth: peak RSS of a 10,000- and a 1,000,000-item backfill;
#   4. paced pull: the sandbox advertising 20 requests/s, the request rate
#      achieved and the 429s received.
# Settings: BENCH_ITEMS (default 100000), BENCH_BIG (default 1000000),
# PATCHBAY_TEST_POSTGRES_URL (the admin URL; default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

items=${BENCH_ITEMS:-100000}
big=${BENCH_BIG:-1000000}
admin_url=${PATCHBAY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}

log "building the release binary"
cargo build --release --locked -p server --bin patchbay >&2
bin=target/release/patchbay

work=$(mktemp -d)
server=""
pg_db="patchbay_bench_$$"
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a console serving the sandbox with $1 items and a limit of $2
# requests/s (0: none) on database $3 (empty: SQLite in its data dir), signs
# in, and connects the sandbox through its OAuth flow. Sets the environment
# the backfill commands share with it.
start_console() {
  local count=$1 limit=$2 database=$3
  stop_console
  local port data
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  data=$(mktemp -d -p "$work")
  export PATCHBAY_BIND="127.0.0.1:$port" PATCHBAY_PUBLIC_URL="http://127.0.0.1:$port" PATCHBAY_DATA_DIR="$data"
  export PATCHBAY_SANDBOX=on PATCHBAY_SANDBOX_ITEMS="$count" PATCHBAY_SANDBOX_RATE_LIMIT="$limit"
  export PATCHBAY_RUN_JOBS=off PATCHBAY_LOG=warn
  if [ -n "$database" ]; then export DATABASE_URL="$database"; else unset DATABASE_URL; fi
  base="http://127.0.0.1:$port"
  "$bin" serve 2>"$data/server.log" &
  server=$!
  for _ in $(seq 100); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "$base/readyz" >/dev/null
  local password="bench-$(date +%s)-passphrase" cookie authorize request back done_at
  echo "$password" | "$bin" admin create-team --name Bench --email bench@example.com --password-stdin 2>/dev/null
  cookie=$(curl -fsS -o /dev/null -D - "$base/api/login" \
    --data-urlencode email=bench@example.com --data-urlencode "password=$password" \
    | tr -d '\r' | sed -n 's/^set-cookie: \(patchbay_session=[^;]*\).*/\1/ip')
  [ -n "$cookie" ] || { echo "could not sign in for the benchmark" >&2; exit 1; }
  authorize=$(curl -fsS -o /dev/null -w '%{redirect_url}' -H "Cookie: $cookie" "$base/oauth/sandbox/start")
  request=$(curl -fsS "$authorize" | sed -n 's/.*name="request" value="\([^"]*\)".*/\1/p' | head -n1)
  back=$(curl -fsS -o /dev/null -w '%{redirect_url}' "$base/sandbox/oauth/decision" \
    --data-urlencode "request=$request" --data-urlencode decision=approve)
  done_at=$(curl -fsS -o /dev/null -w '%{redirect_url}' -H "Cookie: $cookie" "$back")
  case "$done_at" in */integrations/sandbox) ;; *) echo "the sandbox did not connect ($done_at)" >&2; exit 1 ;; esac
}

stop_console() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; server=""; fi
}

# Runs `patchbay backfill sandbox` with the given flags; prints its summary
# line: "sandbox: N records read, M stored in S s (R records/s); peak memory P MB".
backfill() {
  "$bin" backfill sandbox --team Bench "$@" 2>/dev/null | tail -n1
}

field() { # field NAME LINE
  case $1 in
    rate) sed -n 's/.*(\([0-9]*\) records\/s).*/\1/p' <<<"$2" ;;
    seconds) sed -n 's/.* in \([0-9.]*\) s .*/\1/p' <<<"$2" ;;
    memory) sed -n 's/.*peak memory \([0-9.]*\) MB.*/\1/p' <<<"$2" ;;
    read) sed -n 's/^sandbox: \([0-9]*\) records read.*/\1/p' <<<"$2" ;;
  esac
}

log "SQLite: $items items, ceiling then pull"
start_console "$items" 0 ""
ceiling_sqlite=$(backfill --no-store)
pull_sqlite=$(backfill --full)
echo "  $ceiling_sqlite" >&2
echo "  $pull_sqlite" >&2

log "Postgres: $items items, ceiling then pull"
psql "$admin_url" -qc "CREATE DATABASE $pg_db" >/dev/null
pg_url="${admin_url%/*}/$pg_db"
start_console "$items" 0 "$pg_url"
ceiling_pg=$(backfill --no-store)
pull_pg=$(backfill --full)
echo "  $ceiling_pg" >&2
echo "  $pull_pg" >&2

log "memory: 10,000 items, then $big"
start_console 10000 0 ""
small_run=$(backfill --full)
start_console "$big" 0 ""
big_run=$(backfill --full)
echo "  $small_run" >&2
echo "  $big_run" >&2

log "paced pull: the sandbox advertises 20 requests/s"
start_console 10000 20 ""
paced_run=$(backfill --full)
stats=$(curl -fsS "$base/sandbox/stats")
echo "  $paced_run" >&2
stop_console

python3 - "$items" "$big" "$(field rate "$pull_sqlite")" "$(field rate "$ceiling_sqlite")" \
  "$(field memory "$pull_sqlite")" "$(field rate "$pull_pg")" "$(field rate "$ceiling_pg")" \
  "$(field memory "$pull_pg")" "$(field memory "$small_run")" "$(field memory "$big_run")" \
  "$(field read "$big_run")" "$(field seconds "$paced_run")" "$stats" <<'PY'
import json, sys
items, big = int(sys.argv[1]), int(sys.argv[2])
sqlite_rate, sqlite_ceiling, sqlite_mem, pg_rate, pg_ceiling, pg_mem, small_mem, big_mem = map(float, sys.argv[3:11])
big_read, paced_seconds = int(sys.argv[11]), float(sys.argv[12])
stats = json.loads(sys.argv[13])
requests, limited = stats["item_requests"], stats["rate_limited"]
paced_rate = requests / paced_seconds
rows = [
    ("pull into SQLite", f"{sqlite_rate:,.0f} records/s", ">= 50,000", sqlite_rate >= 50_000),
    ("  ceiling (read only)", f"{sqlite_ceiling:,.0f} records/s", ""),
    ("  pull / ceiling", f"{sqlite_rate / sqlite_ceiling:.0%}", ">= 80%", sqlite_rate / sqlite_ceiling >= 0.80),
    ("  peak RSS", f"{sqlite_mem:.1f} MB", "<= 100 MB", sqlite_mem <= 100),
    ("pull into Postgres", f"{pg_rate:,.0f} records/s", ""),
    ("  ceiling (read only)", f"{pg_ceiling:,.0f} records/s", ""),
    ("  pull / ceiling", f"{pg_rate / pg_ceiling:.0%}", ">= 80%", pg_rate / pg_ceiling >= 0.80),
    ("  peak RSS", f"{pg_mem:.1f} MB", "<= 100 MB", pg_mem <= 100),
    ("peak RSS, 10,000 records", f"{small_mem:.1f} MB", ""),
    (f"peak RSS, {big_read:,} records", f"{big_mem:.1f} MB", "<= 100 MB", big_mem <= 100),
    ("  growth", f"{big_mem - small_mem:.1f} MB", "< 20 MB", big_mem - small_mem < 20),
    ("paced pull, advertised 20 req/s", f"{paced_rate:.2f} req/s ({paced_rate / 20:.0%})", ">= 95%", paced_rate >= 19),
    ("  429s received", f"{limited}", "0", limited == 0),
]
print(f"\nPatchbay sync benchmark: release backfill, {items:,} sandbox items in pages of 100, loopback")
for row in rows:
    name, value, target = row[:3]
    verdict = "" if len(row) == 3 else ("  ok" if row[3] else "  MISSED")
    print(f"  {name:<34} {value:>28}  {target:<10}{verdict}")
sys.exit(0 if all(len(r) == 3 or r[3] for r in rows) else 1)
PY
