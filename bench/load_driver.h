#ifndef BENCH_LOAD_DRIVER_H_
#define BENCH_LOAD_DRIVER_H_

// Drives an Operation (one kind of asynchronous call) either closed-loop —
// a fixed number of calls in flight, each completion starting the next — or
// open-loop at a fixed rate, for a warm-up and a measured window, and
// collects throughput, latency and status codes of the calls that completed
// inside the window.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bench/latency_histogram.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"

namespace booking::bench {

using SteadyTime = std::chrono::steady_clock::time_point;
inline SteadyTime SteadyNow() { return std::chrono::steady_clock::now(); }
inline int64_t NanosBetween(SteadyTime from, SteadyTime to) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from)
      .count();
}

// The measured window, so an Operation can keep its own figures for the
// same calls the driver counts.
class Window {
 public:
  void Set(SteadyTime from, SteadyTime to) {
    from_ = from;
    to_ = to;
  }
  bool Contains(SteadyTime t) const { return t >= from_ && t < to_; }
  SteadyTime from() const { return from_; }
  SteadyTime to() const { return to_; }

 private:
  SteadyTime from_{};
  SteadyTime to_{};
};

class Operation {
 public:
  using Done = std::function<void(const grpc::Status&)>;
  virtual ~Operation() = default;
  // Starts call number `seq` (0, 1, 2, ...; each used once). `done` must be
  // called exactly once, from any thread.
  virtual void Start(int64_t seq, Done done) = 0;
  // Adds the operation's own figures (e.g. extra histograms) to the report.
  virtual void Report(nlohmann::json* out) const {}
};

struct DriverOptions {
  // Closed loop: calls kept in flight. Open loop: most calls outstanding at
  // once (a pacer that hits it waits; latency still counts from the
  // scheduled start, so waiting shows up instead of hiding).
  int in_flight = 50;
  // > 0 selects the open loop: calls started per second.
  double rate = 0;
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration duration = absl::Seconds(5);
  // 0 = no limit; otherwise the run also ends after this many calls.
  int64_t max_calls = 0;
  // After the window, how long to wait for outstanding calls to finish.
  absl::Duration drain_timeout = absl::Seconds(60);
};

struct DriverResult {
  double window_s = 0;
  int64_t started = 0;
  int64_t completed = 0;   // in the window, any status
  int64_t ok = 0;          // in the window
  int64_t unfinished = 0;  // still outstanding after drain_timeout
  std::map<std::string, int64_t> status_counts;    // in the window
  std::map<std::string, std::string> first_error;  // code -> message
};

class LoadDriver {
 public:
  // `window` (not owned) is set by Run() and read by the operation.
  LoadDriver(Operation* op, DriverOptions options, Window* window);
  LoadDriver(const LoadDriver&) = delete;
  LoadDriver& operator=(const LoadDriver&) = delete;

  // Blocks until the window has passed and outstanding calls finished (or
  // drain_timeout passed). Call once.
  DriverResult Run();

  // Latency of calls completed in the window.
  const LatencyHistogram& latency() const { return latency_; }

 private:
  // Starts the next call; false when max_calls is reached.
  bool Launch(SteadyTime scheduled);
  void OnDone(SteadyTime scheduled, const grpc::Status& status);
  void RunOpenLoop();
  bool NoneOutstanding() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return outstanding_ == 0;
  }
  bool BelowCap() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return outstanding_ < options_.in_flight;
  }

  Operation* const op_;
  const DriverOptions options_;
  const bool open_loop_;
  Window& window_;
  LatencyHistogram latency_;
  std::atomic<int64_t> next_seq_{0};
  std::atomic<int64_t> completed_{0};
  std::array<std::atomic<int64_t>, 17> codes_{};

  mutable absl::Mutex mu_;
  int64_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, std::string> first_error_ ABSL_GUARDED_BY(mu_);
};

// "OK", "UNAVAILABLE", ... for grpc::StatusCode values 0..16.
const char* StatusCodeName(int code);

}  // namespace booking::bench

#endif  // BENCH_LOAD_DRIVER_H_
