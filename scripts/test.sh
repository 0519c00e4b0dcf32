#!/usr/bin/env bash
# Runs every test: the C++ unit and integration tests in a warnings-as-errors build and again
# under ASan+UBSan, then the end-to-end scenarios on the real cluster. The README's second
# command, and exactly what .ci/run runs. Needs root (the e2e cluster uses namespaces).
#   scripts/test.sh [--no-e2e] [--no-asan]
set -uo pipefail
cd "$(dirname "$0")/.."

e2e=1 asan=1
for a in "$@"; do
  case $a in
    --no-e2e) e2e=0 ;;
    --no-asan) asan=0 ;;
    *) echo "usage: scripts/test.sh [--no-e2e] [--no-asan]" >&2; exit 2 ;;
  esac
done

started=$SECONDS
results=()   # "name:passed:failed"
say() { printf '\n=== %s (%ss)\n' "$*" "$((SECONDS - started))"; }

scripts/install-deps.sh || exit 1

# ctest_suite PRESET: build it, check headers, run unit+integration tests; record the counts.
ctest_suite() {
  local preset=$1 log
  say "build: $preset"
  cmake --preset "$preset" >/dev/null || { results+=("$preset-build:0:1"); return; }
  if ! cmake --build --preset "$preset" -- -k 0 || ! cmake --build --preset "$preset" --target check-headers; then
    results+=("$preset-build:0:1")
    return
  fi
  say "unit and integration tests: $preset"
  log=$(mktemp)
  ctest --preset "$preset" -L 'unit|integration' --timeout 300 -j2 2>&1 | tee "$log" | grep -vE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed'
  local total failed
  total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
  failed=$(sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' "$log" | tail -1)
  rm -f "$log"
  [[ -n $total ]] || { results+=("$preset-tests:0:1"); return; }
  results+=("$preset:$((total - failed)):$failed")
}

ctest_suite ci
((asan)) && ctest_suite ci-asan

if ((e2e)); then
  say "end-to-end scenarios on the real cluster"
  log=$(mktemp)
  test/e2e/run.sh 2>&1 | tee "$log"
  line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  rm -f "$log"
  if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    results+=("e2e:${BASH_REMATCH[1]}:${BASH_REMATCH[2]}")
  else
    results+=("e2e:0:1")
  fi
fi

say "summary"
total_passed=0 total_failed=0
for r in "${results[@]}"; do
  IFS=: read -r name p f <<<"$r"
  printf '  %-12s %5s passed, %s failed\n' "$name" "$p" "$f"
  total_passed=$((total_passed + p))
  total_failed=$((total_failed + f))
done
echo "total: $total_passed passed, $total_failed failed"
((total_failed == 0))
