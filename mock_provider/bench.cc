// mock_provider_bench: Book throughput of the mock provider itself, so we
// know it is not the bottleneck of the service's benchmarks. Callback client,
// a fixed number of calls in flight on one channel, unique keys (each call
// makes a booking) unless --same_key. Prints one JSON line.
//
//   bazel run -c opt //mock_provider:mock_provider_bench -- --duration=5s
//   (in-process server), or --target=HOST:PORT against a running binary.

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "mock_provider/mock_server.h"
#include "proto/provider/v1/provider.grpc.pb.h"

ABSL_FLAG(std::string, target, "",
          "HOST:PORT of a running mock_provider; empty starts one in-process "
          "on 127.0.0.1:0.");
ABSL_FLAG(int, in_flight, 50, "Calls in flight at any time.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "Not measured.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "Measured.");
ABSL_FLAG(bool, same_key, false,
          "Every call of a slot reuses one key (idempotent replays) instead "
          "of making a new booking.");
ABSL_FLAG(std::string, provider_id, "bench", "provider_id of the Books.");
ABSL_FLAG(bool, noop_server, false,
          "Baseline: bench an in-process server whose Book does nothing, to "
          "compare the mock with the gRPC ceiling of this machine.");

namespace booking::mock {
namespace {

using ::provider::v1::Booking;
using ::provider::v1::BookRequest;

// Shared by the slots; each slot's own fields are touched by one call at a
// time (the next call starts from the previous one's callback).
class Bench {
 public:
  Bench(::provider::v1::ProviderService::Stub* stub, int slots)
      : stub_(stub), slots_(slots) {}

  void Run(absl::Duration warmup, absl::Duration duration) {
    const absl::Time start = absl::Now();
    {
      absl::MutexLock lock(&mu_);
      measure_from_ = start + warmup;
      stop_at_ = measure_from_ + duration;
      running_ = static_cast<int>(slots_.size());
    }
    for (size_t i = 0; i < slots_.size(); ++i) Next(i);
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* running) { return *running == 0; }, &running_));
  }

  void Print(const std::string& target, int in_flight) {
    std::vector<double> all;
    int64_t errors = 0;
    for (const Slot& s : slots_) {
      all.insert(all.end(), s.latencies_ms.begin(), s.latencies_ms.end());
      errors += s.errors;
    }
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) {
      return all.empty() ? 0.0 : all[static_cast<size_t>(p * (all.size() - 1))];
    };
    absl::Duration window;
    {
      absl::MutexLock lock(&mu_);
      window = stop_at_ - measure_from_;
    }
    const double qps = all.size() / absl::ToDoubleSeconds(window);
    std::printf(
        "{\"target\": \"%s\", \"in_flight\": %d, \"same_key\": %s, "
        "\"calls\": %zu, \"errors\": %lld, \"seconds\": %.2f, \"qps\": %.0f, "
        "\"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
        target.c_str(), in_flight,
        absl::GetFlag(FLAGS_same_key) ? "true" : "false", all.size(),
        static_cast<long long>(errors), absl::ToDoubleSeconds(window), qps,
        pct(0.5), pct(0.99));
  }

 private:
  struct Slot {
    int64_t n = 0;
    std::vector<double> latencies_ms;
    int64_t errors = 0;
  };
  struct Call {
    grpc::ClientContext context;
    BookRequest request;
    Booking response;
    absl::Time started;
  };

  void Next(size_t slot_index) {
    Slot& slot = slots_[slot_index];
    auto* call = new Call;
    call->request.set_provider_id(absl::GetFlag(FLAGS_provider_id));
    call->request.set_idempotency_key(
        absl::GetFlag(FLAGS_same_key)
            ? absl::StrCat("s", slot_index)
            : absl::StrCat("s", slot_index, "-", slot.n++));
    call->request.mutable_start_time()->set_seconds(1'800'000'000);
    call->request.set_duration_minutes(30);
    call->request.set_location("bench");
    call->started = absl::Now();
    stub_->async()->Book(
        &call->context, &call->request, &call->response,
        [this, slot_index, call](grpc::Status status) {
          const absl::Time done = absl::Now();
          Slot& s = slots_[slot_index];
          bool stop = false;
          absl::Time measure_from;
          {
            absl::MutexLock lock(&mu_);
            measure_from = measure_from_;
            stop = done >= stop_at_;
          }
          if (call->started >= measure_from && !stop) {
            if (status.ok()) {
              s.latencies_ms.push_back(
                  absl::ToDoubleMilliseconds(done - call->started));
            } else {
              ++s.errors;
            }
          }
          delete call;
          if (!stop) {
            Next(slot_index);
            return;
          }
          absl::MutexLock lock(&mu_);
          --running_;
        });
  }

  ::provider::v1::ProviderService::Stub* const stub_;
  std::vector<Slot> slots_;
  absl::Mutex mu_;
  absl::Time measure_from_ ABSL_GUARDED_BY(mu_);
  absl::Time stop_at_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
};

// Answers every Book with an empty Booking: the gRPC ceiling.
class NoopProvider final
    : public ::provider::v1::ProviderService::CallbackService {
  grpc::ServerUnaryReactor* Book(grpc::CallbackServerContext* context,
                                 const BookRequest* /*request*/,
                                 Booking* /*response*/) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

int Main() {
  std::string target = absl::GetFlag(FLAGS_target);
  std::unique_ptr<MockProviderServer> server;
  NoopProvider noop;
  std::unique_ptr<grpc::Server> noop_server;
  if (absl::GetFlag(FLAGS_noop_server)) {
    GrpcServerOptions options;
    options.services = {&noop};
    auto started = StartGrpcServer(options);
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", started.status().ToString().c_str());
      return 1;
    }
    noop_server = std::move(started->server);
    target = absl::StrCat("127.0.0.1:", started->bound.port);
  } else if (target.empty()) {
    auto started = MockProviderServer::Start({});
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", started.status().ToString().c_str());
      return 1;
    }
    server = *std::move(started);
    target = server->address();
  }
  auto channel =
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = ::provider::v1::ProviderService::NewStub(channel);
  const int in_flight = std::max(1, absl::GetFlag(FLAGS_in_flight));
  Bench bench(stub.get(), in_flight);
  bench.Run(absl::GetFlag(FLAGS_warmup), absl::GetFlag(FLAGS_duration));
  bench.Print(target, in_flight);
  if (noop_server != nullptr) noop_server->Shutdown();
  return 0;
}

}  // namespace
}  // namespace booking::mock

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Measures mock_provider Book throughput; prints QPS and p50/p99 as "
      "JSON.");
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view path) {
    return absl::StrContains(path, "mock_provider/");
  };
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
  return booking::mock::Main();
}
