#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from the wrapper Go
# module in control-plane/ and caches them under .tools/k8s/<version>-<key>/ (git-ignored). The key
# is a hash of the module's go.mod, go.sum and main packages, so a second run only verifies and a
# change to the module builds into a fresh folder.
#
# Prints the folder holding the binaries as its last line of standard output.
#
# Environment:
#   TOOLS_DIR   where to cache (default: <repo>/.tools)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../../.." && pwd)"
tools_dir="${TOOLS_DIR:-$repo_root/.tools}"
module_dir="$here/control-plane"
K8S_VERSION="v1.37.2"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

fail() {
  printf 'build-control-plane: %s\n' "$*" >&2
  exit 1
}
log() { printf 'build-control-plane: %s\n' "$*" >&2; }

command -v go >/dev/null 2>&1 ||
  fail "go not found on PATH. Install Go >= 1.26 (https://go.dev/doc/install); the control plane is built from the Go module proxy."

key="$(cd "$module_dir" && cat go.mod go.sum cmd/*/main.go | sha256sum | cut -c1-12)"
out_dir="$tools_dir/k8s/$K8S_VERSION-$key"

complete=1
for bin in "${BINARIES[@]}"; do
  [ -x "$out_dir/$bin" ] || complete=0
done
if [ "$complete" = 1 ]; then
  log "cached: $out_dir"
  printf '%s\n' "$out_dir"
  exit 0
fi

major="${K8S_VERSION#v}"
major="${major%%.*}"
minor="${K8S_VERSION#v*.}"
minor="${minor%%.*}"
pkg="k8s.io/component-base/version"
ldflags="-s -w"
ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"

mkdir -p "$tools_dir/k8s"
tmp_dir="$(mktemp -d "$tools_dir/k8s/build.XXXXXX")"
trap 'rm -rf "$tmp_dir"' EXIT

log "building ${BINARIES[*]} $K8S_VERSION into $out_dir (several minutes on a cold Go cache)"
start=$SECONDS
(
  cd "$module_dir"
  # One invocation so the packages the binaries share compile once.
  CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -ldflags "$ldflags" -o "$tmp_dir/" ./cmd/...
)
for bin in "${BINARIES[@]}"; do
  [ -x "$tmp_dir/$bin" ] || fail "the build did not produce $bin"
done
rm -rf "$out_dir"
mv "$tmp_dir" "$out_dir"
trap - EXIT
log "built in $((SECONDS - start))s"
printf '%s\n' "$out_dir"
