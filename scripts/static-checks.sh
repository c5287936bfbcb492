#!/usr/bin/env bash
# Format check, lint and type-check at once (they are independent), each with its own output;
# exits non-zero naming every check that failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
declare -A pids=()
for check in format:check lint typecheck; do
  npm run --silent "$check" >"$logs/$check" 2>&1 &
  pids[$check]=$!
done
failed=()
for check in format:check lint typecheck; do
  if ! wait "${pids[$check]}"; then failed+=("$check"); fi
  echo "== npm run $check"
  cat "$logs/$check"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "static checks failed: ${failed[*]}" >&2
  exit 1
fi
echo "static checks passed: format:check, lint, typecheck"
