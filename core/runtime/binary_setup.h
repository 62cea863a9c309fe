#ifndef CORE_RUNTIME_BINARY_SETUP_H_
#define CORE_RUNTIME_BINARY_SETUP_H_

// The start-up steps every binary's main.cc repeats, taking plain values so
// that each binary keeps its own absl flags (declared and read in main.cc):
// the `program: message` start-up error with exit 2, JSON logging from
// --log_level/--log_file, the --db store, the optional /metrics endpoint
// with its `metrics on HOST:PORT` line (DESIGN §10), the armed-crash-point
// warning, and the SIGTERM/SIGINT thread.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/faults/crash_points.h"
#include "core/observability/metrics.h"
#include "core/observability/metrics_http.h"
#include "core/store/sqlite_store.h"

namespace booking {

// Prints "<program>: <message>" on stderr and returns 2, the exit code of a
// start-up error (bad flag, database or port unavailable).
int StartupError(absl::string_view program, absl::string_view message);

// Parses `log_level` ("debug", "info", "warn", "error") and starts JSON
// logging for `service`, appending to `log_file` (empty: stderr).
// INVALID_ARGUMENT for an unknown level; the file's error if it cannot be
// opened.
absl::Status InitLoggingFromFlags(const std::string &service,
                                  const std::string &log_level,
                                  const std::string &log_file);

// With `port` >= 0, serves `registry` on host:port (0 picks a free port),
// prints `metrics on HOST:PORT` on stdout (flushed: scripts wait for it) and
// logs `metrics_listening`. With `port` < 0 (the flags' "disabled"), returns
// null and does nothing. Errors say "metrics: ..." (e.g. UNAVAILABLE for a
// port in use). `registry` must outlive the server.
absl::StatusOr<std::unique_ptr<MetricsHttpServer>> StartMetricsIfRequested(
    const std::string &host, int port, MetricsRegistry *registry);

// Opens the --db file (WAL, schema migrated; see SqliteAppointmentStore::Open)
// with the --busy_timeout; a failure is also logged as `db_open_failed`.
// The binary checks first that --db was given.
absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> OpenStoreFromFlags(
    const std::string &db_path, absl::Duration busy_timeout);

// glibc hands freed memory back to the kernel as soon as the top of the heap
// is free (brk) and maps every allocation over 128 KiB on its own (mmap);
// a process that allocates and frees per request then pays brk/munmap and
// the page faults that follow again and again (about a sixth of the
// worker's time in a drain, ADR 0006). This keeps up to 64 MiB of freed
// memory for reuse and maps only allocations over 4 MiB. INTERNAL if glibc
// refuses a setting.
absl::Status KeepFreedMemoryForReuse();

// Logs a `crash_point_armed` warning if `crash` is armed, so that a test
// binary dying of SIGKILL on purpose is never mistaken for a real crash.
void WarnIfCrashPointArmed(const CrashPoints &crash);

// Starts a detached thread that waits for SIGTERM or SIGINT, logs
// `shutdown_signal` and calls `on_signal` once. BlockShutdownSignals() must
// have run before any other thread was started, so that the signals reach
// only this thread.
void OnShutdownSignal(std::function<void()> on_signal);

}  // namespace booking

#endif  // CORE_RUNTIME_BINARY_SETUP_H_
