#!/usr/bin/env bash
# Benchmarks the sync runner: release `patchbay backfill` pulling the
# sandbox's items through a release console on loopback, in one run so the
# figures compare:
#   1. pull: records/s of a full backfill of BENCH_ITEMS items in pages of
#      100 into SQLite and into Postgres, and the backfill process's peak RSS;
#   1b. the change feed's cost: the same pull with PATCHBAY_CHANGE_FEED=off
#      (no change appended per record written), its median, and what the
#      feed takes from the pull;
#   2. ceiling: the same pages read with nothing stored (`--no-store`), and
#      the ratio of the pull to it. Each is measured BENCH_ROUNDS times, a
#      ceiling just before each pull, each pull into a new database; the
#      medians are reported, as one pair swings by a fifth on a busy
#      machine. Also the CPU time the backfill and the console used in the
#      pull (and for Postgres the server's own), beside what the cores
#      could give in the time 80% of the ceiling allows;
#   3. memory growth: peak RSS of a 10,000- and a 1,000,000-item backfill;
#   4. paced pull: the sandbox advertising 20 requests/s, the request rate
#      achieved and the 429s received;
#   5. three workers: `patchbay worker` three times over one connection of
#      three streams (PATCHBAY_SANDBOX_KINDS), the sandbox advertising 20
#      requests/s: the rate they reach together, and the 429s.
# Settings: BENCH_ITEMS (default 100000), BENCH_BIG (default 1000000),
# BENCH_ROUNDS (default 5),
# PATCHBAY_TEST_POSTGRES_URL (the admin URL; default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

items=${BENCH_ITEMS:-100000}
big=${BENCH_BIG:-1000000}
rounds=${BENCH_ROUNDS:-5}
admin_url=${PATCHBAY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}

source scripts/bench-console.sh

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


# Runs $rounds pairs of a ceiling and a pull of $items items, each pair on
# a new console and database ($1: "sqlite" or "postgres"). Prints a line
# per pair: ceiling rate, pull rate, pull peak MB, the CPU seconds the
# backfill and the console (which serves the sandbox) used in the pull,
# and for Postgres the server's; $2 "off" turns the backfill's change feed
# off. Not to be called in a subshell: the last console must stay the
# script's to stop.
pairs() {
  local store=$1 feed=${2:-on} database="" ceiling pull console_before pg_before="" cpu pg_cpu="" TIMEFORMAT='%U %S'
  for round in $(seq "$rounds"); do
    if [ "$store" = postgres ]; then
      psql "$admin_url" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null
      psql "$admin_url" -qc "CREATE DATABASE $pg_db" >/dev/null
      database="${admin_url%/*}/$pg_db"
    fi
    start_console "$items" 0 "$database"
    ceiling=$(backfill --no-store)
    [ "$store" = postgres ] && pg_before=$(cpu_seconds postgres)
    console_before=$(cpu_seconds "$server")
    # `time` says the user and system seconds of the backfill process.
    { time pull=$(PATCHBAY_CHANGE_FEED=$feed backfill --full); } 2>"$work/pull-time"
    cpu=$(python3 -c "print(round($(awk '{ print $1 + $2 }' "$work/pull-time") + $(cpu_seconds "$server") - $console_before, 2))")
    [ -z "$pg_before" ] || pg_cpu=$(python3 -c "print(round($(cpu_seconds postgres) - $pg_before, 2))")
    echo "  $store $round/$rounds: $ceiling" >&2
    echo "  $store $round/$rounds (change feed $feed): $pull" >&2
    echo "$(field rate "$ceiling") $(field rate "$pull") $(field memory "$pull") $cpu $pg_cpu"
  done
}

log "SQLite: $items items, $rounds times a ceiling then a pull"
pairs sqlite >"$work/sqlite-pairs"

log "Postgres: $items items, $rounds times a ceiling then a pull"
pairs postgres >"$work/postgres-pairs"

log "the change feed's cost: the same pulls with PATCHBAY_CHANGE_FEED=off"
pairs sqlite off >"$work/sqlite-nofeed-pairs"
pairs postgres off >"$work/postgres-nofeed-pairs"

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

