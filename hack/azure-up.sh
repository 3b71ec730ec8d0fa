#!/usr/bin/env bash
# Start the Azure side of the local test environment: Azurite (blob service, HTTPS, OAuth) behind
# the azure-fakes stand-ins (Entra ID token endpoint, ARM, authorization proxy, OIDC issuers).
# Usage: hack/azure-up.sh --dir DIR --clusters "cluster-1 cluster-2" [--owner-pid PID [--remove-dir]]
#   --owner-pid: stop everything (and with --remove-dir delete DIR) once process PID exits.
# Appends the variables other scripts and tests use to DIR/env.sh. See docs/testing.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/lib/azure-env.sh
source "$ROOT/hack/lib/azure-env.sh"

DIR="" CLUSTERS="" OWNER_PID="" REMOVE_DIR=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --clusters) CLUSTERS="$2"; shift 2 ;;
    --owner-pid) OWNER_PID="$2"; shift 2 ;;
    --remove-dir) REMOVE_DIR=1; shift ;;
    *) die "unknown argument $1 (usage: --dir DIR --clusters \"c1 c2\" [--owner-pid PID [--remove-dir]])" ;;
  esac
done
[[ -n "$DIR" ]] || die "--dir is required"
mkdir -p "$DIR/logs" "$DIR/azure"
DIR="$(cd "$DIR" && pwd)"

for tool in openssl perl basenc curl node npm; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install openssl perl coreutils curl nodejs npm)"
done

install_azurite() {
  [[ -x "$AZURITE_CACHE/node_modules/.bin/azurite-blob" ]] && return 0
  echo "installing azurite@$AZURITE_VERSION into $AZURITE_CACHE" >&2
  mkdir -p "$AZURITE_CACHE.tmp"
  npm install --prefix "$AZURITE_CACHE.tmp" "azurite@$AZURITE_VERSION" --no-audit --no-fund \
    >"$DIR/logs/azurite-install.log" 2>&1 ||
    die "npm install azurite@$AZURITE_VERSION failed, see $DIR/logs/azurite-install.log"
  rm -rf "$AZURITE_CACHE"
  mv "$AZURITE_CACHE.tmp" "$AZURITE_CACHE"
}

fakes_binary() {
  if [[ -n "${HERBARIUM_AZURE_FAKES_BIN:-}" ]]; then
    echo "$HERBARIUM_AZURE_FAKES_BIN"
    return 0
  fi
  (cd "$ROOT" && cargo build -q -p herbarium-azure-fakes >&2) || die "cargo build -p herbarium-azure-fakes failed"
  echo "${CARGO_TARGET_DIR:-$ROOT/target}/debug/herbarium-azure-fakes"
}

