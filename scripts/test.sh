#!/usr/bin/env bash
# The project's test command (`npm test`): runs tests/run.ts on Node (tsx), Deno and Bun against a
# project-local PostgreSQL (scripts/pg.sh).
#
#   bash scripts/test.sh [unit|integration|all] [filter]
#   RUNTIMES=node,bun bash scripts/test.sh unit lsn
#
# Environment:
#   RUNTIMES                      comma-separated subset of node,deno,bun (default: all three)
#   PG_TO_BROKERS_TEST_KAFKA      off: do not start Kafka (its tests then skip)
#   PG_TO_BROKERS_TEST_TIMEOUT    seconds one runtime's run may take before it is killed (default 1800)
#   PG_TO_BROKERS_TEST_TIMEOUT_MS default time one test may take before it fails (default 120000;
#                                 tests that need longer name their own)
#   PG_TO_BROKERS_TEST_SEED       seed for randomized scenarios; a failing test prints the one it used
#   PG_TO_BROKERS_TEST_PG_MAJOR   run against PostgreSQL <12…18> from scripts/pg-versions.sh instead of
#                                 scripts/pg.sh's cluster (the distribution's PostgreSQL)
#
# Prints per-runtime summaries and, as the last line, the combined `N passed, N failed, N skipped`.
# Exits non-zero if any runtime reported failures, exited non-zero, or crashed without a summary
# (a crash counts as one failure in the combined line). Skipped tests do not fail the run.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

LOG_DIR="$ROOT/.cache/test-logs"
TIMEOUT="${PG_TO_BROKERS_TEST_TIMEOUT:-1800}"
BIN="$ROOT/node_modules/.bin"

IFS=',' read -r -a runtimes <<<"${RUNTIMES:-node,deno,bun}"
[ "${#runtimes[@]}" -gt 0 ] || { echo "test.sh: RUNTIMES is empty" >&2; exit 2; }
for rt in "${runtimes[@]}"; do
  case "$rt" in
    node | deno | bun) ;;
    *) echo "test.sh: unknown runtime '$rt' in RUNTIMES (use node, deno, bun)" >&2; exit 2 ;;
  esac
done

if [ ! -d node_modules ]; then
  echo "==> node_modules missing: npm ci"
  npm ci --no-audit --no-fund </dev/null || { echo "test.sh: npm ci failed" >&2; exit 1; }
fi

# --- PostgreSQL --------------------------------------------------------------------------------
mkdir -p "$LOG_DIR"
RUNNER_PID_FILE="$LOG_DIR/.runner.$$.pid"
we_started_pg=0
PG_MAJOR="${PG_TO_BROKERS_TEST_PG_MAJOR:-}"

# The cluster the tests use: scripts/pg.sh's, or the chosen major version's from scripts/pg-versions.sh.
pg_cluster() {
  if [ -n "$PG_MAJOR" ]; then
    bash "$ROOT/scripts/pg-versions.sh" "$1" "$PG_MAJOR"
  else
    bash "$ROOT/scripts/pg.sh" "$1"
  fi
}

stop_runner() {
  # The runner runs under `timeout`, which leads its own process group and forwards TERM to it.
  local pid
  pid="$(cat "$RUNNER_PID_FILE" 2>/dev/null)" || return 0
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  rm -f "$RUNNER_PID_FILE"
}
stop_pg_if_ours() {
  # Only a server this run started is stopped; one that was already running is left alone.
  if [ "$we_started_pg" -eq 1 ]; then
    we_started_pg=0
    pg_cluster stop
  fi
}
# Kafka (for the Kafka tests): started below if it is not running; stopped at the end only if this run started it.
we_started_kafka=0
stop_kafka_if_ours() {
  if [ "$we_started_kafka" -eq 1 ]; then
    we_started_kafka=0
    bash "$ROOT/scripts/kafka.sh" stop
  fi
}
trap 'stop_runner; stop_pg_if_ours; stop_kafka_if_ours' EXIT
trap 'echo "test.sh: interrupted" >&2; exit 130' INT
trap 'echo "test.sh: terminated" >&2; exit 143' TERM
trap 'exit 129' HUP

