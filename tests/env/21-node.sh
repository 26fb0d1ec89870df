#!/usr/bin/env bash
# A node for the test API server of 20-kube.sh, so that pods really run:
# containerd, runc and the CNI plugins from Debian; kubelet, kube-proxy
# (iptables mode) and kube-scheduler built by 20-kube.sh from the same pin;
# the images built here, since no registry can be reached:
#   * the pause (sandbox) image, compiled from build/pause/linux/pause.c of
#     the pinned Kubernetes module (static, gcc);
#   * a Debian bookworm base with Python 3.11 (debootstrap, minbase);
#   * the project's Dockerfile built on that base with buildah
#     (--build-arg PYTHON_IMAGE), tagged pyfixmsg-plus:<chart appVersion>,
# each cached under $FIXPLUS_CACHE/node/images keyed by a hash of its
# inputs and imported into containerd with `ctr images import`.
#
# The host uses cgroup v1 and has no systemd: cgroupfs driver,
# failCgroupV1: false, daemons started in the background like etcd (pid
# files and logs under $FIXPLUS_NODE_STATE/run), reused when they answer.
# Pods live on a CNI bridge (fixplus0, 10.244.0.0/24) inside this host.
# NetworkPolicies are enforced by kube-network-policies (sigs.k8s.io, built
# from the Go module proxy), started like the other daemons.
#
# Writes FIXPLUS_NODE (the node's name), FIXPLUS_NODE_IMAGE (the engine
# image), FIXPLUS_NODE_HOST_IP (where pods reach the host) and
# FIXPLUS_NODE_POD_CIDR to $FIXPLUS_ENV_FILE.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
: "${FIXPLUS_CACHE:=$HOME/.cache/pyfixmsg-plus}"
: "${FIXPLUS_ENV_FILE:=$FIXPLUS_CACHE/test-env}"

NODE_NAME=fixplus-node
POD_CIDR=10.244.0.0/24
BRIDGE=fixplus0
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=http://deb.debian.org/debian
BASE_PACKAGES=python3,python3-venv,python-is-python3,ca-certificates

setting() {  # the last value 20-kube.sh wrote for $1
  sed -n "s/^$1=//p" "$FIXPLUS_ENV_FILE" 2>/dev/null | tail -n1
}
kubeconfig="$(setting FIXPLUS_KUBECONFIG)"
kbin="$(setting FIXPLUS_KUBE_BIN)"
pki="$(setting FIXPLUS_KUBE_PKI)"
host_ip="$(setting FIXPLUS_KUBE_HOST_IP)"
server_id="$(setting FIXPLUS_KUBE_SERVER_ID)"
if [ -z "$kubeconfig" ] || [ ! -x "$kbin/kubelet" ] || [ -z "$host_ip" ]; then
  echo "no API server: 20-kube.sh must run first (FIXPLUS_KUBECONFIG, FIXPLUS_KUBE_BIN)"
  exit 1
fi
kubectl() { "$kbin/kubectl" --kubeconfig "$kubeconfig" "$@"; }

node="$FIXPLUS_CACHE/node"
state="${FIXPLUS_NODE_STATE:-$node/state}"
images="$node/images"
run="$state/run"
sock_dir=/run/fixplus-node
sock="$sock_dir/containerd.sock"
mkdir -p "$node" "$state" "$images" "$run" "$sock_dir"

# -- Debian packages ---------------------------------------------------------------
need=""
for pkg in containerd runc containernetworking-plugins iptables conntrack buildah debootstrap \
    util-linux; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
  echo "installing$need"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >/dev/null
fi
cni_bin=/usr/lib/cni

# -- host settings the node needs --------------------------------------------------
# br_netfilter: bridged pod traffic goes through iptables (Services, policies);
# forwarding: a pod reaching a Service backed by a pod on the same bridge.
modprobe br_netfilter 2>/dev/null || true
sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.ipv4.ip_forward=1
# runc and kubelet need these cgroup v1 hierarchies (all mounted here).
for ctl in cpu cpuacct cpuset memory pids; do
  [ -d "/sys/fs/cgroup/$ctl" ] || { echo "cgroup v1 controller $ctl is not mounted"; exit 1; }
done

