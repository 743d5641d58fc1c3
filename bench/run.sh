#!/usr/bin/env bash
# Foyer's load benchmarks against a fresh server. See bench/README.md.
#
#   bench/run.sh sqlite [all|accounts|oauth]    # embedded SQLite in a new data folder
#   bench/run.sh postgres [all|accounts|oauth]  # a new PostgreSQL database, dropped afterwards
#
# It builds the server and the bench tool once, then runs the phases asked
# for (default all):
#   accounts: (measuring the Argon2id ceiling before each register and login
#   run; see measure_ceiling)
#     1. server with bench/config/defaults.yaml (sign-up needs the email
#        code): register at each concurrency;
#     2. same database, server with bench/config/no-verification.yaml:
#        setup (creates $USERS users), login at each concurrency, and whoami
#        with wrk;
#   oauth: same database, a new server with bench/config/no-verification.yaml;
#     creates two clients with `foyer clients create` (bench-m2m for
#     client_credentials, bench-web for the code flow and refresh tokens),
#     runs oauth-setup ($OAUTH_CONCURRENCY customers, each with a refresh
#     token), then with wrk client_credentials tokens and introspections,
#     then refresh-token rotations with the bench tool, all at
#     $OAUTH_CONCURRENCY;
# and prints a table checked against the targets. Everything lands in $OUT.
#
# Settings (environment):
#   DURATION=20s  WARMUP=3s  CONCURRENCY="8 32"  USERS=200
#   WRK_THREADS=2  WRK_CONNECTIONS=32 (whoami)  OAUTH_CONCURRENCY=16 (wrk
#   connections and refresh workers)  OAUTH_ALG=ES256 (the clients' signing
#   algorithm, --alg: the OAuth targets are ES256's; RS256 is the server's
#   default and costs an RSA signature per token)  HASH_DURATION=10s  CEILING=<hashes/s,
#   skips measuring it>  ADDR=127.0.0.1:4455  OUT=<results folder, default a
#   new temp folder>  PG_HOST=127.0.0.1 (or a Unix socket folder such as
#   /var/run/postgresql)  PG_PORT=5432  PG_USER=postgres
#   (PGPASSWORD if needed)  KEEP=1 keeps the PostgreSQL database
set -euo pipefail

usage="usage: bench/run.sh sqlite|postgres [all|accounts|oauth]"
backend=${1:-}
case "$backend" in
sqlite | postgres) ;;
*)
	echo "$usage" >&2
	exit 2
	;;
esac
phases=${2:-all}
case "$phases" in
all | accounts | oauth) ;;
*)
	echo "$usage" >&2
	exit 2
	;;
esac
if [[ $# -gt 2 ]]; then
	echo "$usage" >&2
	exit 2
fi

cd "$(dirname "$0")/.."

DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-3s}
CONCURRENCY=${CONCURRENCY:-8 32}
USERS=${USERS:-200}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-32}
OAUTH_CONCURRENCY=${OAUTH_CONCURRENCY:-16}
OAUTH_ALG=${OAUTH_ALG:-ES256}
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

# measure_ceiling NAME: sets $ceiling to the Argon2id hashes/s this machine
# computes now (bench hash, both cores, the server idle), just before
# scenario NAME runs, and once more after the last run of a group: the
# machine's speed drifts by several percent over a run, so the report takes
# each share of the mean of the ceilings measured on either side of it.
# CEILING=<hashes/s> pins it instead.
measure_ceiling() {
	if [[ -n ${CEILING:-} ]]; then
		ceiling=$CEILING
		return
	fi
	echo
	bench "hash-$1" hash -d "$HASH_DURATION" -warmup 2s
	ceiling=$(sed -n 's/^  "ops_per_sec": \([0-9.]*\),$/\1/p' "$OUT/hash-$1.json" 2>/dev/null || true)
	if [[ -z $ceiling ]]; then
		echo "could not measure the hash ceiling" >&2
		exit 1
	fi
}

# wrk_run NAME SCRIPT PATH CONNECTIONS: runs wrk with bench/wrk/SCRIPT
# against $url/PATH, after a warm-up of $WARMUP, prints wrk's report and the
# script's summary, and keeps the JSON as $OUT/NAME.json. The script's
# settings (FOYER_…) come from the caller's environment.
wrk_run() {
	local name=$1 script=bench/wrk/$2 target=$url$3 conns=$4
	echo
	echo "wrk -t$WRK_THREADS -c$conns -d$DURATION --latency -s $script $target"
	if [[ $WARMUP != 0 && $WARMUP != 0s ]]; then
		wrk -t"$WRK_THREADS" -c"$conns" -d"$WARMUP" -s "$script" "$target" >/dev/null || true
	fi
	rm -f "$OUT/$name.json"
	FOYER_WRK_JSON="$OUT/$name.json" FOYER_WRK_CONNECTIONS="$conns" \
		wrk -t"$WRK_THREADS" -c"$conns" -d"$DURATION" --latency -s "$script" "$target" || true
	if [[ -f $OUT/$name.json ]]; then
		results+=("$OUT/$name.json")
	fi
}

