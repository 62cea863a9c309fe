// outbox_worker: drains the outbox (DESIGN §6, §10). See README.md.
//
//   outbox_worker --db=PATH --provider_addr=HOST:PORT [--worker_id=NAME]
//       [--max_in_flight=N] [--metrics_port=N] ...
//   outbox_worker --db=PATH --requeue_dead=ID[,ID...]|all   (operator; exits)

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "core/common/clock.h"
#include "core/faults/crash_points.h"
#include "core/grpc/server_runtime.h"
#include "core/observability/logging.h"
#include "core/observability/metrics.h"
#include "core/observability/metrics_http.h"
#include "core/provider/grpc_provider_client.h"
#include "core/runtime/binary_setup.h"
#include "core/store/sqlite_store.h"
#include "outbox_worker/requeue.h"
#include "outbox_worker/worker.h"

ABSL_FLAG(std::string, db, "", "SQLite database file (required).");
ABSL_FLAG(std::string, provider_addr, "",
          "HOST:PORT of the provider (required unless --requeue_dead).");
ABSL_FLAG(std::string, worker_id, "",
          "Lease owner name; default HOSTNAME-PID.");
ABSL_FLAG(int, max_in_flight, 256, "Provider calls in flight at most.");
ABSL_FLAG(int, claim_batch, 128, "Rows claimed per transaction at most.");
ABSL_FLAG(int, metrics_port, -1,
          "Serve Prometheus /metrics on this port (0 picks one, printed as "
          "`metrics on HOST:PORT`); -1 disables.");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1", "Address for /metrics.");
ABSL_FLAG(absl::Duration, lease, absl::Seconds(10),
          "Lease per claimed row; must exceed --attempt_timeout.");
ABSL_FLAG(absl::Duration, attempt_timeout, absl::Seconds(2),
          "Per-attempt deadline of a provider call.");
ABSL_FLAG(int, max_attempts, 8, "BOOK attempts before giving up.");
ABSL_FLAG(int, max_cancel_attempts, 20,
          "CANCEL/COMPENSATE attempts before the row goes DEAD.");
ABSL_FLAG(absl::Duration, backoff_base, absl::Milliseconds(200),
          "Backoff: min(cap, base*2^n)*rand().");
ABSL_FLAG(absl::Duration, backoff_cap, absl::Seconds(60), "Backoff cap.");
ABSL_FLAG(absl::Duration, confirm_timeout, absl::Minutes(10),
          "How long a PENDING booking may wait for confirmation (never past "
          "the appointment's start); then it is compensated.");
ABSL_FLAG(absl::Duration, compensate_timeout, absl::Hours(24),
          "Overall deadline of a compensation the worker starts.");
ABSL_FLAG(int, breaker_window, 20, "Breaker: sliding window size (calls).");
ABSL_FLAG(int, breaker_min_calls, 10, "Breaker: calls before a verdict.");
ABSL_FLAG(double, breaker_failure_rate, 0.5,
          "Breaker: open at this failure rate (0..1].");
ABSL_FLAG(double, breaker_slow_rate, 1.0,
          "Breaker: open at this slow-call rate (0..1].");
ABSL_FLAG(absl::Duration, breaker_slow_call, absl::Seconds(5),
          "Breaker: a call longer than this is slow.");
ABSL_FLAG(absl::Duration, breaker_wait, absl::Seconds(30),
          "Breaker: time in OPEN before probing.");
ABSL_FLAG(int, breaker_half_open_calls, 3, "Breaker: probes in HALF_OPEN.");
ABSL_FLAG(absl::Duration, idle_poll, absl::Seconds(1),
          "Longest sleep when idle (commits wake the worker earlier).");
ABSL_FLAG(absl::Duration, change_poll, absl::Milliseconds(3),
          "How often the database's change counter is read while idle.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "On SIGTERM: how long in-flight calls may finish before their "
          "leases are released.");
ABSL_FLAG(absl::Duration, busy_timeout, absl::Seconds(5),
          "SQLite busy timeout.");
ABSL_FLAG(uint64_t, seed, 0,
          "Backoff jitter seed; 0 derives one from the worker id.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn, error.");
ABSL_FLAG(std::string, log_file, "", "JSON log file; default stderr.");
ABSL_FLAG(std::string, requeue_dead, "",
          "Operator: requeue DEAD commands (ids, comma-separated, or `all`) "
          "and exit.");

namespace booking {
namespace {

std::string DefaultWorkerId() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] ? host : "worker", "-", getpid());
}

int Fail(const std::string &message) {
  return StartupError("outbox_worker", message);
}

