#!/usr/bin/env bash
# Installs the checking tools the tests use into .tools/ (git-ignored), offline where the machine
# allows it, and writes the Terraform CLI configuration. Idempotent: a second run only verifies.
#
#   .tools/terraformrc        provider_installation: filesystem mirror for the providers found
#                             locally (every namespace: hashicorp/, integrations/, ...), direct
#                             (the registry) for everything else
#   .tools/tf-mirror/         registry-layout mirror of those providers (links to the binaries)
#   .tools/bin/helm           helm 3 (from PATH, or built with Go)
#   .tools/bin/actionlint     actionlint (from PATH, or built with Go)
#   .tools/bin/kube-score     kube-score, exactly KUBE_SCORE_VERSION (from PATH, or built with Go)
#   .tools/venv/              kubernetes-validate, checkov, moto[server] (pinned, from PyPI)
#
# With --rehearsal, also what `npm run rehearse` needs for its local control plane:
#   .tools/bin/etcd           etcd (from PATH, else Debian's etcd-server when run as root)
#   .tools/bin/kwok           kwok (go install), its stage definitions in .tools/k8s/kwok-stages/
#   .tools/bin/kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#                             built by scripts/rehearse/cluster/build-control-plane.sh (cached)
#
# Environment:
#   TF_PLUGIN_MIRROR  colon-separated folders in registry layout
#                     (registry.terraform.io/<namespace>/<name>/<version>/<os>_<arch>/) to mirror too
#   TOOLS_DIR         where to install (default: <repo>/.tools)
set -euo pipefail

rehearsal=0
for arg in "$@"; do
  case "$arg" in
    --rehearsal) rehearsal=1 ;;
    *)
      printf 'tools: unknown argument %s; allowed: --rehearsal\n' "$arg" >&2
      exit 2
      ;;
  esac
done

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${TOOLS_DIR:-$repo_root/.tools}"
bin_dir="$tools_dir/bin"
HELM_VERSION="v3.19.0"
KWOK_VERSION="v0.8.0"
ACTIONLINT_VERSION="v1.7.12"
KUBE_SCORE_VERSION="v1.20.0"
MIN_TERRAFORM="1.10.0"
requirements="$repo_root/scripts/requirements-tools.txt"

mkdir -p "$bin_dir"

fail() {
  printf 'tools: %s\n' "$*" >&2
  exit 1
}
log() { printf 'tools: %s\n' "$*"; }

version_ge() { # version_ge A B: A >= B (dotted numbers)
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# --- terraform -----------------------------------------------------------------------------------
command -v terraform >/dev/null 2>&1 ||
  fail "terraform not found on PATH. Install Terraform >= $MIN_TERRAFORM (https://developer.hashicorp.com/terraform/install)."
tf_version="$(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([^"]*\)".*/\1/p' | head -n1)"
version_ge "$tf_version" "$MIN_TERRAFORM" ||
  fail "terraform $tf_version is too old: S3-native locking (use_lockfile) needs >= $MIN_TERRAFORM."

# --- Terraform CLI configuration and provider mirror ---------------------------------------------
mirror="$tools_dir/tf-mirror"
rm -rf "$mirror"
mkdir -p "$mirror" "$tools_dir/tf-plugin-cache"
mirror_sources=(/opt/tf-plugins)
if [ -n "${TF_PLUGIN_MIRROR:-}" ]; then
  IFS=':' read -r -a extra <<<"$TF_PLUGIN_MIRROR"
  for dir in "${extra[@]}"; do
    [ -d "$dir" ] || fail "TF_PLUGIN_MIRROR names '$dir', which is not a folder (expected registry layout: registry.terraform.io/<namespace>/<name>/<version>/<os>_<arch>/)."
    mirror_sources+=("$dir")
  done
