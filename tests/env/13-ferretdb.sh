#!/usr/bin/env bash
# FerretDB $FERRETDB_VERSION, a MongoDB wire-protocol server, for the MongoDB
# store tests: 127.0.0.1:$FIXPLUS_FERRETDB_PORT (default 57017), its data
# in the database `fixplus_ferretdb` of the test PostgreSQL server (run
# 10-postgres.sh first).  Clients authenticate with the PostgreSQL role's
# name and password (FerretDB v1 hands them to PostgreSQL).
#
# * built once from the Go module proxy (`go mod download` of
#   github.com/FerretDB/FerretDB, `go build ./cmd/ferretdb` in a copy with
#   build/version/version.txt filled in, as its build requires) and cached
#   under $FIXPLUS_CACHE/ferretdb/$FERRETDB_VERSION/bin; GOPATH and GOCACHE
#   live under $FIXPLUS_CACHE/ferretdb/go;
# * runs as the system user `ferretdb` (created when missing) when this
#   script runs as root, as the current user otherwise;
# * writes $FIXPLUS_CACHE/ferretdb/ctl.sh (start|stop, used by the restart
#   tests) and FIXPLUS_MONGODB_URL, FIXPLUS_FERRETDB_CMD,
#   FIXPLUS_FERRETDB_VERSION to $FIXPLUS_ENV_FILE.
# Idempotent and fast when the server already runs.
set -euo pipefail
: "${FIXPLUS_CACHE:?}" "${FIXPLUS_ENV_FILE:?}"
FERRETDB_VERSION=v1.24.2
port="${FIXPLUS_FERRETDB_PORT:-57017}"
debug_port="${FIXPLUS_FERRETDB_DEBUG_PORT:-57018}"
root="$FIXPLUS_CACHE/ferretdb"
bin="$root/$FERRETDB_VERSION/bin"
mkdir -p "$root"

pg_dsn="$(sed -n 's/^FIXPLUS_PG_DSN=//p' "$FIXPLUS_ENV_FILE" | tail -n 1)"
pg_bin="$(sed -n 's/^FIXPLUS_PG_BIN=//p' "$FIXPLUS_ENV_FILE" | tail -n 1)"
if [ -z "$pg_dsn" ] || [ -z "$pg_bin" ]; then
  echo "FIXPLUS_PG_DSN / FIXPLUS_PG_BIN are not in $FIXPLUS_ENV_FILE: run 10-postgres.sh first" >&2
  exit 1
fi
command -v go > /dev/null || { echo "go is not installed (needed to build FerretDB)" >&2; exit 1; }

exec 9> "$root/build.lock"
flock 9
if [ ! -x "$bin/ferretdb" ]; then
  echo "building ferretdb $FERRETDB_VERSION into $bin"
  start=$(date +%s)
  export GOPATH="$root/go/path" GOCACHE="$root/go/cache" GOTOOLCHAIN=local
  dir="$(cd "$root" && GOFLAGS="-mod=mod -modcacherw" \
    go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" \
    | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  src="$root/$FERRETDB_VERSION/src"
  rm -rf "$src" "$bin.tmp"
  mkdir -p "$bin.tmp"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
  echo "$FERRETDB_VERSION" > "$src/build/version/version.txt"
  (cd "$src" && GOFLAGS=-modcacherw CGO_ENABLED=0 \
    go build -trimpath -ldflags "-s -w" -o "$bin.tmp/ferretdb" ./cmd/ferretdb)
  rm -rf "$bin" "$src"
  mv "$bin.tmp" "$bin"
  echo "$(( $(date +%s) - start ))" > "$root/$FERRETDB_VERSION/build-seconds"
  echo "built in $(cat "$root/$FERRETDB_VERSION/build-seconds") s"
fi
exec 9>&-
echo "$("$bin/ferretdb" --version | head -n 1)"

