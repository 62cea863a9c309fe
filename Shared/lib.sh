# Shared by run_all.sh and chaos.sh: finding the binaries, starting servers on
# free loopback ports, and stopping everything this run started (also on
# Ctrl-C or failure). Source it; do not run it.

# Binaries: BIN_DIR/<folder>/<folder>; set by resolve_binaries.
resolve_binaries() {  # build (0/1), bin_dir (may be empty), need reconciler (0/1)
  local build=$1 bin_dir=$2 need_reconciler=${3:-1}
  if [ -z "$bin_dir" ]; then
    bin_dir="$REPO/bazel-bin"
    if [ "$build" = 1 ]; then
      local targets=(//mock_provider //api_server //outbox_worker
        //Shared/runner:scenario_runner //legacy_client)
      [ "$need_reconciler" = 1 ] && targets+=(//reconciler)
      echo "== building (bazel build --jobs=2)"
      (cd "$REPO" && bazel build --jobs=2 "${targets[@]}") ||
        { echo "build failed" >&2; exit 2; }
      # Where this build put them (the bazel-bin symlink follows whichever
      # bazel command ran last, maybe with another configuration).
      bin_dir=$(cd "$REPO" && bazel info --jobs=2 bazel-bin 2>/dev/null) ||
        bin_dir="$REPO/bazel-bin"
    fi
  fi
  MOCK="$bin_dir/mock_provider/mock_provider"
  API="$bin_dir/api_server/api_server"
  WORKER="$bin_dir/outbox_worker/outbox_worker"
  RECONCILER="$bin_dir/reconciler/reconciler"
  RUNNER="$bin_dir/Shared/runner/scenario_runner"
  local needed=("$MOCK" "$API" "$WORKER" "$RUNNER")
  [ "$need_reconciler" = 1 ] && needed+=("$RECONCILER")
  for b in "${needed[@]}"; do
    [ -x "$b" ] || { echo "missing binary $b (build it, or drop --no_build)" >&2; exit 2; }
  done
}

STARTED_PIDS=()
STARTED_NAMES=()
# "name exit N" for every process that did not exit 0 on SIGTERM (DESIGN
# §10: servers drain and exit 0), filled by stop_all.
BAD_EXITS=()

# SIGTERM to everything still running, in reverse start order; SIGKILL after
# a bounded wait. Safe to call twice.
stop_all() {
  local i pid rc
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${STARTED_PIDS[$i]}
    kill -TERM "$pid" 2>/dev/null || true
  done
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${STARTED_PIDS[$i]}
    for _ in $(seq 1 100); do  # up to 10 s for a drain
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    [ "$rc" = 0 ] || BAD_EXITS+=("${STARTED_NAMES[$i]} exit $rc")
  done
  STARTED_PIDS=()
  STARTED_NAMES=()
}

on_signal() {
  echo "interrupted: stopping everything this run started" >&2
  stop_all
  exit 130
}

install_traps() {
  trap stop_all EXIT
  trap on_signal INT TERM
}

# Runs a command to completion and returns its exit code, but in the
# background with `wait`, so that a SIGTERM/SIGINT to this script is handled
# at once (bash runs traps only after a foreground command ends) and the
# command is stopped with everything else.
run_child() {  # command...
  "$@" &
  local pid=$! rc=0
  STARTED_PIDS+=("$pid")
  STARTED_NAMES+=("$(basename "$1")")
  wait "$pid" || rc=$?
  forget_pid "$pid"
  return "$rc"
}

# Forgets a pid that was killed on purpose (chaos).
forget_pid() {  # pid
  local i
  for i in "${!STARTED_PIDS[@]}"; do
    if [ "${STARTED_PIDS[$i]}" = "$1" ]; then
      unset 'STARTED_PIDS[i]' 'STARTED_NAMES[i]'
    fi
  done
  STARTED_PIDS=("${STARTED_PIDS[@]}")
  STARTED_NAMES=("${STARTED_NAMES[@]}")
}

# Starts a process in the background, waits for a stdout line starting with
# PREFIX (bounded: 60 s for a broken binary), and sets LINE_VALUE to the rest
# of that line and LAST_PID to its pid. stderr (JSON logs unless --log_file)
# goes to LOGS/NAME.stderr.
start_and_wait() {  # name, prefix, command...
  local name=$1 prefix=$2
  shift 2
  local out="$LOGS/$name.stdout"
  : >"$out"
  "$@" >"$out" 2>>"$LOGS/$name.stderr" &
  LAST_PID=$!
  STARTED_PIDS+=("$LAST_PID")
  STARTED_NAMES+=("$name")
  LINE_VALUE=""
  for _ in $(seq 1 1200); do
    LINE_VALUE=$(sed -n "s/^$prefix//p" "$out" | head -1)
    [ -n "$LINE_VALUE" ] && return 0
    if ! kill -0 "$LAST_PID" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "$name did not start (no \"$prefix\" line); last log lines:" >&2
  tail -5 "$LOGS/$name.stderr" "$LOGS/$name.log" 2>/dev/null >&2 || true
  exit 2
}
