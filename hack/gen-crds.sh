#!/usr/bin/env bash
# Regenerates crds/ (and the Gardener stand-ins in test/crds/) from the Rust types in api/.
# With --check, changes nothing and fails when the committed files differ.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --quiet --locked -p herbarium-api --bin crdgen -- --root . "$@"
