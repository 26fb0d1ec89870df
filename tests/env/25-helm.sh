#!/usr/bin/env bash
# Helm, for the chart tests (tests/helm): the real `helm` binary, built once
# with `go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION` from the Go module
# proxy and cached under $FIXPLUS_CACHE/helm/$HELM_VERSION/bin.  GOPATH (the
# module cache) and GOCACHE live under $FIXPLUS_CACHE/helm/go so that the
# build neither needs nor pollutes ~/go; a second run reuses the binary.
#
# The chart tests also need the prometheus-operator's PrometheusRule CRD (the
# chart renders its alerting rules as a PrometheusRule when that API exists):
# it is taken from the prometheus-operator Go module (`go mod download`).
#
# Writes FIXPLUS_HELM, FIXPLUS_HELM_VERSION and FIXPLUS_PROMETHEUSRULE_CRD to
# $FIXPLUS_ENV_FILE.
set -euo pipefail
: "${FIXPLUS_CACHE:=$HOME/.cache/pyfixmsg-plus}"
: "${FIXPLUS_ENV_FILE:=$FIXPLUS_CACHE/test-env}"

HELM_VERSION=v3.21.4
PROM_OPERATOR_VERSION=v0.85.0   # the same as tests/env/20-kube.sh

root="$FIXPLUS_CACHE/helm"
bin="$root/$HELM_VERSION/bin"
mkdir -p "$root"

command -v go >/dev/null || { echo "go is not installed (needed to build helm)"; exit 1; }

exec 9>"$root/build.lock"
flock 9
if [ ! -x "$bin/helm" ]; then
  echo "building helm $HELM_VERSION into $bin"
  start=$(date +%s)
  tmp="$root/$HELM_VERSION/bin.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  # `helm version` reads these; without them it reports the version its
  # source was branched from.
  ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ld="$ld -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  GOPATH="$root/go/path" GOCACHE="$root/go/cache" GOBIN="$tmp" \
    GOFLAGS=-modcacherw CGO_ENABLED=0 GOTOOLCHAIN=local \
    go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  rm -rf "$bin"; mv "$tmp" "$bin"
  echo "$(( $(date +%s) - start ))" > "$root/$HELM_VERSION/build-seconds"
  echo "built in $(cat "$root/$HELM_VERSION/build-seconds") s"
fi

rule_crd="$root/crds/prometheusrules-$PROM_OPERATOR_VERSION.yaml"
if [ ! -s "$rule_crd" ]; then
  mkdir -p "$root/crds"
  dir="$(cd "$root" && GOPATH="$root/go/path" GOCACHE="$root/go/cache" GOFLAGS="-mod=mod -modcacherw" \
    go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION" \
    | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" "$rule_crd.tmp"
  mv "$rule_crd.tmp" "$rule_crd"
fi
exec 9>&-

"$bin/helm" version --short
{
  echo "FIXPLUS_HELM=$bin/helm"
  echo "FIXPLUS_HELM_VERSION=$HELM_VERSION"
  echo "FIXPLUS_PROMETHEUSRULE_CRD=$rule_crd"
} >> "$FIXPLUS_ENV_FILE"
