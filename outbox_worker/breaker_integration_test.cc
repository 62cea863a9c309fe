// The per-provider circuit breaker with the real binaries: always_fail opens
// it after the threshold (the mock's call count stops growing), the rows keep
// their attempts, another provider keeps confirming, and once the mode is set
// back to immediate a probe after the wait closes it and the rows go through.
#include <csignal>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "outbox_worker/integration_harness.h"

namespace booking::testing {
namespace {

// Polls /metrics until `series` has `value` (bounded).
bool WaitForMetric(const std::string& addr, const std::string& series,
                   double value, const std::string& also = "",
                   double also_value = 0) {
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (absl::Now() < give_up) {
    absl::StatusOr<std::string> page = ScrapeMetrics(addr);
    if (page.ok() && MetricValue(*page, series) == value &&
        (also.empty() || MetricValue(*page, also) == also_value)) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

TEST(BreakerIntegration, OpensDefersWithoutAttemptsSparesOthersAndRecovers) {
  auto stack = Stack::Start("breaker", "b_down=always_fail,b_up=immediate",
                            {"b_down", "b_up"});
  ASSERT_OK(stack);
  Stack& s = **stack;
  auto worker =
      s.StartWorker("w1", {"--max_attempts=100", "--breaker_window=4",
                           "--breaker_min_calls=4",
                           "--breaker_failure_rate=0.5", "--breaker_wait=3s",
                           "--breaker_half_open_calls=1", "--metrics_port=0"});
  ASSERT_OK(worker);
  auto line = worker->WaitForLine("metrics on ", absl::Seconds(20));
  ASSERT_OK(line);
  const std::string metrics = line->substr(std::string("metrics on ").size());

  std::vector<std::string> down;
  for (int i = 0; i < 4; ++i) {
    auto id = s.Create("b_down", absl::StrCat("down-", i));
    ASSERT_OK(id);
    down.push_back(*id);
  }
  // OPEN, with no call still in flight.
  ASSERT_TRUE(WaitForMetric(metrics,
                            "outbox_breaker_state{provider=\"b_down\"}", 1,
                            "outbox_in_flight{worker=\"w1\"}", 0));
  auto before = s.Totals("b_down");
  ASSERT_OK(before);
  const int64_t calls_when_open = before->book_calls();
  EXPECT_GE(calls_when_open, 4);

  // Another provider is unaffected.
  auto up = s.Create("b_up", "up-1");
  ASSERT_OK(up);
  auto confirmed = s.WaitForTerminalOr(Appt::CONFIRMED, *up);
  ASSERT_OK(confirmed);
  EXPECT_EQ(confirmed->state(), Appt::CONFIRMED);

  // While OPEN: no new calls, rows waiting with the attempts they had.
  auto after = s.Totals("b_down");
  ASSERT_OK(after);
  EXPECT_EQ(after->book_calls(), calls_when_open);
  int attempts = 0;
  for (const std::string& id : down) {
    auto a = s.Get(id);
    ASSERT_OK(a);
    EXPECT_EQ(a->state(), Appt::PENDING) << id;
    EXPECT_LT(a->attempt_count(), 100);
    attempts += a->attempt_count();
  }
  EXPECT_EQ(attempts, calls_when_open);

  // Recovery: a probe after the wait closes the breaker.
  ASSERT_OK(s.SetMode("b_down", provider::v1::IMMEDIATE));
  for (const std::string& id : down) {
    auto a = s.WaitForTerminalOr(Appt::CONFIRMED, id);
    ASSERT_OK(a);
    EXPECT_EQ(a->state(), Appt::CONFIRMED) << id;
    auto k = s.KeyStats(id);
    ASSERT_OK(k);
    EXPECT_EQ(k->live_bookings(), 1);
  }
  EXPECT_TRUE(
      WaitForMetric(metrics, "outbox_breaker_state{provider=\"b_down\"}", 0));
  auto page = ScrapeMetrics(metrics);
  ASSERT_OK(page);
  EXPECT_EQ(MetricValue(*page,
                        "outbox_breaker_transitions_total{from=\"HALF_OPEN\","
                        "provider=\"b_down\",to=\"CLOSED\"}"),
            1);
  EXPECT_EQ(MetricValue(*page, "outbox_breaker_state{provider=\"b_up\"}"),
            std::nullopt);  // never changed state

  worker->Signal(SIGTERM);
  auto code = worker->Wait();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace booking::testing
