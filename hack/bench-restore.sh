#!/usr/bin/env bash
# Restore benchmark; hack/bench-backup.sh --restore runs it and prints its line before the backup
# line. N ConfigMaps of 1 KiB (default 10,000) are written by the agent's archive writer to Azurite
# through the workload-identity chain; then, in the same run against the same API server, the
# floor (a plain client creating the same N objects, HERBARIUM_BENCH_CONCURRENCY in flight,
# default 32) and the agent's restore of them (verify pass + staged apply, same concurrency).
#
# Usage: hack/bench-restore.sh [N] [--dir DIR] [--namespace NS] [--container C]
# Uses the environment of DIR (default $HERBARIUM_LOCAL_DIR), or starts a private one
# (hack/local-up.sh) and stops it at the end. --namespace and --container are what
# hack/bench-backup.sh passes (its own backup); they are accepted and not used: the restore is
# measured on its own backup of N objects (default 10,000, as the brief asks). Built optimised,
# as the agent ships and as hack/bench-backup.sh measures the backup (HERBARIUM_BENCH_PROFILE=dev
# uses the tests' build instead). Last line, machine-readable:
#   restore n=<N> floor_s=<s> restore_s=<s> ratio=<r>

set -euo pipefail
cd "$(dirname "$0")/.."

n=${HERBARIUM_BENCH_RESTORE_N:-10000}
usage() { echo "usage: $0 [N] [--dir DIR] [--namespace NS] [--container C]" >&2; exit 2; }
while (( $# > 0 )); do
  case $1 in
    --dir) export HERBARIUM_LOCAL_DIR=$2; shift 2 ;;
    --namespace | --container) shift 2 ;;
    [0-9]*) n=$1; shift ;;
    *) usage ;;
  esac
done
if ! [[ "$n" =~ ^[0-9]+$ ]] || (( n < 1 )); then usage; fi

if [[ -z "${HERBARIUM_LOCAL_DIR:-}" ]]; then
  env_dir=$(mktemp -d /tmp/herbarium-bench-restore.XXXXXX)
  trap 'hack/local-down.sh --dir "$env_dir" >/dev/null 2>&1 || true
    hack/azure-down.sh --dir "$env_dir" >/dev/null 2>&1 || true; rm -rf "$env_dir"' EXIT
  hack/local-up.sh --clusters 2 --dir "$env_dir" >&2
  export HERBARIUM_LOCAL_DIR="$env_dir"
fi

profile=()
if [[ "${HERBARIUM_BENCH_PROFILE:-release}" == release ]]; then
  profile=(--release)
fi

out=$(mktemp /tmp/herbarium-bench-restore-out.XXXXXX)
# Only the restore benchmark: the file's other ignored test (reader memory) is run on its own.
HERBARIUM_BENCH_RESTORE_N="$n" cargo test "${profile[@]}" -p herbarium-agent --test bench_restore \
  -- --ignored --nocapture --test-threads 1 --exact restore_against_a_create_loop >"$out" 2>&1 || {
  cat "$out" >&2
  rm -f "$out"
  echo "bench-restore: the benchmark failed (output above)" >&2
  exit 1
}
grep -E 'restore archive_bytes=' "$out" >&2 || true
line=$(grep -E '^restore n=' "$out" | tail -n 1)
rm -f "$out"
if [[ -z "$line" ]]; then
  echo "bench-restore: no result line" >&2
  exit 1
fi
echo "$line"
