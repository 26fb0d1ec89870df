#!/usr/bin/env bash
# A real HashiCorp Vault server for the secret tests, on 127.0.0.1:58200.
#
# NOT run by tests/env/setup.sh yet: Vault v1.21.4 does not build from the
# Go module proxy (its sdk folder matches no published sdk version; see
# tests/env/README.md, "Vault").  Run it by hand once it builds, then
# `pytest -m vault_server`.
#
# Built once from the Go module proxy by the wrapper module in
# tests/env/vault/ (it requires github.com/hashicorp/vault v1.21.4 and pins
# the published versions of the api and sdk modules that Vault's own go.mod
# replaces by local folders; two call sites are adapted to the published sdk
# at build time, see below) and cached under $FIXPLUS_CACHE/vault/<pin>/.
#
# The server is a real one, not `-dev`: file storage in the cache, sealed at
# every start, initialised once with one key share whose unseal key and root
# token are kept in the cache (files mode 0600), unsealed by this script.
# Configured (idempotently):
#   kv/          KV version 2
#   transit/     Transit
#   database/    the database secrets engine, connection `fixplus-pg` to the
#                test PostgreSQL (10-postgres.sh) as the role fixplus_vault
#                (CREATEROLE); role `fixstore` makes short-lived users that
#                are members of fixplus_vault_owner (their tables belong to
#                it) and are dropped, their sessions ended, when revoked
#   kubernetes/  Kubernetes auth checking tokens against the test
#                kube-apiserver (20-kube.sh), when it is there
#   approle/     AppRole auth
# Tests create their own uniquely named roles, policies and KV paths and
# delete them afterwards.
#
# Writes FIXPLUS_VAULT_ADDR, FIXPLUS_VAULT_TOKEN_FILE (the root token, 0600),
# FIXPLUS_VAULT_BIN, FIXPLUS_VAULT_VERSION, FIXPLUS_VAULT_PG_OWNER,
# FIXPLUS_VAULT_KUBE_AUTH to $FIXPLUS_ENV_FILE.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
: "${FIXPLUS_CACHE:=$HOME/.cache/pyfixmsg-plus}"
: "${FIXPLUS_ENV_FILE:=$FIXPLUS_CACHE/test-env}"

VAULT_VERSION=v1.21.4        # keep in step with tests/env/vault/go.mod
PORT=58200
ADDR="http://127.0.0.1:$PORT"

env_get() { sed -n "s/^$1=//p" "$FIXPLUS_ENV_FILE" 2>/dev/null | tail -n 1; }

pin="$(cat "$here/vault/go.mod" "$here/vault/go.sum" "$here/vault/tools.go" | sha256sum | cut -c1-12)"
root="$FIXPLUS_CACHE/vault"
bin="$root/$pin/bin"
run="$root/run"
mkdir -p "$root" "$run"
chmod 700 "$root"

command -v go >/dev/null || { echo "go is not installed (needed to build vault)"; exit 1; }
command -v curl >/dev/null || apt-get install -y -q curl >/dev/null

# -- build (once per pin; a lock keeps two setups from building at once) ------
exec 9>"$root/build.flock"
flock -w 5400 9
if [ ! -x "$bin/vault" ]; then
  echo "building vault $VAULT_VERSION into $bin"
  start=$(date +%s)
  tmp="$root/$pin/bin.tmp"
  rm -rf "$tmp"; mkdir -p "$tmp"
  # Vault 1.21.4 is built from the sdk folder of its release branch, which
  # was never published as a module version: sdk v0.20.0 lacks calls 1.21.4
  # makes (TryRecordObservationWithRequest), and sdk v0.21.0 (the version its
  # go.mod names, pinned here) gave framework.Backend.ActivationFunc a third
  # argument.  Two call sites in Vault's vault/ package need it: the build
  # copies the published Vault module out of the module cache, adds the
  # argument there, and builds with a go.mod (-modfile) that is the wrapper's
  # plus a replace to that copy.  Nothing of Vault is kept in this repository.
  work="$root/$pin/build"
  rm -rf "$work"; mkdir -p "$work"
  src="$(cd "$here/vault" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' github.com/hashicorp/vault)"
  cp -r "$src" "$work/vault"; chmod -R u+w "$work/vault"
  sed -i 's/ActivationFunc: iStore.activateDeduplication,/ActivationFunc: func(ctx context.Context, req *logical.Request, _ string) error { return iStore.activateDeduplication(ctx, req) },/' \
    "$work/vault/vault/identity_store.go"
  sed -i 's/b.idStoreBackend.ActivationFunc(ctx, nil)/b.idStoreBackend.ActivationFunc(ctx, nil, "")/' \
    "$work/vault/vault/logical_system_activation_flags.go"
  for f in identity_store.go logical_system_activation_flags.go; do
    if cmp -s "$src/vault/$f" "$work/vault/vault/$f"; then
      echo "the fix for vault/$f changed nothing: check tests/env/35-vault.sh"; exit 1
    fi
  done
  cp "$here/vault/go.mod" "$work/build.mod"; cp "$here/vault/go.sum" "$work/build.sum"
  printf '\nreplace github.com/hashicorp/vault => %s\n' "$work/vault" >> "$work/build.mod"
  (cd "$here/vault" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
      -modfile "$work/build.mod" -o "$tmp/vault" github.com/hashicorp/vault)
  rm -rf "$work"
  rm -rf "$bin"; mv "$tmp" "$bin"
  echo "$(( $(date +%s) - start ))" > "$root/$pin/build-seconds"
  echo "built in $(cat "$root/$pin/build-seconds") s"