pg_was_running=0
pg_cluster status >/dev/null 2>&1 && pg_was_running=1
pg_cluster start || { echo "test.sh: starting PostgreSQL ${PG_MAJOR:-(scripts/pg.sh)} failed" >&2; exit 1; }
[ "$pg_was_running" -eq 0 ] && we_started_pg=1
pg_env="$(pg_cluster env)" || { echo "test.sh: printing the PostgreSQL environment failed" >&2; exit 1; }
eval "$pg_env"
printf '%s\n' "$pg_env" | sed 's/^export /    /'

# --- Kafka (scripts/kafka.sh: jars from Maven Central, KRaft single node on 127.0.0.1:19092) -------
# Without java or mvn the Kafka tests say so and skip; a failed start is left for them to report.
# PG_TO_BROKERS_TEST_KAFKA=off leaves Kafka alone, for runs without Kafka tests (the version smoke tests).
if [ "${PG_TO_BROKERS_TEST_KAFKA:-on}" != off ] && command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then
  if ! bash scripts/kafka.sh status >/dev/null 2>&1; then
    if bash scripts/kafka.sh start; then we_started_kafka=1; else echo "test.sh: scripts/kafka.sh start failed" >&2; fi
  fi
  eval "$(bash scripts/kafka.sh env)"
fi

# --- runtimes ----------------------------------------------------------------------------------
total_passed=0
total_failed=0
total_skipped=0
any_bad=0
summaries=()

for rt in "${runtimes[@]}"; do
  case "$rt" in
    node) cmd=("$BIN/tsx" tests/run.ts "$@") ;;
    deno) cmd=("$BIN/deno" run -A tests/run.ts "$@") ;;
    bun) cmd=("$BIN/bun" tests/run.ts "$@") ;;
  esac
  # Each run writes its own log (concurrent runs share LOG_DIR); it becomes $rt.log once parsed.
  log="$LOG_DIR/$rt.$$.log"
  echo
  echo "==> $rt: ${cmd[*]#"$ROOT/"}"
  started=$SECONDS
  if [ ! -x "${cmd[0]}" ]; then
    echo "test.sh: ${cmd[0]} not found (run npm ci)" | tee "$log"
    rc=127
  else
    # In the background so that `wait` (unlike a foreground pipeline) lets the INT/TERM traps run at once.
    (
      bash -c 'echo $$ >"$0"; exec timeout -k 10 "$@"' "$RUNNER_PID_FILE" "$TIMEOUT" "${cmd[@]}" </dev/null 2>&1 | tee "$log"
      exit "${PIPESTATUS[0]}"
    ) &
    wait $!
    rc=$?
    rm -f "$RUNNER_PID_FILE"
  fi
  took=$((SECONDS - started))
  [ "$rc" -eq 124 ] && echo "test.sh: $rt timed out after ${TIMEOUT}s"

  line="$(tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;]*m//g' | grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -n 1)"
  mv -f "$log" "$LOG_DIR/$rt.log"
  log="$LOG_DIR/$rt.log"
  if [[ ! "$line" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
    any_bad=1
    total_failed=$((total_failed + 1))
    summaries+=("$rt: CRASHED (exit $rc, no 'N passed, N failed, N skipped' line; counted as 1 failed) in ${took}s — see ${log#"$ROOT/"}")
    echo "test.sh: $rt CRASHED: exited $rc without printing a summary line"
    continue
  fi
  passed="${BASH_REMATCH[1]}"
  failed="${BASH_REMATCH[2]}"
  skipped="${BASH_REMATCH[3]}"
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skipped))
  status=ok
  if [ "$failed" -gt 0 ]; then
    status=FAILED
    any_bad=1
  fi
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    # Reported no failures but exited badly (crash after the summary, timeout, …).
    status="FAILED (exit $rc despite 0 failed; counted as 1 failed)"
    total_failed=$((total_failed + 1))
    any_bad=1
  fi
  summaries+=("$rt: $line — $status in ${took}s")
done

stop_pg_if_ours
stop_kafka_if_ours

echo
echo "==> summary"
for s in "${summaries[@]}"; do echo "  $s"; done
echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
[ "$any_bad" -eq 0 ]
