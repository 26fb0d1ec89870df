#!/usr/bin/env bash
# A private MariaDB server for the MySQL store tests, on
# 127.0.0.1:$FIXPLUS_MARIADB_PORT (default 53306) with TLS offered (a
# self-signed CA made here, as 11-redis.sh does), data directory
# $FIXPLUS_CACHE/mariadb/data, InnoDB with a durable commit
# (innodb_flush_log_at_trx_commit=1, sync_binlog off: no binary log).
#
# * installs the Debian package `mariadb-server` when mariadbd is missing
#   (the package's own system instance is not used: ours has its own
#   directory, port and socket);
# * runs the server as the `mysql` user when this script runs as root, as
#   the current user otherwise;
# * creates the user `fixplus` (password kept in $FIXPLUS_CACHE/mariadb/
#   password) with every privilege on the databases `fixplus` and
#   `fixplus_%` (tests create a database each);
# * writes FIXPLUS_MYSQL_URL, FIXPLUS_MYSQL_TLS_URL, FIXPLUS_MARIADB_BIN, FIXPLUS_MARIADB_CONF,
#   FIXPLUS_MARIADB_RUNAS, FIXPLUS_MARIADB_ROOT_SOCKET to $FIXPLUS_ENV_FILE
#   (the restart tests stop and start the server).
# Idempotent and fast when the server already runs.
set -euo pipefail
: "${FIXPLUS_CACHE:?}" "${FIXPLUS_ENV_FILE:?}"
port="${FIXPLUS_MARIADB_PORT:-53306}"
base="$FIXPLUS_CACHE/mariadb"
data="$base/data"
sock="$base/run/mysqld.sock"
mkdir -p "$base/run"

server_bin() { command -v mariadbd || ls /usr/sbin/mariadbd 2> /dev/null || true; }
mariadbd="$(server_bin)"
if [ -z "$mariadbd" ] || ! command -v mariadb > /dev/null || ! command -v mariadb-install-db > /dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "MariaDB server binaries are missing and this is not root: apt-get install mariadb-server" >&2
    exit 1
  fi
  echo "installing mariadb-server"
  apt-get update -qq
  # no system instance is started by the package where no init system runs;
  # where one runs, it stays on its own default port and socket
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    mariadb-server mariadb-client > /dev/null
  mariadbd="$(server_bin)"
fi
echo "server: $("$mariadbd" --version)"

runas=""
if [ "$(id -u)" = 0 ]; then
  runas=mysql
  # The server user must reach its data directory: grant search (x, not
  # read) on the ancestors that lack it, e.g. /root on CI machines.
  dir=""
  for part in $(echo "${base#/}" | tr / ' '); do
    dir="$dir/$part"
    if ! runuser -u mysql -- test -x "$dir"; then
      echo "granting o+x on $dir so that the mysql user can reach $data"
      chmod o+x "$dir"
    fi
  done
  chown mysql: "$base" "$base/run"
fi
as_server() {
  if [ -n "$runas" ]; then runuser -u "$runas" -- "$@"; else "$@"; fi
}

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
  chmod 600 "$base/server.key" "$base/ca.key"
  if [ -n "$runas" ]; then chown "$runas": "$base/server.key" "$base/server.crt"; fi
  chmod o+r "$base/ca.crt"
  tls=yes
fi

conf="$base/my.cnf"
cat > "$conf.new" <<EOF
# fixplus test server
[mariadbd]
datadir = $data
socket = $sock
pid-file = $base/run/mysqld.pid
log-error = $base/server.log
bind-address = 127.0.0.1
port = $port
skip-name-resolve
default-storage-engine = InnoDB
innodb_flush_log_at_trx_commit = 1
innodb_buffer_pool_size = 128M
innodb_log_file_size = 64M
max_connections = 300
max_allowed_packet = 64M
character-set-server = utf8mb4
collation-server = utf8mb4_bin
EOF
if [ -n "$tls" ]; then
  printf 'ssl_ca = %s\nssl_cert = %s\nssl_key = %s\n' \
    "$base/ca.crt" "$base/server.crt" "$base/server.key" >> "$conf.new"
fi
mv "$conf.new" "$conf"
chmod 644 "$conf"

if [ ! -d "$data/mysql" ]; then
  echo "mariadb-install-db $data"
  rm -rf "$data"
  mkdir -p "$data"
  [ -n "$runas" ] && chown "$runas": "$data"
  # root authenticates by unix socket only (as the OS user running the server)
  as_server mariadb-install-db --defaults-file="$conf" --auth-root-authentication-method=socket \
    --skip-test-db > "$base/install.log" 2>&1
fi

client_root() { as_server mariadb --defaults-file=/dev/null --socket="$sock" -u "${runas:-$(id -un)}" "$@"; }
if [ -S "$sock" ] && client_root -e "SELECT 1" > /dev/null 2>&1; then
  echo "mariadb already running"
else
  echo "starting mariadb on 127.0.0.1:$port"
  rm -f "$sock" "$base/run/mysqld.pid"
  if [ -n "$runas" ]; then
    runuser -u "$runas" -- setsid "$mariadbd" --defaults-file="$conf" < /dev/null > /dev/null 2>&1 &
  else
    setsid "$mariadbd" --defaults-file="$conf" < /dev/null > /dev/null 2>&1 &
  fi
  for _ in $(seq 1 150); do
    client_root -e "SELECT 1" > /dev/null 2>&1 && break
    sleep 0.2
  done
  client_root -e "SELECT 1" > /dev/null
fi

# the OS user running the server is its superuser (unix socket authentication)
client_root <<EOF
CREATE USER IF NOT EXISTS 'fixplus'@'127.0.0.1' IDENTIFIED BY '$password';
ALTER USER 'fixplus'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE DATABASE IF NOT EXISTS fixplus;
GRANT ALL PRIVILEGES ON \`fixplus\`.* TO 'fixplus'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`fixplus\\_%\`.* TO 'fixplus'@'127.0.0.1';
FLUSH PRIVILEGES;
EOF

{
  echo "FIXPLUS_MYSQL_URL=mysql://fixplus:$password@127.0.0.1:$port/fixplus"
  if [ -n "$tls" ]; then
    echo "FIXPLUS_MYSQL_TLS_URL=mysql://fixplus:$password@127.0.0.1:$port/fixplus?ssl_ca=$base/ca.crt"
  fi
  echo "FIXPLUS_MARIADB_BIN=$mariadbd"
  echo "FIXPLUS_MARIADB_CONF=$conf"
  echo "FIXPLUS_MARIADB_RUNAS=$runas"
  echo "FIXPLUS_MARIADB_ROOT_SOCKET=$sock"
} >> "$FIXPLUS_ENV_FILE"
echo "mariadb ready on 127.0.0.1:$port"