# the database FerretDB keeps its collections in, owned by the test role
pg_hostport="${pg_dsn#*@}"; pg_hostport="${pg_hostport%%/*}"
pg_userpass="${pg_dsn#postgresql://}"; pg_userpass="${pg_userpass%%@*}"
pg_user="${pg_userpass%%:*}"; pg_password="${pg_userpass#*:}"
psql_role() {
  PGPASSWORD="$pg_password" "$pg_bin/psql" -h "${pg_hostport%%:*}" -p "${pg_hostport##*:}" \
    -U "$pg_user" -d "${pg_dsn##*/}" -v ON_ERROR_STOP=1 -qAt "$@"
}
if [ "$(psql_role -c "SELECT 1 FROM pg_database WHERE datname = 'fixplus_ferretdb'")" != 1 ]; then
  psql_role -c "CREATE DATABASE fixplus_ferretdb"
fi

runas=""
if [ "$(id -u)" = 0 ]; then
  runas=ferretdb
  id ferretdb > /dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin ferretdb
  dir=""
  for part in $(echo "${root#/}" | tr / ' '); do
    dir="$dir/$part"
    if ! runuser -u ferretdb -- test -x "$dir"; then
      echo "granting o+x on $dir so that the ferretdb user can reach $bin"
      chmod o+x "$dir"
    fi
  done
fi
state="$root/state"
mkdir -p "$state"
[ -n "$runas" ] && chown "$runas": "$state"

# No credentials in the PostgreSQL URL: each client's own are used.
ctl="$root/ctl.sh"
cat > "$ctl.new" <<EOF
#!/usr/bin/env bash
# start|stop the test FerretDB (written by tests/env/13-ferretdb.sh)
set -euo pipefail
pidfile="$state/ferretdb.pid"
up() { (exec 3<> /dev/tcp/127.0.0.1/$port) 2> /dev/null; }
case "\${1:-}" in
  start)
    if up; then exit 0; fi
    cmd="echo \\\$\\\$ > \$pidfile; exec $bin/ferretdb --handler=postgresql \
--postgresql-url=postgres://$pg_hostport/fixplus_ferretdb --listen-addr=127.0.0.1:$port \
--debug-addr=127.0.0.1:$debug_port --state-dir=$state --telemetry=disable --log-level=error"
    if [ -n "$runas" ]; then
      setsid runuser -u "$runas" -- bash -c "\$cmd" < /dev/null >> "$state/server.log" 2>&1 &
    else
      setsid bash -c "\$cmd" < /dev/null >> "$state/server.log" 2>&1 &
    fi
    for _ in \$(seq 1 150); do up && exit 0; sleep 0.1; done
    echo "ferretdb did not start; see $state/server.log" >&2
    exit 1
    ;;
  stop)
    # SIGTERM closes the listener but lets open connections go on; a stop
    # here is a crash that cuts every connection at once: SIGKILL.
    [ -s "\$pidfile" ] || exit 0
    pid="\$(cat "\$pidfile")"
    kill -KILL "\$pid" 2> /dev/null || exit 0
    for _ in \$(seq 1 150); do
      kill -0 "\$pid" 2> /dev/null || { rm -f "\$pidfile"; exit 0; }
      sleep 0.1
    done
    echo "ferretdb did not stop" >&2
    exit 1
    ;;
  *) echo "usage: \$0 start|stop" >&2; exit 2 ;;
esac
EOF
mv "$ctl.new" "$ctl"
chmod 755 "$ctl"

if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
  echo "ferretdb already running"
else
  echo "starting ferretdb on 127.0.0.1:$port"
  bash "$ctl" start
fi

{
  echo "FIXPLUS_MONGODB_URL=mongodb://$pg_user:$pg_password@127.0.0.1:$port/fixplus?authMechanism=PLAIN"
  echo "FIXPLUS_FERRETDB_CMD=$ctl"
  echo "FIXPLUS_FERRETDB_VERSION=$FERRETDB_VERSION"
} >> "$FIXPLUS_ENV_FILE"
echo "ferretdb ready on 127.0.0.1:$port"
