#!/usr/bin/env bash
# QuickFIX C++ for the interoperability tests and the benchmarks: the
# `quickfix` binding from PyPI, which compiles from source (a SWIG wrapper
# and the whole C++ engine: many minutes on 2 cores).
#
# The wheel is built once, with OpenSSL (HAVE_SSL, so the SSL acceptor and
# initiator work), and cached as
#   $FIXPLUS_CACHE/wheels/quickfix-ssl/quickfix-$VERSION-*.whl
# then installed into the project's .venv (import quickfix).  To use it
# elsewhere: pip install --no-deps "$FIXPLUS_CACHE"/wheels/quickfix-ssl/quickfix-*.whl
# Writes FIXPLUS_QUICKFIX_WHEEL, FIXPLUS_QUICKFIX_VERSION and
# FIXPLUS_QUICKFIX_SSL (1 when the build has SSL) to $FIXPLUS_ENV_FILE.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${FIXPLUS_CACHE:-$HOME/.cache/pyfixmsg-plus}"
version="${FIXPLUS_QUICKFIX_VERSION:-1.16.0}"
py="$repo/.venv/bin/python"
[ -x "$py" ] || py="$(command -v python3)"
dir="$cache/wheels/quickfix-ssl"
mkdir -p "$dir"

wheel="$(ls "$dir"/quickfix-"$version"-*.whl 2>/dev/null | head -n1 || true)"
if [ -z "$wheel" ]; then
  # build dependencies: a C++ compiler, OpenSSL headers, Python headers
  need=""
  command -v g++ >/dev/null || need="$need g++"
  [ -f /usr/include/openssl/ssl.h ] || need="$need libssl-dev"
  if [ -n "$need" ] && command -v apt-get >/dev/null; then
    apt-get update -q && apt-get install -y -q $need
  fi
  tmp="$(mktemp -d)"
  start=$(date +%s)
  "$py" -m pip download -q --no-deps --no-binary :all: -d "$tmp" "quickfix==$version"
  tar -xzf "$tmp/quickfix-$version.tar.gz" -C "$tmp"
  "$py" -m pip install -q setuptools wheel
  # HAVE_SSL: the SSL sources in the sdist are compiled out without it (its
  # config.h leaves it undefined), and the SWIG wrapper then binds stubs that
  # raise "HAVE_SSL not enabled".  The libraries go through build_ext so that
  # they follow the objects on the link line (LDFLAGS would put them first,
  # and Debian's --as-needed linker then drops them: undefined symbols).
  (cd "$tmp/quickfix-$version" &&
   "$py" setup.py -q build_ext --define HAVE_SSL --libraries "ssl crypto" \
     bdist_wheel -d "$tmp")
  echo "built quickfix $version in $(( $(date +%s) - start )) s"
  mv "$tmp"/quickfix-*.whl "$dir"/
  rm -rf "$tmp"
  wheel="$(ls "$dir"/quickfix-"$version"-*.whl | head -n1)"
fi

if ! "$py" -c "import quickfix, importlib.metadata as m; assert m.version('quickfix') == '$version'; assert quickfix.SSLSocketAcceptor" 2>/dev/null; then
  "$py" -m pip install -q --no-deps --force-reinstall "$wheel"
fi
ssl=0
if "$py" - <<'PY'
import glob, os, quickfix, sys
so = glob.glob(os.path.join(os.path.dirname(quickfix.__file__), "_quickfix*.so"))
data = open(so[0], "rb").read() if so else b""
sys.exit(0 if b"SSL_CTX_new" in data else 1)
PY
then ssl=1; fi
echo "quickfix $version from $wheel (SSL: $ssl)"
echo "FIXPLUS_QUICKFIX_WHEEL=$wheel" >> "$FIXPLUS_ENV_FILE"
echo "FIXPLUS_QUICKFIX_VERSION=$version" >> "$FIXPLUS_ENV_FILE"
echo "FIXPLUS_QUICKFIX_SSL=$ssl" >> "$FIXPLUS_ENV_FILE"
