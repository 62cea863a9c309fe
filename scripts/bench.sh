#!/usr/bin/env bash
# Benchmarks the service against this machine's own ceilings, in one run and
# on one machine (issue 8), and writes Shared/results/bench.json and
# Shared/results/bench.md (each figure also as a ratio to the ceiling).
#
#   bash scripts/bench.sh                          # about 4 minutes
#   DURATION=5s WARMUP=1s bash scripts/bench.sh    # quicker, noisier
#   PHASES=ceiling,create bash scripts/bench.sh    # a subset
#
# Phases (each one independent: a failing phase records null + its error in
# bench.json and the run goes on; everything started is stopped on exit):
#   ceiling    no-op unary gRPC server (bench/noop_server) with the same
#              client: Ping (empty messages) at 1/50/200 in flight, Echo
#              (CreateAppointment's messages) at 50.
#   create     CreateAppointment against api_server (synchronous=FULL, the
#              store's only mode) at 1, 50 and 200 in flight, fresh database
#              each.
#   e2e        create -> CONFIRMED with an immediate mock_provider and one
#              outbox_worker: one chain in flight, E2E_RATE creates/s (open
#              loop), 50 chains in flight; then the outcome check.
#   drain      the worker's drain of a DRAIN_ROWS backlog written straight to
#              the database (bench/seed_outbox), twice (second batch on top).
#   reconcile  reconciler --once (dry run) over RECONCILE_ROWS confirmed
#              bookings and, for the memory comparison, over half of them;
#              then the outcome check over every row.
# Knobs (environment): DURATION WARMUP DRAIN_ROWS RECONCILE_ROWS E2E_RATE PROVIDERS
# PHASES RUN_DIR OUT_DIR API_FLAGS WORKER_FLAGS MOCK_FLAGS RECONCILER_FLAGS.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-2s}"
DRAIN_ROWS="${DRAIN_ROWS:-50000}"
RECONCILE_ROWS="${RECONCILE_ROWS:-100000}"
E2E_RATE="${E2E_RATE:-200}"
PROVIDERS="${PROVIDERS:-clinic-a,clinic-b}"
PHASES="${PHASES:-ceiling,create,e2e,drain,reconcile}"
OUT_DIR="${OUT_DIR:-$ROOT/Shared/results}"
RUN_DIR="${RUN_DIR:-$(mktemp -d /tmp/bench.XXXXXX)}"
API_FLAGS="${API_FLAGS:-}"
WORKER_FLAGS="${WORKER_FLAGS:-}"
MOCK_FLAGS="${MOCK_FLAGS:---log_level=warn}"
RECONCILER_FLAGS="${RECONCILER_FLAGS:-}"

RES="$RUN_DIR/results"   # one JSON file per measurement
ERR="$RUN_DIR/errors"    # one text file per failed phase
LOG="$RUN_DIR/logs"
mkdir -p "$RES" "$ERR" "$LOG"
echo "bench: run directory $RUN_DIR"

# ------------------------------------------------------------ processes --

all_pids=()    # everything started, stopped by the EXIT trap
phase_pids=()  # started by the current phase, stopped at its end

