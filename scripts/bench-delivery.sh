#!/usr/bin/env bash
# Benchmarks delivering records (issue 23), on a release console on
# loopback with SQLite, in one run so the figures compare:
#   1. feed read rate: BENCH_ITEMS (default 100000) changes, written by a
#      release `patchbay backfill` of the sandbox, read back through
#      `GET /api/v1/changes` in pages of 1,000 with an API token: records/s
#      over the whole walk, and p50/p99 per page;
#   2. search: BENCH_SEARCHES (default 300) `GET /api/v1/search` queries for
#      one random item's words over those records: p50/p99 latency.
# The same for Postgres (PATCHBAY_TEST_POSTGRES_URL, the admin URL; default
# postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_bench

items=${BENCH_ITEMS:-100000}
searches=${BENCH_SEARCHES:-300}
admin_url=${PATCHBAY_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}

source scripts/bench-console.sh

# A records:read token made through the console's own server function, as
# the settings page makes one.
api_token() {
  curl -fsS "$base/api/create_api_token" -H "Cookie: $console_cookie" -H "Origin: $base" \
    -H "Sec-Fetch-Site: same-origin" --data-urlencode name=bench --data records_read=on \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}

# Prints one JSON line of figures. Not to be called in a subshell: the
# console it starts must stay the script's to stop.
measure() { # measure STORE DATABASE
  local store=$1 database=$2 token
  start_console "$items" 0 "$database" >&2
  "$bin" backfill sandbox --team Bench --full 2>/dev/null | tail -n1 >&2
  token=$(api_token)
  python3 - "$base" "$token" "$items" "$searches" "$store" <<'PY'
import http.client, json, random, statistics, sys, time, urllib.parse
base, token, items, searches, store = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
host = urllib.parse.urlparse(base)
connection = http.client.HTTPConnection(host.hostname, host.port)
headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
def get(path):
    started = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    assert response.status == 200, (response.status, body[:300])
    return body, elapsed
pages, read, after = [], 0, None
while True:
    body, elapsed = get("/api/v1/changes?limit=1000" + (f"&after={after}" if after else ""))
    page = json.loads(body)
    if not page["changes"]:
        break
    pages.append(elapsed)
    read += len(page["changes"])
    after = page["next_cursor"]
assert read >= items, f"read {read} changes, wanted {items}"
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(len(xs) * p))]
rate = read / sum(pages)
found, latencies = 0, []
random.seed(7)
for _ in range(searches):
    body, elapsed = get("/api/v1/search?q=" + urllib.parse.quote(f"item {random.randrange(items)}"))
    latencies.append(elapsed)
    found += len(json.loads(body)["results"]) > 0
ms = lambda s: f"{s * 1000:.1f} ms"
print(json.dumps({"store": store, "read": read, "pages": len(pages), "rate": rate,
                  "page_p50": q(pages, 0.5), "page_p99": q(pages, 0.99),
                  "search_p50": q(latencies, 0.5), "search_p99": q(latencies, 0.99),
                  "searches": searches, "found": found}))
PY
}

log "SQLite: $items changes, then $searches searches"
measure sqlite "" >"$work/sqlite.json"
log "Postgres: $items changes, then $searches searches"
psql "$admin_url" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null
psql "$admin_url" -qc "CREATE DATABASE $pg_db" >/dev/null
measure postgres "${admin_url%/*}/$pg_db" >"$work/postgres.json"
stop_console

python3 - "$items" "$(cat "$work/sqlite.json")" "$(cat "$work/postgres.json")" <<'PY'
import json, sys
items = int(sys.argv[1])
print(f"\nPatchbay delivery benchmark: {items:,} changes and records, release console, loopback")
ok = True
for run in (json.loads(sys.argv[2]), json.loads(sys.argv[3])):
    store = run["store"]
    target = store == "sqlite"
    hit = run["rate"] >= 50_000
    ok &= hit or not target
    rows = [
        (f"{store}: feed read ({run['read']:,} in {run['pages']} pages of 1,000)", f"{run['rate']:,.0f} records/s",
         ">= 50,000" if target else "", ("  ok" if hit else "  MISSED") if target else ""),
        ("  per page p50 / p99", f"{run['page_p50'] * 1000:.1f} / {run['page_p99'] * 1000:.1f} ms", "", ""),
        (f"  search p50 / p99 ({run['searches']} queries, {run['found']} found)",
         f"{run['search_p50'] * 1000:.1f} / {run['search_p99'] * 1000:.1f} ms", "", ""),
    ]
    for name, value, want, verdict in rows:
        print(f"  {name:<52} {value:>22}  {want:<10}{verdict}")
sys.exit(0 if ok else 1)
PY
