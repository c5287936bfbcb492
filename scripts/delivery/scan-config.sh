#!/usr/bin/env bash
# Misconfiguration scan of the API's Dockerfile and Helm chart with checkov, from the toolchain
# (npm run tools), offline. The same findings a pull request gets from the scan workflow's
# checkov job; Trivy's misconfiguration scan there adds its own rules.
#
# usage: scan-config.sh     (exit 1 when checkov reports a failed check)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools_dir="${TOOLS_DIR:-$repo_root/.tools}"
checkov="$tools_dir/venv/bin/checkov"
[ -x "$checkov" ] || {
  echo "scan-config: $checkov not found: run npm run tools first." >&2
  exit 2
}
[ -f "$repo_root/api/Dockerfile" ] || {
  echo "scan-config: api/Dockerfile not found." >&2
  exit 2
}
[ -f "$repo_root/helm/api/Chart.yaml" ] || {
  echo "scan-config: helm/api/Chart.yaml not found." >&2
  exit 2
}
# checkov renders the chart with helm before checking the manifests.
export PATH="$tools_dir/bin:$PATH" BC_SKIP_MAPPING=TRUE

status=0
echo "== api/Dockerfile (checkov dockerfile)"
"$checkov" --file "$repo_root/api/Dockerfile" --framework dockerfile --skip-download --quiet --compact || status=1
# checkov's own helm runner renders for an old Kubernetes version the chart refuses, so the chart
# is rendered here at the cluster's version and the manifests are checked.
rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
"$tools_dir/bin/helm" template api "$repo_root/helm/api" --kube-version "${KUBE_VERSION:-1.36.0}" \
  --namespace api \
  --set image.repository=123456789012.dkr.ecr.eu-west-1.amazonaws.com/api \
  --set image.tag=sha-0000000000000000000000000000000000000000 >"$rendered/api.yaml"
# Findings accepted in policy/checkov-kubernetes.yaml (each with its reason) are skipped here by
# id; the chart tests hold the stricter per-resource form of those exceptions.
skips="$(sed -n 's/^  - id: \(CKV[A-Z0-9_]*\).*/\1/p' "$repo_root/policy/checkov-kubernetes.yaml" 2>/dev/null | sort -u | paste -sd, -)"
echo "== helm/api rendered (checkov kubernetes${skips:+, accepted: $skips})"
"$checkov" --directory "$rendered" --framework kubernetes --skip-download --quiet --compact \
  ${skips:+--skip-check "$skips"} || status=1
exit "$status"
