#include "core/resilience/circuit_breaker.h"

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/common/clock.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using State = CircuitBreaker::State;
using ::booking::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Pair;

constexpr absl::Duration kFast = absl::Milliseconds(10);
constexpr absl::Duration kSlow = absl::Seconds(3);

CircuitBreakerConfig Config() {
  CircuitBreakerConfig c;
  c.window_size = 10;
  c.minimum_calls = 4;
  c.failure_rate_threshold = 0.5;
  c.slow_call_rate_threshold = 0.75;
  c.slow_call_duration = absl::Seconds(1);
  c.wait_in_open = absl::Seconds(30);
  c.permitted_calls_in_half_open = 2;
  return c;
}

// Runs one call through the breaker; returns false if it was refused.
bool Call(CircuitBreaker& cb, bool fail, absl::Duration elapsed = kFast) {
  if (!cb.TryAcquirePermission()) return false;
  if (fail) {
    cb.OnFailure(elapsed);
  } else {
    cb.OnSuccess(elapsed);
  }
  return true;
}

class CircuitBreakerTest : public ::testing::Test {
 protected:
  CircuitBreakerTest() : cb_("prov-a", Config(), &clock_) {
    cb_.SetListener(
        [this](State from, State to) { transitions_.emplace_back(from, to); });
  }

  void Open() {
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(Call(cb_, /*fail=*/true));
    ASSERT_EQ(cb_.state(), State::kOpen);
  }

  SimulatedClock clock_;
  CircuitBreaker cb_;
  std::vector<std::pair<State, State>> transitions_;
};

TEST_F(CircuitBreakerTest, StaysClosedBelowMinimumCallsEvenIfAllFail) {
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Call(cb_, /*fail=*/true));
  EXPECT_EQ(cb_.state(), State::kClosed);
  EXPECT_TRUE(cb_.TryAcquirePermission());
  EXPECT_TRUE(transitions_.empty());
}

TEST_F(CircuitBreakerTest, OpensWhenFailureRateReachesThreshold) {
  // 3 successes + 2 failures = 40%: stays closed. One more failure: 3/6=50%.
  for (int i = 0; i < 3; ++i) Call(cb_, /*fail=*/false);
  Call(cb_, /*fail=*/true);
  Call(cb_, /*fail=*/true);
  EXPECT_EQ(cb_.state(), State::kClosed);
  Call(cb_, /*fail=*/true);
  EXPECT_EQ(cb_.state(), State::kOpen);
  EXPECT_EQ(cb_.open_until(), clock_.Now() + absl::Seconds(30));
}

TEST_F(CircuitBreakerTest, OnlyTheLastWindowSizeCallsCount) {
  // 10 successes, then failures: after 5 failures the 10-call window holds
  // 5 failures (50%) and opens, though over all 15 calls it is only 33%.
  for (int i = 0; i < 10; ++i) Call(cb_, false);
  for (int i = 0; i < 4; ++i) Call(cb_, true);
  EXPECT_EQ(cb_.state(), State::kClosed);
  Call(cb_, true);
  EXPECT_EQ(cb_.state(), State::kOpen);
}

TEST_F(CircuitBreakerTest, OpensOnSlowCallsEvenWhenTheySucceed) {
  // Threshold 75%: 3 slow of 4 opens it. Exactly slow_call_duration is not
  // slow (strictly longer is).
  Call(cb_, false, absl::Seconds(1));
  Call(cb_, false, kSlow);
  Call(cb_, false, kSlow);
  EXPECT_EQ(cb_.state(), State::kClosed);
  Call(cb_, false, kSlow);
  EXPECT_EQ(cb_.state(), State::kOpen);
}

TEST_F(CircuitBreakerTest, OpenRefusesPermission) {
  Open();
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(cb_.TryAcquirePermission());
  EXPECT_EQ(cb_.state(), State::kOpen);
}

