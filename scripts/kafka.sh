#!/usr/bin/env bash
# Manages a project-local, single-node Apache Kafka (KRaft mode) for the tests and for developers.
#
#   scripts/kafka.sh start    fetch the pinned jars if missing (Maven), format storage if needed, start, wait until ready
#   scripts/kafka.sh stop     stop the broker, but only the PID this script started
#   scripts/kafka.sh status   exit 0 if the broker runs, 3 if it does not
#   scripts/kafka.sh env      print `export …` lines for the tests (eval "$(scripts/kafka.sh env)")
#   scripts/kafka.sh reset    stop it, then delete its data (topics and messages)
#   scripts/kafka.sh topic <name> [partitions]   create a topic (default 1 partition); an existing one is fine
#   scripts/kafka.sh consume <topic> [count]     print the topic's message values from its start, one a line,
#                             until count (default 1) arrived; fails after 30 s (PG_TO_BROKERS_CONSUME_TIMEOUT_S)
#
# Files:     <repo>/.cache/kafka/{libs,data,log,server.properties,kafka.pid}; the version is pinned in scripts/kafka/pom.xml.
# Listeners: PLAINTEXT 127.0.0.1:19092, SASL_PLAINTEXT 127.0.0.1:19094 (PLAIN and SCRAM-SHA-256, user pgtb /
#            pgtb-secret), CONTROLLER 127.0.0.1:19093. Only 127.0.0.1. Topics are never auto-created.
# Needs:     java (17+) and mvn on PATH; Maven Central reachable for the first start.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_DIR="$ROOT/.cache/kafka"
LIBS="$KAFKA_DIR/libs"
DATA="$KAFKA_DIR/data"
LOGDIR="$KAFKA_DIR/log"
PIDFILE="$KAFKA_DIR/kafka.pid"
CONFIG="$KAFKA_DIR/server.properties"
LOCK="$ROOT/.cache/kafka.lock"
POM="$ROOT/scripts/kafka/pom.xml"
PORT=19092
SASL_PORT=19094
CONTROLLER_PORT=19093
START_TIMEOUT_S="${PG_TO_BROKERS_KAFKA_START_TIMEOUT_S:-120}"

say() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM"; }

# The PID in the pid file, if that process is alive and is our broker (not a recycled PID).
our_pid() {
  [ -s "$PIDFILE" ] || return 1
  local pid; pid="$(cat "$PIDFILE")"
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-Dpgtb.kafka.home=$KAFKA_DIR .*kafka.Kafka" || return 1
  printf '%s' "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

fetch_jars() {
  local version; version="$(kafka_version)"
  [ -n "$version" ] || die "no <kafka.version> in $POM"
  if [ -f "$LIBS/.complete" ] && [ "$(cat "$LIBS/.complete")" = "$version" ]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install -y maven) to fetch Kafka $version"
  say "fetching Apache Kafka $version jars from Maven Central into $LIBS"
  rm -rf "$LIBS.tmp"
  if ! mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" </dev/null >"$KAFKA_DIR/mvn.log" 2>&1 9>&-; then
    tail -n 30 "$KAFKA_DIR/mvn.log" >&2
    die "mvn could not fetch the Kafka jars (full log: $KAFKA_DIR/mvn.log)"
  fi
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  printf '%s' "$version" >"$LIBS/.complete"
}

write_config() {
  mkdir -p "$DATA" "$LOGDIR"
  cat >"$CONFIG" <<EOF
# Written by scripts/kafka.sh on every start; edits here are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT,SASL_PLAINTEXT://127.0.0.1:$SASL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_PLAINTEXT://127.0.0.1:$SASL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_pgtb="pgtb-secret";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs=$DATA
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.segment.bytes=67108864
EOF
  cat >"$KAFKA_DIR/log4j2.properties" <<EOF
# Written by scripts/kafka.sh: broker log to $LOGDIR/server.log, warnings only for the chattier parts.
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName=$LOGDIR/server.log
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.state.name=state.change.logger
logger.state.level=WARN
EOF
}

java_cmd() {
  command -v java >/dev/null || die "java not found: install a JDK 17+ (apt-get install -y openjdk-17-jre-headless)"
  printf '%s\n' java -Xms128m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
    "-Dpgtb.kafka.home=$KAFKA_DIR" "-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.properties" -cp "$LIBS/*"
}

