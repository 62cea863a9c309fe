#include "core/runtime/binary_setup.h"

#include <malloc.h>

#include <cstdio>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/grpc/server_runtime.h"
#include "core/observability/logging.h"

namespace booking {

int StartupError(absl::string_view program, absl::string_view message) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()),
               program.data(), static_cast<int>(message.size()),
               message.data());
  return 2;
}

absl::Status InitLoggingFromFlags(const std::string& service,
                                  const std::string& log_level,
                                  const std::string& log_file) {
  absl::StatusOr<LogLevel> level = ParseLogLevel(log_level);
  if (!level.ok()) return level.status();
  LoggingOptions options;
  options.service = service;
  options.level = *level;
  options.log_file = log_file;
  return InitLogging(options);
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> StartMetricsIfRequested(
    const std::string& host, int port, MetricsRegistry* registry) {
  if (port < 0) return std::unique_ptr<MetricsHttpServer>();
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> started =
      MetricsHttpServer::Start(host, port, registry);
  if (!started.ok()) {
    return absl::Status(started.status().code(),
                        absl::StrCat("metrics: ", started.status().message()));
  }
  const std::string where = absl::StrCat(host, ":", (*started)->port());
  std::printf("metrics on %s\n", where.c_str());
  std::fflush(stdout);
  LogEvent(LogLevel::kInfo, "metrics_listening").Field("address", where);
  return started;
}

absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> OpenStoreFromFlags(
    const std::string& db_path, absl::Duration busy_timeout) {
  SqliteOptions options;
  options.path = db_path;
  options.busy_timeout = busy_timeout;
  absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> store =
      SqliteAppointmentStore::Open(options);
  if (!store.ok()) {
    LogEvent(LogLevel::kError, "db_open_failed").Error(store.status());
  }
  return store;
}

absl::Status KeepFreedMemoryForReuse() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizer's allocator replaces glibc's and ignores mallopt.
  return absl::OkStatus();
#endif
  if (mallopt(M_TRIM_THRESHOLD, 64 << 20) != 1 ||
      mallopt(M_MMAP_THRESHOLD, 4 << 20) != 1) {
    return absl::InternalError("mallopt refused the trim/mmap thresholds");
  }
  return absl::OkStatus();
}

void WarnIfCrashPointArmed(const CrashPoints& crash) {
  if (crash.armed().empty()) return;
  LogEvent(LogLevel::kWarn, "crash_point_armed").Field("point", crash.armed());
}

void OnShutdownSignal(std::function<void()> on_signal) {
  std::thread([on_signal = std::move(on_signal)] {
    const int sig = WaitForShutdownSignal();
    LogEvent(LogLevel::kInfo, "shutdown_signal").Field("signal", sig);
    on_signal();
  }).detach();
}

}  // namespace booking
