#!/usr/bin/env bash
# Manages a project-local PostgreSQL cluster for the tests (never the distribution's default cluster).
#
#   scripts/pg.sh start    install PostgreSQL if missing, init the cluster if needed, start it, create test roles
#   scripts/pg.sh stop     stop the cluster, but only if this script started it
#   scripts/pg.sh status   exit 0 if the project cluster runs, 3 if it does not
#   scripts/pg.sh env      print `export …` lines for the tests (eval "$(scripts/pg.sh env)")
#
# Cluster:   <repo>/.cache/pg/{data,sock,log}; port 54329 (PG_TO_BROKERS_PG_PORT overrides).
# Accounts:  postgres/postgres (superuser), pgtb/pgtb-secret (LOGIN REPLICATION SUPERUSER),
#            pgtb_norepl/norepl-secret (LOGIN only); database pgtb owned by pgtb.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_DIR="$ROOT/.cache/pg"
DATA="$PG_DIR/data"
SOCK="$PG_DIR/sock"
LOGDIR="$PG_DIR/log"
LOGFILE="$LOGDIR/postgres.log"
MARKER="$PG_DIR/started-by-script"
LOCK="$ROOT/.cache/pg-script.lock"
DEFAULT_PORT=54329
PORT="${PG_TO_BROKERS_PG_PORT:-$DEFAULT_PORT}"

say() { printf 'pg.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Runs a command as the cluster owner: `postgres` when we are root, otherwise the current user.
# fd 9 (the lock) is closed so a started postmaster does not hold the lock forever.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@") 9>&-
  else
    (cd / && "$@") 9>&-
  fi
}

pg_installed() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }

# The newest installed major version's bin dir (empty if none).
find_bindir() {
  local newest
  newest="$(for p in /usr/lib/postgresql/*/bin/postgres; do [ -x "$p" ] && dirname "$p"; done | sort -V | tail -n 1)"
  printf '%s' "$newest"
}

install_pg() {
  pg_installed && return 0
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed and we are not root: apt-get install -y postgresql"
  export DEBIAN_FRONTEND=noninteractive
  say "PostgreSQL not found; installing it with apt-get"
  # Skip `apt-get update` when the package lists already know the package.
  if ! apt-cache show postgresql >/dev/null 2>&1 || ! apt-get install -y -q postgresql </dev/null 9>&-; then
    apt-get update -q </dev/null 9>&-
    apt-get install -y -q postgresql </dev/null 9>&-
  fi
  pg_installed || die "apt-get install postgresql did not provide /usr/lib/postgresql/*/bin/postgres"
}

# Port of the running postmaster (line 4 of postmaster.pid), or empty.
running_port() { [ -r "$DATA/postmaster.pid" ] && sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true; }
postmaster_pid() { [ -r "$DATA/postmaster.pid" ] && sed -n 1p "$DATA/postmaster.pid" 2>/dev/null || true; }

