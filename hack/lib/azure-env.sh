# Shared helpers of the Azure stand-in scripts (sourced, not executed).
# Layout of an environment directory DIR:
#   DIR/ca/ca.pem, ca.key            test CA of this environment
#   DIR/ca/server.pem, server.key    loopback server certificate (127.0.0.1, localhost)
#   DIR/fakes/signing-key.pem, signing-pub.pem   key the token stand-in signs its tokens with
#   DIR/issuers/<cluster>/{key.pem,kid,project,uid,issuer}   one OIDC issuer per cluster
#   DIR/azure/ports.env               ports chosen for Azurite and the stand-ins
#   DIR/logs/, DIR/*.pid

AZURITE_VERSION="${HERBARIUM_AZURITE_VERSION:-3.35.0}"
AZURITE_CACHE="${HERBARIUM_CACHE_DIR:-$HOME/.cache/herbarium}/azurite-${AZURITE_VERSION}"

die() { echo "error: $*" >&2; exit 1; }

b64url() { basenc --base64url -w0 | tr -d '='; }

# shellcheck source=hack/lib/ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

new_uuid() { cat /proc/sys/kernel/random/uuid; }

# Generate the test CA and the loopback server certificate unless present.
ensure_ca() {
  local dir="$1/ca"
  [[ -s "$dir/server.pem" && -s "$dir/ca.pem" ]] && return 0
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Herbarium test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null || die "openssl could not create the test CA in $dir"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null ||
    die "openssl could not create the server key in $dir"
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 30 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null ||
    die "openssl could not sign the server certificate in $dir"
}

# The stand-in's own token signing key.
ensure_signing_key() {
  local dir="$1/fakes"
  [[ -s "$dir/signing-key.pem" ]] && return 0
  mkdir -p "$dir"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/signing-key.pem" 2>/dev/null
  openssl pkey -in "$dir/signing-key.pem" -pubout -out "$dir/signing-pub.pem"
}

# new_issuer DIR CLUSTER PROJECT ISSUER_PORT: a fresh key and shoot uid (a re-created Shoot).
new_issuer() {
  local dir="$1/issuers/$2" project="$3" port="$4" uid kid n
  mkdir -p "$dir"
  uid="$(new_uuid)"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/key.pem.new" 2>/dev/null ||
    die "openssl could not create the issuer key of $2"
  kid="$(openssl pkey -in "$dir/key.pem.new" -pubout -outform DER | openssl dgst -sha256 -binary | b64url)"
  n="$(openssl rsa -in "$dir/key.pem.new" -noout -modulus | sed 's/^Modulus=//' |
    perl -ne 'chomp; print pack("H*", $_)' | b64url)"
  printf '{"keys":[{"kty":"RSA","alg":"RS256","use":"sig","kid":"%s","n":"%s","e":"AQAB"}]}\n' \
    "$kid" "$n" >"$dir/jwks.json"
  mv "$dir/key.pem.new" "$dir/key.pem"
  echo "$kid" >"$dir/kid"
  echo "$project" >"$dir/project"
  echo "$uid" >"$dir/uid"
  # Written last: the issuer stand-in serves an issuer once this file names it.
  echo "https://127.0.0.1:${port}/projects/${project}/shoots/${uid}/issuer" >"$dir/issuer.new"
  mv "$dir/issuer.new" "$dir/issuer"
}

# Read DIR/azure/ports.env into the environment.
load_ports() {
  [[ -s "$1/azure/ports.env" ]] || die "$1/azure/ports.env missing: run hack/azure-up.sh --dir $1 first"
  # shellcheck disable=SC1091
  source "$1/azure/ports.env"
}
