#!/usr/bin/env bash
# Stop every process named by DIR/*.pid: TERM, then KILL after a timeout, and only while
# /proc/<pid>/cmdline still names DIR (a recycled pid is left alone).
# Usage: hack/azure-down.sh --dir DIR [--remove-dir]
set -euo pipefail

DIR="" REMOVE_DIR=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --remove-dir) REMOVE_DIR=1; shift ;;
    *) echo "error: unknown argument $1 (usage: --dir DIR [--remove-dir])" >&2; exit 1 ;;
  esac
done
[[ -n "$DIR" && -d "$DIR" ]] || { echo "error: --dir must name an existing directory" >&2; exit 1; }
DIR="$(cd "$DIR" && pwd)"

ours() { # ours PID: the process is alive and its command line mentions DIR
  [[ "$1" != "$$" && -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$DIR"
}

pids=()
for f in "$DIR"/*.pid; do
  [[ -e "$f" ]] || continue
  pid="$(cat "$f")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  fi
  rm -f "$f"
done

for _ in $(seq 1 50); do
  alive=0
  for pid in "${pids[@]}"; do ours "$pid" && alive=1; done
  [[ $alive == 0 ]] && break
  sleep 0.1
done
for pid in "${pids[@]}"; do
  if ours "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
done

if [[ -n "$REMOVE_DIR" ]]; then rm -rf "$DIR"; fi
