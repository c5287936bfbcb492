#!/usr/bin/env bash
# Plans every stack but bootstrap, read-only, and writes one file per stack into the plan folder:
#   <stack>.json       terraform show -json of the saved plan (for the report)
#   <stack>.txt        terraform show of the saved plan (the full, human-readable plan)
#   <stack>.error.log  the init or plan output when the stack failed to plan
#   <stack>.releases.json  with RELEASE_DRIFT=1, for a stack with helm_release resources: the live
#                      objects of its Helm releases compared with their manifests
#                      (npm run delivery -- release-drift); a failed comparison goes to
#                      <stack>.error.log like a failed plan
# Every stack is attempted even when one fails; the exit status is 1 if any failed.
#
# usage: plan-stacks.sh [--skip-synth] <plan folder> [stack ...]   (default stacks: shared dev prod)
#
# Plans run with -lock=false: a plan writes no state, and the plan role may only read the state
# bucket. The image tags come from IMAGE_TAG_DEV / IMAGE_TAG_PROD, as for a deploy. The release
# comparison runs helm and kubectl (HELM_BIN / KUBECTL_BIN) against the cluster KUBECONFIG names.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo_root"

skip_synth=false
if [ "${1:-}" = "--skip-synth" ]; then
  skip_synth=true
  shift
fi
[ $# -ge 1 ] || {
  echo "usage: plan-stacks.sh [--skip-synth] <plan folder> [stack ...]" >&2
  exit 2
}
out="$1"
shift
stacks=("$@")
[ ${#stacks[@]} -gt 0 ] || stacks=(shared dev prod)

for stack in "${stacks[@]}"; do
  if [ "$stack" = "bootstrap" ]; then
    echo "plan-stacks: bootstrap keeps local state and is applied by hand; it is never planned here." >&2
    exit 2
  fi
  [[ "$stack" =~ ^[a-z0-9_-]+$ ]] || {
    echo "plan-stacks: stack name '$stack' must match [a-z0-9_-]+." >&2
    exit 2
  }
done

if [ -z "${TF_CLI_CONFIG_FILE:-}" ] && [ -f "$repo_root/.tools/terraformrc" ]; then
  export TF_CLI_CONFIG_FILE="$repo_root/.tools/terraformrc"
fi
export TF_IN_AUTOMATION=1 TF_INPUT=0

mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -f "$out"/*.json "$out"/*.txt "$out"/*.error.log "$out"/*.release-drift.log

if [ "$skip_synth" = false ]; then
  npm run --silent synth
fi

failed=0
for stack in "${stacks[@]}"; do
  dir="cdktf.out/stacks/$stack"
  log="$out/$stack.error.log"
  if [ ! -f "$dir/cdk.tf.json" ]; then
    echo "No synthesized stack at $dir/cdk.tf.json: is '$stack' a stack of main.ts?" >"$log"
    failed=1
    continue
  fi
  echo "::group::plan $stack"
  if terraform -chdir="$dir" init -input=false -no-color >"$out/$stack.init.log" 2>&1 &&
    terraform -chdir="$dir" plan -input=false -lock=false -no-color -out=tfplan 2>&1 | tee "$out/$stack.plan.log" &&
    terraform -chdir="$dir" show -json tfplan >"$out/$stack.json" &&
    terraform -chdir="$dir" show -no-color tfplan >"$out/$stack.txt"; then
    rm -f "$out/$stack.init.log" "$out/$stack.plan.log"
  else
    cat "$out/$stack.init.log" "$out/$stack.plan.log" 2>/dev/null | tail -n 200 >"$log" || true
    rm -f "$out/$stack.init.log" "$out/$stack.plan.log" "$out/$stack.json" "$out/$stack.txt"
    failed=1
    echo "plan-stacks: $stack failed to plan (see $log)" >&2
  fi
  echo "::endgroup::"
  # The Helm provider does not see a kubectl edit of a release's objects
  # (hashicorp/terraform-provider-helm#372): compare them with the rendered manifests.
  if [ "${RELEASE_DRIFT:-}" = "1" ] && grep -q '"helm_release"' "$dir/cdk.tf.json"; then
    echo "::group::release-drift $stack"
    drift_log="$out/$stack.release-drift.log"
    if npm run --silent delivery -- release-drift --env "$stack" --out "$out/$stack.releases.json" 2>&1 |
      tee "$drift_log"; then
      rm -f "$drift_log"
    else
      {
        echo "release-drift $stack failed: the live objects of its Helm releases were not compared."
        tail -n 200 "$drift_log"
      } >>"$log"
      rm -f "$drift_log" "$out/$stack.releases.json"
      failed=1
      echo "plan-stacks: release-drift of $stack failed (see $log)" >&2
    fi
    echo "::endgroup::"
  fi
done
exit "$failed"
