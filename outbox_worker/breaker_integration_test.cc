// The per-provider circuit breaker with the real binaries: always_fail opens
// it after the threshold (the mock's call count stops growing), the rows keep
// their attempts, another provider keeps confirming, and once the mode is set
// back to immediate a probe after the wait closes it and the rows go through.
//
// No step races the breaker's wait: the first worker waits in OPEN for ten
// minutes, so "no calls while OPEN" holds however slowly the checks run (ASan
// on a loaded machine). Recovery is shown by a second worker with a short
// wait, whose breaker opens on the same down provider; the mode is fixed only
// after its OPEN is seen on /metrics, so the CLOSED it reaches can only come
// from a HALF_OPEN probe.
#include <csignal>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "outbox_worker/integration_harness.h"

namespace booking::testing {
namespace {

// Polls /metrics (bounded) until `done(page)`.
bool WaitForMetrics(const std::string& addr,
                    const std::function<bool(const std::string&)>& done) {
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (absl::Now() < give_up) {
    absl::StatusOr<std::string> page = ScrapeMetrics(addr);
    if (page.ok() && done(*page)) return true;
    absl::SleepFor(absl::Milliseconds(5));  // poll interval, not a sync
  }
  return false;
}

std::string Transitions(const std::string& from, const std::string& to) {
  return absl::StrCat("outbox_breaker_transitions_total{from=\"", from,
                      "\",provider=\"b_down\",to=\"", to, "\"}");
}

const char kDownState[] = "outbox_breaker_state{provider=\"b_down\"}";

// Starts a worker whose breaker opens after four calls at 50 % failures and
// then waits `wait`; returns its metrics address.
std::string StartBreakerWorker(Stack& s, const std::string& label,
                               const std::string& wait,
                               std::optional<Subprocess>& out) {
  auto worker = s.StartWorker(
      label,
      {"--max_attempts=100", "--breaker_window=4", "--breaker_min_calls=4",
       "--breaker_failure_rate=0.5", "--breaker_wait=" + wait,
       "--breaker_half_open_calls=1", "--metrics_port=0"});
  EXPECT_OK(worker);
  if (!worker.ok()) return "";
  out.emplace(std::move(*worker));
  auto line = out->WaitForLine("metrics on ", absl::Seconds(20));
  EXPECT_OK(line);
  return line.ok() ? line->substr(std::string("metrics on ").size()) : "";
}

void StopWorker(Subprocess& w) {
  w.Signal(SIGTERM);
  auto code = w.Wait();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 0);
}

TEST(BreakerIntegration, OpensDefersWithoutAttemptsSparesOthersAndRecovers) {
  auto stack = Stack::Start("breaker", "b_down=always_fail,b_up=immediate",
                            {"b_down", "b_up"});
  ASSERT_OK(stack);
  Stack& s = **stack;
  std::optional<Subprocess> w1;
  const std::string metrics1 = StartBreakerWorker(s, "w1", "10m", w1);
  ASSERT_FALSE(metrics1.empty());

  std::vector<std::string> down;
  for (int i = 0; i < 4; ++i) {
    auto id = s.Create("b_down", absl::StrCat("down-", i));
    ASSERT_OK(id);
    down.push_back(*id);
  }
  // OPEN, with no call still in flight.
  ASSERT_TRUE(WaitForMetrics(metrics1, [](const std::string& page) {
    return MetricValue(page, kDownState) == 1 &&
           MetricValue(page, "outbox_in_flight{worker=\"w1\"}") == 0;
  }));
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
  auto page1 = ScrapeMetrics(metrics1);
  ASSERT_OK(page1);
  EXPECT_EQ(MetricValue(*page1, kDownState), 1);  // never left OPEN
  EXPECT_EQ(MetricValue(*page1, "outbox_breaker_state{provider=\"b_up\"}"),
            std::nullopt);  // never changed state
  ASSERT_NO_FATAL_FAILURE(StopWorker(*w1));

  // Recovery: a worker with a short wait opens on the still-down provider;
  // once the provider is fixed, a probe after the wait closes it.
  std::optional<Subprocess> w2;
  const std::string metrics2 = StartBreakerWorker(s, "w2", "200ms", w2);
  ASSERT_FALSE(metrics2.empty());
  ASSERT_TRUE(WaitForMetrics(metrics2, [](const std::string& page) {
    return MetricValue(page, Transitions("CLOSED", "OPEN")).value_or(0) >= 1;
  }));
  ASSERT_OK(s.SetMode("b_down", provider::v1::IMMEDIATE));
  for (const std::string& id : down) {
    auto a = s.WaitForTerminalOr(Appt::CONFIRMED, id);
    ASSERT_OK(a);
    EXPECT_EQ(a->state(), Appt::CONFIRMED) << id;
    auto k = s.KeyStats(id);
    ASSERT_OK(k);
    EXPECT_EQ(k->live_bookings(), 1);
  }
  EXPECT_TRUE(WaitForMetrics(metrics2, [](const std::string& page) {
    return MetricValue(page, kDownState) == 0 &&
           MetricValue(page, Transitions("HALF_OPEN", "CLOSED")).value_or(0) >=
               1;
  }));
  ASSERT_NO_FATAL_FAILURE(StopWorker(*w2));
}

}  // namespace
}  // namespace booking::testing
