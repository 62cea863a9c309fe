// mock_provider: a calendar provider with scripted, seeded failure modes
// (DESIGN §5, §10). See README.md.

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "core/grpc/server_runtime.h"
#include "core/observability/logging.h"
#include "mock_provider/mock_server.h"
#include "mock_provider/mode_config.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50061",
          "HOST:PORT to serve on; port 0 picks a free port (printed as "
          "`listening on HOST:PORT`).");
ABSL_FLAG(std::string, modes, "",
          "Per-provider modes: PROVIDER_ID=MODE[:PARAM=VALUE...],... e.g. "
          "clinic-b=flaky:fail_first_n=2,x=delayed:delay_ms=3000. Id `*` is "
          "the default for other ids (else immediate). Modes: immediate, "
          "pending, delayed, flaky, timeout, always_fail, confirm_fail, "
          "reject, rate_limited, decline_later. Params: delay_ms, "
          "fail_first_n, fail_fraction, retry_after_ms, confirm_after_ms, "
          "decline_after_ms.");
ABSL_FLAG(std::string, modes_file, "",
          "JSON file of modes instead of --modes: "
          "{\"clinic-a\": {\"mode\": \"flaky\", \"fail_first_n\": 2}}.");
ABSL_FLAG(uint64_t, seed, 1,
          "Seed of the flaky coin; the same seed and calls give the same "
          "answers.");
ABSL_FLAG(std::string, log_level, "info",
          "debug (one line per provider call), info, warn, error.");
ABSL_FLAG(std::string, log_file, "", "JSON log file; default stderr.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(5),
          "On SIGTERM, how long in-flight calls may take to finish.");

namespace booking::mock {
namespace {

absl::StatusOr<ModeTable> ModesFromFlags() {
  const std::string modes = absl::GetFlag(FLAGS_modes);
  const std::string modes_file = absl::GetFlag(FLAGS_modes_file);
  if (!modes.empty() && !modes_file.empty()) {
    return absl::InvalidArgumentError("give --modes or --modes_file, not both");
  }
  if (!modes_file.empty()) return LoadModesFile(modes_file);
  return ParseModesFlag(modes);
}

int Main() {
  auto level = ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) {
    std::fprintf(stderr, "mock_provider: --log_level: %s\n",
                 level.status().ToString().c_str());
    return 2;
  }
  LoggingOptions logging;
  logging.service = "mock_provider";
  logging.level = *level;
  logging.log_file = absl::GetFlag(FLAGS_log_file);
  if (absl::Status s = InitLogging(logging); !s.ok()) {
    std::fprintf(stderr, "mock_provider: %s\n", s.ToString().c_str());
    return 2;
  }
  auto modes = ModesFromFlags();
  if (!modes.ok()) {
    std::fprintf(stderr, "mock_provider: %s\n",
                 modes.status().ToString().c_str());
    return 2;
  }
  MockServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.modes = *modes;
  options.seed = absl::GetFlag(FLAGS_seed);
  options.log_calls = *level == LogLevel::kDebug;
  auto server = MockProviderServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "mock_provider: %s\n",
                 server.status().ToString().c_str());
    return 1;
  }
  AnnounceListening((*server)->bound().host, (*server)->bound().port);
  std::vector<std::string> mode_list;
  for (const auto& [id, spec] : *modes) {
    mode_list.push_back(absl::StrCat(id, "=", FormatModeSpec(spec)));
  }
  LogEvent(LogLevel::kInfo, "started")
      .Field("listen", (*server)->address())
      .Field("seed", options.seed)
      .Field("modes", absl::StrJoin(mode_list, ","));

  const int sig = WaitForShutdownSignal();
  LogEvent(LogLevel::kInfo, "shutting_down").Field("signal", sig);
  (*server)->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  LogEvent(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace
}  // namespace booking::mock

int main(int argc, char** argv) {
  // Before any thread exists, so that only WaitForShutdownSignal sees them.
  booking::BlockShutdownSignals();
  absl::SetProgramUsageMessage(
      "A calendar provider (provider.v1.ProviderService) with scripted, "
      "seeded failure modes, controlled at run time by "
      "provider.v1.MockControl.\n"
      "  mock_provider --listen=HOST:PORT [--modes=ID=MODE[:P=V...],... | "
      "--modes_file=PATH] [--seed=N]");
  // --help lists this binary's flags (absl's default looks for a file named
  // after the binary, not main.cc).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view path) {
    return absl::StrContains(path, "mock_provider/");
  };
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
  return booking::mock::Main();
}
