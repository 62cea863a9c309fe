#include "core/grpc/server_runtime.h"

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/health_check_service_interface.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using ::booking::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParseHostPortTest, AcceptsHostAndPort) {
  auto hp = ParseHostPort("127.0.0.1:50051");
  ASSERT_OK(hp);
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 50051);
  auto v6 = ParseHostPort("[::1]:0");
  ASSERT_OK(v6);
  EXPECT_EQ(v6->host, "[::1]");
  EXPECT_EQ(v6->port, 0);
}

TEST(ParseHostPortTest, RefusesMalformedAddresses) {
  EXPECT_THAT(ParseHostPort("localhost"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must be HOST:PORT")));
  EXPECT_THAT(ParseHostPort("localhost:99999"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("port must be 0..65535")));
  EXPECT_THAT(ParseHostPort(":80"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(StartGrpcServerTest, PortZeroPicksAFreePortAndServesHealth) {
  auto started = StartGrpcServer({});
  ASSERT_OK(started);
  EXPECT_GT(started->bound.port, 0);
  EXPECT_NE(started->server->GetHealthCheckService(), nullptr);
  DrainAndShutdown(started->server.get(), absl::Milliseconds(100));
}

TEST(StartGrpcServerTest, BusyPortIsAClearError) {
  auto first = StartGrpcServer({});
  ASSERT_OK(first);
  GrpcServerOptions options;
  options.listen_address = "127.0.0.1:" + std::to_string(first->bound.port);
  EXPECT_THAT(
      StartGrpcServer(options),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot listen on")));
  DrainAndShutdown(first->server.get(), absl::Milliseconds(100));
}

}  // namespace
}  // namespace booking