int Main() {
  if (absl::Status s =
          InitLoggingFromFlags("outbox_worker", absl::GetFlag(FLAGS_log_level),
                               absl::GetFlag(FLAGS_log_file));
      !s.ok()) {
    return Fail(s.ToString());
  }

  if (absl::Status s = KeepFreedMemoryForReuse(); !s.ok()) {
    LogEvent(LogLevel::kWarn, "malloc_tuning_refused").Error(s);
  }

  const std::string db = absl::GetFlag(FLAGS_db);
  if (db.empty()) {
    return Fail("--db is required");
  }
  auto store = OpenStoreFromFlags(db, absl::GetFlag(FLAGS_busy_timeout));
  if (!store.ok()) return Fail(store.status().ToString());

  // Operator subcommand: requeue and exit.
  if (const std::string ids = absl::GetFlag(FLAGS_requeue_dead); !ids.empty()) {
    absl::StatusOr<std::vector<RequeuedCommand>> done =
        RequeueDead(store->get(), ids, RealClock()->Now());
    if (!done.ok()) {
      return Fail(done.status().ToString());
    }
    for (const RequeuedCommand &r : *done) {
      std::printf("requeued command %lld (%s for appointment %s): %s\n",
                  static_cast<long long>(r.command_id), r.type.c_str(),
                  r.appointment_id.c_str(), r.last_error.c_str());
    }
    std::printf("requeued %zu command(s)\n", done->size());
    return 0;
  }

  const std::string provider_addr = absl::GetFlag(FLAGS_provider_addr);
  if (provider_addr.empty()) {
    return Fail("--provider_addr is required");
  }

  WorkerOptions o;
  o.worker_id = absl::GetFlag(FLAGS_worker_id);
  if (o.worker_id.empty()) o.worker_id = DefaultWorkerId();
  o.max_in_flight = absl::GetFlag(FLAGS_max_in_flight);
  o.claim_batch = absl::GetFlag(FLAGS_claim_batch);
  o.lease = absl::GetFlag(FLAGS_lease);
  o.idle_poll = absl::GetFlag(FLAGS_idle_poll);
  o.change_poll = absl::GetFlag(FLAGS_change_poll);
  o.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  o.policy.attempt_timeout = absl::GetFlag(FLAGS_attempt_timeout);
  o.policy.max_attempts = absl::GetFlag(FLAGS_max_attempts);
  o.policy.max_cancel_attempts = absl::GetFlag(FLAGS_max_cancel_attempts);
  o.policy.confirm_timeout = absl::GetFlag(FLAGS_confirm_timeout);
  o.policy.compensate_timeout = absl::GetFlag(FLAGS_compensate_timeout);
  o.backoff.base = absl::GetFlag(FLAGS_backoff_base);
  o.backoff.cap = absl::GetFlag(FLAGS_backoff_cap);
  o.backoff.max_attempts = o.policy.max_attempts;
  o.seed = absl::GetFlag(FLAGS_seed);
  if (o.seed == 0) o.seed = std::hash<std::string>()(o.worker_id);
  o.breaker.window_size = absl::GetFlag(FLAGS_breaker_window);
  o.breaker.minimum_calls = absl::GetFlag(FLAGS_breaker_min_calls);
  o.breaker.failure_rate_threshold = absl::GetFlag(FLAGS_breaker_failure_rate);
  o.breaker.slow_call_rate_threshold = absl::GetFlag(FLAGS_breaker_slow_rate);
  o.breaker.slow_call_duration = absl::GetFlag(FLAGS_breaker_slow_call);
  o.breaker.wait_in_open = absl::GetFlag(FLAGS_breaker_wait);
  o.breaker.permitted_calls_in_half_open =
      absl::GetFlag(FLAGS_breaker_half_open_calls);
  for (absl::Status s :
       {ValidateWorkerOptions(o), ValidateCircuitBreakerConfig(o.breaker)}) {
    if (!s.ok()) {
      return Fail(s.ToString());
    }
  }

  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> metrics_server =
      StartMetricsIfRequested(absl::GetFlag(FLAGS_metrics_host),
                              absl::GetFlag(FLAGS_metrics_port),
                              &DefaultRegistry());
  if (!metrics_server.ok()) {
    return Fail(metrics_server.status().ToString());
  }

  CrashPoints crash = CrashPoints::FromEnvironment();
  WarnIfCrashPointArmed(crash);
  GrpcProviderClient client(provider_addr);
  {
    Worker worker(store->get(), &client, RealClock(), o, &DefaultRegistry(),
                  &crash);
    // SIGTERM/SIGINT arrive only in this thread (blocked everywhere else).
    OnShutdownSignal([&worker] { worker.Stop(); });
    LogEvent(LogLevel::kInfo, "worker started")
        .Field("worker_id", o.worker_id)
        .Field("provider_addr", provider_addr)
        .Field("db", db)
        .Field("max_in_flight", o.max_in_flight);
    worker.Run();
  }
  if (*metrics_server != nullptr) (*metrics_server)->Stop();
  LogEvent(LogLevel::kInfo, "worker stopped").Field("worker_id", o.worker_id);
  return 0;
}

}  // namespace
}  // namespace booking

int main(int argc, char **argv) {
  booking::BlockShutdownSignals();
  absl::SetProgramUsageMessage(
      "outbox_worker --db=PATH --provider_addr=HOST:PORT [--worker_id=NAME] "
      "[--max_in_flight=N] [--metrics_port=N] | --db=PATH "
      "--requeue_dead=ID,...|all");
  absl::ParseCommandLine(argc, argv);
  return booking::Main();
}
