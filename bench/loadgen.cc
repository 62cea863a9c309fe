// loadgen: a callback-API gRPC load generator (see README.md).
//
//   loadgen --target=127.0.0.1:50051 --method=create --in_flight=50
//           --warmup=2s --duration=10s --providers=clinic-a,clinic-b
//   loadgen --target=... --method=noop --rate=20000 --in_flight=1000
//   loadgen --target=... --method=e2e --in_flight=50
//
// Closed loop (default): --in_flight calls at all times, each completion
// starts the next. Open loop (--rate > 0): calls started on a fixed
// schedule, latency measured from the scheduled start. Only calls completing
// inside the window after --warmup count. Prints one JSON object on stdout;
// exit 0 if the run took place (errors are counted, not fatal), 1 if the
// target could not be reached, 2 on bad flags.

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/load_driver.h"
#include "bench/operations.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "HOST:PORT to load.");
ABSL_FLAG(std::string, method, "create",
          "ping (empty no-op), noop (no-op with CreateAppointment's "
          "messages), create, or e2e (create, then watch until CONFIRMED).");
ABSL_FLAG(int, in_flight, 50,
          "Closed loop: calls in flight. Open loop: most outstanding.");
ABSL_FLAG(double, rate, 0, "> 0: open loop at this many calls per second.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "Not measured.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "Measured window.");
ABSL_FLAG(int64_t, max_calls, 0, "Stop after this many calls (0: no limit).");
ABSL_FLAG(int, channels, 1, "Channels (TCP connections) to spread calls on.");
ABSL_FLAG(std::string, providers, "clinic-a,clinic-b",
          "provider_ids used in turn by create/e2e.");
ABSL_FLAG(std::string, request_id_prefix, "",
          "request_ids are <prefix>-<n>; empty: lg-<hex time>, unique per "
          "run.");
ABSL_FLAG(absl::Duration, call_timeout, absl::Seconds(30),
          "Deadline of each unary call.");
ABSL_FLAG(absl::Duration, confirm_timeout, absl::Seconds(120),
          "e2e: how long a watch waits for CONFIRMED.");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(10),
          "How long to wait for the target to accept connections.");
ABSL_FLAG(std::string, label, "", "Copied into the JSON as \"label\".");

namespace booking::bench {
namespace {

int Main() {
  const std::string method = absl::GetFlag(FLAGS_method);
  const std::string target = absl::GetFlag(FLAGS_target);
  DriverOptions driver_options;
  driver_options.in_flight = absl::GetFlag(FLAGS_in_flight);
  driver_options.rate = absl::GetFlag(FLAGS_rate);
  driver_options.warmup = absl::GetFlag(FLAGS_warmup);
  driver_options.duration = absl::GetFlag(FLAGS_duration);
  driver_options.max_calls = absl::GetFlag(FLAGS_max_calls);
  const int channel_count = absl::GetFlag(FLAGS_channels);
  std::vector<std::string> providers =
      absl::StrSplit(absl::GetFlag(FLAGS_providers), ',', absl::SkipEmpty());
  if (driver_options.in_flight < 1 || channel_count < 1 || providers.empty() ||
      driver_options.duration <= absl::ZeroDuration()) {
    std::fprintf(stderr,
                 "loadgen: --in_flight, --channels >= 1, --providers "
                 "non-empty, --duration > 0\n");
    return 2;
  }
  if (method != "ping" && method != "noop" && method != "create" &&
      method != "e2e") {
    std::fprintf(stderr,
                 "loadgen: --method must be ping, noop, create or e2e\n");
    return 2;
  }
  std::string prefix = absl::GetFlag(FLAGS_request_id_prefix);
  if (prefix.empty()) {
    prefix = absl::StrCat("lg-", absl::Hex(absl::ToUnixNanos(absl::Now())));
  }

  std::vector<std::shared_ptr<grpc::Channel>> channels =
      MakeChannels(target, channel_count);
  for (const auto& channel : channels) {
    if (!channel->WaitForConnected(
            std::chrono::system_clock::now() +
            absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_connect_timeout)))) {
      nlohmann::json error = {
          {"target", target}, {"method", method}, {"error", "cannot connect"}};
      std::printf("%s\n", error.dump().c_str());
      return 1;
    }
  }

  RequestFactory requests(prefix, providers, absl::Now());
  Window window;  // set by the driver, read by the operation
  OperationOptions op_options;
  op_options.channels = channels;
  op_options.requests = &requests;
  op_options.window = &window;
  op_options.call_timeout = absl::GetFlag(FLAGS_call_timeout);
  op_options.confirm_timeout = absl::GetFlag(FLAGS_confirm_timeout);
  std::unique_ptr<Operation> op;
  if (method == "ping") {
    op = MakePingOperation(op_options);
  } else if (method == "noop") {
    op = MakeNoopOperation(op_options);
  } else if (method == "create") {
    op = MakeCreateOperation(op_options);
  } else {
    op = MakeE2eOperation(op_options);
  }
  LoadDriver driver(op.get(), driver_options, &window);

  const DriverResult r = driver.Run();
  nlohmann::json out = {
      {"label", absl::GetFlag(FLAGS_label)},
      {"target", target},
      {"method", method},
      {"mode", driver_options.rate > 0 ? "open" : "closed"},
      {"in_flight", driver_options.in_flight},
      {"rate", driver_options.rate},
      {"channels", channel_count},
      {"warmup_s", absl::ToDoubleSeconds(driver_options.warmup)},
      {"window_s", r.window_s},
      {"started", r.started},
      {"completed", r.completed},
      {"ok", r.ok},
      {"qps", r.window_s > 0 ? r.ok / r.window_s : 0.0},
      {"unfinished", r.unfinished},
      {"status_counts", r.status_counts},
      {"first_error", r.first_error},
      {"latency_ms", driver.latency().ToJsonMillis()},
      {"request_id_prefix", prefix},
  };
  op->Report(&out);
  std::printf("%s\n", out.dump().c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace booking::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "callback-API gRPC load generator; prints one JSON object.\n"
      "  loadgen --target=HOST:PORT --method=ping|noop|create|e2e "
      "[--in_flight=N | --rate=QPS] [--warmup=2s] [--duration=10s]");
  absl::ParseCommandLine(argc, argv);
  return booking::bench::Main();
}