fi
declare -A mirrored=()
for src in "${mirror_sources[@]}"; do
  [ -d "$src/registry.terraform.io" ] || continue
  for platform_dir in "$src"/registry.terraform.io/*/*/*/*_*; do
    [ -d "$platform_dir" ] || continue
    rel="${platform_dir#"$src"/}"
    mkdir -p "$mirror/$rel"
    # Terraform does not follow a directory symlink in a mirror, so link each file.
    # The plugin cache gets the same links, so parallel `terraform init`s only read it.
    mkdir -p "$tools_dir/tf-plugin-cache/$rel"
    for file in "$platform_dir"/*; do
      [ -f "$file" ] || continue
      ln -sf "$file" "$mirror/$rel/$(basename "$file")"
      ln -sf "$file" "$tools_dir/tf-plugin-cache/$rel/$(basename "$file")"
    done
    # <namespace>/<type>, for example hashicorp/helm or integrations/github.
    type_dir="$(dirname "$(dirname "$platform_dir")")"
    name="$(basename "$(dirname "$type_dir")")/$(basename "$type_dir")"
    version="$(basename "$(dirname "$platform_dir")")"
    case " ${mirrored[$name]:-} " in *" $version "*) ;; *) mirrored["$name"]+="$version " ;; esac
  done
done

include_list=""
for name in "${!mirrored[@]}"; do
  include_list+="\"registry.terraform.io/$name\", "
done
include_list="${include_list%, }"
{
  echo "# Written by scripts/tools.sh. Providers found locally come from the mirror; the rest from the registry."
  echo "plugin_cache_dir = \"$tools_dir/tf-plugin-cache\""
  echo "provider_installation {"
  if [ -n "$include_list" ]; then
    echo "  filesystem_mirror {"
    echo "    path    = \"$mirror\""
    echo "    include = [$include_list]"
    echo "  }"
    echo "  direct {"
    echo "    exclude = [$include_list]"
    echo "  }"
  else
    echo "  direct {}"
  fi
  echo "}"
} >"$tools_dir/terraformrc"
summary=""
for name in $(printf '%s\n' "${!mirrored[@]}" | sort); do summary+="$name ${mirrored[$name]}"; done
log "terraform $tf_version; local provider mirror: ${summary:-none} (others from the registry)"

# --- helm ----------------------------------------------------------------------------------------
go_install() { # go_install <module@version> <binary> [ldflags]
  command -v go >/dev/null 2>&1 || return 1
  GOBIN="$bin_dir" GOFLAGS="-trimpath" go install -ldflags "${3:-}" "$1"
}
helm_ok() { "$1" version --template '{{.Version}}' 2>/dev/null | grep -q '^v3\.'; }
if [ -x "$bin_dir/helm" ] && helm_ok "$bin_dir/helm"; then
  :
elif command -v helm >/dev/null 2>&1 && helm_ok "$(command -v helm)"; then
  ln -sf "$(command -v helm)" "$bin_dir/helm"
else
  log "building helm $HELM_VERSION with Go (a few minutes the first time)"
  go_install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" helm \
    "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" ||
    fail "helm 3 not found and could not be built. Install helm $HELM_VERSION (https://helm.sh/docs/intro/install/) or Go >= 1.24 so this script can build it."
fi
log "helm $("$bin_dir/helm" version --template '{{.Version}}')"

# --- actionlint ----------------------------------------------------------------------------------
if [ -x "$bin_dir/actionlint" ]; then
  :
elif command -v actionlint >/dev/null 2>&1; then
  ln -sf "$(command -v actionlint)" "$bin_dir/actionlint"
else
  log "building actionlint $ACTIONLINT_VERSION with Go"
  go_install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" actionlint ||
    fail "actionlint not found and could not be built. Install actionlint $ACTIONLINT_VERSION (https://github.com/rhysd/actionlint) or Go so this script can build it."
fi
log "actionlint $("$bin_dir/actionlint" --version | head -n1)"

# --- kube-score ----------------------------------------------------------------------------------
# The version is checked, not only the presence: its findings are asserted by the chart tests.
kube_score_ok() { "$1" version 2>/dev/null | grep -q "^kube-score version: ${KUBE_SCORE_VERSION#v},"; }
if [ -x "$bin_dir/kube-score" ] && kube_score_ok "$bin_dir/kube-score"; then
  :
elif command -v kube-score >/dev/null 2>&1 && kube_score_ok "$(command -v kube-score)"; then
  ln -sf "$(command -v kube-score)" "$bin_dir/kube-score"
else
  log "building kube-score $KUBE_SCORE_VERSION with Go"
  rm -f "$bin_dir/kube-score"
  go_install "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION" kube-score \
    "-X main.version=${KUBE_SCORE_VERSION#v}" ||
    fail "kube-score $KUBE_SCORE_VERSION not found and could not be built. Install it (https://github.com/zegl/kube-score/releases/tag/$KUBE_SCORE_VERSION) or Go so this script can build it."
  kube_score_ok "$bin_dir/kube-score" || fail "the kube-score built is not $KUBE_SCORE_VERSION: $("$bin_dir/kube-score" version)"
fi
log "$("$bin_dir/kube-score" version)"

# --- Python tools (kubernetes-validate, checkov, moto) -------------------------------------------
venv="$tools_dir/venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  command -v python3 >/dev/null 2>&1 ||
    fail "python3 not found. Install Python >= 3.10 (with venv) for kubernetes-validate, checkov and moto."
  log "installing $(grep -cv '^#' "$requirements") Python tools into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || fail "python3 -m venv failed: install the venv module (Debian: apt-get install python3-venv)."
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" ||
    fail "pip could not install $requirements (kubernetes-validate, checkov, moto[server]); check access to PyPI."
  echo "$want" >"$stamp"
fi
for tool in kubernetes-validate checkov moto_server; do
  [ -x "$venv/bin/$tool" ] || fail "$tool missing from $venv: delete $venv and run npm run tools again."
done
log "python tools: $("$venv/bin/pip" list --format=freeze 2>/dev/null | grep -iE '^(kubernetes-validate|checkov|moto)==' | tr '\n' ' ')"

[ "$rehearsal" = 1 ] || exit 0

# --- rehearsal: etcd ---------------------------------------------------------------------------
if ! command -v etcd >/dev/null 2>&1; then
  hint="etcd not found on PATH. Install etcd 3.4 or newer (Debian/Ubuntu: sudo apt-get install -y etcd-server; or https://etcd.io/docs/latest/install/)."
  { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; } || fail "$hint"
  log "installing etcd-server with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends etcd-server >/dev/null 2>&1 ||
    { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends etcd-server >/dev/null 2>&1; } ||
    fail "$hint (apt-get install etcd-server failed)"
fi
ln -sf "$(command -v etcd)" "$bin_dir/etcd"
log "etcd $("$bin_dir/etcd" --version 2>/dev/null | sed -n 's/^etcd Version: //p')"

# --- rehearsal: kwok and its stage definitions -------------------------------------------------
kwok_dir="$tools_dir/k8s/kwok-$KWOK_VERSION"
stages_dir="$tools_dir/k8s/kwok-stages"
if [ ! -x "$kwok_dir/kwok" ] || ! ls "$stages_dir"/*.yaml >/dev/null 2>&1; then
  command -v go >/dev/null 2>&1 || fail "go not found on PATH; it builds kwok $KWOK_VERSION. Install Go >= 1.26 (https://go.dev/doc/install)."
  log "building kwok $KWOK_VERSION with Go"
  mkdir -p "$kwok_dir"
  (cd "$kwok_dir" && GOBIN="$kwok_dir" GOFLAGS="-buildvcs=false" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION") ||
    fail "go install sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION failed"
  module_dir="$(cd "$kwok_dir" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$module_dir" ] || fail "could not locate the kwok module's stage definitions (go mod download sigs.k8s.io/kwok@$KWOK_VERSION)"
  rm -rf "$stages_dir"
  mkdir -p "$stages_dir"
  # kwok's own "fast" stages: nodes become Ready, pods run and become Ready at once.
  for stage in node/fast pod/fast; do
    for file in "$module_dir/kustomize/stage/$stage"/*.yaml; do
      [ "$(basename "$file")" = kustomization.yaml ] && continue
      cp "$file" "$stages_dir/${stage//\//-}-$(basename "$file")"
    done
  done
fi
ln -sf "$kwok_dir/kwok" "$bin_dir/kwok"
log "kwok $KWOK_VERSION, $(find "$stages_dir" -name '*.yaml' | wc -l) stage definitions"

# --- rehearsal: the control plane --------------------------------------------------------------
cp_dir="$(TOOLS_DIR="$tools_dir" bash "$repo_root/scripts/rehearse/cluster/build-control-plane.sh" | tail -n1)"
for bin in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [ -x "$cp_dir/$bin" ] || fail "the control-plane build did not produce $bin in $cp_dir"
  ln -sf "$cp_dir/$bin" "$bin_dir/$bin"
done
log "control plane: $("$bin_dir/kubectl" version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -n1) in $cp_dir"
