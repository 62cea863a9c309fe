#!/usr/bin/env bash
# The whole suite, as CI runs it: set-up, then `bazel test //...` plain and
# again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Exits non-zero if anything fails.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || exit 1

# Two cores are shared by the compiler and the servers the tests start.
# --build_tests_only: benchmarks and other tools not needed by a test are
# not compiled (twice: plain and ASan).
JOBS_FLAGS=(--jobs=2 --local_test_jobs=2 --build_tests_only)

status=0
echo "== bazel test //... =="
bazel test "${JOBS_FLAGS[@]}" //... || status=1

echo "== bazel test --config=asan //... =="
bazel test "${JOBS_FLAGS[@]}" --config=asan //... || status=1

if [ $status -ne 0 ]; then
  echo "test.sh: FAILED"
else
  echo "test.sh: all suites passed"
fi
exit $status
