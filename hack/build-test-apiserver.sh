#!/usr/bin/env bash
# Builds the local test Kubernetes API server (test/apiserver) from Debian unstable's packaged
# Kubernetes Go sources, and provides etcd and kubectl from the same packages.
#
# Usage: hack/build-test-apiserver.sh [--env] [--refresh]
#   --env      print only shell assignments (HERBARIUM_TEST_APISERVER, HERBARIUM_ETCD,
#              HERBARIUM_KUBECTL) for eval
#   --refresh  re-read the package lists from the mirror (new versions mean a rebuild)
#
# Nothing is installed into the system except small host tools apt needs (ca-certificates).
# Everything lives under ${HERBARIUM_CACHE_DIR:-~/.cache/herbarium}:
#   apt/            private apt state (sources list, empty dpkg status, lists, manifest)
#   debs/           downloaded .deb files
#   root-<hash>/    the extracted packages, keyed by the package manifest
#   gopath-<hash>/  GOPATH with our source and generated OpenAPI
#   gocache/        Go build cache
#   bin-<key>/      the built server; key = package manifest + test/apiserver source + this script
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${HERBARIUM_CACHE_DIR:-$HOME/.cache/herbarium}
env_only=false
refresh=false
for arg in "$@"; do
  case $arg in
    --env) env_only=true ;;
    --refresh) refresh=true ;;
    *) echo "usage: $0 [--env] [--refresh]" >&2; exit 2 ;;
  esac
done

mkdir -p "$cache"
log=$cache/build.log
say() { if ! $env_only; then echo "$@"; fi; }
fail() {
  echo "build-test-apiserver: $*" >&2
  if [ -s "$log" ]; then echo "--- last lines of $log:" >&2; tail -n 25 "$log" >&2; fi
  exit 1
}

# Top-level packages; their golang-* dependency closure is fetched as well.
wanted=(
  golang-go
  golang-k8s-apiextensions-apiserver-dev golang-k8s-apiserver-dev golang-k8s-api-dev
  golang-k8s-apimachinery-dev golang-k8s-client-go-dev golang-k8s-component-base-dev
  golang-k8s-kube-openapi-dev etcd-server kubectl
)

# ---- private apt ------------------------------------------------------------------------------
apt_dir=$cache/apt
arch=$(dpkg --print-architecture)
mirror() {
  # The Debian mirror host the machine itself uses (deb822 or one-line sources).
  local m
  m=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null |
    grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v -- '-security' | head -n1 | tr -d ' ' || true)
  echo "${m:-http://deb.debian.org/debian/}"
}
apt_opts=(
  -o "Dir::State=$apt_dir/state" -o "Dir::State::status=$apt_dir/state/status"
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
  -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null"
  -o "APT::Architecture=$arch" -o "APT::Architectures=$arch"
  -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root" -o "Acquire::Languages=none"
)
setup_apt() {
  mkdir -p "$apt_dir/state" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  : >"$apt_dir/state/status.tmp"
  [ -f "$apt_dir/state/status" ] || mv "$apt_dir/state/status.tmp" "$apt_dir/state/status"
  rm -f "$apt_dir/state/status.tmp"
  local m
  m=$(mirror)
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${m%/} sid main" \
    >"$apt_dir/sources.list"
}
host_tools() {
  command -v apt-get >/dev/null || fail "apt-get not found: this script needs a Debian-like host"
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] && [ -d /etc/ssl/certs ] && return 0
  say "installing host tools (ca-certificates, debian-archive-keyring)"
  { compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || apt-get update; } >>"$log" 2>&1 ||
    fail "apt-get update (host) failed; check network access to the Debian mirror (retry may help)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
    debian-archive-keyring >>"$log" 2>&1 || fail "could not install ca-certificates/debian-archive-keyring"
}
update_lists() {
  say "reading package lists of Debian sid from $(mirror)"
  apt-get "${apt_opts[@]}" update >>"$log" 2>&1 ||
    fail "apt-get update of the private sid lists failed (network? signature? retry may help)"
  resolve_manifest
}
resolve_manifest() {
  local names missing
  for p in "${wanted[@]}"; do
    apt-cache "${apt_opts[@]}" show --no-all-versions "$p" >/dev/null 2>&1 || missing+=" $p"
  done
  [ -z "${missing:-}" ] || fail "package(s) not in Debian sid:${missing} — the packaging moved; see docs/testing.md"
  names=$(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "${wanted[@]}" 2>>"$log" |
    grep -E '^[a-z0-9]' | grep -E '^(golang-|etcd-server$|kubectl$)' | sort -u)
  # shellcheck disable=SC2086
  apt-cache "${apt_opts[@]}" show --no-all-versions $names 2>>"$log" |
    awk '/^Package:/{p=$2} /^Version:/{print p"="$2}' | sort -u >"$apt_dir/manifest.tmp"
  [ -s "$apt_dir/manifest.tmp" ] || fail "could not resolve the package set (see $log)"
  mv "$apt_dir/manifest.tmp" "$apt_dir/manifest"
}

hash_of() { sha256sum | cut -c1-16; }
src_hash() {
  (cd "$repo" && find test/apiserver -type f -print0 | sort -z | xargs -0 sha256sum
    sha256sum hack/build-test-apiserver.sh) | hash_of
}

host_tools
setup_apt
if $refresh || [ ! -s "$apt_dir/manifest" ]; then update_lists; fi

pkg_hash=$(hash_of <"$apt_dir/manifest")
key=$(printf '%s %s\n' "$pkg_hash" "$(src_hash)" | hash_of)
root=$cache/root-$pkg_hash
bin_dir=$cache/bin-$key
server=$bin_dir/test-apiserver