fi
exec 9>&-

export VAULT_ADDR="$ADDR"
unset VAULT_TOKEN
vault() { "$bin/vault" "$@"; }
alive() { [ -s "$run/vault.pid" ] && kill -0 "$(cat "$run/vault.pid")" 2>/dev/null; }
answers() { curl -sS --max-time 3 -o /dev/null "$ADDR/v1/sys/health?sealedcode=200&uninitcode=200" 2>/dev/null; }

# -- start (or reuse) the server ---------------------------------------------------
exec 8>"$root/start.flock"
flock -w 600 8
if ! (alive && answers && [ "$(cat "$run/pin" 2>/dev/null)" = "$pin" ]); then
  if alive; then kill "$(cat "$run/vault.pid")" 2>/dev/null || true; sleep 1; fi
  echo "$pin" > "$run/pin"
  mkdir -p "$run/data"
  cat > "$run/vault.hcl" <<EOF
storage "file" {
  path = "$run/data"
}
listener "tcp" {
  address     = "127.0.0.1:$PORT"
  tls_disable = true
}
disable_mlock = true
api_addr      = "$ADDR"
ui            = false
log_level     = "warn"
EOF
  nohup setsid "$bin/vault" server -config "$run/vault.hcl" \
    > "$run/vault.log" 2>&1 < /dev/null 8>&- 9>&- &
  echo $! > "$run/vault.pid"
  for _ in $(seq 1 100); do answers && break; sleep 0.2; done
  if ! answers; then
    echo "vault did not answer; last lines of its log:"; tail -n 30 "$run/vault.log"; exit 1
  fi
fi
exec 8>&-

keys="$root/keys"   # unseal key and root token: 0600, never in the repository
mkdir -p "$keys"; chmod 700 "$keys"
status_json="$(vault status -format=json 2>/dev/null || true)"  # exit 2 when sealed
if [ "$(echo "$status_json" | sed -n 's/.*"initialized": \(true\|false\).*/\1/p')" = false ]; then
  echo "initialising vault (one key share)"
  (umask 077
   vault operator init -key-shares=1 -key-threshold=1 -format=json > "$keys/init.json"
   sed -n '/"unseal_keys_b64"/,/]/p' "$keys/init.json" | sed -n 2p | tr -d ' ",' > "$keys/unseal-key"
   sed -n 's/.*"root_token": "\(.*\)".*/\1/p' "$keys/init.json" > "$keys/root-token"
   rm -f "$keys/init.json")
fi
if vault status > /dev/null 2>&1; then :; else  # exit code 2: sealed
  vault operator unseal "$(cat "$keys/unseal-key")" > /dev/null
fi
chmod 600 "$keys/unseal-key" "$keys/root-token"
VAULT_TOKEN="$(cat "$keys/root-token")"
export VAULT_TOKEN

mounted() { vault read -format=json "sys/mounts/$1" > /dev/null 2>&1; }
auth_on() { case "$(vault auth list -format=json)" in *"\"$1/\""*) return 0;; esac; return 1; }
mounted kv || vault secrets enable -path=kv -version=2 kv > /dev/null
mounted transit || vault secrets enable transit > /dev/null
mounted database || vault secrets enable database > /dev/null
auth_on approle || vault auth enable approle > /dev/null

