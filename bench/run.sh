#!/usr/bin/env bash
# Foyer's load benchmarks against a fresh server. See bench/README.md.
#
#   bench/run.sh sqlite      # embedded SQLite in a new data folder
#   bench/run.sh postgres    # a new PostgreSQL database, dropped afterwards
#
# It builds the server and the bench tool once, measures the Argon2id
# ceiling, then:
#   1. server with bench/config/defaults.yaml (sign-up needs the email code):
#      register at each concurrency;
#   2. same database, server with bench/config/no-verification.yaml:
#      setup (creates $USERS users), login at each concurrency, and whoami
#      with wrk;
# and prints a table checked against the targets. Everything lands in $OUT.
#
# Settings (environment):
#   DURATION=20s  WARMUP=3s  CONCURRENCY="8 32"  USERS=200
#   WRK_THREADS=2  WRK_CONNECTIONS=32  HASH_DURATION=10s  CEILING=<hashes/s,
#   skips measuring it>  ADDR=127.0.0.1:4455  OUT=<results folder, default a
#   new temp folder>  PG_HOST=127.0.0.1  PG_PORT=5432  PG_USER=postgres
#   (PGPASSWORD if needed)  KEEP=1 keeps the PostgreSQL database
set -euo pipefail

backend=${1:-}
case "$backend" in
sqlite | postgres) ;;
*)
	echo "usage: bench/run.sh sqlite|postgres" >&2
	exit 2
	;;
esac

cd "$(dirname "$0")/.."

DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-3s}
CONCURRENCY=${CONCURRENCY:-8 32}
USERS=${USERS:-200}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-32}
HASH_DURATION=${HASH_DURATION:-10s}
ADDR=${ADDR:-127.0.0.1:4455}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/foyer-bench-$backend-XXXXXX")}
mkdir -p "$OUT"
if [[ -e $OUT/data ]]; then
	echo "$OUT/data exists: give a new OUT folder, the server must start fresh" >&2
	exit 1
fi

url="http://$ADDR"
server_pid=""
db=""
dsn=""
results=()

log() { printf '\n== %s\n' "$*"; }

cleanup() {
	stop_server
	if [[ -n $db && ${KEEP:-} != 1 ]]; then
		psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null || true
	fi
}
trap cleanup EXIT

# start_server CONFIG: runs the server on $ADDR and waits until it is ready.
start_server() {
	local args=(serve --dev --config "$1" --addr "$ADDR" --data "$OUT/data")
	if [[ -n $dsn ]]; then
		args+=(--dsn "$dsn")
	fi
	echo "starting server: foyer ${args[*]}"
	"$OUT/foyer" "${args[@]}" >>"$OUT/server.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 150); do
		if curl -fsS -o /dev/null "$url/health/ready" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$server_pid" 2>/dev/null; then
			server_pid=""
			echo "the server exited; the end of $OUT/server.log:" >&2
			tail -n 20 "$OUT/server.log" >&2
			exit 1
		fi
		sleep 0.2
	done
	echo "the server is not ready after 30 s; see $OUT/server.log" >&2
	exit 1
}

stop_server() {
	if [[ -n $server_pid ]]; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=""
	fi
}

# bench NAME ARGS...: runs the bench tool, prints its report and keeps the
# JSON as $OUT/NAME.json. A run with errors does not stop the script.
bench() {
	local name=$1
	shift
	rm -f "$OUT/$name.json"
	"$OUT/bench" "$@" -json-out "$OUT/$name.json" || true
	if [[ -f $OUT/$name.json ]]; then
		results+=("$OUT/$name.json")
	fi
}

if curl -s -o /dev/null "$url/" 2>/dev/null; then
	echo "something already listens on $ADDR: stop it, or set ADDR=127.0.0.1:<free port>" >&2
	exit 1
fi

log "build"
go build -o "$OUT/foyer" ./cmd/foyer
go build -o "$OUT/bench" ./bench
echo "binaries in $OUT; $(nproc) CPUs; backend $backend; results in $OUT"

if [[ -z ${CEILING:-} ]]; then
	log "Argon2id ceiling (no server running)"
	bench hash hash -d "$HASH_DURATION" -warmup 2s
	CEILING=$(sed -n 's/^  "ops_per_sec": \([0-9.]*\),$/\1/p' "$OUT/hash.json" 2>/dev/null || true)
	if [[ -z $CEILING ]]; then
		echo "could not measure the hash ceiling" >&2
		exit 1
	fi
fi
echo "ceiling: $CEILING hashes/s"

if [[ $backend == postgres ]]; then
	db="foyer_bench_$(date +%Y%m%d_%H%M%S)_$$"
	log "PostgreSQL database $db"
	psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -c "CREATE DATABASE $db" >/dev/null
	dsn="postgres://$PG_USER@$PG_HOST:$PG_PORT/$db?sslmode=disable"
fi

log "sign-ups (server with bench/config/defaults.yaml)"
start_server bench/config/defaults.yaml
for c in $CONCURRENCY; do
	echo
	bench "register-c$c" register -url "$url" -c "$c" -d "$DURATION" -warmup "$WARMUP" -ceiling "$CEILING"
done
stop_server

log "sign-ins and whoami (server with bench/config/no-verification.yaml)"
start_server bench/config/no-verification.yaml
users="$OUT/users.jsonl"
bench setup setup -url "$url" -c 8 -n "$USERS" -users "$users"
for c in $CONCURRENCY; do
	echo
	bench "login-c$c" login -url "$url" -users "$users" -c "$c" -d "$DURATION" -warmup "$WARMUP" -ceiling "$CEILING"
done

echo
echo "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$DURATION --latency -s bench/wrk/whoami.lua $url/sessions/whoami"
if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
	FOYER_USERS="$users" wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$WARMUP" -s bench/wrk/whoami.lua "$url/sessions/whoami" >/dev/null || true
fi
FOYER_USERS="$users" FOYER_WRK_JSON="$OUT/whoami-wrk.json" FOYER_WRK_CONNECTIONS="$WRK_CONNECTIONS" \
	wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$DURATION" --latency -s bench/wrk/whoami.lua "$url/sessions/whoami" || true
if [[ -f $OUT/whoami-wrk.json ]]; then
	results+=("$OUT/whoami-wrk.json")
fi
stop_server

log "summary ($backend, $(nproc) CPUs)"
"$OUT/bench" report "${results[@]}"
echo
echo "results, users file and server.log: $OUT"