alive() { [ -s "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }
stop() {  # and wait until it has exited (its ports and files are free)
  if alive "$1"; then
    kill "$(cat "$run/$1.pid")" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$1" || break; sleep 0.1; done
    alive "$1" && kill -9 "$(cat "$run/$1.pid")" 2>/dev/null && sleep 0.5
  fi
  rm -f "$run/$1.pid"
}
start() {  # name args... : in the background, detached, like etcd in 20-kube.sh
  local name="$1"; shift
  nohup setsid "$@" > "$run/$name.log" 2>&1 < /dev/null 8>&- 9>&- &
  echo $! > "$run/$name.pid"
}

exec 9>"$node/node.flock"
flock -w 3000 9

# -- containerd ----------------------------------------------------------------------
pause_tag="3.10.1"   # build/pause/Makefile of the pinned module
k8s_dir="$(cd "$here/kube" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' k8s.io/kubernetes)"
pause_hash="$(cat "$k8s_dir/build/pause/linux/pause.c" | sha256sum | cut -c1-12)"
pause_image="localhost/fixplus-pause:$pause_tag-$pause_hash"
cni_conf="$state/cni"
restrict_oom=false
grep -q '^CapEff:.*' /proc/self/status && \
  python3 -c 'import sys; sys.exit(0 if int(open("/proc/self/status").read().split("CapEff:")[1].split()[0], 16) >> 24 & 1 else 1)' \
  || restrict_oom=true
mkdir -p "$cni_conf" "$state/cni-ipam"
cat > "$state/containerd.toml.tmp" <<EOF
version = 2
root = "$state/containerd"
state = "$sock_dir/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  # this host's root lacks CAP_SYS_RESOURCE: it cannot lower oom_score_adj
  # (the kubelet asks -998 for the pause container), so keep it as it is
  restrict_oom_score_adj = $restrict_oom
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$cni_bin"
    conf_dir = "$cni_conf"
[plugins."io.containerd.internal.v1.opt"]
  path = "$state/containerd-opt"
EOF
cat > "$cni_conf/10-fixplus.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "fixplus",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
     "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$state/cni-ipam",
              "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
ctr() { command ctr --address "$sock" -n k8s.io "$@"; }
if ! cmp -s "$state/containerd.toml.tmp" "$state/containerd.toml" || ! alive containerd \
   || ! ctr version >/dev/null 2>&1; then
  stop kubelet; stop containerd
  mv "$state/containerd.toml.tmp" "$state/containerd.toml"
  start containerd containerd --config "$state/containerd.toml"
  for _ in $(seq 1 50); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done
  ctr version >/dev/null || { tail -n 20 "$run/containerd.log"; exit 1; }
else
  rm -f "$state/containerd.toml.tmp"
fi

# -- images --------------------------------------------------------------------------
buildah() {
  command buildah --root "$node/buildah/storage" --runroot "$sock_dir/buildah" \
    --storage-driver overlay "$@"
}
# import NAME ARCHIVE: into containerd unless it holds NAME from this archive
import() {
  local name="$1" archive="$2" digest
  digest="$(sha256sum "$archive" | cut -c1-16)"
  if [ "$(cat "$state/imported.$(echo "$name" | tr '/:' '__')" 2>/dev/null)" = "$digest" ] \
     && ctr images ls -q "name==$name" | grep -q .; then
    return 0
  fi
  ctr images import --no-unpack=false "$archive" >/dev/null
  echo "$digest" > "$state/imported.$(echo "$name" | tr '/:' '__')"
}
timed() {  # label command...: runs it and records its duration in $node/times
  local label="$1" t0; shift; t0=$(date +%s)
  "$@"
  echo "$label $(( $(date +%s) - t0 )) s" | tee -a "$node/times"
}

# The pause image: pause.c of the pinned module, compiled static.
pause_tar="$images/pause-$pause_tag-$pause_hash.tar"
build_pause() {
  local ctx="$node/build/pause"
  rm -rf "$ctx"; mkdir -p "$ctx"
  gcc -Os -static -DVERSION="v$pause_tag-fixplus" -o "$ctx/pause" "$k8s_dir/build/pause/linux/pause.c"
  strip "$ctx/pause"
  printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' > "$ctx/Containerfile"
  buildah bud --quiet --format docker --isolation chroot -f "$ctx/Containerfile" -t "$pause_image" "$ctx" >/dev/null
  buildah push --quiet "$pause_image" "docker-archive:$pause_tar.tmp:$pause_image"
  mv "$pause_tar.tmp" "$pause_tar"
}
[ -s "$pause_tar" ] || timed "pause image" build_pause
import "$pause_image" "$pause_tar"

# The base: Debian minbase with Python 3.11 (what python:3.11-slim-bookworm gives).
base_hash="$(printf '%s\n' "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$BASE_PACKAGES" minbase v1 | sha256sum | cut -c1-12)"
base_image="localhost/fixplus-debian-python:$DEBIAN_SUITE-$base_hash"
base_tar="$images/debian-python-$base_hash.tar"
build_base() {
  local ctx="$node/build/base"
  rm -rf "$ctx"; mkdir -p "$ctx/rootfs"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$DEBIAN_SUITE" "$ctx/rootfs" \
    "$DEBIAN_MIRROR" > "$node/build/debootstrap.log" 2>&1 \
    || { tail -n 20 "$node/build/debootstrap.log"; return 1; }
  rm -rf "$ctx/rootfs/var/lib/apt/lists/"* "$ctx/rootfs/var/cache/apt/"*.bin \
         "$ctx/rootfs/var/cache/apt/archives/"*.deb "$ctx/rootfs/var/log/"*.log
  tar -C "$ctx/rootfs" -cf "$ctx/rootfs.tar" .
  rm -rf "$ctx/rootfs"
  printf 'FROM scratch\nADD rootfs.tar /\nENV LANG=C.UTF-8\nCMD ["python3"]\n' > "$ctx/Containerfile"
  buildah bud --quiet --format docker --isolation chroot -f "$ctx/Containerfile" -t "$base_image" "$ctx" >/dev/null
  buildah push --quiet "$base_image" "docker-archive:$base_tar.tmp:$base_image"
  mv "$base_tar.tmp" "$base_tar"
  rm -rf "$ctx"
}
[ -s "$base_tar" ] || timed "base image (debootstrap)" build_base

# The project's image: the Dockerfile on that base.  Its key: the base and
# every file of the build context (what .dockerignore leaves in).
app_version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$repo/charts/pyfixmsg-plus/Chart.yaml")"
engine_image="docker.io/library/pyfixmsg-plus:$app_version"
context_hash="$(cd "$repo" && {
  echo "$base_hash"
  find Dockerfile .dockerignore pyproject.toml setup.py README.md engine operator -type f \
    ! -path '*/__pycache__/*' ! -name '*.so' ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-12)"
engine_tar="$images/pyfixmsg-plus-$app_version-$context_hash.tar"
build_engine() {
  # the base must be in buildah's storage (a fresh storage folder has none)
  buildah inspect --type image "$base_image" >/dev/null 2>&1 \
    || buildah pull --quiet "docker-archive:$base_tar" >/dev/null
  # The host's trust store and pip settings, for the build's downloads only
  # (bind mounts of the RUN steps; the image keeps its own).
  local host_files=()
  for f in /etc/ssl/certs/ca-certificates.crt /etc/pip.conf; do
    [ -f "$f" ] && host_files+=(--volume "$f:$f:ro")
  done
  buildah bud --quiet --format docker --isolation chroot --layers=false "${host_files[@]}" \
    --build-arg "PYTHON_IMAGE=$base_image" -t "$engine_image" -f "$repo/Dockerfile" "$repo" \
    > "$node/build/engine.log" 2>&1 || { tail -n 30 "$node/build/engine.log"; return 1; }
  buildah push --quiet "$engine_image" "docker-archive:$engine_tar.tmp:$engine_image"
  mv "$engine_tar.tmp" "$engine_tar"
  # keep only the last few archives of the engine image
  ls -t "$images"/pyfixmsg-plus-*.tar | tail -n +4 | xargs -r rm -f
  buildah rmi --prune >/dev/null 2>&1 || true
}
[ -s "$engine_tar" ] || timed "engine image (buildah)" build_engine
import "$engine_image" "$engine_tar"

# -- kubelet, kube-proxy, kube-scheduler -------------------------------------------
kstate="$state/kubelet"
mkdir -p "$kstate"
cat > "$state/kubelet.yaml.tmp" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$sock
imageServiceEndpoint: unix://$sock
address: $host_ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
podCIDR: $POD_CIDR
maxPods: 80
serializeImagePulls: false
# no registry: images are never collected (they could not be pulled again)
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
rotateCertificates: false
serverTLSBootstrap: false
EOF
node_args="$kbin $host_ip $pki $server_id $(sha256sum "$state/kubelet.yaml.tmp" | cut -c1-12)"
if ! alive kubelet || [ "$(cat "$run/kubelet.args" 2>/dev/null)" != "$node_args" ]; then
  stop kubelet
  mv "$state/kubelet.yaml.tmp" "$state/kubelet.yaml"
  echo "$node_args" > "$run/kubelet.args"
  start kubelet "$kbin/kubelet" --config "$state/kubelet.yaml" --kubeconfig "$kubeconfig" \
    --hostname-override "$NODE_NAME" --node-ip "$host_ip" --root-dir "$kstate" \
    --cert-dir "$kstate/pki" --v 1
else
  rm -f "$state/kubelet.yaml.tmp"
fi
if ! alive kube-proxy || [ "$(cat "$run/kube-proxy.args" 2>/dev/null)" != "$node_args" ]; then
  stop kube-proxy
  echo "$node_args" > "$run/kube-proxy.args"
  start kube-proxy "$kbin/kube-proxy" --kubeconfig "$kubeconfig" --hostname-override "$NODE_NAME" \
    --proxy-mode iptables --cluster-cidr "$POD_CIDR" --nodeport-addresses "$host_ip/32" \
    --conntrack-max-per-core 0 --conntrack-tcp-timeout-established 0 \
    --conntrack-tcp-timeout-close-wait 0 \
    --metrics-bind-address 127.0.0.1:10249 --healthz-bind-address 127.0.0.1:10256
fi
if ! alive kube-scheduler || [ "$(cat "$run/kube-scheduler.args" 2>/dev/null)" != "$node_args" ]; then
  stop kube-scheduler
  echo "$node_args" > "$run/kube-scheduler.args"
  start kube-scheduler "$kbin/kube-scheduler" --kubeconfig "$kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 10259
fi

# -- NetworkPolicy: kube-network-policies (nftables + nfqueue), on the host ----------
# Built from the Go module proxy (wrapper module tests/env/netpol/); it reads
# its API server from the in-cluster settings, so it runs in a mount namespace
# of its own where the service account folder holds the test CA and token.
np_pin="$(cat "$here/netpol/go.mod" "$here/netpol/go.sum" "$here/netpol/tools.go" | sha256sum | cut -c1-12)"
np_bin="$node/netpol/$np_pin/kube-network-policies"
if [ ! -x "$np_bin" ]; then
  mkdir -p "$(dirname "$np_bin")"
  build_netpol() {
    (cd "$here/netpol" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
      -o "$np_bin.tmp" sigs.k8s.io/kube-network-policies/cmd)
    mv "$np_bin.tmp" "$np_bin"
  }
  timed "kube-network-policies build" build_netpol
fi
api_hostport="$(sed -n 's|^ *server: https://\(.*\)$|\1|p' "$kubeconfig" | head -n1)"
np_sa="$state/netpol-sa"
mkdir -p "$np_sa"
cp "$pki/ca.crt" "$np_sa/ca.crt"; cp "$pki/token" "$np_sa/token"; echo kube-system > "$np_sa/namespace"
np_args="$np_bin $api_hostport $server_id"
# It hands packets to itself with the nftables `queue` expression: a kernel
# without it (CONFIG_NFT_QUEUE) cannot enforce policies this way.
netpol=1
if [ -r /proc/config.gz ] && ! zcat /proc/config.gz | grep -Eq '^CONFIG_NFT_QUEUE=(y|m)'; then
  netpol=kernel-lacks-nft-queue
  echo "NetworkPolicy not enforced: this kernel has no nftables queue (CONFIG_NFT_QUEUE)"
  stop netpol
elif ! alive netpol || [ "$(cat "$run/netpol.args" 2>/dev/null)" != "$np_args" ]; then
  stop netpol
  echo "$np_args" > "$run/netpol.args"
  sa_dir=/run/secrets/kubernetes.io/serviceaccount
  mkdir -p "$sa_dir"
  start netpol unshare --mount --propagation private sh -c "mount --bind '$np_sa' '$sa_dir' \
    && exec env KUBERNETES_SERVICE_HOST='${api_hostport%:*}' KUBERNETES_SERVICE_PORT='${api_hostport##*:}' \
       '$np_bin' --hostname-override '$NODE_NAME' --disable-nri --nfqueue-id 98 \
       --metrics-bind-address 127.0.0.1:9080 --v 1"
fi
exec 9>&-

ready() {
  kubectl get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True
}
for _ in $(seq 1 120); do ready && break; sleep 1; done
if ! ready; then
  echo "node $NODE_NAME did not become Ready; last lines of the kubelet's log:"
  tail -n 30 "$run/kubelet.log"
  exit 1
fi
kubectl get node "$NODE_NAME" -o wide
{
  echo "FIXPLUS_NODE=$NODE_NAME"
  echo "FIXPLUS_NODE_IMAGE=$engine_image"
  echo "FIXPLUS_NODE_IMAGE_ARCHIVE=$engine_tar"
  echo "FIXPLUS_NODE_HOST_IP=$host_ip"
  echo "FIXPLUS_NODE_POD_CIDR=$POD_CIDR"
  echo "FIXPLUS_NODE_LOGS=$run"
  echo "FIXPLUS_NODE_NETWORK_POLICY=$netpol"
} >> "$FIXPLUS_ENV_FILE"
