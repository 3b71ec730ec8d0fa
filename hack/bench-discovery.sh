#!/usr/bin/env bash
# hack/bench-discovery.sh [N] — discovery at scale: N opted-in Shoots (default 2000), ARM latency
# 50 ms, the release controller as a host process. The Shoots are served round-robin by
# HERBARIUM_BENCH_CLUSTERS local API servers (default 8; a real landscape has one per Shoot).
# Prints progress, then one machine-readable line:
#   discovery n=<N> ready_s=<s> rss_mib=<m> writes_per_min=<w>
# Targets (docs/testing.md): ready_s <= 60, rss_mib <= 150, writes_per_min = 0.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}
CLUSTERS=${HERBARIUM_BENCH_CLUSTERS:-8}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
echo "building the release controller and the bench driver ..." >&2
cargo build --release --locked -p herbarium-controller -p herbarium-e2e -p herbarium-azure-fakes \
  --bin herbarium-controller --bin bench-discovery --bin herbarium-azure-fakes >&2
# The stand-ins share the two cores with the controller and the API servers: an optimised build
# keeps their own cost (token checks on every ARM call) out of the figures.
export HERBARIUM_AZURE_FAKES_BIN=$CARGO_TARGET_DIR/release/herbarium-azure-fakes
DIR=$(mktemp -d /tmp/herbarium-bench-discovery.XXXXXX)
trap 'hack/local-down.sh --dir "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
hack/local-up.sh --clusters "$CLUSTERS" --dir "$DIR" >&2
# shellcheck disable=SC1091
source "$DIR/env.sh"
curl -fsS --cacert "$HERBARIUM_CA_FILE" -X PUT "$HERBARIUM_FAKES_ADMIN/faults/arm" \
  -d '{"latencyMs": 50, "latencyPercent": 100}' >/dev/null
"$CARGO_TARGET_DIR/release/bench-discovery" "$N" "$CARGO_TARGET_DIR/release/herbarium-controller"
