#include "Shared/runner/clients.h"

#include "gtest/gtest.h"

namespace booking::scenarios {
namespace {

constexpr char kPage[] =
    R"(# HELP outbox_breaker_state Circuit breaker per provider
# TYPE outbox_breaker_state gauge
outbox_breaker_state{provider="case-breaker"} 0
outbox_breaker_state{provider="case-ghost"} 1
outbox_breaker_transitions_total{from="CLOSED",provider="case-breaker",to="OPEN"} 1
outbox_breaker_transitions_total{from="HALF_OPEN",provider="case-breaker",to="OPEN"} 2
outbox_breaker_transitions_total{from="HALF_OPEN",provider="case-breaker",to="CLOSED"} 1
outbox_retries_total 21
outbox_delivery_seconds_bucket{command="BOOK",le="+Inf"} 7
garbage line without value
)";

TEST(MetricsTest, ParsesSamplesWithAndWithoutLabels) {
  std::vector<MetricSample> s = ParseMetrics(kPage);
  ASSERT_EQ(s.size(), 7u);
  EXPECT_EQ(s[0].name, "outbox_breaker_state");
  EXPECT_EQ(s[0].labels.at("provider"), "case-breaker");
  EXPECT_EQ(s[5].name, "outbox_retries_total");
  EXPECT_TRUE(s[5].labels.empty());
  EXPECT_EQ(s[5].value, 21);
  EXPECT_EQ(s[6].labels.at("le"), "+Inf");
}

TEST(MetricsTest, SumsAndLooksUp) {
  std::vector<MetricSample> s = ParseMetrics(kPage);
  EXPECT_EQ(SumMetric(s, "outbox_breaker_transitions_total",
                      {{"provider", "case-breaker"}, {"to", "OPEN"}}),
            3);
  EXPECT_EQ(SumMetric(s, "outbox_breaker_transitions_total"), 4);
  EXPECT_EQ(SumMetric(s, "outbox_missing"), 0);
  EXPECT_EQ(
      MetricValue(s, "outbox_breaker_state", {{"provider", "case-ghost"}}), 1);
  EXPECT_EQ(MetricValue(s, "outbox_breaker_state", {{"provider", "nope"}}),
            std::nullopt);
}

TEST(LiveStatusTest, ConfirmedAndPendingAreLive) {
  EXPECT_TRUE(IsLiveStatus(provider::v1::Booking::CONFIRMED));
  EXPECT_TRUE(IsLiveStatus(provider::v1::Booking::PENDING));
  EXPECT_FALSE(IsLiveStatus(provider::v1::Booking::DECLINED));
  EXPECT_FALSE(IsLiveStatus(provider::v1::Booking::CANCELLED));
}

}  // namespace
}  // namespace booking::scenarios
