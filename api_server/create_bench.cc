// create_bench: CreateAppointment load against a running api_server, to
// measure what group commit buys under synchronous=FULL.
//
//   bazel-bin/api_server/create_bench --addr=127.0.0.1:50051 \
//       --concurrency=64 --duration=5s
//
// Keeps --concurrency calls in flight (gRPC callback API, one channel), each
// with a fresh request_id, for --duration; prints one JSON line with the
// throughput, latency percentiles and errors by code.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/common/time_util.h"
#include "grpcpp/grpcpp.h"
#include "proto/appointments/v1/appointment_service.grpc.pb.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "api_server HOST:PORT.");
ABSL_FLAG(int, concurrency, 64, "Calls kept in flight.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "How long to run.");
ABSL_FLAG(std::string, provider_id, "clinic-a", "A configured provider.");
ABSL_FLAG(std::string, run_id, "",
          "Prefix of request_ids (default: from the clock, so runs differ).");

namespace booking {
namespace {

namespace v1 = appointments::v1;

class Bench {
 public:
  Bench(std::shared_ptr<grpc::Channel> channel, absl::Time stop,
        std::string run_id)
      : stub_(v1::AppointmentService::NewStub(channel)),
        stop_(stop),
        run_id_(std::move(run_id)) {}

  void Run(int concurrency) {
    for (int i = 0; i < concurrency; ++i) Issue();
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](Bench* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) {
          return b->in_flight_ == 0 && b->started_;
        },
        this));
  }

  void Print(absl::Duration elapsed) {
    absl::MutexLock lock(&mu_);
    std::sort(latencies_ms_.begin(), latencies_ms_.end());
    auto pct = [&](double p) {
      if (latencies_ms_.empty()) return 0.0;
      return latencies_ms_[std::min(
          latencies_ms_.size() - 1,
          static_cast<size_t>(p * latencies_ms_.size()))];
    };
    std::string errors;
    for (const auto& [code, n] : errors_) {
      absl::StrAppend(&errors, errors.empty() ? "" : ",", "\"", code, "\":", n);
    }
    std::printf(
        "{\"ok\":%lld,\"seconds\":%.2f,\"creates_per_s\":%.0f,"
        "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"errors\":{%s}}\n",
        static_cast<long long>(ok_), absl::ToDoubleSeconds(elapsed),
        ok_ / absl::ToDoubleSeconds(elapsed), pct(0.5), pct(0.99),
        latencies_ms_.empty() ? 0.0 : latencies_ms_.back(), errors.c_str());
  }

 private:
  struct Call {
    grpc::ClientContext context;
    v1::CreateAppointmentRequest request;
    v1::Appointment response;
    absl::Time start;
  };

  void Issue() {
    const int64_t n = next_.fetch_add(1);
    auto call = std::make_shared<Call>();
    call->start = absl::Now();
    call->context.set_deadline(
        absl::ToChronoTime(call->start + absl::Seconds(30)));
    call->request.set_request_id(absl::StrCat(run_id_, "-", n));
    v1::Appointment* a = call->request.mutable_appointment();
    a->set_customer_id(absl::StrCat("bench-", n % 1000));
    a->set_provider_id(absl::GetFlag(FLAGS_provider_id));
    a->set_location("Bench room");
    *a->mutable_start_time() = ToProtoTimestamp(
        absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 86400));
    a->set_duration_minutes(30);
    a->set_priority(v1::Appointment::NORMAL);
    a->mutable_patient()->set_display_name("Bench Patient");
    {
      absl::MutexLock lock(&mu_);
      ++in_flight_;
      started_ = true;
    }
    stub_->async()->CreateAppointment(
        &call->context, &call->request, &call->response,
        [this, call](grpc::Status s) {
          const double ms =
              absl::ToDoubleMilliseconds(absl::Now() - call->start);
          bool again;
          {
            absl::MutexLock lock(&mu_);
            if (s.ok()) {
              ++ok_;
              latencies_ms_.push_back(ms);
            } else {
              ++errors_[s.error_code()];
            }
            again = absl::Now() < stop_;
          }
          // Issue the next call before this one stops counting as in
          // flight, so Run() cannot see zero in between.
          if (again) Issue();
          absl::MutexLock lock(&mu_);
          --in_flight_;
        });
  }

  std::unique_ptr<v1::AppointmentService::Stub> stub_;
  const absl::Time stop_;
  const std::string run_id_;
  std::atomic<int64_t> next_{0};
  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  int64_t ok_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, int64_t> errors_ ABSL_GUARDED_BY(mu_);
  std::vector<double> latencies_ms_ ABSL_GUARDED_BY(mu_);
};

}  // namespace
}  // namespace booking

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "CreateAppointment load: create_bench --addr=HOST:PORT "
      "[--concurrency=N] [--duration=5s]");
  absl::ParseCommandLine(argc, argv);
  std::string run_id = absl::GetFlag(FLAGS_run_id);
  if (run_id.empty()) {
    run_id = absl::StrCat("bench-", absl::ToUnixMillis(absl::Now()));
  }
  auto channel = grpc::CreateChannel(absl::GetFlag(FLAGS_addr),
                                     grpc::InsecureChannelCredentials());
  const absl::Time start = absl::Now();
  booking::Bench bench(channel, start + absl::GetFlag(FLAGS_duration), run_id);
  bench.Run(std::max(1, absl::GetFlag(FLAGS_concurrency)));
  bench.Print(absl::Now() - start);
  return 0;
}
