#!/usr/bin/env bash
# Stops the processes of a local environment: exactly those named by DIR/*.pid, and only when the
# pid still belongs to a process started for DIR (its command line names DIR). TERM, then KILL.
# Usage: hack/local-down.sh [--dir DIR]      (default <repo>/.local)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$repo/.local
while [ $# -gt 0 ]; do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: $0 [--dir DIR]" >&2; exit 2 ;;
  esac
done
[ -d "$dir" ] || { echo "local-down: no environment in $dir"; exit 0; }
dir=$(cd "$dir" && pwd)

ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF -- "$dir"; }

pids=()
for f in "$dir"/*.pid; do
  [ -e "$f" ] || continue
  pid=$(cat "$f" 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ ]] && ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  fi
  rm -f "$f"
done
deadline=$(( $(date +%s) + ${HERBARIUM_LOCAL_DOWN_TIMEOUT:-10} ))
for pid in "${pids[@]}"; do
  while ours "$pid" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
  if ours "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
done
echo "local-down: stopped ${#pids[@]} process(es) of $dir"
