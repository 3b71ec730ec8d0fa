#!/usr/bin/env bash
# Give a local cluster a new issuer, as a re-created Shoot gets one: a new shoot uid in the issuer
# URL and a new signing key. The old issuer URL stops being served. Prints the new issuer URL.
# Usage: hack/rotate-issuer.sh --dir DIR --cluster NAME|garden
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/lib/azure-env.sh
source "$ROOT/hack/lib/azure-env.sh"

DIR="" CLUSTER=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --cluster) CLUSTER="$2"; shift 2 ;;
    *) die "unknown argument $1 (usage: --dir DIR --cluster NAME)" ;;
  esac
done
[[ -n "$DIR" && -n "$CLUSTER" ]] || die "usage: --dir DIR --cluster NAME|garden"
[[ -s "$DIR/issuers/$CLUSTER/project" ]] || die "no issuer for cluster '$CLUSTER' in $DIR/issuers"
load_ports "$DIR"
new_issuer "$DIR" "$CLUSTER" "$(cat "$DIR/issuers/$CLUSTER/project")" "$ISSUER_PORT"
cat "$DIR/issuers/$CLUSTER/issuer"
