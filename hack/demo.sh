#!/usr/bin/env bash
# hack/demo.sh — Herbarium on a local default, narrated: a local garden and two clusters (real
# API servers), Azurite behind the Entra ID / ARM stand-ins, then discovery of two Shoots, their
# identities and agents, a validated location, a backup of a namespace and its restore into the
# other cluster, with progress as it happens. Everything is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
echo "== building herbarium-controller, herbarium-agent and the demo driver"
cargo build --locked -p herbarium-controller -p herbarium-agent -p herbarium-e2e \
  --bin herbarium-controller --bin herbarium-agent --bin demo
DIR=$(mktemp -d /tmp/herbarium-demo.XXXXXX)
trap 'echo "== stopping the local environment"; hack/local-down.sh --dir "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
echo "== starting the local garden, cluster-1, cluster-2, Azurite and the Azure stand-ins"
hack/local-up.sh --dir "$DIR"
# shellcheck disable=SC1091
source "$DIR/env.sh"
echo "== the story"
"$CARGO_TARGET_DIR/debug/demo"
