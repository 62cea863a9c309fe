#include "api_server/rate_limiter.h"

#include <string>

#include "core/common/clock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

TEST(RateLimiterTest, DisabledWhenQpsIsZero) {
  SimulatedClock clock;
  RateLimiter limiter({/*qps=*/0}, &clock);
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 10'000; ++i) {
    ASSERT_TRUE(limiter.Acquire("client").allowed);
  }
  EXPECT_EQ(limiter.tracked_keys(), 0u);
}

TEST(RateLimiterTest, AllowsTheBurstThenRefusesWithARetryHint) {
  SimulatedClock clock;
  RateLimiter limiter({/*qps=*/10, /*burst=*/3}, &clock);
  EXPECT_TRUE(limiter.Acquire("a").allowed);
  EXPECT_TRUE(limiter.Acquire("a").allowed);
  EXPECT_TRUE(limiter.Acquire("a").allowed);
  RateLimiter::Decision d = limiter.Acquire("a");
  EXPECT_FALSE(d.allowed);
  // One token at 10/s takes 100 ms.
  EXPECT_EQ(d.retry_after, absl::Milliseconds(100));

  clock.Advance(absl::Milliseconds(50));
  d = limiter.Acquire("a");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, absl::Milliseconds(50));

  // Waiting as long as the hint said is enough.
  clock.Advance(d.retry_after);
  EXPECT_TRUE(limiter.Acquire("a").allowed);
  EXPECT_FALSE(limiter.Acquire("a").allowed);
}

TEST(RateLimiterTest, KeysHaveSeparateBuckets) {
  SimulatedClock clock;
  RateLimiter limiter({/*qps=*/1, /*burst=*/1}, &clock);
  EXPECT_TRUE(limiter.Acquire("a").allowed);
  EXPECT_FALSE(limiter.Acquire("a").allowed);
  EXPECT_TRUE(limiter.Acquire("b").allowed);
  EXPECT_FALSE(limiter.Acquire("b").allowed);
}

TEST(RateLimiterTest, RefillIsCappedAtTheBurst) {
  SimulatedClock clock;
  RateLimiter limiter({/*qps=*/100, /*burst=*/5}, &clock);
  EXPECT_TRUE(limiter.Acquire("a").allowed);
  clock.Advance(absl::Hours(1));
  int allowed = 0;
  while (limiter.Acquire("a").allowed) ++allowed;
  EXPECT_EQ(allowed, 5);
}

TEST(RateLimiterTest, SustainedRateMatchesQps) {
  SimulatedClock clock;
  RateLimiter limiter({/*qps=*/20, /*burst=*/1}, &clock);
  int allowed = 0;
  // 10 simulated seconds, one attempt per millisecond.
  for (int ms = 0; ms < 10'000; ++ms) {
    if (limiter.Acquire("a").allowed) ++allowed;
    clock.Advance(absl::Milliseconds(1));
  }
  EXPECT_EQ(allowed, 200);
}

TEST(RateLimiterTest, BurstDefaultsToQps) {
  SimulatedClock clock;
  RateLimiter limiter({/*qps=*/4}, &clock);
  EXPECT_EQ(limiter.burst(), 4);
  RateLimiter slow({/*qps=*/0.5}, &clock);
  EXPECT_EQ(slow.burst(), 1);
}

TEST(RateLimiterTest, KeyMapIsBoundedAndFullBucketsGoFirst) {
  SimulatedClock clock;
  RateLimiter limiter({/*qps=*/1, /*burst=*/2, /*max_keys=*/100}, &clock);
  // "busy" spends its burst and stays refused across the flood below.
  EXPECT_TRUE(limiter.Acquire("busy").allowed);
  EXPECT_TRUE(limiter.Acquire("busy").allowed);
  EXPECT_FALSE(limiter.Acquire("busy").allowed);
  for (int i = 0; i < 10'000; ++i) {
    limiter.Acquire("flood-" + std::to_string(i));
    ASSERT_LE(limiter.tracked_keys(), 100u);
  }
  // The flood's buckets were all fresh (not full after one call), so the
  // oldest were evicted; "busy" was among the oldest and is gone now, which
  // is the documented worst case: a fresh burst.
  EXPECT_LE(limiter.tracked_keys(), 100u);

  // Full buckets are evicted before active ones: after a refill, a new key
  // evicts the idle ones, and the active key keeps its empty bucket.
  RateLimiter small({/*qps=*/1, /*burst=*/1, /*max_keys=*/3}, &clock);
  EXPECT_TRUE(small.Acquire("idle-1").allowed);
  EXPECT_TRUE(small.Acquire("idle-2").allowed);
  clock.Advance(absl::Seconds(5));  // idle-1, idle-2 are full again
  EXPECT_TRUE(small.Acquire("active").allowed);
  EXPECT_TRUE(small.Acquire("newcomer").allowed);  // map full: evicts idles
  EXPECT_EQ(small.tracked_keys(), 2u);
  EXPECT_FALSE(small.Acquire("active").allowed);  // still remembered
}

}  // namespace
}  // namespace booking
