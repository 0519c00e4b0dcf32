#!/usr/bin/env bash
# Runs the e2e scenarios in order on one real cluster and tears it down, checking that nothing is
# left behind. Prints the scenarios' stories and a closing "N passed, M failed" line.
#   test/e2e/run.sh [scenario…]     default: all, in the order below
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
state=$(mktemp)
trap 'rm -f "$state"' EXIT

scenarios=("$@")
((${#scenarios[@]})) || scenarios=(plain_kubernetes yurthub_autonomy yurthub_crash_safety controller_autonomy cluster_tests tunnel)

passed=0 failed=0 failures=()
run() {
  local name=$1 started=$SECONDS
  shift
  printf '\n######## %s\n' "$name"
  if "$@"; then
    passed=$((passed + 1))
    printf '######## %s: PASS (%ss)\n' "$name" "$((SECONDS - started))"
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf '######## %s: FAIL (%ss)\n' "$name" "$((SECONDS - started))"
  fi
}

# The cluster: 2 edge nodes, so that scenarios needing a second node have it.
if ! run harness_up env STATE_FILE="$state" EDGE_NODES=2 "$HERE/scenarios/harness_lifecycle.sh"; then
  # Nothing else can run without a cluster; say so for each.
  for s in "${scenarios[@]}"; do failed=$((failed + 1)); failures+=("$s (no cluster)"); done
else
  for s in "${scenarios[@]}"; do
    run "$s" "$HERE/scenarios/$s.sh"
  done
fi
run harness_down "$HERE/scenarios/harness_lifecycle.sh" --down-check "$state"

echo
((failed == 0)) || printf 'failed: %s\n' "${failures[*]}"
echo "e2e: $passed passed, $failed failed"
((failed == 0))
