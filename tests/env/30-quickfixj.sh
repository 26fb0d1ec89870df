#!/usr/bin/env bash
# QuickFIX/J for the interoperability tests (tests/interop/).
#
# Builds tests/interop/qfj (a small acceptor/initiator of ours) with Maven,
# which brings quickfixj-core, the message classes with their data
# dictionaries and the executor example from Maven Central.  The local Maven
# repository and the build directory live under $FIXPLUS_CACHE; a second run
# with unchanged sources does nothing.  Writes FIXPLUS_QFJ_CLASSPATH (a java
# -cp value) and FIXPLUS_QFJ_VERSION to $FIXPLUS_ENV_FILE.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../interop/qfj"
cache="${FIXPLUS_CACHE:-$HOME/.cache/pyfixmsg-plus}"
build="$cache/qfj/build"
m2="$cache/m2"
version="$(sed -n 's:.*<quickfixj.version>\(.*\)</quickfixj.version>.*:\1:p' "$src/pom.xml")"

command -v java >/dev/null && command -v mvn >/dev/null || {
  if command -v apt-get >/dev/null; then
    apt-get update -q && apt-get install -y -q default-jdk-headless maven
  fi
}
command -v java >/dev/null || { echo "java is not installed" >&2; exit 1; }
command -v mvn >/dev/null || { echo "mvn is not installed" >&2; exit 1; }

stamp="$(cat "$src/pom.xml" $(find "$src/src" -type f | sort) | sha256sum | cut -c1-16)"
jar="$build/qfj-interop-peer-1.jar"
if [ -f "$jar" ] && [ "$(cat "$build/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "QuickFIX/J $version peer already built ($build)"
else
  rm -rf "$build"
  mvn -B -q -f "$src/pom.xml" -Dmaven.repo.local="$m2" -Dpeer.build="$build" \
    package dependency:copy-dependencies
  echo "$stamp" > "$build/.stamp"
fi
test -f "$jar"
# QuickFIX/J's own data dictionaries (in its message jar), for our side of
# the tests: they differ from QuickFIX C++'s (e.g. FIX.4.4 ExecType 1 and 2).
spec="$cache/qfj/spec-$version"
if [ ! -f "$spec/FIX44.xml" ]; then
  mkdir -p "$spec"
  (cd "$spec" && jar xf "$(ls "$build/lib"/quickfixj-messages-all-*.jar)" \
     FIX40.xml FIX41.xml FIX42.xml FIX43.xml FIX44.xml FIX50.xml FIX50SP1.xml FIX50SP2.xml FIXT11.xml)
fi
test -n "$(ls "$build/lib"/quickfixj-examples-executor-*.jar)"
echo "FIXPLUS_QFJ_CLASSPATH=$jar:$build/lib/*" >> "$FIXPLUS_ENV_FILE"
echo "FIXPLUS_QFJ_VERSION=$version" >> "$FIXPLUS_ENV_FILE"
echo "FIXPLUS_QFJ_SPEC_DIR=$spec" >> "$FIXPLUS_ENV_FILE"