stop_pid() {  # SIGTERM, up to 15 s for the drain, then SIGKILL
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

stop_phase() {
  local pid
  for pid in "${phase_pids[@]}"; do stop_pid "$pid"; done
  phase_pids=()
}

cleanup() {
  trap - EXIT INT TERM
  local pid
  for pid in "${all_pids[@]}"; do stop_pid "$pid"; done
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

# Starts a server in the background and waits for its "listening on" line.
# Sets ADDR (HOST:PORT). Returns 1 if it does not come up.
start_server() {  # name, then the command
  local name=$1; shift
  local out="$LOG/$name.stdout"
  : >"$out"
  "$@" >"$out" 2>"$LOG/$name.stderr" &
  local pid=$!
  all_pids+=("$pid")
  phase_pids+=("$pid")
  for _ in $(seq 1 300); do
    if grep -q '^listening on ' "$out"; then
      ADDR=$(sed -n 's/^listening on //p' "$out" | head -1)
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "$name did not start: $(tail -3 "$LOG/$name.stderr" | tr '\n' ' ')" \
    >>"$ERR/$CURRENT_PHASE.txt"
  return 1
}

start_background() {  # name, then the command (no listening line)
  local name=$1; shift
  "$@" >"$LOG/$name.stdout" 2>"$LOG/$name.stderr" &
  BG_PID=$!
  all_pids+=("$BG_PID")
  phase_pids+=("$BG_PID")
}

fail() {  # records an error for the current phase; returns 1
  echo "$*" >>"$ERR/$CURRENT_PHASE.txt"
  echo "bench: $CURRENT_PHASE: $*" >&2
  return 1
}

# Runs a command whose stdout is one JSON object into $RES/<name>.json.
measure_json() {  # name, then the command
  local name=$1; shift
  echo "bench:   $name" >&2
  if ! "$@" >"$RES/$name.json" 2>"$LOG/$name.stderr"; then
    fail "$name failed (exit $?): $(tail -c 600 "$RES/$name.json" \
      "$LOG/$name.stderr" 2>/dev/null | tr '\n' ' ')"
    return 1
  fi
  return 0
}

loadgen() {  # name, target, then loadgen flags
  local name=$1 target=$2; shift 2
  measure_json "$name" "$BIN/bench/loadgen" --target="$target" \
    --warmup="$WARMUP" --duration="$DURATION" --providers="$PROVIDERS" \
    --label="$name" "$@"
}

fresh_db() { rm -f "$1" "$1-wal" "$1-shm"; }

# ----------------------------------------------------------------- build --

CURRENT_PHASE=build
bash scripts/setup.sh >&2 || fail "setup.sh failed"
BAZEL=(bazel build -c opt --jobs=2 --symlink_prefix=/)
declare -A BUILT
for target in //bench:all //api_server //outbox_worker //mock_provider \
  //reconciler; do
  if "${BAZEL[@]}" "$target" >"$LOG/build.log" 2>&1; then
    BUILT[$target]=1
  else
    fail "bazel build -c opt $target failed: $(grep -m3 -E 'ERROR' \
      "$LOG/build.log" | tr '\n' ' ')"
  fi
done
BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
need() {  # targets a phase needs; fails the phase if one did not build
  local t
  for t in "$@"; do
    [ -n "${BUILT[$t]:-}" ] || { fail "not built: $t"; return 1; }
  done
}

API="$BIN/api_server/api_server"
WORKER="$BIN/outbox_worker/outbox_worker"
MOCK="$BIN/mock_provider/mock_provider"
RECONCILER="$BIN/reconciler/reconciler"

# ---------------------------------------------------------------- machine --

cat >"$RES/machine.json" <<JSON
{"nproc": $(nproc),
 "cpu_model": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- |
   sed 's/^ *//; s/"/\\"/g')",
 "kernel": "$(uname -r)",
 "mem_total_mb": $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo),
 "date_utc": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "git_commit": "$(git rev-parse HEAD 2>/dev/null || echo unknown)",
 "git_dirty": $(if [ -n "$(git status --porcelain --untracked-files=no \
   2>/dev/null)" ]; then echo true; else echo false; fi),
 "git_dirty_paths": "$(git status --porcelain --untracked-files=no \
   2>/dev/null | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')",
 "loadavg_at_start": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "compilation_mode": "opt",
 "duration": "$DURATION", "warmup": "$WARMUP"}
JSON

# ----------------------------------------------------------------- phases --

phase_ceiling() {
  need //bench:all || return 1
  start_server noop_server "$BIN/bench/noop_server" --listen=127.0.0.1:0 ||
    return 1
  local target=$ADDR ok=0
  loadgen ceiling_ping_1 "$target" --method=ping --in_flight=1 || ok=1
  loadgen ceiling_ping_50 "$target" --method=ping --in_flight=50 || ok=1
  loadgen ceiling_ping_200 "$target" --method=ping --in_flight=200 || ok=1
  loadgen ceiling_echo_50 "$target" --method=noop --in_flight=50 || ok=1
  return $ok
}

