#!/usr/bin/env bash
# Manages a project-local Kinesis API server (kinesis-local, from npm) for tests, benchmarks and demos.
#
#   scripts/kinesis.sh install   install kinesis-local into .cache/kinesis if it is missing
#   scripts/kinesis.sh start     install if needed, start it on 127.0.0.1 (plain HTTP), record its PID
#   scripts/kinesis.sh stop      stop the server this script started (by its recorded PID only)
#   scripts/kinesis.sh status    exit 0 if the recorded server runs, 3 if not
#   scripts/kinesis.sh env       print `export …` lines for the tests (eval "$(scripts/kinesis.sh env)")
#   scripts/kinesis.sh stream <name> [shards]   create a stream (default 1 shard) and wait until it is ACTIVE;
#                                an existing one is fine (region: AWS_REGION, else us-east-1)
#   scripts/kinesis.sh read <stream> [count]    print the data of the stream's records from the start, one a
#                                line, until count (default 1) arrived; fails after 30 s (PG_TO_BROKERS_CONSUME_TIMEOUT_S)
#
# Port: 4568 for HTTP (PG_TO_BROKERS_KINESIS_PORT overrides), 4567 for its HTTPS listener
# (PG_TO_BROKERS_KINESIS_TLS_PORT). Both bind to 127.0.0.1 only (scripts/kinesis-local-loopback.cjs).
# Streams live in memory: they vanish when the server stops.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=0.6.2
DIR="$ROOT/.cache/kinesis"
PACKAGE="$DIR/node_modules/kinesis-local"
PIDFILE="$DIR/server.pid"
LOGFILE="$DIR/server.log"
PORT="${PG_TO_BROKERS_KINESIS_PORT:-4568}"
TLS_PORT="${PG_TO_BROKERS_KINESIS_TLS_PORT:-4567}"

say() { printf 'kinesis.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

installed_version() { node -p "require('$PACKAGE/package.json').version" 2>/dev/null || true; }

cmd_install() {
  [ "$(installed_version)" = "$VERSION" ] && return 0
  command -v npm >/dev/null || die "npm is needed to install kinesis-local"
  say "installing kinesis-local@$VERSION into $DIR"
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "kinesis-local@$VERSION" >&2
  [ "$(installed_version)" = "$VERSION" ] || die "npm did not install kinesis-local@$VERSION"
}

recorded_pid() { [ -s "$PIDFILE" ] && cat "$PIDFILE" || true; }

# True when the recorded PID is alive and is a node process running kinesis-local.
is_running() {
  local pid; pid="$(recorded_pid)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kinesis-local/main.js'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

cmd_start() {
  cmd_install
  if is_running; then say "already running (pid $(recorded_pid), port $PORT)"; return 0; fi
  port_open && die "port $PORT is taken by another process; set PG_TO_BROKERS_KINESIS_PORT"
  # Short state changes keep tests fast; DELETING lasts long enough for a test to observe it.
  (
    cd "$DIR"
    KINESIS_MOCK_CERT_PATH="$PACKAGE/server.json" KINESIS_MOCK_PLAIN_PORT="$PORT" KINESIS_MOCK_TLS_PORT="$TLS_PORT" \
      CREATE_STREAM_DURATION=100ms DELETE_STREAM_DURATION=2s UPDATE_SHARD_COUNT_DURATION=100ms \
      SPLIT_SHARD_DURATION=100ms MERGE_SHARDS_DURATION=100ms SHARD_LIMIT=1000 LOG_LEVEL=WARN \
      nohup node -r "$ROOT/scripts/kinesis-local-loopback.cjs" "$PACKAGE/main.js" >"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
  )
  for _ in $(seq 1 100); do
    if port_open; then say "started (pid $(recorded_pid), http://127.0.0.1:$PORT)"; return 0; fi
    is_running || { tail -n 20 "$LOGFILE" >&2; die "kinesis-local exited during startup"; }
    sleep 0.1
  done
  die "kinesis-local did not open port $PORT within 10 s (log: $LOGFILE)"
}

cmd_stop() {
  if ! is_running; then rm -f "$PIDFILE"; say "not running"; return 0; fi
  local pid; pid="$(recorded_pid)"
  kill "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$PIDFILE"
  say "stopped (pid $pid)"
}

cmd_status() {
  if is_running; then echo "running: pid $(recorded_pid), http://127.0.0.1:$PORT"; return 0; fi
  echo "not running"
  return 3
}

# stream/read: the project's own signed Kinesis client (scripts/kinesis-client.ts) against this server.
cmd_client() {
  local command="$1"; shift
  [ -n "${1:-}" ] || die "usage: $0 $command <name> [$([ "$command" = stream ] && echo shards || echo count)]"
  port_open || die "no Kinesis server answers on 127.0.0.1:$PORT: start it with bash scripts/kinesis.sh start"
  [ -x "$ROOT/node_modules/.bin/tsx" ] || die "node_modules/.bin/tsx is missing: run npm ci in $ROOT first"
  "$ROOT/node_modules/.bin/tsx" "$ROOT/scripts/kinesis-client.ts" "$command" "http://127.0.0.1:$PORT" "$@"
}

cmd_env() {
  printf 'export PG_TO_BROKERS_KINESIS_TEST_ENDPOINT=%q\n' "http://127.0.0.1:$PORT"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  stream | read) cmd_client "$@" ;;
  *) echo "usage: $0 install|start|stop|status|env|stream|read" >&2; exit 2 ;;
esac
