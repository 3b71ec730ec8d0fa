#!/usr/bin/env bash
# The demo: a local garden and clusters with Azurite, discovery of a Shoot, a backup and a restore.
# It needs the controller's reconcilers and the agent's backup and restore, which are not built yet.
set -euo pipefail
cat >&2 <<'MSG'
hack/demo.sh: not available yet.
The demo runs discovery, a backup and a restore; herbarium-controller and herbarium-agent do not
implement those yet (they only serve /metrics, /healthz and /readyz). See README.md, "Status".
MSG
exit 1