TEST_F(CircuitBreakerTest, HalfOpensOnlyAfterTheFullWait) {
  Open();
  clock_.Advance(absl::Seconds(30) - absl::Milliseconds(1));
  EXPECT_FALSE(cb_.TryAcquirePermission());
  EXPECT_EQ(cb_.state(), State::kOpen);
  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(cb_.state(), State::kHalfOpen);
  EXPECT_EQ(cb_.open_until(), absl::InfinitePast());
}

TEST_F(CircuitBreakerTest, HalfOpenIsReachedLazilyByTryAcquirePermission) {
  Open();
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(cb_.TryAcquirePermission());
  EXPECT_EQ(cb_.state(), State::kHalfOpen);
}

TEST_F(CircuitBreakerTest, HalfOpenAdmitsExactlyThePermittedProbes) {
  Open();
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(cb_.TryAcquirePermission());
  EXPECT_TRUE(cb_.TryAcquirePermission());
  EXPECT_FALSE(cb_.TryAcquirePermission());
  EXPECT_FALSE(cb_.TryAcquirePermission());
  // Still waiting for the two probes to finish.
  EXPECT_EQ(cb_.state(), State::kHalfOpen);
}

TEST_F(CircuitBreakerTest, ConcurrentCallersShareTheProbeBudget) {
  Open();
  clock_.Advance(absl::Seconds(30));
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (cb_.TryAcquirePermission()) granted.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(granted.load(), 2);
  EXPECT_THAT(transitions_, ElementsAre(Pair(State::kClosed, State::kOpen),
                                        Pair(State::kOpen, State::kHalfOpen)));
}

TEST_F(CircuitBreakerTest, ReleasedProbeSlotCanBeReused) {
  Open();
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(cb_.TryAcquirePermission());
  EXPECT_TRUE(cb_.TryAcquirePermission());
  cb_.ReleasePermission();
  EXPECT_TRUE(cb_.TryAcquirePermission());
  EXPECT_FALSE(cb_.TryAcquirePermission());
}

TEST_F(CircuitBreakerTest, SuccessfulProbesCloseWithAClearedWindow) {
  Open();
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(cb_.TryAcquirePermission());
  ASSERT_TRUE(cb_.TryAcquirePermission());
  cb_.OnSuccess(kFast);
  EXPECT_EQ(cb_.state(), State::kHalfOpen);
  cb_.OnSuccess(kFast);
  EXPECT_EQ(cb_.state(), State::kClosed);
  // The failures that opened it are gone: 3 new failures (below minimum
  // calls) do not reopen it.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Call(cb_, true));
  EXPECT_EQ(cb_.state(), State::kClosed);
}

TEST_F(CircuitBreakerTest, FailedProbeReopensWithAFreshWait) {
  Open();
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(cb_.TryAcquirePermission());
  ASSERT_TRUE(cb_.TryAcquirePermission());
  cb_.OnSuccess(kFast);
  clock_.Advance(absl::Seconds(5));
  cb_.OnFailure(kFast);  // 1 of 2 probes failed = 50% >= threshold.
  EXPECT_EQ(cb_.state(), State::kOpen);
  EXPECT_EQ(cb_.open_until(), clock_.Now() + absl::Seconds(30));
  clock_.Advance(absl::Seconds(29));
  EXPECT_FALSE(cb_.TryAcquirePermission());
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(cb_.TryAcquirePermission());
}

TEST_F(CircuitBreakerTest, SlowProbesReopen) {
  Open();
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(cb_.TryAcquirePermission());
  ASSERT_TRUE(cb_.TryAcquirePermission());
  cb_.OnSuccess(kSlow);
  cb_.OnSuccess(kSlow);
  EXPECT_EQ(cb_.state(), State::kOpen);
}