format_storage() {
  [ -f "$DATA/meta.properties" ] && return 0
  local cluster_id; mapfile -t cmd < <(java_cmd)
  cluster_id="$("${cmd[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOGDIR/format.log" | tail -n 1)"
  [ -n "$cluster_id" ] || die "could not generate a cluster id (see $LOGDIR/format.log)"
  say "formatting KRaft storage in $DATA (cluster $cluster_id)"
  if ! "${cmd[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$CONFIG" \
      --add-scram 'SCRAM-SHA-256=[name=pgtb,password=pgtb-secret]' >>"$LOGDIR/format.log" 2>&1 9>&-; then
    tail -n 20 "$LOGDIR/format.log" >&2
    die "formatting storage failed"
  fi
}

wait_ready() {
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT_S))
  while [ "$SECONDS" -lt "$deadline" ]; do
    [ -d "/proc/$pid" ] || { tail -n 30 "$LOGDIR/server.log" "$LOGDIR/stdout.log" >&2 2>/dev/null; die "the broker exited during start-up (logs in $LOGDIR)"; }
    # The port opens before the broker has caught up with its metadata; the log line comes after.
    if port_open "$PORT" && grep -q 'Kafka Server started' "$LOGDIR/server.log" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  die "the broker did not become ready within ${START_TIMEOUT_S}s (logs in $LOGDIR); it is still running as PID $pid"
}

cmd_start() {
  mkdir -p "$KAFKA_DIR" "$LOGDIR"
  local pid
  if pid="$(our_pid)"; then say "already running (pid $pid, 127.0.0.1:$PORT)"; return 0; fi
  if port_open "$PORT" || port_open "$CONTROLLER_PORT"; then die "port $PORT or $CONTROLLER_PORT is in use by another process; stop it first"; fi
  fetch_jars
  write_config
  format_storage
  mapfile -t cmd < <(java_cmd)
  : >"$LOGDIR/server.log"
  # setsid: the broker must not die with the shell (or test process) that started it.
  setsid "${cmd[@]}" kafka.Kafka "$CONFIG" </dev/null >"$LOGDIR/stdout.log" 2>&1 9>&- &
  pid=$!
  printf '%s' "$pid" >"$PIDFILE"
  say "starting Apache Kafka $(kafka_version) (pid $pid) on 127.0.0.1:$PORT"
  wait_ready "$pid"
  say "ready (pid $pid) after ${SECONDS}s"
}

cmd_stop() {
  local pid
  if ! pid="$(our_pid)"; then rm -f "$PIDFILE"; say "not running"; return 0; fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + 60))
  while [ -d "/proc/$pid" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  if [ -d "/proc/$pid" ]; then say "pid $pid ignored SIGTERM for 60s; sending SIGKILL"; kill -KILL "$pid"; fi
  while [ -d "/proc/$pid" ]; do sleep 0.1; done
  rm -f "$PIDFILE"
  say "stopped (pid $pid)"
}

cmd_status() {
  local pid
  if pid="$(our_pid)"; then echo "running: pid $pid, 127.0.0.1:$PORT, data $DATA"; return 0; fi
  echo "not running (data $DATA)"
  return 3
}

cmd_env() {
  printf 'export PG_TO_BROKERS_TEST_KAFKA_BROKERS=%q\n' "127.0.0.1:$PORT"
  printf 'export PG_TO_BROKERS_TEST_KAFKA_SASL_BROKERS=%q\n' "127.0.0.1:$SASL_PORT"
  printf 'export PG_TO_BROKERS_TEST_KAFKA_PIDFILE=%q\n' "$PIDFILE"
}

# topic/consume: the project's Kafka client (scripts/kafka-client.ts) on the PLAINTEXT listener.
cmd_client() {
  local command="$1"; shift
  [ -n "${1:-}" ] || die "usage: $0 $command <name> [$([ "$command" = topic ] && echo partitions || echo count)]"
  port_open "$PORT" || die "no broker answers on 127.0.0.1:$PORT: start it with bash scripts/kafka.sh start"
  [ -x "$ROOT/node_modules/.bin/tsx" ] || die "node_modules/.bin/tsx is missing: run npm ci in $ROOT first"
  "$ROOT/node_modules/.bin/tsx" "$ROOT/scripts/kafka-client.ts" "$command" "127.0.0.1:$PORT" "$@"
}

cmd_reset() {
  cmd_stop
  rm -rf "$DATA"
  say "deleted $DATA"
}

with_lock() {
  mkdir -p "$ROOT/.cache"
  exec 9>"$LOCK"
  flock -w 300 9 || die "timed out waiting for $LOCK"
  "$@"
}

case "${1:-}" in
  start) with_lock cmd_start ;;
  stop) with_lock cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  reset) with_lock cmd_reset ;;
  topic | consume) cmd_client "$@" ;;
  *) echo "usage: $0 start|stop|status|env|reset|topic|consume" >&2; exit 2 ;;
esac
