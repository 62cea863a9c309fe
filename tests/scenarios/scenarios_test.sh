#!/usr/bin/env bash
# Every canonical case, both paths, the reconciler, the judgement: the same
# Shared/run_all.sh a person runs, on the binaries Bazel built for this test
# (so it also runs under --config=asan). Fails if any case fails, the legacy
# client did not behave as predicted, or patient data reached a log.
set -euo pipefail

out="${TEST_TMPDIR:?}/scenarios"
set +e
bash Shared/run_all.sh --no_build --bin_dir="$PWD" --out="$out"
rc=$?
set -e
# Keep the report and results with the test's outputs for a failed CI run.
if [ -n "${TEST_UNDECLARED_OUTPUTS_DIR:-}" ]; then
  cp -r "$out/compare_report.md" "$out/results" "$out/logs" \
    "$TEST_UNDECLARED_OUTPUTS_DIR/" 2>/dev/null || true
  rm -f "$TEST_UNDECLARED_OUTPUTS_DIR"/logs/*.db*
fi
[ "$rc" = 0 ] || { echo "scenario run failed (exit $rc)"; exit 1; }

# The outputs a person reads exist and say PASS.
grep -q '^\*\*Verdict: PASS\*\*' "$out/compare_report.md"
grep -q '"pass": true' "$out/results/aggregated_metrics.json"
for f in results_pre.json results_post.json reconciler_report.json; do
  [ -s "$out/results/$f" ] || { echo "missing $f"; exit 1; }
done
echo PASS
