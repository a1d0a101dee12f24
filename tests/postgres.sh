#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for tests.
#
#   tests/postgres.sh start DIR   initdb into DIR/data, start on 127.0.0.1 on a free port, wait
#                                 until it accepts connections, print the admin URL
#                                 (postgres://postgres@127.0.0.1:PORT/postgres) on stdout
#   tests/postgres.sh url DIR     print the admin URL of a server started in DIR
#   tests/postgres.sh restart DIR stop the server (fast: every connection is cut) and start it
#                                 again on the same port and data; wait until it accepts
#                                 connections
#   tests/postgres.sh stop DIR    stop the server and remove DIR
#
# Typical use:
#   export REPLIDEPLOY_TEST_POSTGRES_URL=$(tests/postgres.sh start /tmp/rd-pg)
#   ctest ...; tests/postgres.sh stop /tmp/rd-pg
#
# Trust authentication on loopback only, fsync off: for tests, never for data that matters.
# As root the server runs as the `postgres` OS user (initdb refuses root).
# PG_BIN overrides the binary directory (default /usr/lib/postgresql/15/bin).
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
readonly MARKER=.replideploy-test-postgres

die() {
  echo "postgres.sh: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 start|stop|url|restart DIR" >&2
  exit 2
}

# Runs a command as the server's OS user.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    if command -v runuser >/dev/null 2>&1; then
      runuser -u postgres -- "$@"
    else
      su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

show_log() {
  local file=$1
  if [[ -f $file ]]; then
    echo "---- last lines of $file ----" >&2
    tail -n 30 "$file" >&2 || true
  fi
}

random_port() {
  echo $(((RANDOM * 32768 + RANDOM) % 40001 + 20000))
}

cmd_start() {
  local dir=$1
  [[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl ]] ||
    die "PostgreSQL binaries not found in $PG_BIN (install postgresql-15 or set PG_BIN)"
  if [[ -e $dir ]]; then
    [[ -d $dir ]] || die "$dir exists and is not a directory"
    [[ -z $(ls -A "$dir") ]] || die "$dir is not empty; stop the old server first: $0 stop $dir"
  fi
  mkdir -p "$dir" || die "cannot create $dir"
  dir=$(cd "$dir" && pwd -P)
  touch "$dir/$MARKER"

  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' OS user"
    chown postgres: "$dir"
    as_pg test -w "$dir" ||
      die "the postgres OS user cannot write $dir (a parent directory is not searchable?); use a directory under /tmp"
  fi

  if ! as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
    --no-locale --no-sync >"$dir/initdb.log" 2>&1; then
    show_log "$dir/initdb.log"
    die "initdb failed (log: $dir/initdb.log)"
  fi

  # A Unix socket path is limited to ~107 bytes; without a socket we use TCP only.
  local sock_dir=''
  if ((${#dir} < 80)); then
    sock_dir="$dir/sock"
    as_pg mkdir -p "$sock_dir"
  fi

  local port attempt started=0
  for attempt in $(seq 1 10); do
    port=$(random_port)
    rm -f "$dir/postgres.log"
    if as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -s \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$sock_dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      start >/dev/null 2>>"$dir/pg_ctl.log"; then
      started=1
      break
    fi
    # A port taken by someone else is worth another try; anything else is not.
    if ! grep -qiE 'could not bind|address already in use|could not create any TCP/IP sockets' \
      "$dir/postgres.log" 2>/dev/null; then
      break
    fi
    echo "postgres.sh: port $port is taken, retrying (attempt $attempt)" >&2
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -s stop >/dev/null 2>&1 || true
  done
  if ((started == 0)); then
    show_log "$dir/pg_ctl.log"
    show_log "$dir/postgres.log"
    die "PostgreSQL did not start (logs: $dir/postgres.log, $dir/pg_ctl.log)"
  fi

  local ready=0
  for _ in $(seq 1 300); do
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
      ready=1
      break
    fi
    sleep 0.1
  done
  if ((ready == 0)); then
    show_log "$dir/postgres.log"
    die "PostgreSQL started but does not accept connections on 127.0.0.1:$port"
  fi

  echo "$port" >"$dir/port"
  echo "postgres://postgres@127.0.0.1:$port/postgres"
}

cmd_url() {
  local dir=$1
  [[ -f $dir/port ]] || die "no server started in $dir"
  echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres"
}

cmd_restart() {
  local dir=$1
  [[ -f $dir/$MARKER && -f $dir/port ]] || die "no server started in $dir"
  local port
  port=$(cat "$dir/port")
  # pg_ctl restart starts the server with the options it was last started with (same port).
  if ! as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -m fast -w -t 60 -s \
    restart >/dev/null 2>>"$dir/pg_ctl.log"; then
    show_log "$dir/pg_ctl.log"
    show_log "$dir/postgres.log"
    die "PostgreSQL did not restart (logs: $dir/postgres.log, $dir/pg_ctl.log)"
  fi
  for _ in $(seq 1 300); do
    if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
      return 0
    fi
    sleep 0.1
  done
  show_log "$dir/postgres.log"
  die "PostgreSQL restarted but does not accept connections on 127.0.0.1:$port"
}

cmd_stop() {
  local dir=$1
  [[ -e $dir ]] || return 0
  # An empty directory (say, from mktemp -d when start failed early) just goes.
  if [[ -d $dir && -z $(ls -A "$dir") ]]; then
    rmdir -- "$dir"
    return 0
  fi
  # Never remove a directory this script did not create.
  [[ -f $dir/$MARKER ]] || die "$dir was not created by $0 start; not touching it"
  if [[ -f $dir/data/postmaster.pid ]]; then
    if ! as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 -s stop >/dev/null 2>&1; then
      echo "postgres.sh: pg_ctl stop failed, stopping with -m immediate" >&2
      as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 -s stop >/dev/null 2>&1 || true
    fi
  fi
  rm -rf -- "$dir"
}

[[ $# -eq 2 && -n $2 ]] || usage
case $1 in
  start) cmd_start "$2" ;;
  stop) cmd_stop "$2" ;;
  url) cmd_url "$2" ;;
  restart) cmd_restart "$2" ;;
  *) usage ;;
esac
