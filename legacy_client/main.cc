// legacy_client: the direct-booking baseline of DESIGN §9, one provider call
// per invocation. See README.md.
//
//   legacy_client --provider_addr=H:P --provider_id=ID --start_time=RFC3339
//       --duration_minutes=N --location=TEXT --customer_ref=REF book
//   legacy_client --provider_addr=H:P --provider_id=ID --booking_id=B cancel
//
// Prints one JSON object on stdout; exit 0 if the provider answered OK, 1 if
// it answered an error, 2 on a usage error.

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "core/observability/logging.h"
#include "core/provider/grpc_provider_client.h"
#include "legacy_client/legacy_booker.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, provider_addr, "", "HOST:PORT of the provider.");
ABSL_FLAG(std::string, provider_id, "", "Provider (calendar) id.");
ABSL_FLAG(std::string, start_time, "", "book: start, RFC 3339 (UTC).");
ABSL_FLAG(int, duration_minutes, 30, "book: length in minutes.");
ABSL_FLAG(std::string, location, "", "book: where.");
ABSL_FLAG(std::string, customer_ref, "", "book: opaque customer id.");
ABSL_FLAG(std::string, booking_id, "", "cancel: the provider's booking id.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(2), "Deadline of the call.");
ABSL_FLAG(uint64_t, key_seed, 0,
          "Seed of the fresh idempotency key; 0 picks a random one.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn, error.");
ABSL_FLAG(std::string, log_file, "", "JSON log file; default stderr.");

namespace booking::legacy {
namespace {

int Usage(const std::string& message) {
  std::fprintf(stderr, "legacy_client: %s\n", message.c_str());
  return 2;
}

nlohmann::ordered_json ToJson(const LegacyResult& r) {
  nlohmann::ordered_json j;
  j["ok"] = r.status.ok();
  if (r.status.ok()) {
    j["booking_id"] = r.booking_id;
    j["status"] = BookingStatusName(r.booking_status);
  } else {
    j["code"] = absl::StatusCodeToString(r.status.code());
    j["error"] = std::string(r.status.message());
  }
  if (!r.idempotency_key.empty()) j["idempotency_key"] = r.idempotency_key;
  j["latency_ms"] = absl::ToDoubleMilliseconds(r.latency);
  return j;
}

int Main(const std::vector<char*>& args) {
  if (args.size() != 2) return Usage("give one command: book or cancel");
  const std::string command = args[1];
  auto level = ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) return Usage(std::string(level.status().message()));
  LoggingOptions logging;
  logging.service = "legacy_client";
  logging.level = *level;
  logging.log_file = absl::GetFlag(FLAGS_log_file);
  if (absl::Status s = InitLogging(logging); !s.ok()) {
    return Usage(s.ToString());
  }
  const std::string addr = absl::GetFlag(FLAGS_provider_addr);
  const std::string provider_id = absl::GetFlag(FLAGS_provider_id);
  if (addr.empty()) return Usage("--provider_addr is required");
  if (provider_id.empty()) return Usage("--provider_id is required");

  uint64_t seed = absl::GetFlag(FLAGS_key_seed);
  if (seed == 0) seed = std::random_device{}();
  GrpcProviderClient provider(addr);
  LegacyBooker booker(&provider, absl::GetFlag(FLAGS_timeout), seed);

  LegacyResult result;
  if (command == "book") {
    LegacyBookRequest request;
    request.provider_id = provider_id;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, absl::GetFlag(FLAGS_start_time),
                         &request.start_time, &error)) {
      return Usage("--start_time: " + error);
    }
    request.duration_minutes = absl::GetFlag(FLAGS_duration_minutes);
    request.location = absl::GetFlag(FLAGS_location);
    request.customer_ref = absl::GetFlag(FLAGS_customer_ref);
    result = booker.Book(request);
  } else if (command == "cancel") {
    const std::string booking_id = absl::GetFlag(FLAGS_booking_id);
    if (booking_id.empty()) return Usage("cancel needs --booking_id");
    result = booker.Cancel(provider_id, booking_id);
  } else {
    return Usage("unknown command " + command + " (book or cancel)");
  }
  LogEvent(result.status.ok() ? LogLevel::kInfo : LogLevel::kWarn,
           command == "book" ? "legacy_book" : "legacy_cancel")
      .Field("provider_id", provider_id)
      .Field("booking_id", result.booking_id)
      .Field("idempotency_key", result.idempotency_key)
      .Field("latency_ms", absl::ToDoubleMilliseconds(result.latency))
      .Error(result.status);
  std::printf("%s\n", ToJson(result).dump().c_str());
  return result.status.ok() ? 0 : 1;
}

}  // namespace
}  // namespace booking::legacy

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "The legacy direct-booking client (DESIGN §9): one provider call, a "
      "fresh idempotency key, no retries.\n"
      "  legacy_client --provider_addr=H:P --provider_id=ID --start_time=T "
      "--duration_minutes=N --location=L --customer_ref=R book\n"
      "  legacy_client --provider_addr=H:P --provider_id=ID --booking_id=B "
      "cancel");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  return booking::legacy::Main(args);
}