print_env() {
  local kubectl etcd
  etcd=$root/usr/bin/etcd
  kubectl=$root/usr/bin/kubectl
  if $env_only; then
    printf 'HERBARIUM_TEST_APISERVER=%q\nHERBARIUM_ETCD=%q\nHERBARIUM_KUBECTL=%q\n' "$server" "$etcd" "$kubectl"
  else
    echo "apiserver: $server"
    echo "etcd:      $etcd"
    echo "kubectl:   $kubectl"
  fi
}
if [ -x "$server" ] && [ -f "$root/.complete" ]; then print_env; exit 0; fi

# ---- fetch and extract ------------------------------------------------------------------------
started=$(date +%s)
: >"$log"
deb_of() { # deb_of PACKAGE VERSION: path of the downloaded .deb, or nothing
  local f
  for f in "$cache/debs/${1}_${2//:/%3a}_"*.deb; do [ -e "$f" ] && echo "$f"; return 0; done
}
fetch() {
  mkdir -p "$cache/debs"
  local need=() p v f
  while IFS='=' read -r p v; do
    f=$(deb_of "$p" "$v")
    [ -n "$f" ] || need+=("$p=$v")
  done <"$apt_dir/manifest"
  [ ${#need[@]} -eq 0 ] && return 0
  say "downloading ${#need[@]} packages"
  (cd "$cache/debs" && apt-get "${apt_opts[@]}" download "${need[@]}") >>"$log" 2>&1
}
if [ ! -f "$root/.complete" ]; then
  if ! fetch; then
    say "download failed; refreshing the sid package lists once (sid keeps only the newest versions)"
    update_lists
    pkg_hash=$(hash_of <"$apt_dir/manifest")
    key=$(printf '%s %s\n' "$pkg_hash" "$(src_hash)" | hash_of)
    root=$cache/root-$pkg_hash bin_dir=$cache/bin-$key server=$bin_dir/test-apiserver
    fetch || fail "apt-get download failed (network or mirror; retry may help)"
  fi
  say "extracting $(wc -l <"$apt_dir/manifest") packages into $root"
  rm -rf "$root" && mkdir -p "$root"
  while IFS='=' read -r p v; do
    f=$(deb_of "$p" "$v")
    [ -n "$f" ] || fail "no .deb for $p=$v in $cache/debs"
    dpkg -x "$f" "$root" >>"$log" 2>&1 || fail "dpkg -x $f failed"
  done <"$apt_dir/manifest"
  touch "$root/.complete"
fi

# ---- build ------------------------------------------------------------------------------------
# shellcheck disable=SC2012 # version sort of a glob
goroot=$(ls -d "$root"/usr/lib/go-1.* 2>/dev/null | sort -V | tail -n1)
[ -x "$goroot/bin/go" ] || fail "no Go toolchain in $root/usr/lib/go-1.* (golang-go's dependency changed?)"
gopath=$cache/gopath-$pkg_hash
pkg=herbarium.io/test-apiserver
export GOROOT=$goroot GOPATH=$gopath:$root/usr/share/gocode GOCACHE=$cache/gocache
export GO111MODULE=off GOTOOLCHAIN=local GOPROXY=off GOFLAGS='' CGO_ENABLED=0 GOWORK=off
go=$goroot/bin/go
mkdir -p "$gopath/src/$pkg" "$gopath/bin"
find "$gopath/src/$pkg" -mindepth 1 -maxdepth 1 ! -name generated -exec rm -rf {} +
cp -r "$repo/test/apiserver/." "$gopath/src/$pkg/"

gen=$gopath/src/$pkg/generated/openapi/zz_generated.openapi.go
pkgs=$(grep -v '^#' "$repo/test/apiserver/openapi-packages.txt" | tr '\n' ' ')
if [ ! -s "$gen" ] || [ "$(cat "$gen.packages" 2>/dev/null)" != "$pkgs" ]; then
  say "generating OpenAPI definitions (openapi-gen from golang-k8s-kube-openapi-dev)"
  "$go" build -o "$gopath/bin/openapi-gen" k8s.io/kube-openapi/cmd/openapi-gen >>"$log" 2>&1 ||
    fail "building openapi-gen failed"
  : >"$gopath/boilerplate.txt"
  # shellcheck disable=SC2086 # $pkgs is a list of package paths
  (cd "$gopath/src/$pkg" && PATH=$goroot/bin:$PATH "$gopath/bin/openapi-gen" \
    --go-header-file "$gopath/boilerplate.txt" --output-dir generated/openapi \
    --output-pkg "$pkg/generated/openapi" --output-file zz_generated.openapi.go \
    --report-filename /dev/null \
    $pkgs) >>"$log" 2>&1 || fail "openapi-gen failed"
  echo "$pkgs" >"$gen.packages"
fi

say "building test-apiserver with $("$go" version | cut -d' ' -f3) (GOPATH mode; a cold build takes minutes)"
kver=$(grep -E '^golang-k8s-apiserver-dev=' "$apt_dir/manifest" | cut -d= -f2 | sed -E 's/^[0-9]+://; s/[-+~].*//')
minor=$(echo "$kver" | cut -d. -f2)
# k8s.io/* libraries 0.X.Y correspond to Kubernetes 1.X.Y; kubectl warns on v0.0.0-master.
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v1.$minor.${kver##*.}-herbarium"
ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
mkdir -p "$bin_dir"
(cd "$gopath/src/$pkg" && "$go" build -trimpath -ldflags "$ldflags" -o "$server.tmp" .) >>"$log" 2>&1 ||
  fail "go build of test/apiserver failed"
mv "$server.tmp" "$server"
say "built in $(( $(date +%s) - started ))s (log: $log)"
print_env
