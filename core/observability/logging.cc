#include "core/observability/logging.h"

#include <cmath>
#include <exception>
#include <mutex>
#include <utility>

#include "absl/base/const_init.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/observability/text_util.h"
#include "spdlog/logger.h"
#include "spdlog/sinks/base_sink.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace booking {
namespace logging_internal {

// An immutable snapshot of the setup. LogEvent holds a reference, so
// InitLogging can swap the setup while other threads are mid-line.
struct LogSink {
  std::shared_ptr<spdlog::logger> logger;
  std::string service_json;  // Already a JSON string literal.
  Clock* clock;
  LogLevel level;
};

}  // namespace logging_internal

namespace {

using logging_internal::LogSink;

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

// spdlog throws spdlog_ex (e.g. a log file that cannot be opened); errors
// cross our module boundary as absl::Status only.
absl::StatusOr<std::shared_ptr<const LogSink>> MakeSink(
    const LoggingOptions& options) {
  std::shared_ptr<spdlog::sinks::sink> sink = options.sink;
  if (sink == nullptr) {
    try {
      if (options.log_file.empty()) {
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
      } else {
        sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(
            options.log_file, /*truncate=*/false);
      }
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot open log file '", options.log_file, "': ", e.what()));
    }
  }
  auto logger = std::make_shared<spdlog::logger>("booking", std::move(sink));
  // We build the whole JSON object ourselves; spdlog adds only the newline.
  logger->set_pattern("%v");
  logger->set_level(ToSpdlog(options.level));
  logger->flush_on(options.flush_each_line ? spdlog::level::trace
                                           : spdlog::level::warn);
  auto out = std::make_shared<LogSink>();
  out->logger = std::move(logger);
  AppendJsonString(options.service, &out->service_json);
  out->clock = options.clock != nullptr ? options.clock : RealClock();
  out->level = options.level;
  return std::shared_ptr<const LogSink>(std::move(out));
}

ABSL_CONST_INIT absl::Mutex g_mu(absl::kConstInit);
// Heap-allocated and never freed: lines logged from static destructors at
// exit must not see a destroyed setup.
std::shared_ptr<const LogSink>* g_sink ABSL_GUARDED_BY(g_mu) = nullptr;

std::shared_ptr<const LogSink> CurrentSink() {
  absl::MutexLock lock(&g_mu);
  if (g_sink == nullptr) {
    g_sink = new std::shared_ptr<const LogSink>(
        *MakeSink(LoggingOptions{}));  // stderr cannot fail.
  }
  return *g_sink;
}

std::shared_ptr<const LogSink> SwapSink(std::shared_ptr<const LogSink> sink) {
  absl::MutexLock lock(&g_mu);
  if (g_sink == nullptr) {
    g_sink = new std::shared_ptr<const LogSink>(std::move(sink));
    return nullptr;
  }
  std::swap(*g_sink, sink);
  return sink;
}

bool IsHeaderKey(absl::string_view key) {
  return key == "ts" || key == "level" || key == "service" || key == "event";
}

void AppendHex4(unsigned value, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->append("\\u");
  for (int shift = 12; shift >= 0; shift -= 4) {
    out->push_back(kHex[(value >> shift) & 0xF]);
  }
}

}  // namespace

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "debug") return LogLevel::kDebug;
  if (lower == "info") return LogLevel::kInfo;
  if (lower == "warn" || lower == "warning") return LogLevel::kWarn;
  if (lower == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(absl::StrCat(
      "log level must be one of debug, info, warn, error; got '", name, "'"));
}

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

absl::Status InitLogging(const LoggingOptions& options) {
  absl::StatusOr<std::shared_ptr<const LogSink>> sink = MakeSink(options);
  if (!sink.ok()) return sink.status();
  SwapSink(*std::move(sink));
  return absl::OkStatus();
}