pid_alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() { # wait_for WHAT SECONDS COMMAND... (WHAT names DIR/WHAT.pid and DIR/logs/WHAT.log)
  local what="$1" secs="$2"
  shift 2
  for _ in $(seq 1 $((secs * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    if ! pid_alive "$DIR/$what.pid"; then
      tail -20 "$DIR/logs/$what.log" >&2 || true
      die "$what exited during start-up (log: $DIR/logs/$what.log)"
    fi
    sleep 0.1
  done
  tail -20 "$DIR/logs/$what.log" >&2 || true
  die "$what not ready after ${secs}s (logs in $DIR/logs/)"
}

install_azurite
ensure_ca "$DIR"
ensure_signing_key "$DIR"

# Ports and identifiers are chosen once per environment and kept, so a restart keeps its URLs.
if [[ ! -s "$DIR/azure/ports.env" ]]; then
  ports=$(free_ports 6) || die "no free ports on 127.0.0.1"
  {
    paste -d= <(printf '%s\n' AZURITE_PORT ENTRA_PORT ARM_PORT BLOB_PORT ISSUER_PORT ADMIN_PORT) <(echo "$ports")
    echo "TENANT_ID=$(new_uuid)"
    echo "SUBSCRIPTION_ID=$(new_uuid)"
    echo "RESOURCE_GROUP=herbarium-test"
  } >"$DIR/azure/ports.env"
fi
load_ports "$DIR"

for c in garden $CLUSTERS; do
  [[ -s "$DIR/issuers/$c/issuer" ]] && continue
  if [[ "$c" == garden ]]; then project=garden; else project=local; fi
  new_issuer "$DIR" "$c" "$project" "$ISSUER_PORT"
done

if ! pid_alive "$DIR/azurite.pid"; then
  mkdir -p "$DIR/azurite"
  nohup "$AZURITE_CACHE/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$AZURITE_PORT" \
    --location "$DIR/azurite" --debug "$DIR/logs/azurite-debug.log" --disableTelemetry \
    --oauth basic --cert "$DIR/ca/server.pem" --key "$DIR/ca/server.key" --skipApiVersionCheck \
    >"$DIR/logs/azurite.log" 2>&1 </dev/null &
  echo $! >"$DIR/azurite.pid"
fi

if ! pid_alive "$DIR/azure-fakes.pid"; then
  bin="$(fakes_binary)"
  rm -f "$DIR/azure/provisioned.env"
  nohup "$bin" serve --dir "$DIR" --tenant "$TENANT_ID" --subscription "$SUBSCRIPTION_ID" \
    --resource-group "$RESOURCE_GROUP" --azurite-url "https://127.0.0.1:$AZURITE_PORT" \
    --entra-port "$ENTRA_PORT" --arm-port "$ARM_PORT" --blob-port "$BLOB_PORT" \
    --issuer-port "$ISSUER_PORT" --admin-port "$ADMIN_PORT" \
    >"$DIR/logs/azure-fakes.log" 2>&1 </dev/null &
  echo $! >"$DIR/azure-fakes.pid"
fi

wait_for azurite 120 curl -s --cacert "$DIR/ca/ca.pem" -o /dev/null "https://127.0.0.1:$AZURITE_PORT/devstoreaccount1?comp=list"
wait_for azure-fakes 120 test -s "$DIR/azure/provisioned.env"
wait_for azure-fakes 30 curl -sf --cacert "$DIR/ca/ca.pem" "https://127.0.0.1:$ADMIN_PORT/admin/healthz"
# shellcheck disable=SC1091
source "$DIR/azure/provisioned.env"

cat >>"$DIR/env.sh" <<EOF
# Azure stand-ins (hack/azure-up.sh)
export HERBARIUM_CA_FILE=$DIR/ca/ca.pem
export HERBARIUM_BLOB_ENDPOINT=https://127.0.0.1:$BLOB_PORT/devstoreaccount1
export HERBARIUM_STORAGE_ACCOUNT=devstoreaccount1
export AZURE_AUTHORITY_HOST=https://127.0.0.1:$ENTRA_PORT/
export AZURE_TENANT_ID=$TENANT_ID
export HERBARIUM_ARM_ENDPOINT=https://127.0.0.1:$ARM_PORT
export HERBARIUM_SUBSCRIPTION_ID=$SUBSCRIPTION_ID
export HERBARIUM_RESOURCE_GROUP=$RESOURCE_GROUP
export HERBARIUM_CONTROLLER_CLIENT_ID=$HERBARIUM_CONTROLLER_CLIENT_ID
export HERBARIUM_TEST_OPERATOR_CLIENT_ID=$HERBARIUM_TEST_OPERATOR_CLIENT_ID
export HERBARIUM_FAKES_ADMIN=https://127.0.0.1:$ADMIN_PORT/admin
export HERBARIUM_AZURE_ENV_DIR=$DIR
EOF

if [[ -n "$OWNER_PID" ]]; then
  # Runs until the owner exits, then becomes azure-down.sh (same pid, so it never kills itself).
  nohup setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done
    exec "$2/hack/azure-down.sh" --dir "$3" $4' _ "$OWNER_PID" "$ROOT" "$DIR" \
    "${REMOVE_DIR:+--remove-dir}" >"$DIR/logs/watchdog.log" 2>&1 </dev/null &
fi
echo "azure stand-ins up in $DIR (env: $DIR/env.sh)" >&2
