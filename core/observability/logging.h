#ifndef CORE_OBSERVABILITY_LOGGING_H_
#define CORE_OBSERVABILITY_LOGGING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/common/clock.h"

namespace spdlog::sinks {
class sink;
}  // namespace spdlog::sinks

namespace booking {
namespace logging_internal {
struct LogSink;  // The current setup: logger, service, clock, level.
}  // namespace logging_internal

// Structured JSON log lines (DESIGN §8), one object per line:
//   {"ts":"2026-01-02T03:04:05.678Z","level":"info","service":"outbox_worker",
//    "event":"provider_call","appointment_id":"a1","attempt":3,...}
// Known field names: request_id, appointment_id, provider_id, attempt,
// from_state, to_state, latency_ms, error. Patient data goes through
// core/observability/pii.h first; notes are never logged.

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug", "info", "warn" (or "warning"), "error"; INVALID_ARGUMENT otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
absl::string_view LogLevelName(LogLevel level);

struct LoggingOptions {
  std::string service;
  LogLevel level = LogLevel::kInfo;
  // Appends to this file if set; otherwise writes to stderr (stdout is
  // reserved for the "listening on" line, DESIGN §10).
  std::string log_file;
  // If set, lines go here instead of file/stderr (tests, embedding).
  std::shared_ptr<spdlog::sinks::sink> sink;
  // Source of "ts"; RealClock() if null. Must outlive the logging setup.
  Clock* clock = nullptr;
  // Flush after every line, so a kill -9 loses nothing already logged.
  bool flush_each_line = true;
};

// Replaces the process-wide logging setup. Until called, lines go to stderr
// at info level with an empty service. Fails (and keeps the previous setup)
// if the log file cannot be opened.
absl::Status InitLogging(const LoggingOptions& options);

// Builds one log line; emits it on Emit() or destruction, whichever comes
// first. Fields keep their insertion order. Below the configured level the
// builder does nothing, so disabled debug logs cost little.
//
//   LogEvent(LogLevel::kWarn, "provider_call_failed")
//       .Field("appointment_id", id).Field("attempt", 3)
//       .Field("latency_ms", 1.5).Error(status);
//
// A field named like a header key (ts, level, service, event) is written as
// "_ts" etc. so it cannot shadow the header.
class LogEvent {
 public:
  LogEvent(LogLevel level, absl::string_view event);
  ~LogEvent();
  LogEvent(const LogEvent&) = delete;
  LogEvent& operator=(const LogEvent&) = delete;

  LogEvent& Field(absl::string_view key, absl::string_view value);
  LogEvent& Field(absl::string_view key, const std::string& value) {
    return Field(key, absl::string_view(value));
  }
  // Without this, a string literal would pick the bool overload.
  LogEvent& Field(absl::string_view key, const char* value) {
    return Field(key, absl::string_view(value == nullptr ? "" : value));
  }
  LogEvent& Field(absl::string_view key, bool value);
  LogEvent& Field(absl::string_view key, double value);  // NaN/inf -> null.
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>,
                             int> = 0>
  LogEvent& Field(absl::string_view key, T value) {
    if constexpr (std::is_signed_v<T>) {
      return IntField(key, static_cast<int64_t>(value));
    } else {
      return UintField(key, static_cast<uint64_t>(value));
    }
  }
  LogEvent& Field(absl::string_view key, float value) {
    return Field(key, static_cast<double>(value));
  }
  // Adds "error": status.ToString(). Nothing for an OK status.
  LogEvent& Error(const absl::Status& status);

  // Writes the line now; later calls and the destructor do nothing.
  void Emit();

 private:
  LogEvent& IntField(absl::string_view key, int64_t value);
  LogEvent& UintField(absl::string_view key, uint64_t value);
  void AppendKey(absl::string_view key);

  std::shared_ptr<const logging_internal::LogSink> sink_;  // Null: disabled
                                                           // or emitted.
  LogLevel level_;
  std::string line_;
};

// Appends `value` to `out` as a JSON string literal (with quotes): escapes
// '"', '\\' and control characters (\u00XX), passes valid UTF-8 through and
// replaces invalid bytes with U+FFFD so the line always parses.
void AppendJsonString(absl::string_view value, std::string* out);

// Test helper: while alive, routes all log lines into memory (at `level`,
// with service "test" and the given clock), then restores the previous
// setup. Not meant to be nested across threads.
class ScopedLogCapture {
 public:
  explicit ScopedLogCapture(LogLevel level = LogLevel::kDebug,
                            Clock* clock = nullptr);
  ~ScopedLogCapture();
  ScopedLogCapture(const ScopedLogCapture&) = delete;
  ScopedLogCapture& operator=(const ScopedLogCapture&) = delete;

  // Every line logged so far, without the trailing newline.
  std::vector<std::string> Lines() const;
  // All lines joined with '\n' (convenient for "never contains" checks).
  std::string Text() const;

 private:
  class CaptureSink;
  std::shared_ptr<CaptureSink> sink_;
  std::shared_ptr<const logging_internal::LogSink> saved_;
};

}  // namespace booking

#endif  // CORE_OBSERVABILITY_LOGGING_H_
