#!/usr/bin/env bash
# Sets up everything, builds, and runs the service stack on loopback with the
# embedded SQLite database: mock_provider, api_server and outbox_worker.
# Prints where each listens, then waits; Ctrl-C (or SIGTERM) stops them all.
#
#   bash scripts/run_stack.sh                 # API on 127.0.0.1:50051
#   API_ADDR=127.0.0.1:0 bash scripts/run_stack.sh
#   RUN_DIR=/tmp/stack KEEP_DB=1 bash scripts/run_stack.sh
set -euo pipefail
cd "$(dirname "$0")/.."

API_ADDR="${API_ADDR:-127.0.0.1:50051}"
PROVIDER_ADDR="${PROVIDER_ADDR:-127.0.0.1:0}"
PROVIDERS="${PROVIDERS:-clinic-a,clinic-b}"
RUN_DIR="${RUN_DIR:-$PWD/run}"
MODES="${MODES:-}"

bash scripts/setup.sh
bazel build --jobs=2 //api_server //outbox_worker //mock_provider //cli:apptctl

mkdir -p "$RUN_DIR"
DB="$RUN_DIR/appointments.db"
if [ -z "${KEEP_DB:-}" ]; then rm -f "$DB" "$DB-wal" "$DB-shm"; fi

pids=()
stop_all() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "stack stopped; database kept at $DB, logs in $RUN_DIR"
}
trap stop_all EXIT
trap 'exit 0' INT TERM  # the EXIT trap stops the stack

# Starts a server, waits for its "listening on HOST:PORT" line, prints it.
start_server() {  # name, then the command
  local name=$1; shift
  local out="$RUN_DIR/$name.stdout"
  : >"$out"
  "$@" >"$out" 2>"$RUN_DIR/$name.log" &
  pids+=($!)
  for _ in $(seq 1 300); do
    if grep -q '^listening on ' "$out"; then
      sed -n 's/^listening on //p' "$out" | head -1
      return 0
    fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "$name did not start; see $RUN_DIR/$name.log" >&2
  tail -5 "$RUN_DIR/$name.log" >&2 || true
  exit 1
}

mode_flags=()
if [ -n "$MODES" ]; then mode_flags=(--modes="$MODES"); fi
provider=$(start_server mock_provider bazel-bin/mock_provider/mock_provider \
  --listen="$PROVIDER_ADDR" "${mode_flags[@]}")
api=$(start_server api_server bazel-bin/api_server/api_server \
  --listen="$API_ADDR" --db="$DB" --providers="$PROVIDERS")
bazel-bin/outbox_worker/outbox_worker --db="$DB" --provider_addr="$provider" \
  2>"$RUN_DIR/outbox_worker.log" &
pids+=($!)

cat <<MSG
mock_provider listening on $provider
api_server    listening on $api   (providers: $PROVIDERS)
outbox_worker draining $DB
logs: $RUN_DIR/*.log

Try:  bazel-bin/cli/apptctl --addr=$api create --request_id=demo-1 \\
        --customer_id=cust-1 --provider_id=clinic-a --location="Room 1" \\
        --start_time=$(date -u -d '+1 day' +%Y-%m-%dT09:00:00Z) --duration_minutes=30 \\
        --priority=NORMAL --patient_name="Ada Lovelace"
Ctrl-C stops the stack.
MSG
wait -n "${pids[@]}" || true
echo "a process of the stack exited; stopping the rest" >&2
