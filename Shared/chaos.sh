#!/usr/bin/env bash
# The chaos run (DESIGN §3 crash points, §9): COUNT appointments over a mix of
# provider modes while the outbox_worker is SIGKILLed at random moments (at
# least KILLS times) and restarted, and the api_server is SIGKILLed and
# restarted once; then every in-flight appointment settles, `reconciler
# --apply` runs, and every accepted intent is checked against the provider.
# Pass: lost = duplicate = orphan = 0 and nothing left in flight.
# The seed decides the provider mix and every kill moment: a failure replays
# with the same --seed.
#
#   Shared/chaos.sh [--seed=N] [--count=1000] [--kills=12] [--no_build]
#                   [--bin_dir=DIR] [--out=DIR]
# (also: Shared/run_all.sh --chaos ...)
set -euo pipefail

SHARED="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SHARED/.." && pwd)"

seed=""
count=1000
kills=12
build=1
bin_dir=""
out=""
for arg in "$@"; do
  case "$arg" in
    --seed=*) seed="${arg#*=}" ;;
    --count=*) count="${arg#*=}" ;;
    --kills=*) kills="${arg#*=}" ;;
    --no_build) build=0 ;;
    --bin_dir=*) bin_dir="${arg#*=}" ;;
    --out=*) out="${arg#*=}" ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$seed" ] || seed=$(( $(date +%s) % 100000 + 1 ))
RANDOM=$seed  # every kill moment below comes from this sequence

if [ -n "$out" ]; then
  RESULTS="$out/results"; LOGS="$out/logs"
else
  RESULTS="$SHARED/results"; LOGS="$SHARED/logs/chaos"