is_running() {
  local bindir="$1"
  [ -n "$bindir" ] && [ -f "$DATA/PG_VERSION" ] || return 1
  as_pg "$bindir/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

prepare_dirs() {
  mkdir -p "$ROOT/.cache" "$PG_DIR" "$SOCK" "$LOGDIR"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$PG_DIR" "$SOCK" "$LOGDIR"
    # The postgres user must be able to reach the cluster directory.
    runuser -u postgres -- test -x "$PG_DIR" -a -w "$PG_DIR" \
      || die "the postgres user cannot reach $PG_DIR (make its parent directories world-traversable)"
  fi
  chmod 755 "$SOCK" "$LOGDIR"
  # sun_path holds 107 bytes; the socket is $SOCK/.s.PGSQL.<port>.
  local sock_path="$SOCK/.s.PGSQL.$PORT"
  [ "${#sock_path}" -lt 108 ] || die "socket path too long (${#sock_path} bytes): $sock_path"
}

init_cluster() {
  local bindir="$1"
  [ -f "$DATA/PG_VERSION" ] && return 0
  if [ -d "$DATA" ] && [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
    die "$DATA exists but holds no cluster; remove it and retry"
  fi
  say "initialising cluster in $DATA"
  local pwfile="$PG_DIR/.pwfile"
  (umask 077 && printf 'postgres\n' >"$pwfile")
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pwfile"
  local locale=C
  if locale -a 2>/dev/null | grep -qixE 'c\.utf-?8'; then locale=C.UTF-8; fi
  if ! as_pg "$bindir/initdb" -D "$DATA" -U postgres --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale="$locale" --no-sync >"$LOGDIR/initdb.log" 2>&1; then
    rm -f "$pwfile"
    cat "$LOGDIR/initdb.log" >&2
    die "initdb failed"
  fi
  rm -f "$pwfile"
}

configure_cluster() {
  local conf="$DATA/pg_to_brokers.conf"
  # Regenerated on every start so port/socket changes take effect; included once from postgresql.conf.
  as_pg tee "$conf" >/dev/null <<EOF
# Written by scripts/pg.sh on every start; edits here are overwritten.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
wal_level = logical
max_replication_slots = 64
max_wal_senders = 64
logical_decoding_work_mem = 64kB
wal_sender_timeout = 60s
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
log_min_messages = warning
logging_collector = off
password_encryption = scram-sha-256
EOF
  if ! grep -q "^include_if_exists = 'pg_to_brokers.conf'" "$DATA/postgresql.conf"; then
    printf "\n# Added by scripts/pg.sh\ninclude_if_exists = 'pg_to_brokers.conf'\n" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
  fi
  as_pg tee "$DATA/pg_hba.conf" >/dev/null <<'EOF'
# Written by scripts/pg.sh on every start; edits here are overwritten.
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  trust
local   replication  all                  trust
host    all          all   127.0.0.1/32   scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
EOF
}

psql_super() {
  local bindir="$1"; shift
  "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d postgres "$@" 9>&-
}

ensure_roles() {
  local bindir="$1"
  psql_super "$bindir" <<'SQL' >/dev/null
SET client_min_messages = warning;
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgtb') THEN
    CREATE ROLE pgtb;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgtb_norepl') THEN
    CREATE ROLE pgtb_norepl;
  END IF;
END
$$;
ALTER ROLE pgtb LOGIN REPLICATION SUPERUSER PASSWORD 'pgtb-secret';
ALTER ROLE pgtb_norepl LOGIN NOREPLICATION NOSUPERUSER PASSWORD 'norepl-secret';
ALTER ROLE postgres PASSWORD 'postgres';
SELECT 'CREATE DATABASE pgtb OWNER pgtb' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'pgtb')
\gexec
SQL
}

cmd_start() {
  install_pg
  local bindir; bindir="$(find_bindir)"
  [ -n "$bindir" ] || die "no PostgreSQL bin directory under /usr/lib/postgresql"
  prepare_dirs
  if is_running "$bindir"; then
    local rp; rp="$(running_port)"
    if [ -n "$rp" ] && [ "$rp" != "$PORT" ]; then
      die "the project cluster already runs on port $rp, not $PORT; run scripts/pg.sh stop first"
    fi
    say "already running (pid $(postmaster_pid), port $PORT)"
  else
    init_cluster "$bindir"
    configure_cluster
    say "starting PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"
    if ! as_pg "$bindir/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 start >/dev/null; then
      say "pg_ctl start failed; last lines of $LOGFILE:"
      tail -n 20 "$LOGFILE" >&2 || true
      exit 1
    fi
    postmaster_pid >"$MARKER"
    say "started (pid $(cat "$MARKER"))"
  fi
  ensure_roles "$bindir"
}

cmd_stop() {
  local bindir; bindir="$(find_bindir)"
  if ! is_running "$bindir"; then
    rm -f "$MARKER"
    say "not running"
    return 0
  fi
  if [ ! -s "$MARKER" ]; then
    say "running (pid $(postmaster_pid)) but not started by this script; leaving it alone"
    return 0
  fi
  local pid; pid="$(postmaster_pid)"
  if [ "$(cat "$MARKER")" != "$pid" ]; then
    say "running pid $pid is not the one this script started ($(cat "$MARKER")); leaving it alone"
    return 0
  fi
  as_pg "$bindir/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
  rm -f "$MARKER"
  say "stopped (pid $pid)"
}

cmd_status() {
  local bindir; bindir="$(find_bindir)"
  if is_running "$bindir"; then
    local by=no
    [ -s "$MARKER" ] && [ "$(cat "$MARKER")" = "$(postmaster_pid)" ] && by=yes
    echo "running: pid $(postmaster_pid), port $(running_port), data $DATA, started by pg.sh: $by"
    return 0
  fi
  echo "not running (data $DATA)"
  return 3
}

cmd_env() {
  local bindir; bindir="$(find_bindir)"
  local port="$PORT"
  if is_running "$bindir"; then
    local rp; rp="$(running_port)"
    [ -n "$rp" ] && port="$rp"
  fi
  printf 'export PG_TO_BROKERS_TEST_URL=%q\n' "postgres://pgtb:pgtb-secret@127.0.0.1:$port/pgtb"
  printf 'export PG_TO_BROKERS_TEST_SOCKET_DIR=%q\n' "$SOCK"
  printf 'export PG_TO_BROKERS_TEST_PORT=%q\n' "$port"
  printf 'export PG_TO_BROKERS_PG_BIN=%q\n' "$bindir"
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
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