phase_create() {
  need //bench:all //api_server || return 1
  local n ok=0
  for n in 1 50 200; do
    local db="$RUN_DIR/create_$n.db"
    fresh_db "$db"
    # shellcheck disable=SC2086
    start_server "api_create_$n" "$API" --listen=127.0.0.1:0 --db="$db" \
      --providers="$PROVIDERS" --log_file="$LOG/api_create_$n.log" \
      $API_FLAGS || { ok=1; stop_phase; continue; }
    loadgen "create_$n" "$ADDR" --method=create --in_flight="$n" || ok=1
    stop_phase
  done
  return $ok
}

# The outcome check: every intent final with exactly one provider booking.
check_outcome() {  # name, db, provider address
  measure_json "$1" "$BIN/bench/check_outcome" --db="$2" \
    --provider_addr="$3"
}

phase_e2e() {
  need //bench:all //api_server //outbox_worker //mock_provider || return 1
  local db="$RUN_DIR/e2e.db" ok=0
  fresh_db "$db"
  # shellcheck disable=SC2086
  start_server mock_e2e "$MOCK" --listen=127.0.0.1:0 \
    --modes="*=immediate" $MOCK_FLAGS || return 1
  local provider=$ADDR
  # shellcheck disable=SC2086
  start_server api_e2e "$API" --listen=127.0.0.1:0 --db="$db" \
    --providers="$PROVIDERS" --log_file="$LOG/api_e2e.log" $API_FLAGS ||
    return 1
  local api=$ADDR
  # shellcheck disable=SC2086
  start_background worker_e2e "$WORKER" --db="$db" --provider_addr="$provider" \
    --log_file="$LOG/worker_e2e.log" $WORKER_FLAGS
  loadgen e2e_1 "$api" --method=e2e --in_flight=1 || ok=1
  loadgen e2e_rate "$api" --method=e2e --rate="$E2E_RATE" --in_flight=2000 ||
    ok=1
  loadgen e2e_50 "$api" --method=e2e --in_flight=50 || ok=1
  measure_json e2e_settle "$BIN/bench/wait_drain" --db="$db" --timeout=120s ||
    ok=1
  check_outcome e2e_check "$db" "$provider" || ok=1
  return $ok
}

# Seeds `rows` intents, starts a worker, times the drain, stops the worker.
drain_once() {  # name, db, provider address, rows
  local name=$1 db=$2 provider=$3 rows=$4
  measure_json "${name}_seed" "$BIN/bench/seed_outbox" --db="$db" \
    --count="$rows" --providers="$PROVIDERS" || return 1
  "$BIN/bench/wait_drain" --db="$db" --poll=50ms --timeout=900s \
    >"$RES/$name.json" 2>"$LOG/$name.stderr" &
  local waiter=$!
  all_pids+=("$waiter")
  sleep 0.3  # let the waiter take its "untouched" reading first
  # shellcheck disable=SC2086
  start_background "worker_$name" "$WORKER" --db="$db" \
    --provider_addr="$provider" --log_file="$LOG/worker_$name.log" \
    $WORKER_FLAGS
  local worker=$BG_PID
  echo "bench:   $name ($rows rows)" >&2
  wait "$waiter"
  local rc=$?
  stop_pid "$worker"
  [ $rc -eq 0 ] || { fail "$name: wait_drain exit $rc: $(cat "$RES/$name.json" \
    "$LOG/$name.stderr" | tr '\n' ' ')"; return 1; }
}

# The drain phase leaves its database and provider for the reconcile phase.
DRAIN_DB="$RUN_DIR/drain.db"
DRAIN_PROVIDER=""
DRAIN_ROWS_DONE=0

