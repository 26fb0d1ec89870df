#!/usr/bin/env bash
# Installs and starts the real parts the tests use (PostgreSQL, Redis, a
# kube-apiserver and etcd, Helm, QuickFIX peers, Prometheus ...).
#
# Each part has its own script here, named NN-name.sh; this runs them in
# order.  A script installs what is missing (Debian packages, Go modules,
# Maven Central, PyPI), caches anything it builds under $FIXPLUS_CACHE
# (outside the repository), starts its server if it is a server, and writes
# the connection settings the tests read to $FIXPLUS_ENV_FILE as
# KEY=VALUE lines.  A script that fails does not stop the others: the tests
# that need its part fail (under CI=true) with a message saying what is
# missing.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
export FIXPLUS_CACHE="${FIXPLUS_CACHE:-$HOME/.cache/pyfixmsg-plus}"
export FIXPLUS_ENV_FILE="${FIXPLUS_ENV_FILE:-$FIXPLUS_CACHE/test-env}"
mkdir -p "$FIXPLUS_CACHE"
: > "$FIXPLUS_ENV_FILE"
status=0
for script in "$here"/[0-9][0-9]-*.sh; do
  [ -e "$script" ] || continue
  name="$(basename "$script")"
  start=$(date +%s)
  if bash "$script" > "$FIXPLUS_CACHE/${name%.sh}.log" 2>&1; then
    echo "test env: $name ready ($(( $(date +%s) - start )) s)"
  else
    echo "test env: $name FAILED ($(( $(date +%s) - start )) s); last lines of its log:"
    tail -n 15 "$FIXPLUS_CACHE/${name%.sh}.log" | sed 's/^/    /'
    status=1
  fi
done
# Non-zero when a part failed; `make test` still runs the tests (those
# that need the part fail under CI=true and say what is missing) and then
# fails with this status.
exit $status
