#include "core/resilience/backoff.h"

#include <vector>

#include "gtest/gtest.h"

namespace booking {
namespace {

BackoffPolicy Policy() {
  BackoffPolicy p;
  p.base = absl::Milliseconds(100);
  p.cap = absl::Seconds(10);
  p.max_attempts = 5;
  return p;
}

std::vector<absl::Duration> Draw(Backoff& b, int n) {
  std::vector<absl::Duration> out;
  for (int i = 0; i < n; ++i) out.push_back(b.Delay(i % 12));
  return out;
}

TEST(BackoffTest, SameSeedReplaysTheSameDelays) {
  Backoff a(Policy(), 42);
  Backoff b(Policy(), 42);
  Backoff c(Policy(), 43);
  const auto da = Draw(a, 50);
  EXPECT_EQ(da, Draw(b, 50));
  EXPECT_NE(da, Draw(c, 50));
}

TEST(BackoffTest, BoundDoublesUntilTheCap) {
  Backoff b(Policy(), 1);
  EXPECT_EQ(b.Bound(0), absl::Milliseconds(100));
  EXPECT_EQ(b.Bound(1), absl::Milliseconds(200));
  EXPECT_EQ(b.Bound(3), absl::Milliseconds(800));
  EXPECT_EQ(b.Bound(6), absl::Milliseconds(6400));
  EXPECT_EQ(b.Bound(7), absl::Seconds(10));
  EXPECT_EQ(b.Bound(-3), absl::Milliseconds(100));
}

TEST(BackoffTest, EveryDelayIsWithinZeroAndItsBound) {
  Backoff b(Policy(), 7);
  for (int round = 0; round < 200; ++round) {
    for (int n = 0; n < 12; ++n) {
      const absl::Duration d = b.Delay(n);
      EXPECT_GE(d, absl::ZeroDuration()) << "n=" << n;
      EXPECT_LT(d, b.Bound(n)) << "n=" << n;
    }
  }
}

TEST(BackoffTest, HugeAttemptNumbersAreCappedWithoutOverflow) {
  Backoff b(Policy(), 9);
  for (int n : {62, 63, 64, 100, 1'000, 1'000'000'000}) {
    EXPECT_EQ(b.Bound(n), absl::Seconds(10)) << "n=" << n;
    const absl::Duration d = b.Delay(n);
    EXPECT_GE(d, absl::ZeroDuration());
    EXPECT_LT(d, absl::Seconds(10));
  }
}

TEST(BackoffTest, ZeroBaseMeansNoDelay) {
  BackoffPolicy p = Policy();
  p.base = absl::ZeroDuration();
  Backoff b(p, 1);
  EXPECT_EQ(b.Delay(0), absl::ZeroDuration());
  EXPECT_EQ(b.Delay(100), absl::ZeroDuration());
}

TEST(BackoffTest, JitterIsSpreadOverTheWholeWindow) {
  // Seeded, so this cannot flake; the bounds are loose enough that any
  // reasonable uniform generator passes while a constant or a "cap * 0.99"
  // implementation fails.
  Backoff b(Policy(), 2024);
  const absl::Duration bound = b.Bound(10);  // The cap: 10 s.
  double sum = 0;
  int below_quarter = 0;
  int above_three_quarters = 0;
  constexpr int kDraws = 1000;
  for (int i = 0; i < kDraws; ++i) {
    const double frac = absl::FDivDuration(b.Delay(10), bound);
    sum += frac;
    if (frac < 0.25) ++below_quarter;
    if (frac > 0.75) ++above_three_quarters;
  }
  const double mean = sum / kDraws;
  EXPECT_GT(mean, 0.4);
  EXPECT_LT(mean, 0.6);
  EXPECT_GT(below_quarter, 150);
  EXPECT_GT(above_three_quarters, 150);
}

TEST(BackoffTest, ExhaustedAfterMaxAttempts) {
  Backoff b(Policy(), 1);  // max_attempts = 5
  EXPECT_FALSE(b.ExhaustedAfter(0));
  EXPECT_FALSE(b.ExhaustedAfter(4));
  EXPECT_TRUE(b.ExhaustedAfter(5));
  EXPECT_TRUE(b.ExhaustedAfter(6));
}

TEST(WithRetryAfterTest, HintWinsWhenLarger) {
  EXPECT_EQ(WithRetryAfter(absl::Milliseconds(300), absl::Seconds(2)),
            absl::Seconds(2));
}

TEST(WithRetryAfterTest, JitterWinsWhenLargerOrNoHint) {
  EXPECT_EQ(WithRetryAfter(absl::Seconds(3), absl::Seconds(2)),
            absl::Seconds(3));
  EXPECT_EQ(WithRetryAfter(absl::Seconds(3), std::nullopt), absl::Seconds(3));
}

}  // namespace
}  // namespace booking