phase_drain() {
  need //bench:all //outbox_worker //mock_provider || return 1
  fresh_db "$DRAIN_DB"
  # The provider lives until the reconcile phase is over: it holds the
  # bookings the reconciler compares against.
  # shellcheck disable=SC2086
  start_server mock_drain "$MOCK" --listen=127.0.0.1:0 \
    --modes="*=immediate" $MOCK_FLAGS || return 1
  DRAIN_PROVIDER=$ADDR
  phase_pids=()  # keep it running past this phase (stopped on exit)
  drain_once drain "$DRAIN_DB" "$DRAIN_PROVIDER" "$DRAIN_ROWS" || return 1
  DRAIN_ROWS_DONE=$DRAIN_ROWS
}

reconcile_once() {  # name
  local name=$1
  echo "bench:   $name" >&2
  # shellcheck disable=SC2086
  "$BIN/bench/measure" "$RES/$name.json" -- "$RECONCILER" --db="$DRAIN_DB" \
    --provider_addr="$DRAIN_PROVIDER" --once --grace=0s \
    --report="$RES/${name}_report.json" $RECONCILER_FLAGS \
    >"$LOG/$name.stdout" 2>"$LOG/$name.stderr"
  local rc=$?
  # 0 = clean, 1 = drift found (reported, not a failure of the benchmark).
  if [ $rc -gt 1 ]; then
    fail "$name: reconciler exit $rc: $(tail -5 "$LOG/$name.stderr" |
      tr '\n' ' ')"
    return 1
  fi
}

phase_reconcile() {
  need //bench:all //reconciler //outbox_worker || return 1
  [ -n "$DRAIN_PROVIDER" ] && [ "$DRAIN_ROWS_DONE" -gt 0 ] ||
    { fail "needs the drain phase's database"; return 1; }
  local ok=0
  # Half the rows first, to see whether memory grows with the bookings.
  local half=$((RECONCILE_ROWS / 2))
  if [ "$DRAIN_ROWS_DONE" -lt "$half" ]; then
    drain_once drain_top_up "$DRAIN_DB" "$DRAIN_PROVIDER" \
      $((half - DRAIN_ROWS_DONE)) || return 1
    DRAIN_ROWS_DONE=$half
  fi
  reconcile_once "reconcile_$((DRAIN_ROWS_DONE / 1000))k" || ok=1
  if [ "$DRAIN_ROWS_DONE" -lt "$RECONCILE_ROWS" ]; then
    drain_once drain_second "$DRAIN_DB" "$DRAIN_PROVIDER" \
      $((RECONCILE_ROWS - DRAIN_ROWS_DONE)) || return 1
    DRAIN_ROWS_DONE=$RECONCILE_ROWS
  fi
  reconcile_once "reconcile_$((RECONCILE_ROWS / 1000))k" || ok=1
  check_outcome reconcile_check "$DRAIN_DB" "$DRAIN_PROVIDER" || ok=1
  return $ok
}

# Other work on the machine moves every figure: note the load average as
# each phase starts, and say so when the machine was not quiet.
if awk -v n="$(nproc)" '{exit !($1 > n / 2)}' /proc/loadavg; then
  echo "bench: WARNING: load average $(cut -d' ' -f1 /proc/loadavg) on" \
    "$(nproc) cores; figures will be low and noisy" >&2
fi
for phase in ceiling create e2e drain reconcile; do
  case ",$PHASES," in *",$phase,"*) ;; *) continue ;; esac
  CURRENT_PHASE=$phase
  echo "$phase $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RUN_DIR/loadavg.txt"
  echo "bench: phase $phase" >&2
  "phase_$phase" || echo "bench: phase $phase had errors" >&2
  stop_phase
done
echo "end $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RUN_DIR/loadavg.txt"

# ----------------------------------------------------------------- report --

mkdir -p "$OUT_DIR"
python3 - "$RUN_DIR" "$OUT_DIR" "$RECONCILE_ROWS" "$DRAIN_ROWS" <<'PY'
import glob, json, os, sys