fi
mkdir -p "$RESULTS" "$LOGS"
rm -f "$LOGS"/*.log "$LOGS"/*.stdout "$LOGS"/*.stderr "$LOGS"/chaos.db*
DB="$LOGS/chaos.db"
EVENTS="$LOGS/chaos_events.log"
: >"$EVENTS"

# shellcheck source=lib.sh
source "$SHARED/lib.sh"
resolve_binaries "$build" "$bin_dir" 1
install_traps

echo "== chaos run, seed $seed: $count appointments, >= $kills worker kills, 1 api_server kill"
MODES=$("$RUNNER" chaos_modes)
PROVIDERS=$("$RUNNER" chaos_providers)
note() { echo "$(date -u +%H:%M:%S.%3N) $*" | tee -a "$EVENTS"; }

WORKER_FLAGS=(
  --attempt_timeout=500ms --lease=2s --max_attempts=8 --max_cancel_attempts=20
  --backoff_base=50ms --backoff_cap=1s --confirm_timeout=20s
  --breaker_window=20 --breaker_min_calls=10 --breaker_failure_rate=0.8
  --breaker_wait=1s --breaker_half_open_calls=2 --idle_poll=200ms
  --shutdown_grace=1s
)

start_and_wait mock_provider "listening on " "$MOCK" --listen=127.0.0.1:0 \
  --modes="$MODES" --seed="$seed" --log_file="$LOGS/mock_provider.log"
MOCK_ADDR=$LINE_VALUE
start_and_wait api_server "listening on " "$API" --listen=127.0.0.1:0 \
  --db="$DB" --providers="$PROVIDERS" --log_file="$LOGS/api_server.log"
API_ADDR=$LINE_VALUE
API_PID=$LAST_PID

worker_n=0
start_worker() {
  worker_n=$((worker_n + 1))
  "$WORKER" --db="$DB" --provider_addr="$MOCK_ADDR" \
    --worker_id="chaos-w$worker_n" --seed="$((seed * 100 + worker_n))" \
    "${WORKER_FLAGS[@]}" --log_file="$LOGS/outbox_worker.log" \
    >>"$LOGS/outbox_worker.stdout" 2>>"$LOGS/outbox_worker.stderr" &
  WORKER_PID=$!
  STARTED_PIDS+=("$WORKER_PID")
  STARTED_NAMES+=("outbox_worker")
}
start_worker
note "stack up: mock $MOCK_ADDR, api $API_ADDR, worker pid $WORKER_PID"

"$RUNNER" chaos_create --api="$API_ADDR" --count="$count" --seed="$seed" \
  --intents="$LOGS/chaos_intents.json" --log_file="$LOGS/scenario_runner.log" &
CREATOR_PID=$!
STARTED_PIDS+=("$CREATOR_PID")
STARTED_NAMES+=("chaos_create")

api_kill_at=$(( RANDOM % 3 + 2 ))  # with the 2nd..4th worker kill, mid-creation
done_kills=0
api_restarts=0
creator_running=1
while [ "$done_kills" -lt "$kills" ] || [ "$creator_running" = 1 ]; do
  # 0.2 .. 1.2 s of normal work, then SIGKILL wherever the worker is.
  sleep "$(printf '0.%03d' $(( RANDOM % 1000 )))"
  sleep 0.2
  kill -KILL "$WORKER_PID" 2>/dev/null || true
  wait "$WORKER_PID" 2>/dev/null || true
  forget_pid "$WORKER_PID"
  done_kills=$((done_kills + 1))
  note "kill -9 outbox_worker #$done_kills (pid $WORKER_PID)"
  if [ "$done_kills" = "$api_kill_at" ]; then
    kill -KILL "$API_PID" 2>/dev/null || true
    wait "$API_PID" 2>/dev/null || true
    forget_pid "$API_PID"
    note "kill -9 api_server (pid $API_PID)"
    start_and_wait api_server "listening on " "$API" --listen="$API_ADDR" \
      --db="$DB" --providers="$PROVIDERS" --log_file="$LOGS/api_server.log"
    API_PID=$LAST_PID
    api_restarts=$((api_restarts + 1))
    note "api_server restarted on $API_ADDR (pid $API_PID)"
  fi
  sleep "$(printf '0.%03d' $(( RANDOM % 300 )))"  # down for a moment
  start_worker
  note "outbox_worker restarted (pid $WORKER_PID)"
  if [ "$creator_running" = 1 ] && ! kill -0 "$CREATOR_PID" 2>/dev/null; then
    creator_running=0
  fi
done
set +e
wait "$CREATOR_PID"
creator_rc=$?
set -e
forget_pid "$CREATOR_PID"
[ "$creator_rc" = 0 ] || { echo "chaos_create failed (exit $creator_rc)" >&2; exit 2; }
note "creation done; $done_kills worker kills, $api_restarts api_server restart(s)"

echo "== waiting for in-flight appointments to settle (leases expire, the last worker finishes)"
set +e
run_child "$RUNNER" chaos_settle --api="$API_ADDR" --settle_timeout=180s \
  --log_file="$LOGS/scenario_runner.log"
settle_rc=$?
set -e
# A decline_later booking drops 2 s after it is confirmed: give the last ones
# time to drop, so the reconciler sees them (drift class 1).
sleep 2.5

echo "== reconciler --apply --once"
# --max_repairs=0: a chaos run makes drift on purpose, possibly more than the
# operator default cap of 100 repairs per run; all of it must be repaired.
set +e
run_child "$RECONCILER" --db="$DB" --provider_addr="$MOCK_ADDR" --apply --grace=0s --max_repairs=0 \
  --report="$RESULTS/chaos_reconciler_report.json" --once \
  --log_file="$LOGS/reconciler.log" >"$LOGS/reconciler.stdout" 2>"$LOGS/reconciler.stderr"
rc=$?
set -e
sed 's/^/   /' "$LOGS/reconciler.stdout"
[ "$rc" -lt 2 ] || { echo "reconciler failed (exit $rc)" >&2; exit 2; }

echo "== checking every accepted intent against the provider"
set +e
run_child "$RUNNER" chaos_check --api="$API_ADDR" --mock="$MOCK_ADDR" \
  --intents="$LOGS/chaos_intents.json" --out="$RESULTS/chaos_results.json" \
  --worker_kills="$done_kills" --api_restarts="$api_restarts" \
  --log_file="$LOGS/scenario_runner.log"
rc=$?
set -e
stop_all
if [ "${#BAD_EXITS[@]}" -gt 0 ]; then
  echo "FAIL: not a clean SIGTERM exit: ${BAD_EXITS[*]} (see $LOGS)"
  [ "$rc" != 0 ] || rc=1
fi
[ "$settle_rc" = 0 ] || echo "note: chaos_settle timed out (see UNSETTLED above)"
echo "seed $seed — replay with: Shared/run_all.sh --chaos --seed=$seed --count=$count --kills=$kills"
echo "outputs: $RESULTS/chaos_results.json, events in $EVENTS, logs in $LOGS"
exit "$rc"
