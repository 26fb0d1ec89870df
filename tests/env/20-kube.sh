#!/usr/bin/env bash
# A real Kubernetes API server for the operator's integration tests:
# etcd + kube-apiserver (+ kube-controller-manager for garbage collection,
# deployments, namespaces, service accounts and endpoint slices), and
# kubectl.  etcd listens on 127.0.0.1; the API server on every address and
# advertises the host's (pods of the node of 21-node.sh reach it through
# the `kubernetes` Service); clients use https://127.0.0.1:$API_PORT.
# The node's programs (kubelet, kube-proxy, kube-scheduler) are built here,
# in the same `go build`, from the same pin; 21-node.sh runs them.
#
# The binaries are built once from the Go module proxy by the wrapper
# module in tests/env/kube/ (it pins k8s.io/kubernetes, its staging modules
# and etcd) and cached under $FIXPLUS_CACHE/kube/<pin>/bin; a second run
# reuses them, and reuses the running servers when they answer.  The Istio
# and ServiceMonitor CRDs come from their Go modules (go mod download).
#
# Writes FIXPLUS_KUBECONFIG, FIXPLUS_KUBECTL, FIXPLUS_KUBE_CRDS,
# FIXPLUS_KUBE_GC, FIXPLUS_KUBE_BIN and FIXPLUS_KUBE_PKI to $FIXPLUS_ENV_FILE.
#
# A second, private API server (e.g. to try a node without disturbing the
# shared one) runs with other ports and another state folder:
#   FIXPLUS_KUBE_API_PORT=26443 FIXPLUS_KUBE_ETCD_PORT=33790 \
#   FIXPLUS_KUBE_ETCD_PEER_PORT=33800 FIXPLUS_KUBE_STATE=/tmp/kube-mine bash 20-kube.sh
# (the binaries are shared; certificates, etcd data and pid files are not).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${FIXPLUS_CACHE:=$HOME/.cache/pyfixmsg-plus}"
: "${FIXPLUS_ENV_FILE:=$FIXPLUS_CACHE/test-env}"

K8S_VERSION=v1.35.4          # keep in step with tests/env/kube/go.mod
ISTIO_API_VERSION=v1.31.1
PROM_OPERATOR_VERSION=v0.85.0
ETCD_PORT="${FIXPLUS_KUBE_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${FIXPLUS_KUBE_ETCD_PEER_PORT:-23800}"
API_PORT="${FIXPLUS_KUBE_API_PORT:-16443}"
SERVICE_CIDR=10.96.0.0/16
SERVICE_API_IP=10.96.0.1     # the `kubernetes` Service: first address of SERVICE_CIDR

pin="$(cat "$here/kube/go.mod" "$here/kube/go.sum" "$here/kube/tools.go" | sha256sum | cut -c1-12)"
root="$FIXPLUS_CACHE/kube"
bin="$root/$pin/bin"
state="${FIXPLUS_KUBE_STATE:-$root}"
run="$state/run"
mkdir -p "$root" "$state" "$run"
# The host's address (the source of its default route): pods reach the API
# server there.  A route lookup only; nothing is sent.
host_ip="$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n1)"
: "${host_ip:=127.0.0.1}"

command -v go >/dev/null || { echo "go is not installed (needed to build kube-apiserver)"; exit 1; }
for tool in openssl curl; do
  command -v "$tool" >/dev/null || apt-get install -y -q "$tool" >/dev/null
done

