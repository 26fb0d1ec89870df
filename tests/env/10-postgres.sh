#!/usr/bin/env bash
# A private PostgreSQL server for the store tests, on 127.0.0.1:$FIXPLUS_PG_PORT
# (default 55432), data directory $FIXPLUS_CACHE/postgres/data.
#
# * installs the Debian package `postgresql` when no server binaries exist;
# * runs the server as the `postgres` user when this script runs as root
#   (PostgreSQL refuses to run as root), as the current user otherwise;
# * creates the role `fixplus` (password kept in $FIXPLUS_CACHE/postgres/
#   password) owning the database `fixplus`;
# * writes FIXPLUS_PG_DSN, FIXPLUS_PG_BIN, FIXPLUS_PG_DATA, FIXPLUS_PG_RUNAS to
#   $FIXPLUS_ENV_FILE (the restart tests stop and start the server with
#   pg_ctl).
# Idempotent and fast when the server already runs.
set -euo pipefail
: "${FIXPLUS_CACHE:?}" "${FIXPLUS_ENV_FILE:?}"
port="${FIXPLUS_PG_PORT:-55432}"
base="$FIXPLUS_CACHE/postgres"
data="$base/data"
mkdir -p "$base"

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
bin="$(pg_bin)"
if [ -z "$bin" ] || [ ! -x "$bin/pg_ctl" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL server binaries are missing and this is not root: apt-get install postgresql" >&2
    exit 1
  fi
  echo "installing postgresql"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql > /dev/null
  bin="$(pg_bin)"
fi
echo "server binaries: $bin"

runas=""
if [ "$(id -u)" = 0 ]; then
  runas=postgres
  # The server user must be able to reach its data directory.  Grant
  # search (x, not read) permission on the ancestors that lack it, e.g.
  # /root on CI machines.
  dir=""
  for part in $(echo "${base#/}" | tr / ' '); do
    dir="$dir/$part"
    if ! runuser -u postgres -- test -x "$dir"; then
      echo "granting o+x on $dir so that the postgres user can reach $data"
      chmod o+x "$dir"
    fi
  done
  chown postgres: "$base"
fi
as_server() {
  if [ -n "$runas" ]; then runuser -u "$runas" -- "$@"; else "$@"; fi
}

pwfile="$base/password"
if [ ! -s "$pwfile" ]; then
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > "$pwfile")
fi
password="$(cat "$pwfile")"
superfile="$base/superuser-password"

if [ ! -s "$data/PG_VERSION" ]; then
  echo "initdb $data"
  rm -rf "$data"
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > "$superfile")
  [ -n "$runas" ] && chown "$runas" "$superfile"
  as_server "$bin/initdb" -D "$data" -U postgres --pwfile="$superfile" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --no-instructions > /dev/null
  [ -n "$runas" ] && chown root "$superfile"
  cat >> "$data/postgresql.conf" <<EOF
# fixplus test server
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
max_connections = 300
shared_buffers = 128MB
fsync = on
synchronous_commit = on
logging_collector = off
EOF
fi

export PGPASSWORD
PGPASSWORD="$(cat "$superfile")"
if ! as_server "$bin/pg_ctl" -D "$data" status > /dev/null 2>&1; then
  echo "starting postgres on 127.0.0.1:$port"
  as_server "$bin/pg_ctl" -D "$data" -l "$base/server.log" -w -t 60 start > /dev/null
else
  echo "postgres already running"
fi
for _ in $(seq 1 50); do
  "$bin/pg_isready" -h 127.0.0.1 -p "$port" -q && break
  sleep 0.2
done

psql_super() { "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
if [ "$(psql_super -c "SELECT 1 FROM pg_roles WHERE rolname = 'fixplus'")" != 1 ]; then
  psql_super -c "CREATE ROLE fixplus LOGIN CREATEDB PASSWORD '$password'"
else
  psql_super -c "ALTER ROLE fixplus LOGIN CREATEDB PASSWORD '$password'"
fi
if [ "$(psql_super -c "SELECT 1 FROM pg_database WHERE datname = 'fixplus'")" != 1 ]; then
  psql_super -c "CREATE DATABASE fixplus OWNER fixplus"
fi

{
  echo "FIXPLUS_PG_DSN=postgresql://fixplus:$password@127.0.0.1:$port/fixplus"
  echo "FIXPLUS_PG_BIN=$bin"
  echo "FIXPLUS_PG_DATA=$data"
  echo "FIXPLUS_PG_RUNAS=$runas"
} >> "$FIXPLUS_ENV_FILE"
echo "postgres ready on 127.0.0.1:$port"
