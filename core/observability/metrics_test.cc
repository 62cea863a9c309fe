#include "core/observability/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, CounterRendersWithHelpTypeAndLabels) {
  MetricsRegistry r;
  Counter* ok = r.GetCounter("requests_total", "Requests by method and code.",
                             {{"method", "Create"}, {"code", "OK"}});
  Counter* bad = r.GetCounter("requests_total", "ignored",
                              {{"method", "Create"}, {"code", "INVALID"}});
  ok->Increment();
  ok->Increment(2);
  bad->Increment();
  bad->Increment(-5);  // Counters never go down.
  EXPECT_EQ(r.GetCounter("requests_total", "",
                         {{"code", "OK"}, {"method", "Create"}}),
            ok);
  EXPECT_EQ(r.RenderPrometheusText(),
            "# HELP requests_total Requests by method and code.\n"
            "# TYPE requests_total counter\n"
            "requests_total{code=\"INVALID\",method=\"Create\"} 1\n"
            "requests_total{code=\"OK\",method=\"Create\"} 3\n");
}

TEST(MetricsTest, GaugeSetAndAdd) {
  MetricsRegistry r;
  Gauge* g = r.GetGauge("breaker_state", "0 closed, 1 open, 2 half-open.",
                        {{"provider_id", "p1"}});
  g->Set(2);
  g->Add(-1.5);
  EXPECT_EQ(g->Value(), 0.5);
  EXPECT_THAT(r.RenderPrometheusText(),
              HasSubstr("# TYPE breaker_state gauge\n"
                        "breaker_state{provider_id=\"p1\"} 0.5\n"));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricsRegistry r;
  Histogram* h = r.GetHistogram("latency_seconds", "Latency.", {},
                                {0.25, 1, 0.5});  // Sorted on creation.
  // Exactly representable values, so the sum is exact; 0.25 is "<= 0.25".
  for (double v : {0.125, 0.25, 0.375, 0.75, 2.0}) h->Observe(v);
  EXPECT_EQ(r.RenderPrometheusText(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{le=\"0.25\"} 2\n"
            "latency_seconds_bucket{le=\"0.5\"} 3\n"
            "latency_seconds_bucket{le=\"1\"} 4\n"
            "latency_seconds_bucket{le=\"+Inf\"} 5\n"
            "latency_seconds_sum 3.5\n"
            "latency_seconds_count 5\n");
}

TEST(MetricsTest, DefaultLatencyBucketsSpanHalfAMillisecondToTenSeconds) {
  const std::vector<double> b = DefaultLatencyBuckets();
  EXPECT_EQ(b.front(), 0.0005);
  EXPECT_EQ(b.back(), 10);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  MetricsRegistry r;
  r.GetHistogram("h", "h", {{"method", "Get"}})->Observe(0.0005);
  EXPECT_THAT(r.RenderPrometheusText(),
              HasSubstr("h_bucket{method=\"Get\",le=\"0.0005\"} 1\n"));
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry r;
  r.GetCounter("c", "line1\nback\\slash", {{"v", "a\"b\\c\nd"}})->Increment();
  EXPECT_EQ(r.RenderPrometheusText(),
            "# HELP c line1\\nback\\\\slash\n"
            "# TYPE c counter\n"
            "c{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsTest, InvalidNamesAreSanitized) {
  MetricsRegistry r;
  r.GetCounter("outbox.attempts-total", "x", {{"provider-id", "p"}})
      ->Increment();
  r.GetGauge("9lives", "x")->Set(1);
  const std::string text = r.RenderPrometheusText();
  EXPECT_THAT(text, HasSubstr("outbox_attempts_total{provider_id=\"p\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("_9lives 1\n"));
}

TEST(MetricsTest, TypeClashReturnsAWorkingButUnexportedMetric) {
  MetricsRegistry r;
  r.GetCounter("x", "a counter")->Increment();
  Gauge* g = r.GetGauge("x", "a gauge");
  ASSERT_NE(g, nullptr);
  g->Set(42);
  const std::string text = r.RenderPrometheusText();
  EXPECT_THAT(text, HasSubstr("# TYPE x counter\nx 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("42")));
}

TEST(MetricsTest, CallbackGaugesAreComputedAtScrapeTime) {
  MetricsRegistry r;
  double depth = 3;
  r.AddCallbackGauge("outbox_depth", "Rows by status.", {{"status", "due"}},
                     [&] { return depth; });
  EXPECT_THAT(r.RenderPrometheusText(),
              HasSubstr("outbox_depth{status=\"due\"} 3\n"));
  depth = 7;
  EXPECT_THAT(r.RenderPrometheusText(),
              HasSubstr("outbox_depth{status=\"due\"} 7\n"));
  r.RemoveCallbackGauge("outbox_depth", {{"status", "due"}});
  EXPECT_THAT(r.RenderPrometheusText(), Not(HasSubstr("outbox_depth")));
}

TEST(MetricsTest, CallbackMayUseTheRegistry) {
  MetricsRegistry r;
  r.AddCallbackGauge("g", "g", {}, [&] {
    r.GetCounter("scrapes_total", "Scrapes.")->Increment();
    return 1.0;
  });
  // No deadlock; the counter created mid-scrape shows from the next scrape.
  r.RenderPrometheusText();
  r.RenderPrometheusText();
  EXPECT_EQ(r.GetCounter("scrapes_total", "Scrapes.")->Value(), 2);
}

TEST(MetricsTest, SpecialValues) {
  MetricsRegistry r;
  r.GetGauge("a", "a")->Set(std::numeric_limits<double>::infinity());
  r.GetGauge("b", "b")->Set(-std::numeric_limits<double>::infinity());
  r.GetGauge("c", "c")->Set(std::nan(""));
  r.GetGauge("d", "d")->Set(1e21);
  r.GetGauge("e", "e")->Set(1500000);
  r.GetGauge("f", "f")->Set(0.00001);
  const std::string text = r.RenderPrometheusText();
  EXPECT_THAT(text, HasSubstr("\na +Inf\n"));
  EXPECT_THAT(text, HasSubstr("\nb -Inf\n"));
  EXPECT_THAT(text, HasSubstr("\nc NaN\n"));
  EXPECT_THAT(text, HasSubstr("\nd 1e+21\n"));
  EXPECT_THAT(text, HasSubstr("\ne 1500000\n"));
  EXPECT_THAT(text, HasSubstr("\nf 1e-05\n"));
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry r;
  Counter* c = r.GetCounter("c_total", "c");
  Gauge* g = r.GetGauge("g", "g");
  Histogram* h = r.GetHistogram("h", "h", {}, {1});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        c->Increment();
        g->Add(1);
        h->Observe(i % 2 == 0 ? 0.5 : 2);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(c->Value(), kThreads * kPerThread);
  EXPECT_EQ(g->Value(), kThreads * kPerThread);
  const Histogram::Snapshot s = h->Snap();
  EXPECT_EQ(s.count, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(s.cumulative[0], uint64_t{kThreads * kPerThread / 2});
  EXPECT_EQ(s.sum, kThreads * kPerThread / 2 * 2.5);
}

TEST(MetricsTest, DefaultRegistryIsOneInstance) {
  EXPECT_EQ(&DefaultRegistry(), &DefaultRegistry());
}

}  // namespace
}  // namespace booking
