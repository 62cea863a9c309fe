#include "bench/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace booking::bench {

LatencyHistogram::LatencyHistogram() {
  for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
}

// Values below kSubBuckets have a bucket each. Above, a value with its top
// bit at position b (b >= 7) is shifted right by b - 6 so that its top seven
// bits pick one of kHalf buckets for that power of two.
int LatencyHistogram::BucketIndex(uint64_t v) {
  if (v < kSubBuckets) return static_cast<int>(v);
  const int top_bit = 63 - __builtin_clzll(v);  // >= 7
  const int shift = top_bit - 6;
  const int index = kSubBuckets + (shift - 1) * kHalf +
                    static_cast<int>((v >> shift) - kHalf);
  return std::min(index, kBuckets - 1);
}

uint64_t LatencyHistogram::BucketLow(int index) {
  if (index < kSubBuckets) return static_cast<uint64_t>(index);
  const int shift = (index - kSubBuckets) / kHalf + 1;
  const uint64_t mantissa = (index - kSubBuckets) % kHalf + kHalf;
  return mantissa << shift;
}

uint64_t LatencyHistogram::BucketHigh(int index) {
  if (index < kSubBuckets) return static_cast<uint64_t>(index) + 1;
  const int shift = (index - kSubBuckets) / kHalf + 1;
  return BucketLow(index) + (uint64_t{1} << shift);
}

void LatencyHistogram::RecordNanos(int64_t nanos) {
  const uint64_t v = nanos < 0 ? 0 : static_cast<uint64_t>(nanos);
  counts_[BucketIndex(v)].fetch_add(1, std::memory_order_relaxed);
  total_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  int64_t seen = max_.load(std::memory_order_relaxed);
  while (static_cast<int64_t>(v) > seen &&
         !max_.compare_exchange_weak(seen, static_cast<int64_t>(v),
                                     std::memory_order_relaxed)) {
  }
}

int64_t LatencyHistogram::count() const {
  return static_cast<int64_t>(total_.load(std::memory_order_relaxed));
}

double LatencyHistogram::MeanNanos() const {
  const uint64_t n = total_.load(std::memory_order_relaxed);
  return n == 0 ? 0.0
                : static_cast<double>(sum_.load(std::memory_order_relaxed)) /
                      static_cast<double>(n);
}

int64_t LatencyHistogram::PercentileNanos(double q) const {
  const uint64_t n = total_.load(std::memory_order_relaxed);
  if (n == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // Nearest rank: the smallest value with at least ceil(q * n) samples at
  // or below it.
  const uint64_t rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(n))));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i].load(std::memory_order_relaxed);
    if (seen >= rank) {
      const uint64_t low = BucketLow(i);
      const uint64_t mid = low + (BucketHigh(i) - low - 1) / 2;
      return std::min<int64_t>(static_cast<int64_t>(mid), MaxNanos());
    }
  }
  return MaxNanos();
}

nlohmann::json LatencyHistogram::ToJsonMillis() const {
  auto ms = [](double nanos) {
    // Three decimals (microseconds) are plenty for a 1.6% histogram.
    return std::round(nanos / 1e3) / 1e3;
  };
  return nlohmann::json{
      {"count", count()},
      {"mean", ms(MeanNanos())},
      {"p50", ms(PercentileNanos(0.50))},
      {"p90", ms(PercentileNanos(0.90))},
      {"p95", ms(PercentileNanos(0.95))},
      {"p99", ms(PercentileNanos(0.99))},
      {"p999", ms(PercentileNanos(0.999))},
      {"max", ms(MaxNanos())},
  };
}

}  // namespace booking::bench
