#!/usr/bin/env bash
# Starts local Kubernetes API servers: one etcd, a garden and N application clusters on loopback.
# Usage: hack/local-up.sh [--clusters N] [--dir DIR]     (defaults: 2, <repo>/.local)
# Writes DIR/garden.kubeconfig, DIR/cluster-<i>.kubeconfig, DIR/env.sh, DIR/<process>.pid, DIR/logs/.
# Stop with hack/local-down.sh --dir DIR.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$repo/.local
clusters=2
while [ $# -gt 0 ]; do
  case $1 in
    --clusters) clusters=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: $0 [--clusters N] [--dir DIR]" >&2; exit 2 ;;
  esac
done
[[ $clusters =~ ^[0-9]+$ ]] || { echo "local-up: --clusters must be a number" >&2; exit 2; }
mkdir -p "$dir/logs"
dir=$(cd "$dir" && pwd)
timeout_s=${HERBARIUM_LOCAL_UP_TIMEOUT:-60}

alive() { # alive NAME: the pid file names a running process started for this DIR
  local pid
  pid=$(cat "$dir/$1.pid" 2>/dev/null) || return 1
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$dir"
}

names=()
for i in $(seq 1 "$clusters"); do names+=("cluster-$i"); done
if [ -f "$dir/env.sh" ] && alive etcd && alive garden; then
  running=true
  for n in "${names[@]}"; do alive "$n" || running=false; done
  if $running; then
    echo "local-up: environment in $dir is already running (source $dir/env.sh)"
    exit 0
  fi
fi
if ls "$dir"/*.pid >/dev/null 2>&1; then
  echo "local-up: stopping the partial environment in $dir first"
  "$repo/hack/local-down.sh" --dir "$dir"
fi

eval "$("$repo/hack/build-test-apiserver.sh" --env)"

# shellcheck source=hack/lib/ports.sh
source "$repo/hack/lib/ports.sh"
fail() {
  echo "local-up: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then echo "--- last lines of $2:" >&2; tail -n 20 "$2" >&2; fi
  echo "local-up: stopping what was started" >&2
  "$repo/hack/local-down.sh" --dir "$dir" >&2 || true
  exit 1
}
# The servers are Go: trade memory for CPU (garbage collection was a sixth of an API server's CPU
# under load), unless the caller chose a GOGC.
export GOGC=${GOGC:-400}
start() { # start NAME CMD...: run in the background, record the pid
  local name=$1; shift
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
}
started=$(date +%s.%N)

{ read -r client_port; read -r peer_port; } < <(free_ports 2) || fail "no free ports on 127.0.0.1"
rm -rf "$dir/etcd"
start etcd "$HERBARIUM_ETCD" --name local --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$client_port" --advertise-client-urls "http://127.0.0.1:$client_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "local=http://127.0.0.1:$peer_port" --quota-backend-bytes 4294967296 --log-level warn
etcd_url=http://127.0.0.1:$client_port

# Each server picks a free port itself and writes its kubeconfig once it listens.
apiserver() { # apiserver NAME [extra flags]
  local name=$1; shift
  rm -f "$dir/$name.kubeconfig"
  start "$name" "$HERBARIUM_TEST_APISERVER" --name "$name" --etcd-servers "$etcd_url" \
    --etcd-prefix "/herbarium-local/$name" --cert-dir "$dir/pki/$name" \
    --kubeconfig-out "$dir/$name.kubeconfig" "$@"
}
for n in "${names[@]}"; do apiserver "$n"; done
apiserver garden --garden --clusters-dir "$dir"

wait_ready() { # wait_ready NAME
  local deadline=$(( $(date +%s) + timeout_s ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    # kill -0, not alive(): while the kernel execs a just-started process its command line
    # reads empty for a moment, and the pid was written by us a moment ago.
    kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null || fail "$1 exited during start" "$dir/logs/$1.log"
    if [ -f "$dir/$1.kubeconfig" ] &&
      "$HERBARIUM_KUBECTL" --kubeconfig "$dir/$1.kubeconfig" get --raw /readyz >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  fail "$1 not ready after ${timeout_s}s (a retry will not help unless the machine was overloaded)" "$dir/logs/$1.log"
}
for n in garden "${names[@]}"; do wait_ready "$n"; done

install_crds() { # install_crds NAME GLOB...
  local name=$1 files=(); shift
  for g in "$@"; do for f in $g; do [ -f "$f" ] && files+=("$f"); done; done
  [ ${#files[@]} -eq 0 ] && return 0
  local args=()
  for f in "${files[@]}"; do args+=(-f "$f"); done
  "$HERBARIUM_KUBECTL" --kubeconfig "$dir/$name.kubeconfig" apply --server-side --force-conflicts \
    --field-manager herbarium-local-up "${args[@]}" >>"$dir/logs/crds.log" 2>&1 ||
    fail "installing CRDs into $name failed" "$dir/logs/crds.log"
  "$HERBARIUM_KUBECTL" --kubeconfig "$dir/$name.kubeconfig" wait --for condition=Established \
    --timeout "${timeout_s}s" "${args[@]}" >>"$dir/logs/crds.log" 2>&1 ||
    fail "CRDs in $name not established" "$dir/logs/crds.log"
}
install_crds garden "$repo/crds/herbarium.io_*.yaml" "$repo/test/crds/core.gardener.cloud_*.yaml"
for n in "${names[@]}"; do
  install_crds "$n" "$repo/crds/agent.herbarium.io_*.yaml" "$repo/test/crds/snapshot.storage.k8s.io_*.yaml"
done

kubeconfigs=()
for n in "${names[@]}"; do kubeconfigs+=("$dir/$n.kubeconfig"); done
cat >"$dir/env.sh" <<EOF
# Written by hack/local-up.sh; source it.
export HERBARIUM_LOCAL_DIR=$(printf %q "$dir")
export HERBARIUM_GARDEN_KUBECONFIG=$(printf %q "$dir/garden.kubeconfig")
export HERBARIUM_CLUSTER_NAMES="${names[*]}"
export HERBARIUM_CLUSTER_KUBECONFIGS="${kubeconfigs[*]}"
export HERBARIUM_KUBECTL=$(printf %q "$HERBARIUM_KUBECTL")
export HERBARIUM_ETCD_URL=$etcd_url
EOF

if [ -x "$repo/hack/azure-up.sh" ]; then
  "$repo/hack/azure-up.sh" --dir "$dir" --clusters "${names[*]}" || fail "hack/azure-up.sh failed"
fi
elapsed=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
echo "local-up: garden + ${#names[@]} clusters ready in ${elapsed}s; source $dir/env.sh"
