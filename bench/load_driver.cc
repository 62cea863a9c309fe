#include "bench/load_driver.h"

#include <algorithm>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "core/grpc/status_conversion.h"

namespace booking::bench {

const char* StatusCodeName(int code) {
  // The names are absl's, which match gRPC's one for one.
  static const std::string* const kNames = [] {
    auto* names = new std::string[17];
    for (int c = 0; c <= 16; ++c) {
      names[c] = absl::StatusCodeToString(
          FromGrpcCode(static_cast<grpc::StatusCode>(c)));
    }
    return names;
  }();
  return code >= 0 && code <= 16 ? kNames[code].c_str() : "INVALID_CODE";
}

LoadDriver::LoadDriver(Operation* op, DriverOptions options, Window* window)
    : op_(op),
      options_(options),
      open_loop_(options.rate > 0),
      window_(*window) {
  for (auto& c : codes_) c.store(0, std::memory_order_relaxed);
}

bool LoadDriver::Launch(SteadyTime scheduled) {
  const int64_t seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
  if (options_.max_calls > 0 && seq >= options_.max_calls) return false;
  {
    absl::MutexLock lock(&mu_);
    ++outstanding_;
  }
  op_->Start(seq, [this, scheduled](const grpc::Status& status) {
    OnDone(scheduled, status);
  });
  return true;
}

void LoadDriver::OnDone(SteadyTime scheduled, const grpc::Status& status) {
  const SteadyTime now = SteadyNow();
  if (window_.Contains(now)) {
    latency_.RecordNanos(NanosBetween(scheduled, now));
    completed_.fetch_add(1, std::memory_order_relaxed);
    const int code = static_cast<int>(status.error_code());
    if (code >= 0 && code <= 16) {
      codes_[code].fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (!status.ok()) {
    absl::MutexLock lock(&mu_);
    first_error_.emplace(static_cast<int>(status.error_code()),
                         status.error_message());
  }
  // Closed loop: this slot's next call starts before the slot is released,
  // so the number in flight never dips.
  if (!open_loop_ && now < window_.to()) Launch(SteadyNow());
  absl::MutexLock lock(&mu_);
  --outstanding_;
}

void LoadDriver::RunOpenLoop() {
  const SteadyTime start = SteadyNow();
  const double period_ns = 1e9 / options_.rate;
  for (int64_t i = 0;; ++i) {
    const SteadyTime at =
        start + std::chrono::nanoseconds(static_cast<int64_t>(i * period_ns));
    if (at >= window_.to()) break;
    std::this_thread::sleep_until(at);
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &LoadDriver::BelowCap));
    }
    if (!Launch(at)) break;
  }
}

DriverResult LoadDriver::Run() {
  const SteadyTime start = SteadyNow();
  const SteadyTime from = start + absl::ToChronoNanoseconds(options_.warmup);
  window_.Set(from, from + absl::ToChronoNanoseconds(options_.duration));

  if (open_loop_) {
    RunOpenLoop();
  } else {
    for (int i = 0; i < options_.in_flight; ++i) {
      if (!Launch(SteadyNow())) break;
    }
  }

  // Wait for the window to close, then for the stragglers.
  DriverResult result;
  {
    absl::MutexLock lock(&mu_);
    // Closed loop: nothing is outstanding before the window ends unless
    // max_calls was reached (then the run ends early).
    const absl::Time give_up =
        absl::Now() +
        absl::FromChrono(std::max(window_.to() - SteadyNow(),
                                  SteadyTime::duration::zero())) +
        options_.drain_timeout;
    mu_.AwaitWithDeadline(absl::Condition(this, &LoadDriver::NoneOutstanding),
                          give_up);
    result.unfinished = outstanding_;
    for (const auto& [code, message] : first_error_) {
      result.first_error[StatusCodeName(code)] = message;
    }
  }
  const SteadyTime end = std::min(SteadyNow(), window_.to());
  result.window_s = std::max(0.0, NanosBetween(window_.from(), end) / 1e9);
  result.started = std::min<int64_t>(next_seq_.load(), options_.max_calls > 0
                                                           ? options_.max_calls
                                                           : next_seq_.load());
  result.completed = completed_.load();
  result.ok = codes_[0].load();
  for (int c = 0; c <= 16; ++c) {
    if (const int64_t n = codes_[c].load(); n > 0) {
      result.status_counts[StatusCodeName(c)] = n;
    }
  }
  return result;
}

}  // namespace booking::bench