log "three workers: one connection of three streams, the sandbox advertises 20 requests/s"
export PATCHBAY_SANDBOX_KINDS=item,note,task
start_console 24000 20 ""
workers=()
for _ in 1 2 3; do "$bin" worker 2>/dev/null & workers+=($!); done
# Connecting queued a backfill per stream; they are done when the item
# requests stop coming (the sandbox answers each in well under a second).
last=-1
for _ in $(seq 240); do
  sleep 2
  now=$(curl -fsS "$base/sandbox/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["item_requests"])')
  [ "$now" -gt 0 ] && [ "$now" = "$last" ] && break
  last=$now
done
workers_stats=$(curl -fsS "$base/sandbox/stats")
kill "${workers[@]}" 2>/dev/null; wait "${workers[@]}" 2>/dev/null || true
unset PATCHBAY_SANDBOX_KINDS
echo "  three workers: $workers_stats" >&2
stop_console

python3 - "$items" "$big" "$(cat "$work/sqlite-pairs")" "$(cat "$work/postgres-pairs")" \
  "$(field memory "$small_run")" "$(field memory "$big_run")" "$(field read "$big_run")" "$(field seconds "$paced_run")" "$stats" \
  "$workers_stats" "$(cat "$work/sqlite-nofeed-pairs")" "$(cat "$work/postgres-nofeed-pairs")" <<'PY'
import json, os, statistics, sys
items, big = int(sys.argv[1]), int(sys.argv[2])
def pairs(text):
    rows = [line.split() for line in text.splitlines() if line.strip()]
    rates = [float(r[1]) for r in rows]
    ratios = [float(r[1]) / float(r[0]) for r in rows]
    cpu = statistics.median(float(r[3]) for r in rows)
    pg_cpu = [float(r[4]) for r in rows if len(r) > 4]
    return (statistics.median(rates), statistics.median(float(r[0]) for r in rows), statistics.median(ratios),
            ratios, max(float(r[2]) for r in rows), cpu, statistics.median(pg_cpu) if pg_cpu else None)
sqlite_rate, sqlite_ceiling, sqlite_ratio, sqlite_ratios, sqlite_mem, sqlite_cpu, _ = pairs(sys.argv[3])
pg_rate, pg_ceiling, pg_ratio, pg_ratios, pg_mem, pg_work_cpu, pg_cpu = pairs(sys.argv[4])
cores = os.cpu_count()
# At 80% a pull may take 1.25 times its ceiling's time, and every core of
# the machine for that long; what the pull's processes used shows how much
# of that the work alone needs, before any waiting for a core.
allowed = lambda ceiling: 1.25 * items / ceiling
budget = lambda ceiling: f"80% allows {cores} cores x {allowed(ceiling):.2f} s = {cores * allowed(ceiling):.2f} s"
small_mem, big_mem = float(sys.argv[5]), float(sys.argv[6])
big_read, paced_seconds = int(sys.argv[7]), float(sys.argv[8])
stats = json.loads(sys.argv[9])
requests, limited = stats["item_requests"], stats["rate_limited"]
paced_rate = requests / paced_seconds
workers = json.loads(sys.argv[10])
sqlite_nofeed = pairs(sys.argv[11])[0]
pg_nofeed = pairs(sys.argv[12])[0]
cost = lambda on, off: f"{1 - on / off:.0%} of the pull's rate"
span = (workers["last_item_request_ms"] - workers["first_item_request_ms"]) / 1000
workers_rate = (workers["item_requests"] - 1) / span
each = lambda ratios: " ".join(f"{r:.0%}" for r in ratios)
rows = [
    ("pull into SQLite (median)", f"{sqlite_rate:,.0f} records/s", ">= 50,000", sqlite_rate >= 50_000),
    ("  ceiling (read only, median)", f"{sqlite_ceiling:,.0f} records/s", ""),
    ("  pull / ceiling (median)", f"{sqlite_ratio:.0%}", ">= 80%", sqlite_ratio >= 0.80),
    ("    each pair", each(sqlite_ratios), ""),
    ("  CPU in the pull (both processes)", f"{sqlite_cpu:.2f} s ({budget(sqlite_ceiling)})", ""),
    ("  peak RSS", f"{sqlite_mem:.1f} MB", "<= 100 MB", sqlite_mem <= 100),
    ("  with the change feed off (median)", f"{sqlite_nofeed:,.0f} records/s", ""),
    ("  the feed's cost", cost(sqlite_rate, sqlite_nofeed), ""),
    ("pull into Postgres (median)", f"{pg_rate:,.0f} records/s", ""),
    ("  ceiling (read only, median)", f"{pg_ceiling:,.0f} records/s", ""),
    ("  pull / ceiling (median)", f"{pg_ratio:.0%}", ">= 80%", pg_ratio >= 0.80),
    ("    each pair", each(pg_ratios), ""),
    ("  CPU in the pull (both processes)", f"{pg_work_cpu:.2f} s ({budget(pg_ceiling)})", ""),
]
if pg_cpu is not None:
    # The server's own CPU time in the pull (its backends' and background
    # writers'): how much of the time allowed the database's work needs.
    rows.append(("    and the Postgres server", f"{pg_cpu:.2f} s (80% allows {allowed(pg_ceiling):.2f} s)", ""))
rows += [
    ("  peak RSS", f"{pg_mem:.1f} MB", "<= 100 MB", pg_mem <= 100),
    ("  with the change feed off (median)", f"{pg_nofeed:,.0f} records/s", ""),
    ("  the feed's cost", cost(pg_rate, pg_nofeed), ""),
    ("peak RSS, 10,000 records", f"{small_mem:.1f} MB", ""),
    (f"peak RSS, {big_read:,} records", f"{big_mem:.1f} MB", "<= 100 MB", big_mem <= 100),
    ("  growth", f"{big_mem - small_mem:.1f} MB", "< 20 MB", big_mem - small_mem < 20),
    ("paced pull, advertised 20 req/s", f"{paced_rate:.2f} req/s ({paced_rate / 20:.0%})", ">= 95%", paced_rate >= 19),
    ("  429s received", f"{limited}", "0", limited == 0),
    ("three workers, one connection, 20 req/s", f"{workers_rate:.2f} req/s ({workers_rate / 20:.0%})", ">= 95%",
     workers_rate >= 19),
    ("  429s received", f"{workers['rate_limited']}", "0", workers["rate_limited"] == 0),
]
print(f"\nPatchbay sync benchmark: release backfill, {items:,} sandbox items in pages of 100, loopback")
for row in rows:
    name, value, target = row[:3]
    verdict = "" if len(row) == 3 else ("  ok" if row[3] else "  MISSED")
    print(f"  {name:<38} {value:>46}  {target:<10}{verdict}")
sys.exit(0 if all(len(r) == 3 or r[3] for r in rows) else 1)
PY
