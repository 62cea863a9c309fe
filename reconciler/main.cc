// reconciler: finds and repairs drift between the provider and the database
// (DESIGN §7, §10). See README.md.
//
//   reconciler --db=PATH --provider_addr=HOST:PORT [--apply] [--grace=5m]
//       [--report=PATH] (--once | --interval=DURATION) ...
//   reconciler --db=PATH --history=N      (print the last N runs; exits)

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
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
#include "reconciler/reconciler.h"
#include "reconciler/report.h"

ABSL_FLAG(std::string, db, "", "SQLite database file (required).");
ABSL_FLAG(std::string, provider_addr, "",
          "HOST:PORT of the provider (required).");
ABSL_FLAG(bool, apply, false,
          "Repair what is found. Without it the run is a dry-run: it only "
          "reports (and records the run).");
ABSL_FLAG(absl::Duration, grace, absl::Minutes(5),
          "Leave rows changed more recently than this alone (a worker may be "
          "finishing them).");
ABSL_FLAG(std::string, report, "",
          "Write the JSON report here ({run_id} is replaced by the run id).");
ABSL_FLAG(bool, once, false, "Run once and exit with the run's exit code.");
ABSL_FLAG(absl::Duration, interval, absl::ZeroDuration(),
          "Run as a daemon: one run every DURATION until SIGTERM (exit 0).");
ABSL_FLAG(absl::Duration, stuck_after, absl::Minutes(15),
          "PENDING/IN_PROGRESS/AWAITING_CONFIRMATION unchanged this long "
          "without a live lease is stuck (requeued with --apply).");
ABSL_FLAG(bool, repair_mismatch, false,
          "With --apply, repair field mismatches (time, duration, location): "
          "mark the appointment FAILED field_mismatch and cancel the "
          "provider's booking. Without it they are only reported.");
ABSL_FLAG(std::string, provider_id, "",
          "Reconcile only this provider's bookings and rows (default all).");
ABSL_FLAG(int, max_repairs, 100,
          "With --apply, repair at most this many findings per run; the rest "
          "are reported as skipped and the run exits 1 (0 = unlimited).");
ABSL_FLAG(bool, allow_empty_provider, false,
          "With --apply, accept a provider listing with no bookings although "
          "the database has CONFIRMED rows older than --grace (otherwise the "
          "run refuses with exit 2: all of them would be marked "
          "provider_lost).");
ABSL_FLAG(int, page_size, 500,
          "Provider bookings per ListBookings page and rows per database "
          "page (1..1000); memory grows with it, not with the data.");
ABSL_FLAG(absl::Duration, provider_deadline, absl::Seconds(10),
          "Deadline of each provider call (one page, one cancel).");
ABSL_FLAG(absl::Duration, requeue_deadline, absl::Minutes(15),
          "Deadline of a command a stuck repair enqueues anew (never after "
          "the appointment's start).");
ABSL_FLAG(int, metrics_port, -1,
          "Serve Prometheus /metrics on this port (0 picks one, printed as "
          "`metrics on HOST:PORT`); -1 disables.");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1", "Address for /metrics.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn, error.");
ABSL_FLAG(std::string, log_file, "", "JSON log file; default stderr.");
ABSL_FLAG(absl::Duration, busy_timeout, absl::Seconds(5),
          "SQLite busy timeout.");
ABSL_FLAG(int, history, 0,
          "Print the last N recorded runs and exit (needs only --db).");