# -- build (once per pin; a lock keeps two setups from building at once) ------
# (the servers started below must not inherit the lock files: 8>&- 9>&-)
exec 9>"$root/build.flock"
flock -w 5400 9
commands="kube-apiserver kube-controller-manager kubectl kubelet kube-proxy kube-scheduler"
built=1
for cmd in $commands etcd; do [ -x "$bin/$cmd" ] || built=0; done
if [ "$built" = 0 ]; then
  echo "building $commands $K8S_VERSION and etcd into $bin"
  start=$(date +%s)
  tmp="$root/$pin/bin.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld="$ld -X $pkg.gitTreeState=clean"
  done
  (cd "$here/kube" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$tmp/" \
      $(for cmd in $commands; do echo "k8s.io/kubernetes/cmd/$cmd"; done) \
      go.etcd.io/etcd/server/v3)
  mv "$tmp/server" "$tmp/etcd"  # the main package of go.etcd.io/etcd/server/v3
  rm -rf "$bin"; mv "$tmp" "$bin"
  echo "$(( $(date +%s) - start ))" > "$root/$pin/build-seconds"
  echo "built in $(cat "$root/$pin/build-seconds") s"
fi

# -- CRDs of Istio and the Prometheus operator, from their Go modules ----------
crds="$root/crds"
mkdir -p "$crds"
fetch() {  # module@version -> its folder in the module cache
  (cd "$root" && GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
}
if [ ! -s "$crds/istio-$ISTIO_API_VERSION.yaml" ]; then
  dir="$(fetch "istio.io/api@$ISTIO_API_VERSION")"
  cp "$dir/kubernetes/customresourcedefinitions.gen.yaml" "$crds/istio-$ISTIO_API_VERSION.yaml.tmp"
  mv "$crds/istio-$ISTIO_API_VERSION.yaml.tmp" "$crds/istio-$ISTIO_API_VERSION.yaml"
fi
sm="$crds/servicemonitor-$PROM_OPERATOR_VERSION.yaml"
if [ ! -s "$sm" ]; then
  dir="$(fetch "github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION")"
  cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" "$sm.tmp"
  mv "$sm.tmp" "$sm"
fi
exec 9>&-

# -- certificates and tokens (once) --------------------------------------------
pki="$state/pki"
if [ ! -s "$pki/token" ]; then
  rm -rf "$pki"; mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=fixplus-test-ca" 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    token="$(openssl rand -hex 24)"
    echo "$token,admin,admin,system:masters" > tokens.csv
    echo "$token" > token.tmp && mv token.tmp token
  )
fi
# The serving certificate names every address a client uses: 127.0.0.1 (the
# tests), the host's address and the `kubernetes` Service (pods).  Issued
# again when these change (the CA and the token stay).
sans="IP:127.0.0.1,IP:$host_ip,IP:$SERVICE_API_IP,DNS:localhost,DNS:kubernetes"
sans="$sans,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
if [ "$(cat "$pki/san.ext" 2>/dev/null)" != "subjectAltName=$sans" ] || [ ! -s "$pki/apiserver.crt" ]; then
  (
    cd "$pki"
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    printf 'subjectAltName=%s\n' "$sans" > san.ext.tmp
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out apiserver.crt -days 3650 -extfile san.ext.tmp 2>/dev/null
    mv san.ext.tmp san.ext
  )
fi
# The API server's client certificate towards kubelets (kubectl logs, exec).
if [ ! -s "$pki/kubelet-client.crt" ]; then
  (
    cd "$pki"
    openssl req -newkey rsa:2048 -nodes -keyout kubelet-client.key -out kubelet-client.csr \
      -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" 2>/dev/null
    openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out kubelet-client.crt.tmp -days 3650 2>/dev/null
    mv kubelet-client.crt.tmp kubelet-client.crt
  )
fi
token="$(cat "$pki/token")"
kubeconfig="$state/kubeconfig"
cat > "$kubeconfig.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: fixplus-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $pki/ca.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: fixplus-test
  context: {cluster: fixplus-test, user: admin, namespace: default}
current-context: fixplus-test
EOF
mv "$kubeconfig.tmp" "$kubeconfig"

api_ready() {
  curl -fsS --max-time 3 --cacert "$pki/ca.crt" -H "Authorization: Bearer $token" \
    "https://127.0.0.1:$API_PORT/readyz" >/dev/null 2>&1
}
alive() { [ -s "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }
stop() {  # and wait until it has exited (its ports and files are free)
  if alive "$1"; then
    kill "$(cat "$run/$1.pid")" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$1" || break; sleep 0.1; done
    alive "$1" && kill -9 "$(cat "$run/$1.pid")" 2>/dev/null && sleep 0.5
  fi
  rm -f "$run/$1.pid"
}

# -- start (or reuse) etcd, kube-apiserver, kube-controller-manager -------------
# A running server is reused when it answers and was started by these binaries
# with these settings ($run/pin holds both).
started="$pin $host_ip $(sha256sum "$pki/apiserver.crt" | cut -c1-12) v3"
exec 8>"$state/start.flock"
flock -w 600 8
if ! (alive etcd && alive kube-apiserver && api_ready \
      && [ "$(cat "$run/pin" 2>/dev/null)" = "$started" ]); then
  stop kube-controller-manager; stop kube-apiserver; stop etcd
  rm -rf "$run/etcd-data"
  echo "$started" > "$run/pin"
  nohup setsid "$bin/etcd" --name fixplus-test --data-dir "$run/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "fixplus-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --quota-backend-bytes 1073741824 \
    > "$run/etcd.log" 2>&1 < /dev/null 8>&- 9>&- &
  echo $! > "$run/etcd.pid"
  for _ in $(seq 1 50); do
    curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
  nohup setsid "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 0.0.0.0 --advertise-address "$host_ip" --secure-port "$API_PORT" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --kubelet-client-certificate "$pki/kubelet-client.crt" \
    --kubelet-client-key "$pki/kubelet-client.key" --kubelet-preferred-address-types InternalIP \
    --token-auth-file "$pki/tokens.csv" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --allow-privileged=true \
    --service-node-port-range 30000-32767 \
    --enable-priority-and-fairness=false --profiling=false \
    --cert-dir "$run/apiserver-certs" \
    > "$run/kube-apiserver.log" 2>&1 < /dev/null 8>&- 9>&- &
  echo $! > "$run/kube-apiserver.pid"
  for _ in $(seq 1 120); do api_ready && break; sleep 0.5; done
  if ! api_ready; then
    echo "kube-apiserver did not become ready; last lines of its log:"
    tail -n 30 "$run/kube-apiserver.log"
    exit 1
  fi
fi
# Garbage collection (owner references), namespaces, deployments and replica
# sets: enough to see deletion cascade and an update roll a new ReplicaSet;
# for the pods of the node: the `default` ServiceAccount of each namespace,
# the kube-root-ca.crt ConfigMap (projected into every pod), endpoint
# slices (kube-proxy routes Services by them), stateful sets, the
# collection of terminated pods, node taints (a Ready node loses its
# not-ready taint) and autoscalers (an HPA keeps at least minReplicas).
controllers=garbagecollector,namespace,deployment,replicaset,serviceaccount
controllers=$controllers,root-ca-cert-publisher,endpointslice,statefulset,podgc,nodelifecycle
controllers=$controllers,horizontalpodautoscaling
if ! alive kube-controller-manager || [ "$(cat "$run/kcm.controllers" 2>/dev/null)" != "$controllers" ]; then
  stop kube-controller-manager
  echo "$controllers" > "$run/kcm.controllers"
  nohup setsid "$bin/kube-controller-manager" --kubeconfig "$kubeconfig" \
    --controllers "$controllers" --root-ca-file "$pki/ca.crt" \
    --leader-elect=false --secure-port 0 --use-service-account-credentials=false \
    --concurrent-gc-syncs 5 \
    > "$run/kube-controller-manager.log" 2>&1 < /dev/null 8>&- 9>&- &
  echo $! > "$run/kube-controller-manager.pid"
fi
exec 8>&-

"$bin/kubectl" --kubeconfig "$kubeconfig" version
{
  echo "FIXPLUS_KUBECONFIG=$kubeconfig"
  echo "FIXPLUS_KUBECTL=$bin/kubectl"
  echo "FIXPLUS_KUBE_CRDS=$crds/istio-$ISTIO_API_VERSION.yaml:$sm"
  echo "FIXPLUS_KUBE_GC=1"
  echo "FIXPLUS_KUBE_BIN=$bin"
  echo "FIXPLUS_KUBE_PKI=$pki"
  echo "FIXPLUS_KUBE_HOST_IP=$host_ip"
  # a new API server (its etcd starts empty): the node's daemons start again
  echo "FIXPLUS_KUBE_SERVER_ID=$(cat "$run/kube-apiserver.pid")-$(cat "$run/pin" | sha256sum | cut -c1-8)"
} >> "$FIXPLUS_ENV_FILE"
