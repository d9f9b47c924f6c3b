# Sourced by the benchmarks, after $admin_url is set: builds the release
# binary ($bin), makes a scratch directory ($work) and a Postgres database
# name ($pg_db), and removes them, with any console still running, on
# exit. start_console gives a release console on loopback serving the
# sandbox, signed in and connected; it sets $server (its pid) and $base
# (its URL), and $console_cookie (the signed-in session, for server
# functions). BENCH_RUN_JOBS=on makes the console run jobs itself.

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
  export PATCHBAY_RUN_JOBS=${BENCH_RUN_JOBS:-off} PATCHBAY_LOG=warn
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
  # The start is a POST from the console's own page (SECURITY B5).
  authorize=$(curl -fsS -o /dev/null -w '%{redirect_url}' -X POST -H "Cookie: $cookie" \
    -H "Origin: $base" -H "Sec-Fetch-Site: same-origin" "$base/oauth/sandbox/start")
  request=$(curl -fsS "$authorize" | sed -n 's/.*name="request" value="\([^"]*\)".*/\1/p' | head -n1)
  back=$(curl -fsS -o /dev/null -w '%{redirect_url}' "$base/sandbox/oauth/decision" \
    --data-urlencode "request=$request" --data-urlencode decision=approve)
  done_at=$(curl -fsS -o /dev/null -w '%{redirect_url}' -H "Cookie: $cookie" "$back")
  console_cookie=$cookie
  case "$done_at" in */integrations/sandbox) ;; *) echo "the sandbox did not connect ($done_at)" >&2; exit 1 ;; esac
}

stop_console() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; server=""; fi
}


# The CPU seconds used so far by process $1, or by every process named $1
# (empty when none runs), read from /proc: each one's own, and what it
# gathered from children that ended (Postgres's postmaster gathers its
# backends', which end with their connections).
cpu_seconds() {
  python3 - "$1" <<'PY'
import os, sys
which = sys.argv[1]
ticks, found = 0, False
for pid in [which] if which.isdigit() else filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
    if which.isdigit() or name == which:
        found = True
        ticks += sum(int(f) for f in fields[11:15])
print(ticks / os.sysconf("SC_CLK_TCK") if found else "")
PY
}