TEST_F(CircuitBreakerTest, StragglerFromClosedPeriodDoesNotDecideProbes) {
  // A call admitted while CLOSED finishes after the breaker half-opened; it
  // is not one of the probes and must not close the breaker.
  ASSERT_TRUE(cb_.TryAcquirePermission());  // The straggler.
  for (int i = 0; i < 4; ++i) Call(cb_, true);
  ASSERT_EQ(cb_.state(), State::kOpen);
  clock_.Advance(absl::Seconds(30));
  ASSERT_EQ(cb_.state(), State::kHalfOpen);
  cb_.OnSuccess(kFast);  // Straggler reports: no probe outstanding, ignored.
  ASSERT_TRUE(cb_.TryAcquirePermission());
  ASSERT_TRUE(cb_.TryAcquirePermission());
  cb_.OnFailure(kFast);
  cb_.OnFailure(kFast);
  EXPECT_EQ(cb_.state(), State::kOpen);
}

TEST_F(CircuitBreakerTest, ListenerSeesEveryTransitionInOrder) {
  Open();
  clock_.Advance(absl::Seconds(30));
  Call(cb_, true);  // Two failing probes: back to OPEN.
  Call(cb_, true);
  ASSERT_EQ(cb_.state(), State::kOpen);
  clock_.Advance(absl::Seconds(30));
  Call(cb_, false);
  Call(cb_, false);
  ASSERT_EQ(cb_.state(), State::kClosed);
  EXPECT_THAT(transitions_,
              ElementsAre(Pair(State::kClosed, State::kOpen),
                          Pair(State::kOpen, State::kHalfOpen),
                          Pair(State::kHalfOpen, State::kOpen),
                          Pair(State::kOpen, State::kHalfOpen),
                          Pair(State::kHalfOpen, State::kClosed)));
}

TEST_F(CircuitBreakerTest, ListenerMayCallBackIntoTheBreaker) {
  std::vector<State> seen;
  cb_.SetListener([&](State, State) { seen.push_back(cb_.state()); });
  Open();
  EXPECT_THAT(seen, ElementsAre(State::kOpen));
}

TEST(CircuitBreakerStateNameTest, Names) {
  EXPECT_EQ(CircuitBreaker::StateName(State::kClosed), "CLOSED");
  EXPECT_EQ(CircuitBreaker::StateName(State::kOpen), "OPEN");
  EXPECT_EQ(CircuitBreaker::StateName(State::kHalfOpen), "HALF_OPEN");
}

TEST(CircuitBreakerConfigTest, ValidationNamesTheField) {
  EXPECT_OK(ValidateCircuitBreakerConfig(Config()));
  CircuitBreakerConfig c = Config();
  c.minimum_calls = 11;
  EXPECT_THAT(ValidateCircuitBreakerConfig(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("minimum_calls")));
  c = Config();
  c.failure_rate_threshold = 0;
  EXPECT_THAT(ValidateCircuitBreakerConfig(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("failure_rate_threshold")));
  c = Config();
  c.permitted_calls_in_half_open = 0;
  EXPECT_THAT(ValidateCircuitBreakerConfig(c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("permitted_calls_in_half_open")));
}

TEST(CircuitBreakerRegistryTest, IsolatesProvidersAndSharesTheListener) {
  SimulatedClock clock;
  std::vector<std::string> log;
  CircuitBreakerRegistry registry(
      Config(), &clock, [&](const std::string& id, State from, State to) {
        log.push_back(absl::StrCat(id, ":", CircuitBreaker::StateName(from),
                                   "->", CircuitBreaker::StateName(to)));
      });
  CircuitBreaker* a = registry.Get("prov-a");
  CircuitBreaker* b = registry.Get("prov-b");
  ASSERT_NE(a, b);
  EXPECT_EQ(registry.Get("prov-a"), a);
  EXPECT_EQ(a->name(), "prov-a");

  for (int i = 0; i < 4; ++i) Call(*a, /*fail=*/true);
  EXPECT_EQ(a->state(), State::kOpen);
  EXPECT_EQ(b->state(), State::kClosed);
  EXPECT_TRUE(b->TryAcquirePermission());
  b->OnSuccess(kFast);
  EXPECT_THAT(log, ElementsAre("prov-a:CLOSED->OPEN"));
  EXPECT_THAT(registry.All(), ElementsAre(a, b));
}

}  // namespace
}  // namespace booking