run_dir, out_dir = sys.argv[1], sys.argv[2]
reconcile_rows, drain_rows = int(sys.argv[3]), int(sys.argv[4])
R = {}
for path in glob.glob(os.path.join(run_dir, "results", "*.json")):
    name = os.path.basename(path)[:-5]
    try:
        with open(path) as f:
            R[name] = json.load(f)
    except (OSError, ValueError):
        pass
errors = {}
for path in glob.glob(os.path.join(run_dir, "errors", "*.txt")):
    with open(path) as f:
        errors[os.path.basename(path)[:-4]] = f.read().strip()


def get(name, *keys):
    v = R.get(name)
    for k in keys:
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return v


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def rnd(v, d=1):
    return round(v, d) if isinstance(v, (int, float)) else v


out = {"machine": R.get("machine")}
loads = {}
try:
    with open(os.path.join(run_dir, "loadavg.txt")) as f:
        for line in f:
            p = line.split()
            loads[p[0]] = " ".join(p[1:])
except OSError:
    pass
if out["machine"] is not None:
    out["machine"]["loadavg_by_phase"] = loads
ceiling = get("ceiling_ping_50", "qps")
out["ceiling_qps"] = rnd(ceiling, 0)
out["ceiling_p50_ms"] = get("ceiling_ping_50", "latency_ms", "p50")
out["ceiling_p99_ms"] = get("ceiling_ping_50", "latency_ms", "p99")
out["ceiling_echo_qps"] = rnd(get("ceiling_echo_50", "qps"), 0)
for n in (1, 50, 200):
    c = f"create_{n}"
    out[f"ceiling_{n}_qps"] = rnd(get(f"ceiling_ping_{n}", "qps"), 0)
    out[f"{c}_qps"] = rnd(get(c, "qps"), 0)
    out[f"{c}_p50_ms"] = get(c, "latency_ms", "p50")
    out[f"{c}_p99_ms"] = get(c, "latency_ms", "p99")
    out[f"{c}_p999_ms"] = get(c, "latency_ms", "p999")
    out[f"{c}_status_counts"] = get(c, "status_counts")
    out[f"{c}_ratio_to_ceiling"] = ratio(get(c, "qps"), ceiling)
    out[f"{c}_ratio_to_ceiling_same_in_flight"] = ratio(
        get(c, "qps"), get(f"ceiling_ping_{n}", "qps"))
out["create_50_ratio_to_echo"] = ratio(get("create_50", "qps"),
                                       get("ceiling_echo_50", "qps"))
for n in (1, 50):
    e = f"e2e_{n}"
    sfx = "" if n == 50 else f"_{n}"
    out[f"e2e_p50_ms{sfx}"] = get(e, "confirm_ms", "p50")
    out[f"e2e_p99_ms{sfx}"] = get(e, "confirm_ms", "p99")
    out[f"e2e_observed_p50_ms{sfx}"] = get(e, "confirm_observed_ms", "p50")
    out[f"e2e_create_p50_ms{sfx}"] = get(e, "create_ms", "p50")
    out[f"e2e_qps{sfx}"] = rnd(get(e, "qps"), 0)
    out[f"e2e_status_counts{sfx}"] = get(e, "status_counts")
out["e2e_ratio_to_ceiling"] = ratio(get("e2e_50", "qps"), ceiling)
out["e2e_rate_per_s"] = get("e2e_rate", "rate")
out["e2e_p50_ms_at_rate"] = get("e2e_rate", "confirm_ms", "p50")
out["e2e_p99_ms_at_rate"] = get("e2e_rate", "confirm_ms", "p99")


def drain_rate(name):
    s, n = get(name, "seconds"), get(name, "drained")
    return rnd(n / s, 0) if s and n else None


out["drain_rows"] = get("drain", "drained")
out["drain_s"] = rnd(get("drain", "seconds"), 2)
out["drain_per_s"] = drain_rate("drain")
out["drain_ratio_to_ceiling"] = ratio(out["drain_per_s"], ceiling)
out["drain_second_per_s"] = drain_rate("drain_second")
out["seed_per_s"] = (rnd(get("drain_seed", "seeded") /
                         get("drain_seed", "seconds"), 0)
                     if get("drain_seed", "seconds") else None)
