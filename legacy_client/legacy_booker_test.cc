#include "legacy_client/legacy_booker.h"

#include "core/provider/fake_provider_client.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace booking::legacy {
namespace {

using ::booking::testing::StatusIs;
using Method = FakeProviderClient::Method;

LegacyBookRequest Visit() {
  LegacyBookRequest r;
  r.provider_id = "clinic-a";
  r.start_time = absl::FromUnixSeconds(2'000'000'000);
  r.duration_minutes = 30;
  r.location = "Room 1";
  r.customer_ref = "cust-1";
  return r;
}

TEST(LegacyBookerTest, ARepeatedRequestBooksTwice) {
  FakeProviderClient provider;
  LegacyBooker booker(&provider, absl::Seconds(1), /*key_seed=*/7);
  LegacyResult first = booker.Book(Visit());
  LegacyResult second = booker.Book(Visit());
  ASSERT_OK(first.status);
  ASSERT_OK(second.status);
  // No idempotency: every call carries a fresh key, so the provider cannot
  // tell a retry from a new booking.
  EXPECT_NE(first.idempotency_key, second.idempotency_key);
  EXPECT_NE(first.booking_id, second.booking_id);
  EXPECT_EQ(provider.live_bookings(first.idempotency_key), 1);
  EXPECT_EQ(provider.live_bookings(second.idempotency_key), 1);
}

TEST(LegacyBookerTest, AFailureIsReportedWithoutRetry) {
  FakeProviderClient provider;
  provider.Script(Method::kBook, {{absl::UnavailableError("down")}});
  LegacyBooker booker(&provider, absl::Seconds(1), 7);
  LegacyResult r = booker.Book(Visit());
  EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(r.booking_id.empty());
  EXPECT_EQ(provider.calls(Method::kBook), 1);
}

TEST(LegacyBookerTest, AGhostBookingStaysUnknownToTheClient) {
  FakeProviderClient provider;
  FakeProviderClient::Scripted ghost;
  ghost.error = absl::InternalError("booked, then failed");
  ghost.apply_anyway = true;
  provider.Script(Method::kBook, {ghost});
  LegacyBooker booker(&provider, absl::Seconds(1), 7);
  LegacyResult r = booker.Book(Visit());
  EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kInternal));
  EXPECT_TRUE(r.booking_id.empty());
  // The provider holds a booking the client knows nothing of.
  EXPECT_EQ(provider.live_bookings(r.idempotency_key), 1);
}

TEST(LegacyBookerTest, PassesItsDeadlineAndReportsPending) {
  FakeProviderClient provider;
  provider.SetNewBookingStatus(provider::v1::Booking::PENDING);
  LegacyBooker booker(&provider, absl::Milliseconds(750), 7);
  LegacyResult r = booker.Book(Visit());
  ASSERT_OK(r.status);
  EXPECT_EQ(r.booking_status, provider::v1::Booking::PENDING);
  EXPECT_EQ(BookingStatusName(r.booking_status), "PENDING");
  EXPECT_EQ(provider.last_deadline(), absl::Milliseconds(750));
}

TEST(LegacyBookerTest, CancelsByBookingId) {
  FakeProviderClient provider;
  LegacyBooker booker(&provider, absl::Seconds(1), 7);
  LegacyResult booked = booker.Book(Visit());
  ASSERT_OK(booked.status);
  LegacyResult cancelled = booker.Cancel("clinic-a", booked.booking_id);
  ASSERT_OK(cancelled.status);
  EXPECT_EQ(cancelled.booking_status, provider::v1::Booking::CANCELLED);
  EXPECT_EQ(provider.live_bookings(booked.idempotency_key), 0);
}

TEST(LegacyBookerTest, KeysDependOnTheSeed) {
  FakeProviderClient provider;
  LegacyBooker a(&provider, absl::Seconds(1), 1);
  LegacyBooker b(&provider, absl::Seconds(1), 1);
  LegacyBooker c(&provider, absl::Seconds(1), 2);
  const std::string ka = a.Book(Visit()).idempotency_key;
  EXPECT_EQ(ka, b.Book(Visit()).idempotency_key);
  EXPECT_NE(ka, c.Book(Visit()).idempotency_key);
}

}  // namespace
}  // namespace booking::legacy
