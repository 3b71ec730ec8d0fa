#!/usr/bin/env bash
# Benchmarks a backup of N ConfigMaps (1 KiB each) against its floor, a plain paginated LIST
# (limit 500) of the same objects, in one run on one local cluster + Azurite.
# Usage: hack/bench-backup.sh [N] [--restore] [--dir DIR]      (N default 100000)
#   --dir DIR   use the environment of hack/local-up.sh in DIR (default: $HERBARIUM_LOCAL_DIR,
#               else a private one, started here and stopped at the end)
#   --restore   also measure a restore: runs hack/bench-restore.sh, which prints its own line
# Last line, machine-readable:
#   backup n=<N> floor_s=<s> backup_s=<s> ratio=<r> objects_per_s=<x> rss_mib=<m>
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
n=100000
restore=0
dir=${HERBARIUM_LOCAL_DIR:-}
while [ $# -gt 0 ]; do
  case $1 in
    --restore) restore=1; shift ;;
    --dir) dir=$2; shift 2 ;;
    [0-9]*) n=$1; shift ;;
    *) echo "usage: $0 [N] [--restore] [--dir DIR]" >&2; exit 2 ;;
  esac
done

own_env=0
ns=
cleanup() {
  if [ -n "$ns" ]; then "$HERBARIUM_KUBECTL" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true; fi
  if [ "$own_env" = 1 ]; then
    "$repo/hack/local-down.sh" --dir "$dir" >/dev/null
    "$repo/hack/azure-down.sh" --dir "$dir" >/dev/null 2>&1 || true
    rm -rf "$dir"
  fi
}
trap cleanup EXIT
if [ -z "$dir" ] || [ ! -f "$dir/env.sh" ]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/herbarium-bench-XXXXXX")
  own_env=1
  echo "bench: starting a local environment in $dir" >&2
  "$repo/hack/local-up.sh" --clusters 1 --dir "$dir" >&2
fi
# shellcheck disable=SC1091
source "$dir/env.sh"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
echo "bench: building the release binaries" >&2
cargo build --release -q -p herbarium-agent --bin herbarium-agent-bench
bench=$CARGO_TARGET_DIR/release/herbarium-agent-bench
read -r KUBECONFIG _ <<<"$HERBARIUM_CLUSTER_KUBECONFIGS"
export KUBECONFIG
kubectl=$HERBARIUM_KUBECTL

ns=bench-$n-$$
"$kubectl" create namespace "$ns" >/dev/null

echo "bench: creating $n ConfigMaps in $ns" >&2
create_s=$("$bench" populate --namespace "$ns" --count "$n" --concurrency 48)
echo "bench: created in ${create_s}s" >&2

# The floor: the better of two plain LISTs (the first one warms the API server's cache).
floor_s=
for _ in 1 2; do
  read -r s items < <("$bench" floor --namespace "$ns")
  [ "$items" = "$n" ] || { echo "bench: LIST returned $items objects, want $n" >&2; exit 1; }
  if [ -z "$floor_s" ] || awk -v a="$s" -v b="$floor_s" 'BEGIN{exit !(a<b)}'; then floor_s=$s; fi
done
echo "bench: floor ${floor_s}s" >&2

# The backup, in its own process (its VmHWM is the backup's peak RSS), with the test operator's
# workload identity (Storage Blob Data Contributor on the account) through the token stand-in.
token=$dir/bench-token
"$repo/hack/mint-token.sh" --dir "$dir" --cluster garden \
  --subject system:serviceaccount:default:test-operator --ttl 7200 | tr -d '\n' >"$token"
read -r backup_s items rss_kib < <(
  AZURE_CLIENT_ID=$HERBARIUM_TEST_OPERATOR_CLIENT_ID AZURE_FEDERATED_TOKEN_FILE=$token \
    "$bench" backup --namespace "$ns" --endpoint "$HERBARIUM_BLOB_ENDPOINT" \
    --container "bench-$$" --ca-file "$HERBARIUM_CA_FILE")
want=$((n + 1)) # the ConfigMaps and their Namespace object
[ "$items" = "$want" ] || { echo "bench: backup took $items objects, want $want" >&2; exit 1; }

if [ "$restore" = 1 ]; then
  # Prints `restore n=<N> floor_s=<s> restore_s=<s> ratio=<r>` (its own backup of 10,000 objects).
  "$repo/hack/bench-restore.sh" --dir "$dir" --namespace "$ns" --container "bench-$$"
fi

awk -v n="$n" -v f="$floor_s" -v b="$backup_s" -v r="$rss_kib" 'BEGIN {
  printf "backup n=%d floor_s=%.2f backup_s=%.2f ratio=%.2f objects_per_s=%.0f rss_mib=%.1f\n",
    n, f, b, b / f, n / b, r / 1024 }'
