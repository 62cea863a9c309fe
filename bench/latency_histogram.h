#ifndef BENCH_LATENCY_HISTOGRAM_H_
#define BENCH_LATENCY_HISTOGRAM_H_

// A lock-free latency histogram with log-linear buckets (after
// HdrHistogram): every value is kept to within 1/64 (≈1.6%) of itself, in
// ~2.3k fixed buckets, so gRPC callback threads can record concurrently
// without a lock and without storing every sample.

#include <array>
#include <atomic>
#include <cstdint>

#include "nlohmann/json.hpp"

namespace booking::bench {

class LatencyHistogram {
 public:
  LatencyHistogram();
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  // Thread-safe. Negative values count as 0.
  void RecordNanos(int64_t nanos);

  int64_t count() const;
  // The value at quantile q in [0, 1] (nearest rank), in nanoseconds,
  // reported as the midpoint of its bucket; 0 when empty.
  int64_t PercentileNanos(double q) const;
  int64_t MaxNanos() const { return max_.load(std::memory_order_relaxed); }
  double MeanNanos() const;

  // {"count", "mean", "p50", "p90", "p95", "p99", "p999", "max"} in
  // milliseconds.
  nlohmann::json ToJsonMillis() const;

  // Bucket arithmetic, exposed for tests.
  static int BucketIndex(uint64_t nanos);
  static uint64_t BucketLow(int index);
  static uint64_t BucketHigh(int index);  // exclusive
  static constexpr int kSubBuckets = 128;
  static constexpr int kHalf = kSubBuckets / 2;
  static constexpr int kBuckets = kSubBuckets + 57 * kHalf;

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_;
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<int64_t> max_{0};
};

}  // namespace booking::bench

#endif  // BENCH_LATENCY_HISTOGRAM_H_
