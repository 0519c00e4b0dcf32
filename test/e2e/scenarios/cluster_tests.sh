#!/usr/bin/env bash
# The C++ tests labelled `cluster` (kube client, certs flows) against this cluster. They would
# skip without a cluster; here YURT_E2E_REQUIRED=1 makes any skip a failure.
# YURT_BUILD_DIR picks the build (default build/ci, what scripts/test.sh builds).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
source "$HERE/lib/common.sh"
source "$HERE/lib/scenario.sh"
eval "$("$CLUSTER" env)"
build=${YURT_BUILD_DIR:-$REPO_ROOT/build/ci}
[[ -f $build/CTestTestfile.cmake ]] || fail "no build in $build (scripts/test.sh builds build/ci first)"
step "C++ cluster tests from $build"
YURT_E2E_REQUIRED=1 ctest --test-dir "$build" -L cluster --output-on-failure --timeout 600