namespace booking::reconciler {
namespace {

int Fail(const std::string &message) {
  return StartupError("reconciler", message);
}

int PrintHistory(AppointmentStore *store, int n) {
  absl::StatusOr<std::vector<ReconcileRun>> runs = store->ListReconcileRuns(n);
  if (!runs.ok()) return Fail(runs.status().ToString());
  std::printf("%-6s %-24s %-7s %5s %8s %8s %8s %6s %4s\n", "run", "started",
              "mode", "exit", "bookings", "rows", "findings", "fixed", "err");
  for (const ReconcileRun &r : *runs) {
    std::printf(
        "%-6lld %-24s %-7s %5s %8lld %8lld %8lld %6lld %4lld %s\n",
        static_cast<long long>(r.id), FormatUtc(r.started).c_str(),
        r.mode.c_str(),
        r.exit_code.has_value() ? absl::StrCat(*r.exit_code).c_str() : "-",
        static_cast<long long>(r.provider_bookings_scanned),
        static_cast<long long>(r.db_rows_scanned),
        static_cast<long long>(r.findings), static_cast<long long>(r.repaired),
        static_cast<long long>(r.errors), r.error.c_str());
  }
  return 0;
}

int Main(bool daemon) {
  if (absl::Status s =
          InitLoggingFromFlags("reconciler", absl::GetFlag(FLAGS_log_level),
                               absl::GetFlag(FLAGS_log_file));
      !s.ok()) {
    return Fail(s.ToString());
  }

  const std::string db = absl::GetFlag(FLAGS_db);
  if (db.empty()) return Fail("--db is required");
  const int history = absl::GetFlag(FLAGS_history);
  const std::string provider_addr = absl::GetFlag(FLAGS_provider_addr);
  if (history <= 0) {
    if (provider_addr.empty()) return Fail("--provider_addr is required");
    if (daemon == absl::GetFlag(FLAGS_once)) {
      return Fail("give exactly one of --once or --interval=DURATION");
    }
  }

  ReconcilerOptions o;
  o.apply = absl::GetFlag(FLAGS_apply);
  o.grace = absl::GetFlag(FLAGS_grace);
  o.stuck_after = absl::GetFlag(FLAGS_stuck_after);
  o.repair_mismatch = absl::GetFlag(FLAGS_repair_mismatch);
  o.page_size = absl::GetFlag(FLAGS_page_size);
  o.provider_deadline = absl::GetFlag(FLAGS_provider_deadline);
  o.requeue_deadline = absl::GetFlag(FLAGS_requeue_deadline);
  o.provider_id = absl::GetFlag(FLAGS_provider_id);
  o.max_repairs = absl::GetFlag(FLAGS_max_repairs);
  o.allow_empty_provider = absl::GetFlag(FLAGS_allow_empty_provider);
  o.report_path = absl::GetFlag(FLAGS_report);
  if (absl::Status s = ValidateReconcilerOptions(o); !s.ok()) {
    return Fail(s.ToString());
  }

  auto store = OpenStoreFromFlags(db, absl::GetFlag(FLAGS_busy_timeout));
  if (!store.ok()) return Fail(store.status().ToString());
  if (history > 0) return PrintHistory(store->get(), history);

  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> metrics_server =
      StartMetricsIfRequested(absl::GetFlag(FLAGS_metrics_host),
                              absl::GetFlag(FLAGS_metrics_port),
                              &DefaultRegistry());
  if (!metrics_server.ok()) return Fail(metrics_server.status().ToString());

  CrashPoints crash = CrashPoints::FromEnvironment();
  WarnIfCrashPointArmed(crash);
  GrpcProviderClient client(provider_addr);
  Reconciler reconciler(store->get(), &client, RealClock(), o,
                        &DefaultRegistry(), &crash);
  if (!daemon) {
    RunSummary s = reconciler.RunOnce();
    std::fputs(FormatHumanSummary(s).c_str(), stdout);
    std::fflush(stdout);
    return s.exit_code;
  }

  // SIGTERM/SIGINT arrive only in this thread (blocked everywhere else); a
  // run in progress finishes before the daemon exits.
  absl::Notification stop;
  OnShutdownSignal([&stop] { stop.Notify(); });
  const absl::Duration interval = absl::GetFlag(FLAGS_interval);
  LogEvent(LogLevel::kInfo, "daemon_started")
      .Field("interval_ms", absl::ToInt64Milliseconds(interval))
      .Field("apply", o.apply);
  do {
    RunSummary s = reconciler.RunOnce();
    std::fputs(FormatHumanSummary(s).c_str(), stdout);
    std::fflush(stdout);
  } while (!stop.WaitForNotificationWithTimeout(interval));
  if (*metrics_server != nullptr) (*metrics_server)->Stop();
  LogEvent(LogLevel::kInfo, "daemon_stopped");
  return 0;
}

}  // namespace
}  // namespace booking::reconciler

int main(int argc, char **argv) {
  absl::SetProgramUsageMessage(
      "Finds and repairs drift between the provider and the database.\n"
      "  reconciler --db=PATH --provider_addr=HOST:PORT [--apply] "
      "[--grace=5m] [--report=PATH] (--once | --interval=DURATION)\n"
      "  reconciler --db=PATH --history=N\n"
      "Exit codes: 0 clean, 1 drift found (dry-run) or left unrepaired, "
      "2 error.");
  absl::ParseCommandLine(argc, argv);
  const bool daemon = absl::GetFlag(FLAGS_interval) > absl::ZeroDuration();
  // Before any thread exists, so that only the signal thread sees them.
  if (daemon) booking::BlockShutdownSignals();
  return booking::reconciler::Main(daemon);
}
