#!/usr/bin/env bash
# A private Redis server for the store tests: 127.0.0.1:$FIXPLUS_REDIS_PORT
# (default 56379) with a password, plus a TLS port (default 56380, a
# self-signed CA made here) when the server supports TLS.  Data directory
# $FIXPLUS_CACHE/redis/data, append-only file with appendfsync always.
#
# * installs the Debian package `redis-server` when redis-server is missing;
# * runs the server as the `redis` user when this script runs as root;
# * writes FIXPLUS_REDIS_URL, FIXPLUS_REDIS_TLS_URL (when TLS works),
#   FIXPLUS_REDIS_CONF, FIXPLUS_REDIS_RUNAS to $FIXPLUS_ENV_FILE (the restart
#   tests stop and start the server).
# Idempotent and fast when the server already runs.
set -euo pipefail
: "${FIXPLUS_CACHE:?}" "${FIXPLUS_ENV_FILE:?}"
port="${FIXPLUS_REDIS_PORT:-56379}"
tls_port="${FIXPLUS_REDIS_TLS_PORT:-56380}"
base="$FIXPLUS_CACHE/redis"
data="$base/data"
mkdir -p "$data"

if ! command -v redis-server > /dev/null || ! command -v redis-cli > /dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "redis-server is missing and this is not root: apt-get install redis-server" >&2
    exit 1
  fi
  echo "installing redis-server"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server > /dev/null
fi
# The package starts a system instance on 6379 where an init system runs;
# ours is separate and on other ports.
echo "$(redis-server --version)"

runas=""
if [ "$(id -u)" = 0 ] && id redis > /dev/null 2>&1; then
  runas=redis
  dir=""
  for part in $(echo "${base#/}" | tr / ' '); do
    dir="$dir/$part"
    if ! runuser -u redis -- test -x "$dir"; then
      echo "granting o+x on $dir so that the redis user can reach $data"
      chmod o+x "$dir"
    fi
  done
fi

pwfile="$base/password"
if [ ! -s "$pwfile" ]; then
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > "$pwfile")
fi
password="$(cat "$pwfile")"

# TLS material: a CA and a server certificate for 127.0.0.1 / localhost.
tls=""
if command -v openssl > /dev/null; then
  if [ ! -s "$base/server.crt" ]; then
    (
      cd "$base"
      openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=fixplus test CA" \
        -keyout ca.key -out ca.crt 2> /dev/null
      openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout server.key -out server.csr 2> /dev/null
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile san.ext -out server.crt 2> /dev/null
      rm -f server.csr san.ext
    )
  fi
  tls=yes
fi

conf="$base/redis.conf"
{
  echo "bind 127.0.0.1"
  echo "port $port"
  echo "protected-mode yes"
  echo "daemonize yes"
  echo "pidfile $data/redis.pid"
  echo "logfile $data/server.log"
  echo "dir $data"
  echo "appendonly yes"
  echo "appendfsync always"
  echo "save \"\""
  echo "requirepass $password"
  if [ -n "$tls" ]; then
    echo "tls-port $tls_port"
    echo "tls-cert-file $base/server.crt"
    echo "tls-key-file $base/server.key"
    echo "tls-ca-cert-file $base/ca.crt"
    echo "tls-auth-clients no"
  fi
} > "$conf.new"
mv "$conf.new" "$conf"
chmod 600 "$conf"
if [ -n "$runas" ]; then
  chown -R "$runas": "$data" "$conf"
  [ -n "$tls" ] && chown "$runas": "$base/server.key" "$base/server.crt"
  chmod o+r "$base/ca.crt" 2> /dev/null || true
fi

cli() { REDISCLI_AUTH="$password" redis-cli -h 127.0.0.1 -p "$port" "$@"; }
if [ "$(cli ping 2> /dev/null)" = PONG ]; then
  echo "redis already running"
else
  echo "starting redis on 127.0.0.1:$port"
  if [ -n "$runas" ]; then
    runuser -u "$runas" -- redis-server "$conf"
  else
    redis-server "$conf"
  fi
  for _ in $(seq 1 50); do
    [ "$(cli ping 2> /dev/null)" = PONG ] && break
    sleep 0.1
  done
  [ "$(cli ping)" = PONG ]
fi

tls_ok=""
if [ -n "$tls" ] && REDISCLI_AUTH="$password" redis-cli --tls --cacert "$base/ca.crt" \
    -h 127.0.0.1 -p "$tls_port" ping 2> /dev/null | grep -q PONG; then
  tls_ok=yes
fi

{
  echo "FIXPLUS_REDIS_URL=redis://:$password@127.0.0.1:$port/0"
  if [ -n "$tls_ok" ]; then
    echo "FIXPLUS_REDIS_TLS_URL=rediss://:$password@127.0.0.1:$tls_port/0?ssl_ca_certs=$base/ca.crt"
  fi
  echo "FIXPLUS_REDIS_CONF=$conf"
  echo "FIXPLUS_REDIS_RUNAS=$runas"
} >> "$FIXPLUS_ENV_FILE"
echo "redis ready on 127.0.0.1:$port${tls_ok:+ (TLS on $tls_port)}"