# -- PostgreSQL: an admin role for Vault, an owner role for dynamic users ----------
pg_dsn="$(env_get FIXPLUS_PG_DSN)"
pg_bin="$(env_get FIXPLUS_PG_BIN)"
if [ -z "$pg_dsn" ] || [ -z "$pg_bin" ]; then
  echo "no FIXPLUS_PG_DSN in $FIXPLUS_ENV_FILE: run 10-postgres.sh first"; exit 1
fi
pg_port="$(echo "$pg_dsn" | sed -n 's#.*@[^:]*:\([0-9]*\)/.*#\1#p')"
pg_db="$(echo "$pg_dsn" | sed -n 's#.*/\([^/?]*\)$#\1#p')"
pwfile="$keys/pg-password"
[ -s "$pwfile" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > "$pwfile")
export PGPASSWORD
PGPASSWORD="$(cat "$FIXPLUS_CACHE/postgres/superuser-password")"
psql_super() { "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d "$pg_db" -v ON_ERROR_STOP=1 -qAt "$@"; }
pgpw="$(cat "$pwfile")"
psql_super <<EOF
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fixplus_vault_owner') THEN
    CREATE ROLE fixplus_vault_owner NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fixplus_vault') THEN
    CREATE ROLE fixplus_vault LOGIN CREATEROLE;
  END IF;
END \$\$;
ALTER ROLE fixplus_vault LOGIN CREATEROLE PASSWORD '$pgpw';
GRANT fixplus_vault_owner TO fixplus_vault WITH ADMIN OPTION;
GRANT pg_signal_backend TO fixplus_vault;
GRANT CREATE, CONNECT ON DATABASE $pg_db TO fixplus_vault_owner;
EOF
unset PGPASSWORD
vault write database/config/fixplus-pg plugin_name=postgresql-database-plugin \
  connection_url="postgresql://{{username}}:{{password}}@127.0.0.1:$pg_port/$pg_db?sslmode=disable" \
  username=fixplus_vault password="$pgpw" password_authentication=scram-sha-256 \
  allowed_roles='*' verify_connection=true > /dev/null
# Users of the role `fixstore` (tests make their own roles the same way, with
# TTLs of seconds): they act as fixplus_vault_owner (ALTER ROLE ... SET role)
# so that the tables outlive them; revoking one ends its sessions.
vault write database/roles/fixstore db_name=fixplus-pg default_ttl=1h max_ttl=24h \
  creation_statements="CREATE ROLE \"{{name}}\" LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE fixplus_vault_owner; ALTER ROLE \"{{name}}\" SET role TO fixplus_vault_owner;" \
  revocation_statements="SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}'; DROP ROLE IF EXISTS \"{{name}}\";" \
  > /dev/null

# -- Kubernetes auth against the test kube-apiserver --------------------------------
kube_auth=0
kubeconfig="$(env_get FIXPLUS_KUBECONFIG)"
if [ -n "$kubeconfig" ] && [ -s "$FIXPLUS_CACHE/kube/pki/token" ]; then
  auth_on kubernetes || vault auth enable kubernetes > /dev/null
  server="$(sed -n 's/^ *server: *//p' "$kubeconfig" | head -n 1)"
  # The reviewer token is the API server's admin token (a static token that
  # may create TokenReviews); the CA is the one 20-kube.sh generated.
  vault write auth/kubernetes/config kubernetes_host="$server" \
    kubernetes_ca_cert=@"$FIXPLUS_CACHE/kube/pki/ca.crt" \
    token_reviewer_jwt="$(cat "$FIXPLUS_CACHE/kube/pki/token")" \
    disable_local_ca_jwt=true > /dev/null
  kube_auth=1
else
  echo "no test kube-apiserver (FIXPLUS_KUBECONFIG): Kubernetes auth left off"
fi

vault version
{
  echo "FIXPLUS_VAULT_ADDR=$ADDR"
  echo "FIXPLUS_VAULT_TOKEN_FILE=$keys/root-token"
  echo "FIXPLUS_VAULT_BIN=$bin/vault"
  echo "FIXPLUS_VAULT_VERSION=$VAULT_VERSION"
  echo "FIXPLUS_VAULT_PG_OWNER=fixplus_vault_owner"
  echo "FIXPLUS_VAULT_KUBE_AUTH=$kube_auth"
} >> "$FIXPLUS_ENV_FILE"
