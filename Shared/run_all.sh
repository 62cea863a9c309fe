#!/usr/bin/env bash
# The one-click scenario run (DESIGN §9): plays every case of test_data.json
# through (A) the legacy direct-booking client and (B) the service, runs the
# reconciler, judges the end states against expected_postchange.json, writes
# results/ and compare_report.md, prints a pass/fail table. Exit 0 if every
# case passes, 1 if one fails, 2 if the run itself broke. See README.md.
#
#   Shared/run_all.sh                  # build, run, report (about a minute)
#   Shared/run_all.sh --chaos [--seed=N] [--count=1000] [--kills=12]
#   Shared/run_all.sh --no_build --bin_dir=DIR --out=DIR   # CI (tests/scenarios)
# Also: --seed=N (mock/worker seeds, legacy keys), --no_reconciler (debug).
set -euo pipefail

SHARED="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SHARED/.." && pwd)"

# --chaos hands everything else to chaos.sh.
for arg in "$@"; do
  if [ "$arg" = --chaos ]; then
    rest=()
    for a in "$@"; do [ "$a" = --chaos ] || rest+=("$a"); done
    exec bash "$SHARED/chaos.sh" "${rest[@]+"${rest[@]}"}"
  fi
done

build=1
bin_dir=""
out=""
seed=1
reconcile=1
for arg in "$@"; do
  case "$arg" in
    --no_build) build=0 ;;
    --no_reconciler) reconcile=0 ;;  # debugging only: drift_reconciled fails
    --bin_dir=*) bin_dir="${arg#*=}" ;;
    --out=*) out="${arg#*=}" ;;
    --seed=*) seed="${arg#*=}" ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

if [ -n "$out" ]; then
  RESULTS="$out/results"; LOGS="$out/logs"; REPORT="$out/compare_report.md"
else
  RESULTS="$SHARED/results"; LOGS="$SHARED/logs"; REPORT="$SHARED/compare_report.md"
fi
mkdir -p "$RESULTS" "$LOGS"
rm -f "$LOGS"/*.log "$LOGS"/*.stdout "$LOGS"/*.stderr "$LOGS"/scenarios.db*
DB="$LOGS/scenarios.db"   # fresh for every run

# shellcheck source=lib.sh
source "$SHARED/lib.sh"
resolve_binaries "$build" "$bin_dir" "$reconcile"
install_traps

DATA="$SHARED/test_data.json"
EXPECTED="$SHARED/expected_postchange.json"
MODES=$("$RUNNER" modes --data="$DATA")
PROVIDERS=$("$RUNNER" providers --data="$DATA")

# Short timings so the run takes about a minute; every case's numbers in
# expected_postchange.json assume them (e.g. ghost_booking's attempts).
WORKER_FLAGS=(
  --worker_id=scenario-worker --seed="$seed"
  --attempt_timeout=1s --lease=3s --max_attempts=5 --max_cancel_attempts=10
  --backoff_base=20ms --backoff_cap=200ms --confirm_timeout=10s
  --breaker_window=4 --breaker_min_calls=4 --breaker_failure_rate=1.0
  --breaker_wait=1s --breaker_half_open_calls=1
  --idle_poll=200ms --shutdown_grace=1s
)

echo "== starting the stack on loopback (fresh database $DB)"
start_and_wait mock_provider "listening on " "$MOCK" --listen=127.0.0.1:0 \
  --modes="$MODES" --seed="$seed" --log_file="$LOGS/mock_provider.log"
MOCK_ADDR=$LINE_VALUE
start_and_wait mock_provider_legacy "listening on " "$MOCK" --listen=127.0.0.1:0 \
  --modes="$MODES" --seed="$seed" --log_file="$LOGS/mock_provider_legacy.log"
LEGACY_MOCK_ADDR=$LINE_VALUE
start_and_wait api_server "listening on " "$API" --listen=127.0.0.1:0 \
  --db="$DB" --providers="$PROVIDERS" --log_file="$LOGS/api_server.log"
API_ADDR=$LINE_VALUE
start_and_wait outbox_worker "metrics on " "$WORKER" --db="$DB" \
  --provider_addr="$MOCK_ADDR" --metrics_port=0 "${WORKER_FLAGS[@]}" \
  --log_file="$LOGS/outbox_worker.log"
WORKER_METRICS=$LINE_VALUE
echo "   mock_provider (B) $MOCK_ADDR, mock_provider (A) $LEGACY_MOCK_ADDR"
echo "   api_server $API_ADDR, outbox_worker metrics $WORKER_METRICS"

COMMON=(--data="$DATA" --expected="$EXPECTED" --api="$API_ADDR"
  --mock="$MOCK_ADDR" --legacy_mock="$LEGACY_MOCK_ADDR"
  --worker_metrics="$WORKER_METRICS" --seed="$seed" --legacy_timeout=2s
  --log_file="$LOGS/scenario_runner.log")

echo "== playing the cases: A = legacy client, B = service"
run_child "$RUNNER" play "${COMMON[@]}" --state="$LOGS/play_state.json"

rm -f "$RESULTS/reconciler_report.json"
if [ "$reconcile" = 1 ]; then
  echo "== reconciler --apply --once"
  set +e
  run_child "$RECONCILER" --db="$DB" --provider_addr="$MOCK_ADDR" --apply --grace=0s \
    --report="$RESULTS/reconciler_report.json" --once \
    --log_file="$LOGS/reconciler.log" >"$LOGS/reconciler.stdout" 2>"$LOGS/reconciler.stderr"
  rc=$?
  set -e
  sed 's/^/   /' "$LOGS/reconciler.stdout"
  if [ "$rc" -ge 2 ]; then  # 0 clean, 1 drift found (and fixed), 2 error
    echo "reconciler failed (exit $rc); see $LOGS/reconciler.log" >&2
    exit 2
  fi
fi

echo "== checking end states"
set +e
run_child "$RUNNER" check "${COMMON[@]}" --state="$LOGS/play_state.json" \
  --reconciler_report="$RESULTS/reconciler_report.json" --logs_dir="$LOGS" \
  --out_dir="$RESULTS" --report="$REPORT"
rc=$?
set -e
stop_all
if [ "${#BAD_EXITS[@]}" -gt 0 ]; then
  echo "FAIL: not a clean SIGTERM exit: ${BAD_EXITS[*]} (see $LOGS)"
  [ "$rc" != 0 ] || rc=1
fi
echo "outputs: $RESULTS/{results_pre,results_post,aggregated_metrics}.json, $REPORT, logs in $LOGS"
exit "$rc"
