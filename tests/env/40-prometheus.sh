#!/usr/bin/env bash
# Prometheus and promtool for the dashboard and alert-rule tests
# (tests/observability).  Nothing is started here: the tests start their own
# Prometheus server with a temporary configuration and data directory.
#
# * installs the Debian package `prometheus` when prometheus or promtool is
#   missing, and keeps the package's system service from running (it would
#   listen on :9090 and scrape nothing of ours);
# * writes FIXPLUS_PROMETHEUS and FIXPLUS_PROMTOOL to $FIXPLUS_ENV_FILE.
# Idempotent and fast when both are installed.
set -euo pipefail
: "${FIXPLUS_CACHE:?}" "${FIXPLUS_ENV_FILE:?}"

prom="$(command -v prometheus || true)"
tool="$(command -v promtool || true)"
if [ -z "$prom" ] || [ -z "$tool" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "prometheus/promtool missing and this is not root: apt-get install prometheus" >&2
    exit 1
  fi
  echo "installing prometheus (Debian package)"
  # policy-rc.d 101: the package's postinst must not start the service.
  policy=/usr/sbin/policy-rc.d
  own_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    own_policy=yes
  fi
  trap '[ -n "$own_policy" ] && rm -f "$policy"' EXIT
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus > /dev/null
  prom="$(command -v prometheus)"
  tool="$(command -v promtool)"
fi
# Where an init system runs, the package may have enabled its service: keep it
# stopped (the tests run their own server on a free port).
if command -v systemctl > /dev/null && systemctl is-active --quiet prometheus 2> /dev/null; then
  systemctl stop prometheus || true
fi
"$prom" --version 2>&1 | head -n 1
"$tool" --version 2>&1 | head -n 1
{
  echo "FIXPLUS_PROMETHEUS=$prom"
  echo "FIXPLUS_PROMTOOL=$tool"
} >> "$FIXPLUS_ENV_FILE"
echo "prometheus ready: $prom, $tool"
