#include "core/observability/metrics_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"

namespace booking {
namespace {

using ::booking::testing::StatusIs;
using ::testing::HasSubstr;

// A tiny parser for the text exposition format: enough to check what a
// Prometheus server would read. Samples are keyed by "name{labels}" exactly
// as rendered; HELP and TYPE lines are collected per family.
struct Exposition {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> help;
  std::map<std::string, std::string> type;
};

::testing::AssertionResult Parse(const std::string& text, Exposition* out) {
  std::istringstream in(text);
  for (std::string text_line; std::getline(in, text_line);) {
    absl::string_view line = text_line;
    if (line.empty()) continue;
    if (absl::ConsumePrefix(&line, "# HELP ")) {
      std::pair<std::string, std::string> kv =
          absl::StrSplit(line, absl::MaxSplits(' ', 1));
      out->help[kv.first] = kv.second;
      continue;
    }
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::pair<std::string, std::string> kv =
          absl::StrSplit(line, absl::MaxSplits(' ', 1));
      out->type[kv.first] = kv.second;
      continue;
    }
    if (line[0] == '#') continue;
    // name{labels} value: the value follows the last space (label values in
    // this test have no spaces).
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) {
      return ::testing::AssertionFailure() << "no value: " << line;
    }
    const std::string series(line.substr(0, space));
    const std::string value(line.substr(space + 1));
    double v;
    if (value == "+Inf") {
      v = std::numeric_limits<double>::infinity();
    } else if (!absl::SimpleAtod(value, &v)) {
      return ::testing::AssertionFailure() << "bad value: " << line;
    }
    if (!out->samples.emplace(series, v).second) {
      return ::testing::AssertionFailure() << "duplicate series: " << line;
    }
  }
  return ::testing::AssertionSuccess();
}

class MetricsHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = MetricsHttpServer::Start("127.0.0.1", 0, &registry_);
    ASSERT_OK(server);
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
  }

  httplib::Result Get(const std::string& path) {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_connection_timeout(5);
    client.set_read_timeout(5);
    return client.Get(path.c_str());
  }

  MetricsRegistry registry_;
  std::unique_ptr<MetricsHttpServer> server_;
};

TEST_F(MetricsHttpServerTest, ServesCountersGaugesAndHistograms) {
  registry_
      .GetCounter("booking_requests_total", "Requests by method and code.",
                  {{"method", "CreateAppointment"}, {"code", "OK"}})
      ->Increment(3);
  registry_
      .GetGauge("breaker_state", "Breaker state.", {{"provider_id", "p1"}})
      ->Set(1);
  registry_.AddCallbackGauge("outbox_depth", "Outbox rows by status.",
                             {{"status", "pending"}}, [] { return 12.0; });
  Histogram* h =
      registry_.GetHistogram("provider_call_seconds", "Provider call latency.",
                             {{"provider_id", "p1"}});
  for (double v : {0.0004, 0.003, 0.003, 0.2, 30.0}) h->Observe(v);

  httplib::Result res = Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");

  Exposition e;
  ASSERT_TRUE(Parse(res->body, &e)) << res->body;
  EXPECT_EQ(e.type["booking_requests_total"], "counter");
  EXPECT_EQ(e.help["booking_requests_total"], "Requests by method and code.");
  EXPECT_EQ(e.type["breaker_state"], "gauge");
  EXPECT_EQ(e.type["outbox_depth"], "gauge");
  EXPECT_EQ(e.type["provider_call_seconds"], "histogram");

  EXPECT_EQ(e.samples["booking_requests_total{code=\"OK\",method="
                      "\"CreateAppointment\"}"],
            3);
  EXPECT_EQ(e.samples["breaker_state{provider_id=\"p1\"}"], 1);
  EXPECT_EQ(e.samples["outbox_depth{status=\"pending\"}"], 12);

  const auto bucket = [&](const std::string& le) {
    const std::string key =
        "provider_call_seconds_bucket{provider_id=\"p1\",le=\"" + le + "\"}";
    EXPECT_EQ(e.samples.count(key), 1u) << key;
    return e.samples[key];
  };
  EXPECT_EQ(bucket("0.0005"), 1);
  EXPECT_EQ(bucket("0.001"), 1);
  EXPECT_EQ(bucket("0.0025"), 1);
  EXPECT_EQ(bucket("0.005"), 3);
  EXPECT_EQ(bucket("0.1"), 3);
  EXPECT_EQ(bucket("0.25"), 4);
  EXPECT_EQ(bucket("10"), 4);
  EXPECT_EQ(bucket("+Inf"), 5);
  EXPECT_EQ(e.samples["provider_call_seconds_count{provider_id=\"p1\"}"], 5);
  EXPECT_NEAR(e.samples["provider_call_seconds_sum{provider_id=\"p1\"}"],
              30.2064, 1e-9);

  // Cumulative: never decreasing across all buckets of the series.
  double previous = 0;
  for (const char* le :
       {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
        "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}) {
    EXPECT_GE(bucket(le), previous) << le;
    previous = bucket(le);
  }
}

TEST_F(MetricsHttpServerTest, ScrapesSeeNewValues) {
  Counter* c = registry_.GetCounter("ticks_total", "Ticks.");
  Exposition before;
  ASSERT_TRUE(Parse(Get("/metrics")->body, &before));
  c->Increment(5);
  Exposition after;
  ASSERT_TRUE(Parse(Get("/metrics")->body, &after));
  EXPECT_EQ(before.samples["ticks_total"], 0);
  EXPECT_EQ(after.samples["ticks_total"], 5);
}

TEST_F(MetricsHttpServerTest, HealthzIsOk) {
  httplib::Result res = Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok\n");
}

TEST_F(MetricsHttpServerTest, UnknownPathIs404) {
  httplib::Result res = Get("/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(MetricsHttpServerTest, StopIsCleanAndIdempotent) {
  const int port = server_->port();
  server_->Stop();
  server_->Stop();
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  EXPECT_FALSE(client.Get("/healthz"));
  server_.reset();  // Destructor after Stop() is fine too.
}

TEST(MetricsHttpServerStartTest, StopRightAfterStartDoesNotHang) {
  MetricsRegistry registry;
  for (int i = 0; i < 20; ++i) {
    auto server = MetricsHttpServer::Start("127.0.0.1", 0, &registry);
    ASSERT_OK(server);
    (*server)->Stop();
  }
}

TEST(MetricsHttpServerStartTest, PortInUseIsAClearError) {
  // Hold a port with a plain listening socket.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);

  MetricsRegistry registry;
  auto server = MetricsHttpServer::Start("127.0.0.1", port, &registry);
  EXPECT_THAT(server, StatusIs(absl::StatusCode::kUnavailable,
                               HasSubstr(absl::StrCat("127.0.0.1:", port))));
  close(fd);
}

TEST(MetricsHttpServerStartTest, SecondServerOnTheSamePortFails) {
  MetricsRegistry registry;
  auto first = MetricsHttpServer::Start("127.0.0.1", 0, &registry);
  ASSERT_OK(first);
  auto second =
      MetricsHttpServer::Start("127.0.0.1", (*first)->port(), &registry);
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kUnavailable));
}

TEST(MetricsHttpServerStartTest, BadPortOrHostIsAnError) {
  MetricsRegistry registry;
  EXPECT_THAT(MetricsHttpServer::Start("127.0.0.1", 70000, &registry),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // TEST-NET-1: not an address of this machine (and no DNS lookup).
  EXPECT_THAT(MetricsHttpServer::Start("192.0.2.1", 0, &registry),
              StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace booking