k = reconcile_rows // 1000
half = reconcile_rows // 2 // 1000
out["reconcile_rows"] = reconcile_rows
out[f"reconcile_{k}k_s"] = get(f"reconcile_{k}k", "wall_s")
out["reconcile_peak_rss_mb"] = get(f"reconcile_{k}k", "peak_rss_mb")
out["reconcile_exit_code"] = get(f"reconcile_{k}k", "exit_code")
out[f"reconcile_{half}k_s"] = get(f"reconcile_{half}k", "wall_s")
out[f"reconcile_{half}k_peak_rss_mb"] = get(f"reconcile_{half}k",
                                            "peak_rss_mb")
if k != 100:  # the issue's key names, whatever the size
    out["reconcile_100k_s"] = None
out["correctness"] = {
    "e2e": R.get("e2e_check"),
    "drain_and_reconcile": R.get("reconcile_check"),
}
out["raw"] = {n: v for n, v in sorted(R.items()) if n != "machine"}
out["errors"] = errors

targets = [
    ("CreateAppointment 50 in flight QPS >= 0.5x ceiling",
     out["create_50_ratio_to_ceiling"], lambda v: v >= 0.5, "x"),
    ("CreateAppointment 50 in flight p99 <= 5 ms",
     out["create_50_p99_ms"], lambda v: v <= 5, "ms"),
    ("e2e p50 (create OK -> CONFIRMED), 50 chains in flight, <= 10 ms",
     out["e2e_p50_ms"],
     lambda v: v <= 10, "ms"),
    ("drain rate >= 0.3x ceiling", out["drain_ratio_to_ceiling"],
     lambda v: v >= 0.3, "x"),
    (f"reconciler over {reconcile_rows} bookings < 10 s",
     out.get(f"reconcile_{k}k_s"), lambda v: v < 10, "s"),
    ("every intent final with one provider booking",
     (None if any(c is None for c in out["correctness"].values())
      else all(c.get("ok") is True for c in out["correctness"].values())),
     lambda v: v is True, ""),
]
out["targets"] = [{"target": t, "value": v,
                   "met": (bool(f(v)) if v is not None else None)}
                  for t, v, f, _ in targets]

with open(os.path.join(out_dir, "bench.json"), "w") as f:
    json.dump(out, f, indent=2, sort_keys=False)
    f.write("\n")

m = out["machine"] or {}


def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        v = f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:,.0f}"
    elif isinstance(v, int):
        v = f"{v:,}"
    return f"{v}{unit}"


rows = [
    ("No-op ceiling (Ping, 50 in flight)", out["ceiling_qps"], "QPS",
     out["ceiling_p99_ms"], 1.0 if ceiling else None),
    ("No-op Echo with CreateAppointment's messages, 50", out["ceiling_echo_qps"],
     "QPS", get("ceiling_echo_50", "latency_ms", "p99"),
     ratio(out["ceiling_echo_qps"], ceiling)),
]
for n in (1, 50, 200):
    rows.append((f"CreateAppointment, {n} in flight (FULL)",
                 out[f"create_{n}_qps"], "QPS", out[f"create_{n}_p99_ms"],
                 out[f"create_{n}_ratio_to_ceiling"]))
