#!/usr/bin/env bash
# Benchmarks inbound webhooks (issue 22): a release console with its
# sandbox connected and its webhook registered, running its own jobs, on
# SQLite and then on Postgres. The sandbox edits random items at
# BENCH_RATE a second (default 1000) for BENCH_SECONDS (default 10),
# duplicating 10% of its deliveries and forging 5%, and reports:
#   - ack latency: how long the console took to answer each genuine
#     delivery, p50 and p99 (goal: p99 <= 20 ms);
#   - webhook to stored: from a delivery's arrival to its record's commit,
#     p50 and p95 (goal: p95 <= 1 s);
#   - correctness: every genuine delivery recorded once and applied, every
#     forged one refused (the script exits 1 otherwise);
#   - the CPU the console (which serves the sandbox, so the load's sender
#     too) and Postgres used, beside what the cores could give.
# Settings: BENCH_RATE, BENCH_SECONDS, PATCHBAY_TEST_POSTGRES_URL (the admin
# URL; default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

rate=${BENCH_RATE:-1000}
seconds=${BENCH_SECONDS:-10}
admin_url=${PATCHBAY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}

source scripts/bench-console.sh

# One SQL query's first column, one value a line, on the console's database.
sql() {
  if [ -n "${DATABASE_URL:-}" ]; then
    psql "$DATABASE_URL" -qtAc "$1"
  else
    python3 -c 'import sqlite3, sys; [print(r[0]) for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])]' \
      "$PATCHBAY_DATA_DIR/patchbay.db" "$1"
  fi
}

stats() { curl -fsS "$base/sandbox/webhook-stats"; }
json() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }

# Waits up to $2 seconds for SQL $1 to answer 0 (or a non-empty truth).
wait_for() {
  local query=$1 limit=$2
  for _ in $(seq $((limit * 10))); do
    [ "$(sql "$query")" = "0" ] && return 0
    sleep 0.1
  done
  echo "gave up waiting for: $query" >&2
  return 1
}

failed=0
run() {
  local store=$1 database=""
  if [ "$store" = postgres ]; then
    psql "$admin_url" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" -c "CREATE DATABASE $pg_db" >/dev/null
    database="${admin_url%/*}/$pg_db"
  fi
  BENCH_RUN_JOBS=on PATCHBAY_WEBHOOKS=on PATCHBAY_WEBHOOK_REFUSALS_PER_MINUTE=1000000 start_console 20000 0 "$database"
  # The first backfill and the registration, before the load.
  wait_for "SELECT COUNT(*) FROM jobs WHERE state <> 'completed'" 120
  [ "$(stats | json 'd["subscriptions"]')" = 1 ] || { echo "$store: no webhook registered" >&2; exit 1; }
  curl -fsS -X POST -H 'content-type: application/json' "$base/sandbox/webhook-faults" \
    -d '{"duplicate": 0.1, "forge": 0.05}'
  local cpu_before pg_before="" started
  cpu_before=$(cpu_seconds "$server")
  [ "$store" = postgres ] && pg_before=$(cpu_seconds postgres)
  started=$(date +%s.%N)
  curl -fsS -X POST -H 'content-type: application/json' "$base/sandbox/webhook-load" \
    -d "{\"per_second\": $rate, \"seconds\": $seconds}"
  sleep "$seconds"
  # Every copy answered, then every delivery applied.
  for _ in $(seq 600); do
    local s; s=$(stats)
    [ "$(json 'd["sent"]["answered_ok"] + d["sent"]["answered_other"] >= d["sent"]["genuine"] + d["sent"]["forged"] + d["sent"]["duplicated"] and d["sent"]["genuine"] > 0' <<<"$s")" = True ] && break
    sleep 0.1
  done
  wait_for "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'queued'" 120
  local s recorded cpu wall pg_cpu=""
  cpu=$(python3 -c "print(round($(cpu_seconds "$server") - $cpu_before, 1))")
  [ "$store" = postgres ] && pg_cpu=$(python3 -c "print(round($(cpu_seconds postgres) - $pg_before, 1))")
  wall=$(python3 -c "import time; print(round(time.time() - $started, 1))")
  s=$(stats)
  recorded=$(sql "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'applied'")
  local latencies
  latencies=$(sql "SELECT applied_at - received_at FROM webhook_deliveries" | sort -n)
  python3 - "$store" "$rate" "$seconds" "$recorded" "$s" "$latencies" "$cpu" "$pg_cpu" "$wall" "$(nproc)" <<'PY' || failed=1
import json, sys
store, rate, seconds, recorded, stats, latencies = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5]), sys.argv[6].split()
cpu, pg_cpu, wall, cores = float(sys.argv[7]), sys.argv[8], float(sys.argv[9]), int(sys.argv[10])
sent, ack = stats["sent"], stats["ack"]
stored = sorted(int(x) for x in latencies)
q = lambda p: stored[max(0, -(-len(stored) * p // 100) - 1)] if stored else 0
print(f"{store}: {sent['genuine'] + sent['forged']} changes at {rate}/s for {seconds} s "
      f"({sent['duplicated']} sent twice, {sent['forged']} forged)")
print(f"  ack latency: p50 {ack['p50_ms']:.1f} ms, p99 {ack['p99_ms']:.1f} ms, max {ack['max_ms']:.1f} ms "
      f"(goal p99 <= 20 ms){'' if ack['p99_ms'] <= 20 else '  ** over'}")
print(f"  webhook to stored: p50 {q(50)} ms, p95 {q(95)} ms, max {q(100)} ms "
      f"(goal p95 <= 1000 ms){'' if q(95) <= 1000 else '  ** over'}")
pg = f", Postgres {float(pg_cpu):.1f} s" if pg_cpu else ""
print(f"  CPU: the console (sandbox included) {cpu:.1f} s{pg} of the {cores * wall:.1f} s {cores} cores give in the "
      f"{wall:.1f} s from the load's start to the last delivery applied")
ok = recorded == sent["genuine"] and sent["answered_other"] == sent["forged"]
print(f"  recorded and applied {recorded} of {sent['genuine']} genuine; refused {sent['answered_other']} of "
      f"{sent['forged']} forged: {'exact' if ok else 'WRONG'}")
sys.exit(0 if ok else 1)
PY
  stop_console
}

run sqlite
run postgres
exit $failed
