#!/usr/bin/env bash
# Mint a service-account token as the kubelet of a local cluster would project it, signed RS256
# with that cluster's issuer key (created by hack/azure-up.sh).
# Usage: hack/mint-token.sh --dir DIR --cluster NAME|garden [--subject S] [--audience A]
#                           [--ttl SECONDS] [--print-issuer]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hack/lib/azure-env.sh
source "$ROOT/hack/lib/azure-env.sh"

DIR="" CLUSTER="" SUBJECT="system:serviceaccount:herbarium-system:herbarium-agent"
AUDIENCE="api://AzureADTokenExchange" TTL=3600 PRINT_ISSUER=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --cluster) CLUSTER="$2"; shift 2 ;;
    --subject) SUBJECT="$2"; shift 2 ;;
    --audience) AUDIENCE="$2"; shift 2 ;;
    --ttl) TTL="$2"; shift 2 ;;
    --print-issuer) PRINT_ISSUER=1; shift ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ -n "$DIR" && -n "$CLUSTER" ]] || die "usage: --dir DIR --cluster NAME|garden [--subject S] [--audience A] [--ttl SECONDS] [--print-issuer]"
[[ "$TTL" =~ ^-?[0-9]+$ ]] || die "--ttl must be a number of seconds"
idir="$DIR/issuers/$CLUSTER"
[[ -s "$idir/issuer" ]] || die "no issuer for cluster '$CLUSTER' in $DIR/issuers (was it in azure-up.sh --clusters?)"
issuer="$(cat "$idir/issuer")"
if [[ -n "$PRINT_ISSUER" ]]; then
  echo "$issuer"
  exit 0
fi

json_escape() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
now="$(date +%s)"
# A negative TTL mints an already expired token (iat and nbf an hour earlier still).
iat=$now
if ((TTL <= 0)); then iat=$((now - 3600)); fi
header="$(printf '{"alg":"RS256","kid":"%s","typ":"JWT"}' "$(cat "$idir/kid")" | b64url)"
payload="$(printf '{"aud":["%s"],"exp":%d,"iat":%d,"nbf":%d,"iss":"%s","sub":"%s","kubernetes.io":{"namespace":"%s","serviceaccount":{"name":"%s"}},"jti":"%s"}' \
  "$(json_escape "$AUDIENCE")" $((now + TTL)) "$iat" "$iat" "$(json_escape "$issuer")" \
  "$(json_escape "$SUBJECT")" "$(echo "$SUBJECT" | cut -d: -f3)" "$(echo "$SUBJECT" | cut -d: -f4)" \
  "$(new_uuid)" | b64url)"
sig="$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign "$idir/key.pem" -binary | b64url)"
printf '%s.%s.%s\n' "$header" "$payload" "$sig"
