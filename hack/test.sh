#!/usr/bin/env bash
# The one test entry: formatting, lints, the CRD drift check, and every test (unit tests and the
# integration suite against local API servers, Azurite and the Azure stand-ins).

set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "CRDs match the types"
hack/gen-crds.sh --check

env_dir=""
if [[ -x hack/local-up.sh ]]; then
  step "local environment (garden + 2 clusters + Azure stand-ins)"
  env_dir=$(mktemp -d /tmp/herbarium-test.XXXXXX)
  trap 'hack/local-down.sh --dir "$env_dir" >/dev/null 2>&1 || true; rm -rf "$env_dir"' EXIT
  hack/local-up.sh --clusters 2 --dir "$env_dir"
  export HERBARIUM_LOCAL_DIR="$env_dir"
fi

step "cargo test"
results=$(mktemp /tmp/herbarium-test-results.XXXXXX)
cargo test --locked --workspace --no-fail-fast 2>&1 | tee "$results"
summary=$(awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d skipped", p, f, i }' "$results")
rm -f "$results"

if [[ -n "$env_dir" ]]; then
  step "local environment down"
  hack/local-down.sh --dir "$env_dir"
  left=$(pgrep -f "$env_dir" || true)
  if [[ -n "$left" ]]; then
    echo "processes left behind by the environment: $left" >&2
    exit 1
  fi
fi
echo "hack/test.sh: all green"
echo "tests: $summary"