rows += [
    ("End to end create → CONFIRMED, 50 chains in flight",
     out["e2e_qps"], "confirmed/s", out["e2e_p99_ms"],
     out["e2e_ratio_to_ceiling"]),
    (f"Worker drain of a {drain_rows:,}-row backlog", out["drain_per_s"],
     "rows/s", None, out["drain_ratio_to_ceiling"]),
]
lines = [
    "# Benchmark results",
    "",
    f"Machine: {m.get('cpu_model', '?')}, {m.get('nproc', '?')} cores, "
    f"{m.get('mem_total_mb', '?')} MB, kernel {m.get('kernel', '?')}; "
    f"{m.get('date_utc', '?')}, commit `{str(m.get('git_commit', '?'))[:12]}`"
    f"{' (dirty)' if m.get('git_dirty') else ''}, load average at start "
    f"{m.get('loadavg_at_start', '?')} (per phase: "
    f"{', '.join(f'{k} {v.split()[0]}' for k, v in loads.items())}). "
    "Client and servers share the cores.",
    "",
    f"Command: `bash scripts/bench.sh` (bazel -c opt; {m.get('warmup', '?')} "
    f"warm-up, {m.get('duration', '?')} measured per figure). "
    "Ratios are to the no-op ceiling measured in the same run.",
    "",
    "| figure | throughput | p99 | ratio to ceiling |",
    "|---|---|---|---|",
]
for name, v, unit, p99, r in rows:
    lines.append(f"| {name} | {fmt(v)} {unit} | {fmt(p99, ' ms')} | "
                 f"{fmt(r, '×')} |")
lines += [
    "",
    "| latency | p50 | p99 |",
    "|---|---|---|",
    f"| CreateAppointment, 50 in flight | {fmt(out['create_50_p50_ms'], ' ms')}"
    f" | {fmt(out['create_50_p99_ms'], ' ms')} |",
    f"| create OK → CONFIRMED committed, 50 chains | "
    f"{fmt(out['e2e_p50_ms'], ' ms')} | {fmt(out['e2e_p99_ms'], ' ms')} |",
    f"| create OK → CONFIRMED committed, 1 chain | "
    f"{fmt(out['e2e_p50_ms_1'], ' ms')} | {fmt(out['e2e_p99_ms_1'], ' ms')} |",
    f"| create OK → CONFIRMED committed, {fmt(out['e2e_rate_per_s'])} "
    f"creates/s (open loop) | {fmt(out['e2e_p50_ms_at_rate'], ' ms')} | "
    f"{fmt(out['e2e_p99_ms_at_rate'], ' ms')} |",
    f"| create OK → CONFIRMED seen by WatchAppointment, 50 chains | "
    f"{fmt(out['e2e_observed_p50_ms'], ' ms')} | "
    f"{fmt(get('e2e_50', 'confirm_observed_ms', 'p99'), ' ms')} |",
    "",
    "| reconciler (--once, dry run) | wall time | peak RSS |",
    "|---|---|---|",
    f"| {reconcile_rows // 2:,} bookings | {fmt(out[f'reconcile_{half}k_s'], ' s')}"
    f" | {fmt(out[f'reconcile_{half}k_peak_rss_mb'], ' MB')} |",
    f"| {reconcile_rows:,} bookings | {fmt(out.get(f'reconcile_{k}k_s'), ' s')}"
    f" | {fmt(out['reconcile_peak_rss_mb'], ' MB')} |",
    "",
    "| target | measured | met |",
    "|---|---|---|",
]
for t in out["targets"]:
    met = {True: "yes", False: "**no**", None: "—"}[t["met"]]
    lines.append(f"| {t['target']} | {fmt(t['value'])} | {met} |")
lines += ["", "Correctness (every intent final, exactly one provider booking):"]
for name, c in out["correctness"].items():
    if c is None:
        lines.append(f"- {name}: not run")
    else:
        lines.append(
            f"- {name}: {'OK' if c.get('ok') else '**FAILED**'} — "
            f"{fmt(c.get('appointments'))} appointments, states "
            f"{c.get('states')}, duplicates {c.get('duplicates')}, orphans "
            f"{c.get('orphans')}, not final {c.get('not_final')}")
if errors:
    lines += ["", "Errors:"]
    lines += [f"- {p}: {e}" for p, e in sorted(errors.items())]
lines += ["", "Every raw measurement is under `raw` in bench.json; "
          "bench/README.md says how each is taken."]
with open(os.path.join(out_dir, "bench.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "bench: wrote $OUT_DIR/bench.json and $OUT_DIR/bench.md (raw data in $RUN_DIR)"
