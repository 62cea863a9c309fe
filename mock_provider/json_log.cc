#include "mock_provider/json_log.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/common/clock.h"
#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace booking::mock {

absl::Status InitJsonLog(const std::string& level, const std::string& file) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  // from_str answers `off` for anything it does not know.
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_level '", level,
                     "' is not one of trace, debug, info, warn, error, off"));
  }
  std::shared_ptr<spdlog::logger> logger;
  if (file.empty()) {
    logger = std::make_shared<spdlog::logger>(
        "mock_provider", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  } else {
    try {  // spdlog reports an unwritable file by throwing; keep it here.
      logger = std::make_shared<spdlog::logger>(
          "mock_provider",
          std::make_shared<spdlog::sinks::basic_file_sink_mt>(file));
    } catch (const spdlog::spdlog_ex& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("--log_file '", file, "': ", e.what()));
    }
  }
  logger->set_pattern("%v");
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return absl::OkStatus();
}

void LogJson(spdlog::level::level_enum level, absl::string_view event,
             nlohmann::ordered_json fields) {
  if (!spdlog::should_log(level)) return;
  nlohmann::ordered_json line = nlohmann::ordered_json::object();
  line["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", RealClock()->Now(),
                                absl::UTCTimeZone());
  const auto name = spdlog::level::to_string_view(level);
  line["level"] = std::string(name.data(), name.size());
  line["service"] = "mock_provider";
  line["event"] = std::string(event);
  for (auto& [key, value] : fields.items()) line[key] = value;
  spdlog::log(level, "{}",
              line.dump(-1, ' ', false,
                        nlohmann::ordered_json::error_handler_t::replace));
}

}  // namespace booking::mock