void AppendJsonString(absl::string_view value, std::string* out) {
  out->push_back('"');
  size_t i = 0;
  while (i < value.size()) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20) {
      AppendHex4(c, out);
      ++i;
    } else if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++i;
    } else {
      const size_t len =
          observability_internal::Utf8SequenceLength(value.substr(i));
      if (len == 0) {
        AppendHex4(0xFFFD, out);  // Replacement character.
        ++i;
      } else {
        out->append(value.data() + i, len);
        i += len;
      }
    }
  }
  out->push_back('"');
}

LogEvent::LogEvent(LogLevel level, absl::string_view event) : level_(level) {
  std::shared_ptr<const LogSink> sink = CurrentSink();
  if (level < sink->level) return;
  sink_ = std::move(sink);
  line_.reserve(256);
  absl::StrAppend(&line_, "{\"ts\":\"",
                  absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", sink_->clock->Now(),
                                   absl::UTCTimeZone()),
                  "\",\"level\":\"", LogLevelName(level),
                  "\",\"service\":", sink_->service_json, ",\"event\":");
  AppendJsonString(event, &line_);
}

LogEvent::~LogEvent() { Emit(); }

void LogEvent::AppendKey(absl::string_view key) {
  line_.push_back(',');
  if (IsHeaderKey(key)) {
    AppendJsonString(absl::StrCat("_", key), &line_);
  } else {
    AppendJsonString(key, &line_);
  }
  line_.push_back(':');
}

LogEvent& LogEvent::Field(absl::string_view key, absl::string_view value) {
  if (sink_ == nullptr) return *this;
  AppendKey(key);
  AppendJsonString(value, &line_);
  return *this;
}

LogEvent& LogEvent::Field(absl::string_view key, bool value) {
  if (sink_ == nullptr) return *this;
  AppendKey(key);
  line_.append(value ? "true" : "false");
  return *this;
}

LogEvent& LogEvent::Field(absl::string_view key, double value) {
  if (sink_ == nullptr) return *this;
  AppendKey(key);
  if (!std::isfinite(value)) {
    line_.append("null");  // JSON has no NaN or Infinity.
    return *this;
  }
  // Shortest round-trip form: 1.5 -> "1.5", 0.1 -> "0.1", 1e21 -> "1e+21".
  line_.append(observability_internal::FormatDouble(value));
  return *this;
}

LogEvent& LogEvent::IntField(absl::string_view key, int64_t value) {
  if (sink_ == nullptr) return *this;
  AppendKey(key);
  absl::StrAppend(&line_, value);
  return *this;
}

LogEvent& LogEvent::UintField(absl::string_view key, uint64_t value) {
  if (sink_ == nullptr) return *this;
  AppendKey(key);
  absl::StrAppend(&line_, value);
  return *this;
}

LogEvent& LogEvent::Error(const absl::Status& status) {
  if (status.ok()) return *this;
  return Field("error", status.ToString());
}

void LogEvent::Emit() {
  if (sink_ == nullptr) return;
  line_.push_back('}');
  sink_->logger->log(ToSpdlog(level_),
                     spdlog::string_view_t(line_.data(), line_.size()));
  sink_.reset();
}

// Keeps each logged payload (our JSON, without spdlog's newline).
class ScopedLogCapture::CaptureSink final
    : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;  // Guarded by base_sink's mutex_.
};

ScopedLogCapture::ScopedLogCapture(LogLevel level, Clock* clock)
    : sink_(std::make_shared<CaptureSink>()) {
  LoggingOptions options;
  options.service = "test";
  options.level = level;
  options.sink = sink_;
  options.clock = clock;
  saved_ = SwapSink(*MakeSink(options));  // A custom sink cannot fail.
}

ScopedLogCapture::~ScopedLogCapture() {
  if (saved_ == nullptr) saved_ = *MakeSink(LoggingOptions{});
  SwapSink(std::move(saved_));
}

std::vector<std::string> ScopedLogCapture::Lines() const {
  return sink_->Lines();
}

std::string ScopedLogCapture::Text() const {
  return absl::StrJoin(Lines(), "\n");
}

}  // namespace booking
