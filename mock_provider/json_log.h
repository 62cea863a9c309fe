#ifndef MOCK_PROVIDER_JSON_LOG_H_
#define MOCK_PROVIDER_JSON_LOG_H_

// JSON-lines logging for the mock provider (DESIGN §8 field names: ts, level,
// service, event, provider_id, ...). Kept to this one small file so that it
// can be switched to core/observability's logger when that lands.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace booking::mock {

// `level`: trace, debug, info, warn, error, off. `file`: empty = stderr
// (stdout carries the `listening on` line and nothing else).
absl::Status InitJsonLog(const std::string& level, const std::string& file);

// Whether a line at `level` would be written; check before building fields
// on hot paths.
inline bool LogEnabled(spdlog::level::level_enum level) {
  return spdlog::should_log(level);
}

// Writes {"ts", "level", "service": "mock_provider", "event", ...fields}.
// Fields keep their order.
void LogJson(spdlog::level::level_enum level, absl::string_view event,
             nlohmann::ordered_json fields = nlohmann::ordered_json::object());

}  // namespace booking::mock

#endif  // MOCK_PROVIDER_JSON_LOG_H_
