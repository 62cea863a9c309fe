// One test per mode of DESIGN §5, through a real gRPC client: the status
// code, the delay bounds, whether a booking exists, and the counters.

#include <chrono>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mock_provider/test_fixture.h"

namespace booking::mock::testing {
namespace {

using ::booking::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr absl::StatusCode kOk = absl::StatusCode::kOk;

TEST_F(MockProviderTest, ImmediateBooksOnceAndReplaysTheFirstBooking) {
  BookResult first = Book("p", "appt-1");
  ASSERT_OK(first.status);
  EXPECT_EQ(first.booking.status(), Booking::CONFIRMED);
  EXPECT_FALSE(first.booking.booking_id().empty());
  EXPECT_EQ(first.booking.idempotency_key(), "appt-1");
  EXPECT_EQ(first.booking.provider_id(), "p");
  EXPECT_EQ(first.booking.duration_minutes(), 30);
  EXPECT_EQ(first.booking.location(), "room 1");
  EXPECT_EQ(first.booking.customer_ref(), "cust-1");
  EXPECT_EQ(FromProtoTimestamp(first.booking.create_time()), clock_.Now());

  BookResult retry = Book("p", "appt-1");
  ASSERT_OK(retry.status);
  EXPECT_EQ(retry.booking.booking_id(), first.booking.booking_id());

  KeyStats ks = KeyStatsFor("p", "appt-1");
  EXPECT_EQ(ks.book_calls(), 2);
  EXPECT_EQ(ks.live_bookings(), 1);
  EXPECT_THAT(ks.statuses(), ElementsAre(Booking::CONFIRMED));
  EXPECT_EQ(TotalsFor("p").bookings_created(), 1);

  auto by_key = Get("p", "", "appt-1");
  ASSERT_OK(by_key);
  EXPECT_EQ(by_key->booking_id(), first.booking.booking_id());
  auto by_id = Get("", first.booking.booking_id(), "");
  ASSERT_OK(by_id);
  EXPECT_EQ(by_id->idempotency_key(), "appt-1");
}

TEST_F(MockProviderTest, UnknownProvidersUseTheDefaultMode) {
  ASSERT_OK(Book("never-configured", "k").status);
  ASSERT_OK(SetMode("*", Spec(::provider::v1::REJECT)));
  ASSERT_OK(SetMode("special", Spec(::provider::v1::IMMEDIATE)));
  EXPECT_THAT(Book("another", "k").status,
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_OK(Book("special", "k").status);
}

TEST_F(MockProviderTest, PendingConfirmsAfterConfirmAfterMs) {
  ModeSpec spec = Spec(::provider::v1::PENDING_CONFIRM);
  spec.confirm_after_ms = 500;
  ASSERT_OK(SetMode("p", spec));

  BookResult booked = Book("p", "k");
  ASSERT_OK(booked.status);
  EXPECT_EQ(booked.booking.status(), Booking::PENDING);
  EXPECT_EQ(KeyStatsFor("p", "k").live_bookings(), 1);

  clock_.Advance(absl::Milliseconds(499));
  EXPECT_EQ(Get("p", "", "k")->status(), Booking::PENDING);
  clock_.Advance(absl::Milliseconds(1));
  auto confirmed = Get("p", "", "k");
  ASSERT_OK(confirmed);
  EXPECT_EQ(confirmed->status(), Booking::CONFIRMED);
  EXPECT_EQ(FromProtoTimestamp(confirmed->update_time()), clock_.Now());
  // A retried Book sees the booking as it is now.
  EXPECT_EQ(Book("p", "k").booking.status(), Booking::CONFIRMED);
  EXPECT_THAT(KeyStatsFor("p", "k").statuses(),
              ElementsAre(Booking::CONFIRMED));
}

TEST_F(MockProviderTest, DelayedBooksAtOnceButAnswersAfterTheCallersDeadline) {
  ModeSpec spec = Spec(::provider::v1::DELAYED);
  spec.delay_ms = 60'000;
  ASSERT_OK(SetMode("p", spec));

  BookResult result = Book("p", "k", absl::Milliseconds(200));
  EXPECT_THAT(result.status, StatusIs(absl::StatusCode::kDeadlineExceeded));
  // Outcome unknown to the caller, but the booking was made.
  KeyStats ks = KeyStatsFor("p", "k");
  EXPECT_EQ(ks.book_calls(), 1);
  EXPECT_EQ(ks.live_bookings(), 1);
  // The held call is released once its client has gone.
  EXPECT_TRUE(server_->scheduler().WaitUntilNoneHeld(absl::Seconds(10)));
}

TEST_F(MockProviderTest, DelayedAnswersOkNoSoonerThanDelayMs) {
  ModeSpec spec = Spec(::provider::v1::DELAYED);
  spec.delay_ms = 300;
  ASSERT_OK(SetMode("p", spec));
  const auto start = std::chrono::steady_clock::now();
  BookResult result = Book("p", "k", absl::Seconds(30));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_OK(result.status);
  EXPECT_EQ(result.booking.status(), Booking::CONFIRMED);
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
}

TEST_F(MockProviderTest, DelayedWithFailFirstNLetsTheRetryFindTheBooking) {
  // The canonical outcome-unknown case: the first attempt times out at the
  // caller, the retry gets the booking the first attempt made.
  ModeSpec spec = Spec(::provider::v1::DELAYED);
  spec.delay_ms = 60'000;
  spec.fail_first_n = 1;
  ASSERT_OK(SetMode("p", spec));
  EXPECT_THAT(Book("p", "k", absl::Milliseconds(100)).status,
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  BookResult retry = Book("p", "k");
  ASSERT_OK(retry.status);
  KeyStats ks = KeyStatsFor("p", "k");
  EXPECT_EQ(ks.book_calls(), 2);
  EXPECT_EQ(ks.live_bookings(), 1);
  EXPECT_EQ(ListAll().at(0).booking_id(), retry.booking.booking_id());
}

TEST_F(MockProviderTest, TimeoutNeverAnswersInTimeAndBooksNothing) {
  ASSERT_OK(SetMode("p", Spec(::provider::v1::TIMEOUT)));  // 60 s default
  BookResult result = Book("p", "k", absl::Milliseconds(200));
  EXPECT_THAT(result.status, StatusIs(absl::StatusCode::kDeadlineExceeded));
  KeyStats ks = KeyStatsFor("p", "k");
  EXPECT_EQ(ks.book_calls(), 1);
  EXPECT_EQ(ks.live_bookings(), 0);
  EXPECT_THAT(ks.statuses(), IsEmpty());
  EXPECT_EQ(TotalsFor("p").failures_injected(), 1);
  // The server does not keep the call (or a thread) once the client left.
  EXPECT_TRUE(server_->scheduler().WaitUntilNoneHeld(absl::Seconds(10)));
}

TEST_F(MockProviderTest, TimeoutAnswersDeadlineExceededAtTheEndOfDelayMs) {
  ModeSpec spec = Spec(::provider::v1::TIMEOUT);
  spec.delay_ms = 200;
  ASSERT_OK(SetMode("p", spec));
  const auto start = std::chrono::steady_clock::now();
  BookResult result = Book("p", "k", absl::Seconds(30));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // The server's own answer (the client's deadline was 30 s away).
  EXPECT_THAT(result.status, StatusIs(absl::StatusCode::kDeadlineExceeded,
                                      HasSubstr("mock timeout")));
  EXPECT_GE(elapsed, std::chrono::milliseconds(200));
  EXPECT_THAT(ListAll(), IsEmpty());
}

TEST_F(MockProviderTest, FlakyFailsTheFirstNCallsPerKeyThenBooks) {
  ModeSpec spec = Spec(::provider::v1::FLAKY);
  spec.fail_first_n = 2;
  ASSERT_OK(SetMode("p", spec));
  EXPECT_THAT(Book("p", "k").status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Book("p", "k").status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(KeyStatsFor("p", "k").live_bookings(), 0);
  BookResult third = Book("p", "k");
  ASSERT_OK(third.status);
  EXPECT_EQ(third.booking.status(), Booking::CONFIRMED);
  EXPECT_EQ(Book("p", "k").booking.booking_id(), third.booking.booking_id());
  // Each key has its own count.
  EXPECT_THAT(Book("p", "other").status,
              StatusIs(absl::StatusCode::kUnavailable));

  KeyStats ks = KeyStatsFor("p", "k");
  EXPECT_EQ(ks.book_calls(), 4);
  EXPECT_EQ(ks.live_bookings(), 1);
  EXPECT_EQ(TotalsFor("p").failures_injected(), 3);
}

TEST_F(MockProviderTest, FlakyDefaultFailsTwoCalls) {
  ASSERT_OK(SetMode("p", Spec(::provider::v1::FLAKY)));
  EXPECT_FALSE(Book("p", "k").status.ok());
  EXPECT_FALSE(Book("p", "k").status.ok());
  EXPECT_OK(Book("p", "k").status);
}

TEST_F(MockProviderTest, FlakyFractionFailsASeededShareOfCalls) {
  ModeSpec spec = Spec(::provider::v1::FLAKY);
  spec.fail_fraction = 0.5;
  ASSERT_OK(SetMode("p", spec));
  int failed = 0;
  for (int i = 0; i < 200; ++i) {
    BookResult r = Book("p", absl::StrCat("k", i));
    if (!r.status.ok()) {
      EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kUnavailable));
      ++failed;
    }
  }
  // Seed 1 gives a fixed count; any sane coin is near 100.
  EXPECT_GT(failed, 60);
  EXPECT_LT(failed, 140);
  EXPECT_EQ(TotalsFor("p").bookings_created(), 200 - failed);

  spec.fail_fraction = 1;
  ASSERT_OK(SetMode("p", spec));
  EXPECT_THAT(Book("p", "k0").status, StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(MockProviderTest, AlwaysFailFailsBookCancelAndGetButNotList) {
  ASSERT_OK(Book("p", "before").status);
  ASSERT_OK(SetMode("p", Spec(::provider::v1::ALWAYS_FAIL)));
  EXPECT_THAT(Book("p", "k").status, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Book("p", "before").status,
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Cancel("p", "", "before"),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Get("p", "", "before"), StatusIs(absl::StatusCode::kUnavailable));
  // The reconciler's view keeps working.
  auto page = List("p", 0, "");
  ASSERT_OK(page);
  ASSERT_EQ(page->bookings_size(), 1);
  EXPECT_EQ(page->bookings(0).status(), Booking::CONFIRMED);
  EXPECT_EQ(KeyStatsFor("p", "k").live_bookings(), 0);
  EXPECT_EQ(TotalsFor("p").failures_injected(), 4);
}

TEST_F(MockProviderTest, ConfirmFailBooksThenAnswersInternal) {
  ASSERT_OK(SetMode("p", Spec(::provider::v1::CONFIRM_FAIL)));
  EXPECT_THAT(Book("p", "k").status, StatusIs(absl::StatusCode::kInternal));
  // A ghost booking: live at the provider, unknown to the caller.
  std::vector<Booking> all = ListAll();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].status(), Booking::CONFIRMED);
  // Retries fail the same way and never duplicate it.
  EXPECT_THAT(Book("p", "k").status, StatusIs(absl::StatusCode::kInternal));
  KeyStats ks = KeyStatsFor("p", "k");
  EXPECT_EQ(ks.book_calls(), 2);
  EXPECT_EQ(ks.live_bookings(), 1);
  // Compensation by key removes it.
  ASSERT_OK(Cancel("p", "", "k"));
  EXPECT_EQ(KeyStatsFor("p", "k").live_bookings(), 0);
}

TEST_F(MockProviderTest, ConfirmFailWithFailFirstNAnswersTheRetry) {
  ModeSpec spec = Spec(::provider::v1::CONFIRM_FAIL);
  spec.fail_first_n = 1;
  ASSERT_OK(SetMode("p", spec));
  EXPECT_THAT(Book("p", "k").status, StatusIs(absl::StatusCode::kInternal));
  BookResult retry = Book("p", "k");
  ASSERT_OK(retry.status);
  EXPECT_EQ(retry.booking.booking_id(), ListAll().at(0).booking_id());
  EXPECT_EQ(KeyStatsFor("p", "k").live_bookings(), 1);
}

TEST_F(MockProviderTest, RejectIsFailedPreconditionAndBooksNothing) {
  ASSERT_OK(SetMode("p", Spec(::provider::v1::REJECT)));
  EXPECT_THAT(
      Book("p", "k").status,
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("slot taken")));
  KeyStats ks = KeyStatsFor("p", "k");
  EXPECT_EQ(ks.book_calls(), 1);
  EXPECT_THAT(ks.statuses(), IsEmpty());
  EXPECT_THAT(ListAll(), IsEmpty());
}

TEST_F(MockProviderTest, RateLimitedSendsRetryAfterAndBooksNothing) {
  ModeSpec spec = Spec(::provider::v1::RATE_LIMITED);
  spec.retry_after_ms = 500;
  ASSERT_OK(SetMode("p", spec));
  BookResult result = Book("p", "k");
  EXPECT_THAT(result.status, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(result.trailers,
              ::testing::Contains(Pair("retry-after-ms", "500")));
  EXPECT_THAT(ListAll(), IsEmpty());

  ASSERT_OK(SetMode("p", Spec(::provider::v1::RATE_LIMITED)));
  EXPECT_THAT(Book("p", "k").trailers,
              ::testing::Contains(Pair("retry-after-ms", "1000")));
}

TEST_F(MockProviderTest, RateLimitedWithFailFirstNAdmitsTheRetry) {
  ModeSpec spec = Spec(::provider::v1::RATE_LIMITED);
  spec.fail_first_n = 1;
  ASSERT_OK(SetMode("p", spec));
  EXPECT_THAT(Book("p", "k").status,
              StatusIs(absl::StatusCode::kResourceExhausted));
  BookResult retry = Book("p", "k");
  ASSERT_OK(retry.status);
  EXPECT_THAT(retry.trailers, ::testing::Not(::testing::Contains(
                                  Pair("retry-after-ms", ::testing::_))));
  EXPECT_EQ(KeyStatsFor("p", "k").live_bookings(), 1);
}

TEST_F(MockProviderTest, DeclineLaterConfirmsThenDropsTheBooking) {
  ModeSpec spec = Spec(::provider::v1::DECLINE_LATER);
  spec.decline_after_ms = 1000;
  ASSERT_OK(SetMode("p", spec));
  BookResult booked = Book("p", "k");
  ASSERT_OK(booked.status);
  EXPECT_EQ(booked.booking.status(), Booking::CONFIRMED);
  clock_.Advance(absl::Milliseconds(999));
  EXPECT_EQ(KeyStatsFor("p", "k").live_bookings(), 1);

  clock_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(Get("p", "", "k")->status(), Booking::DECLINED);
  KeyStats ks = KeyStatsFor("p", "k");
  EXPECT_EQ(ks.live_bookings(), 0);
  EXPECT_THAT(ks.statuses(), ElementsAre(Booking::DECLINED));
  EXPECT_EQ(List("p", 0, "")->bookings(0).status(), Booking::DECLINED);
  // No Cancel was ever called: only the reconciler can notice.
  EXPECT_EQ(ks.cancel_calls(), 0);
}

TEST_F(MockProviderTest, ModesAreSetAtStartAndChangedAtRunTime) {
  auto table = ParseModesFlag("clinic-b=flaky:fail_first_n=1,x=reject");
  ASSERT_OK(table);
  StartServer(*table);
  EXPECT_THAT(Book("clinic-b", "k").status,
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_OK(Book("clinic-b", "k").status);
  EXPECT_THAT(Book("x", "k").status,
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK(SetMode("x", Spec(::provider::v1::IMMEDIATE)));
  EXPECT_OK(Book("x", "k").status);
}

TEST_F(MockProviderTest, SetModeRefusesBadModes) {
  EXPECT_THAT(
      SetMode("p", Spec(::provider::v1::MODE_UNSPECIFIED)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("provider 'p'")));
  ModeSpec bad = Spec(::provider::v1::IMMEDIATE);
  bad.delay_ms = 5;
  EXPECT_THAT(SetMode("p", bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("does not apply")));
  ModeSpec negative = Spec(::provider::v1::FLAKY);
  negative.fail_fraction = -0.1;
  EXPECT_THAT(SetMode("p", negative),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(MockProviderTest, BookValidatesItsInput) {
  BookRequest no_key = MakeBook("p", "");
  EXPECT_THAT(Book(no_key).status, StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("idempotency_key")));
  EXPECT_THAT(
      Book(MakeBook("", "k")).status,
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("provider_id")));
  BookRequest no_time = MakeBook("p", "k");
  no_time.clear_start_time();
  EXPECT_THAT(Book(no_time).status, StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("start_time")));
  BookRequest zero = MakeBook("p", "k");
  zero.set_duration_minutes(0);
  EXPECT_THAT(Book(zero).status, StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("duration_minutes")));
  EXPECT_THAT(ListAll(), IsEmpty());
}

}  // namespace
}  // namespace booking::mock::testing
