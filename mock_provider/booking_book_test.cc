// BookingBook without gRPC: the lazy, clock-driven transitions and the
// seeded coin. Mode behaviour through gRPC is in modes_test.cc.

#include "mock_provider/booking_book.h"

#include "core/common/clock.h"
#include "core/common/time_util.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::mock {
namespace {

using ::provider::v1::Booking;
using ::provider::v1::BookRequest;

BookRequest MakeBook(const std::string& key) {
  BookRequest r;
  r.set_provider_id("p");
  r.set_idempotency_key(key);
  *r.mutable_start_time() = ToProtoTimestamp(absl::FromUnixSeconds(2e9));
  r.set_duration_minutes(30);
  return r;
}

Booking::Status StatusOf(BookingBook& book, const std::string& key) {
  ::provider::v1::GetBookingRequest get;
  get.set_provider_id("p");
  get.set_idempotency_key(key);
  auto b = book.Get(get);
  EXPECT_OK(b);
  return b.ok() ? b->status() : Booking::STATUS_UNSPECIFIED;
}

absl::Status CancelKey(BookingBook& book, const std::string& key) {
  ::provider::v1::CancelRequest cancel;
  cancel.set_provider_id("p");
  cancel.set_idempotency_key(key);
  return book.Cancel(cancel).status();
}

ModeSpec Mode(::provider::v1::Mode mode) {
  ModeSpec s;
  s.mode = mode;
  return s;
}

TEST(BookingBookTest, CancelBeforeConfirmationWins) {
  SimulatedClock clock;
  BookingBook book(&clock, {{"p", Mode(::provider::v1::PENDING_CONFIRM)}}, 1);
  ASSERT_OK(book.Book(MakeBook("k")).status);
  ASSERT_OK(CancelKey(book, "k"));
  clock.Advance(absl::Hours(1));  // long past confirm_after_ms
  EXPECT_EQ(StatusOf(book, "k"), Booking::CANCELLED);
}

TEST(BookingBookTest, CancelBeforeTheDeclineWins) {
  SimulatedClock clock;
  BookingBook book(&clock, {{"p", Mode(::provider::v1::DECLINE_LATER)}}, 1);
  ASSERT_OK(book.Book(MakeBook("k")).status);
  ASSERT_OK(CancelKey(book, "k"));
  clock.Advance(absl::Hours(1));
  EXPECT_EQ(StatusOf(book, "k"), Booking::CANCELLED);
}

TEST(BookingBookTest, CancellingADeclinedBookingLeavesItDeclined) {
  SimulatedClock clock;
  BookingBook book(&clock, {{"p", Mode(::provider::v1::DECLINE_LATER)}}, 1);
  ASSERT_OK(book.Book(MakeBook("k")).status);
  clock.Advance(absl::Seconds(1));
  ASSERT_OK(CancelKey(book, "k"));
  EXPECT_EQ(StatusOf(book, "k"), Booking::DECLINED);
}

TEST(BookingBookTest, PagingSeesBookingsMadeBetweenPages) {
  SimulatedClock clock;
  BookingBook book(&clock, {}, 1);
  ASSERT_OK(book.Book(MakeBook("a")).status);
  ASSERT_OK(book.Book(MakeBook("b")).status);
  ::provider::v1::ListBookingsRequest list;
  list.set_page_size(1);
  auto first = book.List(list);
  ASSERT_OK(first);
  ASSERT_FALSE(first->next_page_token().empty());
  ASSERT_OK(book.Book(MakeBook("c")).status);
  std::vector<std::string> keys = {first->bookings(0).idempotency_key()};
  list.set_page_token(first->next_page_token());
  while (true) {
    auto page = book.List(list);
    ASSERT_OK(page);
    for (const auto& b : page->bookings()) keys.push_back(b.idempotency_key());
    if (page->next_page_token().empty()) break;
    list.set_page_token(page->next_page_token());
  }
  EXPECT_THAT(keys, ::testing::ElementsAre("a", "b", "c"));
}

TEST(BookingBookTest, CoinDependsOnlyOnItsArguments) {
  EXPECT_EQ(BookingBook::Coin(1, "p", "k", 0),
            BookingBook::Coin(1, "p", "k", 0));
  EXPECT_NE(BookingBook::Coin(1, "p", "k", 0),
            BookingBook::Coin(2, "p", "k", 0));
  EXPECT_NE(BookingBook::Coin(1, "p", "k", 0),
            BookingBook::Coin(1, "p", "k", 1));
  EXPECT_NE(BookingBook::Coin(1, "p", "k", 0),
            BookingBook::Coin(1, "q", "k", 0));
  // Roughly uniform on [0, 1).
  int below_half = 0;
  for (int i = 0; i < 10'000; ++i) {
    const double c = BookingBook::Coin(42, "p", "k", i);
    ASSERT_GE(c, 0.0);
    ASSERT_LT(c, 1.0);
    below_half += c < 0.5 ? 1 : 0;
  }
  EXPECT_GT(below_half, 4'700);
  EXPECT_LT(below_half, 5'300);
}

TEST(BookingBookTest, BookingIdsRepeatAfterReset) {
  SimulatedClock clock;
  BookingBook book(&clock, {}, 1);
  const std::string id = book.Book(MakeBook("a")).booking.booking_id();
  book.Reset(0);
  EXPECT_EQ(book.Book(MakeBook("x")).booking.booking_id(), id);
}

}  // namespace
}  // namespace booking::mock
