// GrpcProviderClient against an in-process ProviderService on 127.0.0.1:0.
#include "core/provider/grpc_provider_client.h"

#include <memory>

#include "absl/synchronization/notification.h"
#include "core/testing/status_matchers.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/provider/v1/provider.grpc.pb.h"

namespace booking {
namespace {

using ::booking::testing::StatusIs;

// Scripted by idempotency key: "ok", "limited" (RESOURCE_EXHAUSTED + hint),
// "hang" (blocks until the test ends), "reject" (FAILED_PRECONDITION).
class TestProvider final : public provider::v1::ProviderService::Service {
 public:
  ~TestProvider() override { Release(); }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }

  grpc::Status Book(grpc::ServerContext* ctx,
                    const provider::v1::BookRequest* req,
                    provider::v1::Booking* resp) override {
    const std::string& key = req->idempotency_key();
    if (key == "limited") {
      ctx->AddTrailingMetadata("retry-after-ms", "250");
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "slow down");
    }
    if (key == "hang") {
      release_.WaitForNotification();
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "late");
    }
    if (key == "reject") {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "slot taken");
    }
    resp->set_booking_id("b-1");
    resp->set_idempotency_key(key);
    resp->set_status(provider::v1::Booking::CONFIRMED);
    return grpc::Status::OK;
  }
  grpc::Status Cancel(grpc::ServerContext*,
                      const provider::v1::CancelRequest* req,
                      provider::v1::Booking* resp) override {
    resp->set_idempotency_key(req->idempotency_key());
    resp->set_status(provider::v1::Booking::CANCELLED);
    return grpc::Status::OK;
  }
  grpc::Status GetBooking(grpc::ServerContext*,
                          const provider::v1::GetBookingRequest*,
                          provider::v1::Booking*) override {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "none");
  }
  grpc::Status ListBookings(grpc::ServerContext*,
                            const provider::v1::ListBookingsRequest*,
                            provider::v1::ListBookingsResponse* resp) override {
    resp->add_bookings()->set_booking_id("b-1");
    resp->set_next_page_token("t2");
    return grpc::Status::OK;
  }

 private:
  absl::Notification release_;
};

class GrpcProviderClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<GrpcProviderClient>("127.0.0.1:" +
                                                   std::to_string(port));
  }
  void TearDown() override {
    service_.Release();
    client_.reset();  // waits for callbacks
    server_->Shutdown();
  }

  ProviderResult BookAndWait(const std::string& key, absl::Duration deadline) {
    provider::v1::BookRequest req;
    req.set_idempotency_key(key);
    absl::Notification done;
    ProviderResult out;
    client_->Book(req, deadline, [&](ProviderResult r) {
      out = std::move(r);
      done.Notify();
    });
    done.WaitForNotification();
    return out;
  }

  TestProvider service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<GrpcProviderClient> client_;
};

TEST_F(GrpcProviderClientTest, BookReturnsTheBooking) {
  ProviderResult r = BookAndWait("ok", absl::Seconds(10));
  ASSERT_OK(r.booking);
  EXPECT_EQ(r.booking->booking_id(), "b-1");
  EXPECT_EQ(r.booking->status(), provider::v1::Booking::CONFIRMED);
  EXPECT_FALSE(r.retry_after.has_value());
}

TEST_F(GrpcProviderClientTest, RetryAfterTrailerIsRead) {
  ProviderResult r = BookAndWait("limited", absl::Seconds(10));
  EXPECT_THAT(r.booking, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(r.retry_after, absl::Milliseconds(250));
}

TEST_F(GrpcProviderClientTest, ErrorCodesMapOneToOne) {
  EXPECT_THAT(BookAndWait("reject", absl::Seconds(10)).booking,
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(GrpcProviderClientTest, PerCallDeadlineEndsAHangingCall) {
  ProviderResult r = BookAndWait("hang", absl::Milliseconds(100));
  EXPECT_THAT(r.booking, StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(GrpcProviderClientTest, CancelInFlightEndsHangingCallsAtOnce) {
  provider::v1::BookRequest req;
  req.set_idempotency_key("hang");
  absl::Notification started_and_done;
  ProviderResult out;
  client_->Book(req, absl::Hours(1), [&](ProviderResult r) {
    out = std::move(r);
    started_and_done.Notify();
  });
  EXPECT_EQ(client_->in_flight(), 1);
  client_->CancelInFlight();
  started_and_done.WaitForNotification();
  EXPECT_THAT(out.booking, StatusIs(absl::StatusCode::kCancelled));
}

TEST_F(GrpcProviderClientTest, CancelAndGetAndList) {
  provider::v1::CancelRequest cancel;
  cancel.set_idempotency_key("k");
  absl::Notification n1;
  ProviderResult r1;
  client_->Cancel(cancel, absl::Seconds(10), [&](ProviderResult r) {
    r1 = std::move(r);
    n1.Notify();
  });
  n1.WaitForNotification();
  ASSERT_OK(r1.booking);
  EXPECT_EQ(r1.booking->status(), provider::v1::Booking::CANCELLED);

  absl::Notification n2;
  ProviderResult r2;
  client_->GetBooking(provider::v1::GetBookingRequest(), absl::Seconds(10),
                      [&](ProviderResult r) {
                        r2 = std::move(r);
                        n2.Notify();
                      });
  n2.WaitForNotification();
  EXPECT_THAT(r2.booking, StatusIs(absl::StatusCode::kNotFound));

  auto page = client_->ListBookings(provider::v1::ListBookingsRequest(),
                                    absl::Seconds(10));
  ASSERT_OK(page);
  EXPECT_EQ(page->bookings_size(), 1);
  EXPECT_EQ(page->next_page_token(), "t2");
}

TEST_F(GrpcProviderClientTest, UnreachableProviderIsUnavailable) {
  GrpcProviderClient dead("127.0.0.1:1");
  provider::v1::BookRequest req;
  absl::Notification done;
  ProviderResult out;
  dead.Book(req, absl::Seconds(5), [&](ProviderResult r) {
    out = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_THAT(out.booking, StatusIs(absl::StatusCode::kUnavailable));
}

TEST(ParseRetryAfterMs, ParsesOrRejects) {
  EXPECT_EQ(ParseRetryAfterMs("1500"), absl::Milliseconds(1500));
  EXPECT_EQ(ParseRetryAfterMs("abc"), std::nullopt);
  EXPECT_EQ(ParseRetryAfterMs("-5"), std::nullopt);
}

}  // namespace
}  // namespace booking
