#include "bench/latency_histogram.h"

#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace booking::bench {
namespace {

TEST(LatencyHistogramTest, EveryValueFallsInABucketWithinOneSixtyFourth) {
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128},
                     uint64_t{129}, uint64_t{1000}, uint64_t{65535},
                     uint64_t{1'000'000}, uint64_t{123'456'789},
                     uint64_t{1} << 40, ~uint64_t{0}}) {
    const int i = LatencyHistogram::BucketIndex(v);
    ASSERT_GE(i, 0);
    ASSERT_LT(i, LatencyHistogram::kBuckets);
    const uint64_t low = LatencyHistogram::BucketLow(i);
    EXPECT_LE(low, v) << v;
    if (v != ~uint64_t{0}) {
      const uint64_t high = LatencyHistogram::BucketHigh(i);
      EXPECT_LT(v, high) << v;
      EXPECT_LE(high - low, std::max<uint64_t>(1, low / 64)) << v;
    }
  }
}

TEST(LatencyHistogramTest, BucketsAreContiguous) {
  for (int i = 0; i + 1 < LatencyHistogram::kBuckets; ++i) {
    ASSERT_EQ(LatencyHistogram::BucketHigh(i), LatencyHistogram::BucketLow(i + 1))
        << i;
  }
}

TEST(LatencyHistogramTest, PercentilesOfAUniformSpread) {
  LatencyHistogram h;
  // 1..10000 microseconds, once each.
  for (int64_t us = 1; us <= 10000; ++us) h.RecordNanos(us * 1000);
  EXPECT_EQ(h.count(), 10000);
  EXPECT_NEAR(h.PercentileNanos(0.50), 5'000'000, 5'000'000 / 60);
  EXPECT_NEAR(h.PercentileNanos(0.99), 9'900'000, 9'900'000 / 60);
  EXPECT_NEAR(h.PercentileNanos(0.999), 9'990'000, 9'990'000 / 60);
  EXPECT_EQ(h.MaxNanos(), 10'000'000);
  EXPECT_LE(h.PercentileNanos(1.0), h.MaxNanos());
  EXPECT_NEAR(h.MeanNanos(), 5'000'500, 1);
}

TEST(LatencyHistogramTest, EmptyReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.PercentileNanos(0.5), 0);
  const nlohmann::json j = h.ToJsonMillis();
  EXPECT_EQ(j["count"], 0);
  EXPECT_EQ(j["p99"], 0.0);
}

TEST(LatencyHistogramTest, JsonIsInMilliseconds) {
  LatencyHistogram h;
  for (int i = 0; i < 100; ++i) h.RecordNanos(2'000'000);  // 2 ms
  const nlohmann::json j = h.ToJsonMillis();
  EXPECT_EQ(j["count"], 100);
  EXPECT_NEAR(j["p50"].get<double>(), 2.0, 2.0 / 60);
  EXPECT_NEAR(j["max"].get<double>(), 2.0, 1e-9);
}

TEST(LatencyHistogramTest, ConcurrentRecordersLoseNothing) {
  LatencyHistogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 50000; ++i) h.RecordNanos(1000 * (t + 1));
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(h.count(), 200000);
  EXPECT_EQ(h.MaxNanos(), 4000);
}

}  // namespace
}  // namespace booking::bench
