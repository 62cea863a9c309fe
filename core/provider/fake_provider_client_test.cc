#include "core/provider/fake_provider_client.h"

#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using ::booking::testing::StatusIs;
using Method = FakeProviderClient::Method;

provider::v1::BookRequest Req(const std::string& key) {
  provider::v1::BookRequest r;
  r.set_idempotency_key(key);
  r.set_provider_id("p");
  return r;
}

ProviderResult BookNow(FakeProviderClient& fake, const std::string& key) {
  ProviderResult out;
  fake.Book(Req(key), absl::Seconds(1),
            [&out](ProviderResult r) { out = std::move(r); });
  return out;
}

TEST(FakeProviderClient, RepeatedBookReturnsTheFirstBooking) {
  FakeProviderClient fake;
  ProviderResult a = BookNow(fake, "k");
  ProviderResult b = BookNow(fake, "k");
  ASSERT_OK(a.booking);
  ASSERT_OK(b.booking);
  EXPECT_EQ(a.booking->booking_id(), b.booking->booking_id());
  EXPECT_EQ(fake.book_calls("k"), 2);
  EXPECT_EQ(fake.live_bookings("k"), 1);
}

TEST(FakeProviderClient, GhostBookingFailsButBooks) {
  FakeProviderClient fake;
  fake.Script(Method::kBook, {{absl::InternalError("boom"), std::nullopt,
                               /*apply_anyway=*/true}});
  EXPECT_THAT(BookNow(fake, "k").booking,
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(fake.live_bookings("k"), 1);
}

TEST(FakeProviderClient, ScriptedRetryAfterIsReturned) {
  FakeProviderClient fake;
  fake.Script(Method::kBook, {{absl::ResourceExhaustedError("slow down"),
                               absl::Milliseconds(300), false}});
  ProviderResult r = BookNow(fake, "k");
  EXPECT_THAT(r.booking, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(r.retry_after, absl::Milliseconds(300));
  EXPECT_EQ(fake.live_bookings("k"), 0);
}

TEST(FakeProviderClient, CancelByKeyCancelsAndUnknownKeyIsOk) {
  FakeProviderClient fake;
  BookNow(fake, "k");
  provider::v1::CancelRequest c;
  c.set_provider_id("p");
  c.set_idempotency_key("k");
  ProviderResult r;
  fake.Cancel(c, absl::Seconds(1), [&r](ProviderResult x) { r = x; });
  ASSERT_OK(r.booking);
  EXPECT_EQ(r.booking->status(), provider::v1::Booking::CANCELLED);
  EXPECT_EQ(fake.live_bookings("k"), 0);
  c.set_idempotency_key("unknown");
  fake.Cancel(c, absl::Seconds(1), [&r](ProviderResult x) { r = x; });
  EXPECT_OK(r.booking);
}

TEST(FakeProviderClient, HeldCallsRunOnRelease) {
  FakeProviderClient fake;
  fake.HoldCalls(true);
  bool done = false;
  fake.Book(Req("k"), absl::Seconds(1),
            [&done](ProviderResult) { done = true; });
  EXPECT_FALSE(done);
  EXPECT_EQ(fake.held(), 1);
  EXPECT_EQ(fake.ReleaseHeld(), 1);
  EXPECT_TRUE(done);
}

TEST(FakeProviderClient, FailingProviderFailsEveryCallUntilCleared) {
  FakeProviderClient fake;
  fake.FailProvider("p", absl::UnavailableError("down"));
  EXPECT_THAT(BookNow(fake, "k").booking,
              StatusIs(absl::StatusCode::kUnavailable));
  fake.FailProvider("p", absl::OkStatus());
  EXPECT_OK(BookNow(fake, "k").booking);
}

TEST(FakeProviderClient, GetBookingByKeyOrNotFound) {
  FakeProviderClient fake;
  fake.SetNewBookingStatus(provider::v1::Booking::PENDING);
  BookNow(fake, "k");
  fake.SetStatusForKey("k", provider::v1::Booking::CONFIRMED);
  provider::v1::GetBookingRequest g;
  g.set_idempotency_key("k");
  ProviderResult r;
  fake.GetBooking(g, absl::Seconds(1), [&r](ProviderResult x) { r = x; });
  ASSERT_OK(r.booking);
  EXPECT_EQ(r.booking->status(), provider::v1::Booking::CONFIRMED);
  g.set_idempotency_key("other");
  fake.GetBooking(g, absl::Seconds(1), [&r](ProviderResult x) { r = x; });
  EXPECT_THAT(r.booking, StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace booking