# create_client NAME FLAGS...: registers an OAuth client with the CLI,
# against the running server's database, keeps its JSON (with the secret)
# as $OUT/client-NAME.json and sets client_id and client_secret.
create_client() {
	local name=$1
	shift
	local args=(clients create --dev --data "$OUT/data" --name "$name" "$@")
	args+=(--alg "$OAUTH_ALG")
	if [[ -n $dsn ]]; then
		args+=(--dsn "$dsn")
	fi
	echo "foyer ${args[*]}"
	# The CLI prints a note about keeping the secret on stderr: shown only
	# when it fails.
	if ! (umask 077 && "$OUT/foyer" "${args[@]}" >"$OUT/client-$name.json" 2>"$OUT/client-$name.err"); then
		cat "$OUT/client-$name.err" >&2
		exit 1
	fi
	client_id=$(sed -n 's/^  "client_id": "\([^"]*\)",\{0,1\}$/\1/p' "$OUT/client-$name.json")
	client_secret=$(sed -n 's/^  "client_secret": "\([^"]*\)",\{0,1\}$/\1/p' "$OUT/client-$name.json")
	if [[ -z $client_id || -z $client_secret ]]; then
		echo "no client_id or client_secret in $OUT/client-$name.json" >&2
		exit 1
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

if [[ $backend == postgres ]]; then
	db="foyer_bench_$(date +%Y%m%d_%H%M%S)_$$"
	log "PostgreSQL database $db"
	psql -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -c "CREATE DATABASE $db" >/dev/null
	if [[ $PG_HOST == /* ]]; then # a Unix socket folder
		dsn="postgres://$PG_USER@/$db?host=$PG_HOST&port=$PG_PORT&sslmode=disable"
	else
		dsn="postgres://$PG_USER@$PG_HOST:$PG_PORT/$db?sslmode=disable"
	fi
fi

if [[ $phases != oauth ]]; then
	log "sign-ups (server with bench/config/defaults.yaml)"
	start_server bench/config/defaults.yaml
	for c in $CONCURRENCY; do
		measure_ceiling "register-c$c"
		echo
		bench "register-c$c" register -url "$url" -c "$c" -d "$DURATION" -warmup "$WARMUP" -ceiling "$ceiling"
	done
	measure_ceiling "register-end"
	stop_server

	log "sign-ins and whoami (server with bench/config/no-verification.yaml)"
	start_server bench/config/no-verification.yaml
	users="$OUT/users.jsonl"
	bench setup setup -url "$url" -c 8 -n "$USERS" -users "$users"
	for c in $CONCURRENCY; do
		measure_ceiling "login-c$c"
		echo
		bench "login-c$c" login -url "$url" -users "$users" -c "$c" -d "$DURATION" -warmup "$WARMUP" -ceiling "$ceiling"
	done
	measure_ceiling "login-end"
	FOYER_USERS="$users" wrk_run whoami-wrk whoami.lua /sessions/whoami "$WRK_CONNECTIONS"
	stop_server
fi

if [[ $phases != accounts ]]; then
	log "OAuth (server with bench/config/no-verification.yaml)"
	start_server bench/config/no-verification.yaml
	# A machine client, and a first-party web app (no consent page) with
	# refresh tokens; access tokens live an hour so that those oauth-setup
	# hands out outlast the runs.
	create_client bench-m2m --grant client_credentials
	m2m_id=$client_id m2m_secret=$client_secret
	create_client bench-web --grant authorization_code --grant refresh_token \
		--redirect-uri http://127.0.0.1:9/callback --first-party --access-token-ttl 1h
	web_id=$client_id web_secret=$client_secret
	tokens="$OUT/oauth-tokens.jsonl"
	echo
	FOYER_CLIENT_ID=$web_id FOYER_CLIENT_SECRET=$web_secret \
		bench oauth-setup oauth-setup -url "$url" -c 8 -n "$OAUTH_CONCURRENCY" -tokens "$tokens"
	if [[ ! -s $tokens ]]; then
		echo "oauth-setup wrote no tokens: skipping introspection and refresh" >&2
	fi

	FOYER_CLIENT_ID=$m2m_id FOYER_CLIENT_SECRET=$m2m_secret \
		wrk_run client_credentials-wrk client_credentials.lua /oauth/token "$OAUTH_CONCURRENCY"
	if [[ -s $tokens ]]; then
		# Introspection (of bench-web's access tokens) before refresh, so
		# that a refresh run gone wrong, which revokes its chains' tokens,
		# cannot make the introspected tokens inactive.
		FOYER_CLIENT_ID=$web_id FOYER_CLIENT_SECRET=$web_secret FOYER_TOKENS=$tokens \
			wrk_run introspect-wrk introspect.lua /oauth/introspect "$OAUTH_CONCURRENCY"
		echo
		FOYER_CLIENT_ID=$web_id FOYER_CLIENT_SECRET=$web_secret \
			bench "refresh-c$OAUTH_CONCURRENCY" refresh -url "$url" -c "$OAUTH_CONCURRENCY" -d "$DURATION" -warmup "$WARMUP" -tokens "$tokens"
	fi
	stop_server
fi

log "summary ($backend, $(nproc) CPUs)"
"$OUT/bench" report -backend "$backend" "${results[@]}"
echo
echo "results, users and tokens files, client secrets and server.log: $OUT"
