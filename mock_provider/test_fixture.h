#ifndef MOCK_PROVIDER_TEST_FIXTURE_H_
#define MOCK_PROVIDER_TEST_FIXTURE_H_

// A mock provider started in-process on 127.0.0.1:0 with a SimulatedClock,
// and a real gRPC client (TCP channel, typed stubs) to drive it.

#include <map>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "core/common/clock.h"
#include "core/common/time_util.h"
#include "core/grpc/status_conversion.h"
#include "core/testing/status_matchers.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "mock_provider/mock_server.h"
#include "proto/provider/v1/provider.grpc.pb.h"

namespace booking::mock::testing {

using ::provider::v1::Booking;
using ::provider::v1::BookRequest;
using ::provider::v1::KeyStats;
using ::provider::v1::ProviderTotals;
using ::provider::v1::StatsResponse;

struct BookResult {
  absl::Status status;
  Booking booking;
  std::multimap<std::string, std::string> trailers;
};

class MockProviderTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }
  void TearDown() override { server_.reset(); }

  void StartServer(ModeTable modes, uint64_t seed = 1) {
    MockServerOptions options;
    options.modes = std::move(modes);
    options.seed = seed;
    options.clock = &clock_;
    server_.reset();
    auto started = MockProviderServer::Start(options);
    ASSERT_OK(started);
    server_ = *std::move(started);
    auto channel = grpc::CreateChannel(server_->address(),
                                       grpc::InsecureChannelCredentials());
    provider_ = ::provider::v1::ProviderService::NewStub(channel);
    control_ = ::provider::v1::MockControl::NewStub(channel);
  }

  static BookRequest MakeBook(const std::string& provider_id,
                              const std::string& key) {
    BookRequest r;
    r.set_provider_id(provider_id);
    r.set_idempotency_key(key);
    *r.mutable_start_time() =
        ToProtoTimestamp(absl::FromUnixSeconds(1'800'000'000));
    r.set_duration_minutes(30);
    r.set_location("room 1");
    r.set_customer_ref("cust-1");
    return r;
  }

  BookResult Book(const BookRequest& request,
                  absl::Duration timeout = absl::Seconds(10)) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    BookResult result;
    result.status =
        FromGrpcStatus(provider_->Book(&context, request, &result.booking));
    for (const auto& [k, v] : context.GetServerTrailingMetadata()) {
      result.trailers.emplace(std::string(k.data(), k.size()),
                              std::string(v.data(), v.size()));
    }
    return result;
  }
  BookResult Book(const std::string& provider_id, const std::string& key,
                  absl::Duration timeout = absl::Seconds(10)) {
    return Book(MakeBook(provider_id, key), timeout);
  }

  absl::StatusOr<Booking> Cancel(const std::string& provider_id,
                                 const std::string& booking_id,
                                 const std::string& key) {
    ::provider::v1::CancelRequest request;
    request.set_provider_id(provider_id);
    request.set_booking_id(booking_id);
    request.set_idempotency_key(key);
    grpc::ClientContext context;
    Booking response;
    grpc::Status s = provider_->Cancel(&context, request, &response);
    if (!s.ok()) return FromGrpcStatus(s);
    return response;
  }

  absl::StatusOr<Booking> Get(const std::string& provider_id,
                              const std::string& booking_id,
                              const std::string& key) {
    ::provider::v1::GetBookingRequest request;
    request.set_provider_id(provider_id);
    request.set_booking_id(booking_id);
    request.set_idempotency_key(key);
    grpc::ClientContext context;
    Booking response;
    grpc::Status s = provider_->GetBooking(&context, request, &response);
    if (!s.ok()) return FromGrpcStatus(s);
    return response;
  }

  absl::StatusOr<::provider::v1::ListBookingsResponse> List(
      const std::string& provider_id, int page_size,
      const std::string& page_token) {
    ::provider::v1::ListBookingsRequest request;
    request.set_provider_id(provider_id);
    request.set_page_size(page_size);
    request.set_page_token(page_token);
    grpc::ClientContext context;
    ::provider::v1::ListBookingsResponse response;
    grpc::Status s = provider_->ListBookings(&context, request, &response);
    if (!s.ok()) return FromGrpcStatus(s);
    return response;
  }

  absl::Status SetMode(const std::string& provider_id, const ModeSpec& spec) {
    ::provider::v1::SetModeRequest request;
    request.set_provider_id(provider_id);
    request.set_mode(spec.mode);
    *request.mutable_params() = ParamsToProto(spec);
    grpc::ClientContext context;
    ::provider::v1::SetModeResponse response;
    return FromGrpcStatus(control_->SetMode(&context, request, &response));
  }
  static ModeSpec Spec(Mode mode) {
    ModeSpec spec;
    spec.mode = mode;
    return spec;
  }

  StatsResponse Stats(const std::string& provider_id = "",
                      const std::string& key = "") {
    ::provider::v1::StatsRequest request;
    request.set_provider_id(provider_id);
    request.set_idempotency_key(key);
    grpc::ClientContext context;
    StatsResponse response;
    EXPECT_OK(FromGrpcStatus(control_->Stats(&context, request, &response)));
    return response;
  }

  // The counters of one key; an empty KeyStats if the key is unknown.
  KeyStats KeyStatsFor(const std::string& provider_id, const std::string& key) {
    StatsResponse stats = Stats(provider_id, key);
    return stats.keys_size() == 1 ? stats.keys(0) : KeyStats();
  }
  ProviderTotals TotalsFor(const std::string& provider_id) {
    StatsResponse stats = Stats(provider_id);
    for (const auto& t : stats.totals()) {
      if (t.provider_id() == provider_id) return t;
    }
    return ProviderTotals();
  }

  std::vector<Booking> ListAll() {
    grpc::ClientContext context;
    ::provider::v1::ListAllResponse response;
    EXPECT_OK(FromGrpcStatus(control_->ListAll(
        &context, ::provider::v1::ListAllRequest(), &response)));
    return {response.bookings().begin(), response.bookings().end()};
  }

  SimulatedClock clock_;
  std::unique_ptr<MockProviderServer> server_;
  std::unique_ptr<::provider::v1::ProviderService::Stub> provider_;
  std::unique_ptr<::provider::v1::MockControl::Stub> control_;
};

}  // namespace booking::mock::testing

#endif  // MOCK_PROVIDER_TEST_FIXTURE_H_
