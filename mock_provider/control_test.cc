// MockControl and the provider's bookkeeping through a real gRPC client:
// idempotency under concurrency, paging, seeds, Cancel, Stats, inject/drop.

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mock_provider/test_fixture.h"

namespace booking::mock::testing {
namespace {

using ::booking::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ControlTest : public MockProviderTest {
 protected:
  absl::Status Reset(uint64_t seed) {
    ::provider::v1::ResetRequest request;
    request.set_seed(seed);
    grpc::ClientContext context;
    ::provider::v1::ResetResponse response;
    return FromGrpcStatus(control_->Reset(&context, request, &response));
  }
  absl::StatusOr<Booking> Inject(const Booking& booking) {
    ::provider::v1::InjectBookingRequest request;
    *request.mutable_booking() = booking;
    grpc::ClientContext context;
    Booking response;
    grpc::Status s = control_->InjectBooking(&context, request, &response);
    if (!s.ok()) return FromGrpcStatus(s);
    return response;
  }
  absl::StatusOr<Booking> Drop(const ::provider::v1::DropBookingRequest& r) {
    grpc::ClientContext context;
    Booking response;
    grpc::Status s = control_->DropBooking(&context, r, &response);
    if (!s.ok()) return FromGrpcStatus(s);
    return response;
  }
  static Booking Orphan(const std::string& provider_id,
                        const std::string& key) {
    Booking b;
    b.set_provider_id(provider_id);
    b.set_idempotency_key(key);
    b.set_duration_minutes(15);
    return b;
  }
  // Outcome (ok or not) of 100 Books over 10 keys with fail_fraction=0.5.
  std::vector<bool> FlakyOutcomes() {
    ModeSpec spec = Spec(::provider::v1::FLAKY);
    spec.fail_fraction = 0.5;
    EXPECT_OK(SetMode("p", spec));
    std::vector<bool> outcomes;
    for (int i = 0; i < 100; ++i) {
      outcomes.push_back(Book("p", absl::StrCat("k", i % 10)).status.ok());
    }
    return outcomes;
  }
};

TEST_F(ControlTest, FiftyConcurrentBooksWithOneKeyMakeOneBooking) {
  constexpr int kCalls = 50;
  std::vector<BookResult> results(kCalls);
  absl::Notification go;
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      go.WaitForNotification();
      results[i] = Book("p", "same-key");
    });
  }
  go.Notify();
  for (auto& t : threads) t.join();

  for (const BookResult& r : results) {
    ASSERT_OK(r.status);
    EXPECT_EQ(r.booking.booking_id(), results[0].booking.booking_id());
  }
  KeyStats ks = KeyStatsFor("p", "same-key");
  EXPECT_EQ(ks.book_calls(), kCalls);
  EXPECT_EQ(ks.live_bookings(), 1);
  EXPECT_THAT(ks.statuses(), ElementsAre(Booking::CONFIRMED));
  EXPECT_EQ(ListAll().size(), 1u);
}

TEST_F(ControlTest, PagingVisitsEachOf10000BookingsExactlyOnce) {
  constexpr int kBookings = 10'000;
  for (int i = 0; i < kBookings; ++i) {
    // Made in-process for speed; the paging below is what is under test.
    ASSERT_OK(server_->book()
                  .Book(MakeBook(absl::StrCat("p", i % 3), absl::StrCat(i)))
                  .status);
  }
  auto page_through = [&](const std::string& provider_id, int page_size) {
    std::vector<std::string> ids;
    std::string token;
    int pages = 0;
    do {
      auto page = List(provider_id, page_size, token);
      EXPECT_OK(page);
      if (!page.ok()) break;
      for (const Booking& b : page->bookings()) {
        if (!provider_id.empty()) {
          EXPECT_EQ(b.provider_id(), provider_id);
        }
        ids.push_back(b.booking_id());
      }
      token = page->next_page_token();
      ++pages;
    } while (!token.empty() && pages <= kBookings);
    return std::make_pair(ids, pages);
  };

  auto [all, pages] = page_through("", 1000);
  EXPECT_EQ(pages, 10);
  ASSERT_EQ(all.size(), static_cast<size_t>(kBookings));
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), all.size());
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));  // oldest first

  auto [p1, p1_pages] = page_through("p1", 333);
  EXPECT_EQ(p1.size(), 3333u);
  EXPECT_EQ(p1_pages, 11);
  EXPECT_EQ(std::set<std::string>(p1.begin(), p1.end()).size(), p1.size());

  // Default and maximum page sizes.
  EXPECT_EQ(List("", 0, "")->bookings_size(), 100);
  EXPECT_EQ(List("", 5000, "")->bookings_size(), 1000);
  EXPECT_THAT(List("", -1, ""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      List("", 10, "garbage"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  EXPECT_EQ(List("nobody", 10, "")->bookings_size(), 0);
}

TEST_F(ControlTest, TheSameSeedGivesTheSameFlakyOutcomes) {
  StartServer({}, /*seed=*/7);
  const std::vector<bool> first = FlakyOutcomes();
  EXPECT_NE(std::count(first.begin(), first.end(), true), 0);
  EXPECT_NE(std::count(first.begin(), first.end(), false), 0);

  StartServer({}, /*seed=*/7);
  EXPECT_EQ(FlakyOutcomes(), first);

  // Reset with the same seed replays too; another seed does not.
  ASSERT_OK(Reset(7));
  EXPECT_EQ(FlakyOutcomes(), first);
  ASSERT_OK(Reset(8));
  EXPECT_NE(FlakyOutcomes(), first);
  // Seed 0 means the seed given at start.
  ASSERT_OK(Reset(0));
  EXPECT_EQ(FlakyOutcomes(), first);
}

TEST_F(ControlTest, CancelByKeyCancelsEveryLiveBookingAndIsIdempotent) {
  BookResult booked = Book("p", "k");
  ASSERT_OK(booked.status);
  auto duplicate = Inject(Orphan("p", "k"));
  ASSERT_OK(duplicate);
  EXPECT_EQ(KeyStatsFor("p", "k").live_bookings(), 2);

  auto cancelled = Cancel("p", "", "k");
  ASSERT_OK(cancelled);
  EXPECT_EQ(cancelled->booking_id(), booked.booking.booking_id());
  EXPECT_EQ(cancelled->status(), Booking::CANCELLED);
  KeyStats ks = KeyStatsFor("p", "k");
  EXPECT_EQ(ks.live_bookings(), 0);
  EXPECT_THAT(ks.statuses(),
              ElementsAre(Booking::CANCELLED, Booking::CANCELLED));

  ASSERT_OK(Cancel("p", "", "k"));  // again: still OK
  EXPECT_EQ(KeyStatsFor("p", "k").cancel_calls(), 2);
  // A retried Book returns the first booking, whatever its status.
  BookResult rebook = Book("p", "k");
  ASSERT_OK(rebook.status);
  EXPECT_EQ(rebook.booking.booking_id(), booked.booking.booking_id());
  EXPECT_EQ(rebook.booking.status(), Booking::CANCELLED);
}

TEST_F(ControlTest, CancelByIdCancelsOnlyThatBooking) {
  ASSERT_OK(Book("p", "a").status);
  BookResult b = Book("p", "b");
  auto cancelled = Cancel("", b.booking.booking_id(), "");
  ASSERT_OK(cancelled);
  EXPECT_EQ(cancelled->status(), Booking::CANCELLED);
  EXPECT_EQ(KeyStatsFor("p", "a").live_bookings(), 1);
  EXPECT_EQ(KeyStatsFor("p", "b").live_bookings(), 0);
  EXPECT_EQ(KeyStatsFor("p", "b").cancel_calls(), 1);
}

TEST_F(ControlTest, CancellingAnUnknownBookingIsOk) {
  auto by_id = Cancel("p", "no-such-id", "");
  ASSERT_OK(by_id);
  EXPECT_EQ(by_id->status(), Booking::CANCELLED);
  EXPECT_EQ(by_id->booking_id(), "no-such-id");
  auto by_key = Cancel("p", "", "no-such-key");
  ASSERT_OK(by_key);
  EXPECT_EQ(by_key->status(), Booking::CANCELLED);
  EXPECT_EQ(by_key->idempotency_key(), "no-such-key");
  EXPECT_THAT(ListAll(), IsEmpty());
  EXPECT_THAT(Cancel("p", "", ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Cancel("", "", "k"), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("provider_id")));
}

TEST_F(ControlTest, GetAnswersNotFoundForUnknownBookings) {
  EXPECT_THAT(Get("p", "", "nope"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Get("p", "bk-404", ""), StatusIs(absl::StatusCode::kNotFound));
  BookResult booked = Book("p", "k");
  // The id of another provider's booking is not found at this one.
  EXPECT_THAT(Get("q", booked.booking.booking_id(), ""),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ControlTest, InjectedOrphansAreVisibleAndCounted) {
  auto orphan = Inject(Orphan("p", "orphan-1"));
  ASSERT_OK(orphan);
  EXPECT_FALSE(orphan->booking_id().empty());
  EXPECT_EQ(orphan->status(), Booking::CONFIRMED);
  KeyStats ks = KeyStatsFor("p", "orphan-1");
  EXPECT_EQ(ks.book_calls(), 0);  // no one asked for it
  EXPECT_EQ(ks.live_bookings(), 1);

  Booking keyless = Orphan("p", "");
  keyless.set_booking_id("manual-1");
  keyless.set_status(Booking::PENDING);
  ASSERT_OK(Inject(keyless));
  auto page = List("p", 0, "");
  ASSERT_OK(page);
  ASSERT_EQ(page->bookings_size(), 2);
  EXPECT_EQ(page->bookings(1).booking_id(), "manual-1");
  EXPECT_EQ(page->bookings(1).status(), Booking::PENDING);
  EXPECT_EQ(TotalsFor("p").live_bookings(), 2);

  EXPECT_THAT(Inject(keyless), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Inject(Orphan("", "k")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ControlTest, DropMakesTheProviderLoseABookingWithoutACancel) {
  BookResult a = Book("p", "a");
  ::provider::v1::DropBookingRequest declined;
  declined.set_booking_id(a.booking.booking_id());
  declined.set_status(Booking::DECLINED);
  auto dropped = Drop(declined);
  ASSERT_OK(dropped);
  EXPECT_EQ(dropped->status(), Booking::DECLINED);
  EXPECT_EQ(Get("p", "", "a")->status(), Booking::DECLINED);
  KeyStats ks = KeyStatsFor("p", "a");
  EXPECT_EQ(ks.live_bookings(), 0);
  EXPECT_EQ(ks.cancel_calls(), 0);

  ASSERT_OK(Book("p", "b").status);
  ::provider::v1::DropBookingRequest erase;
  erase.set_provider_id("p");
  erase.set_idempotency_key("b");
  erase.set_erase(true);
  ASSERT_OK(Drop(erase));
  EXPECT_THAT(Get("p", "", "b"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(List("p", 0, "")->bookings_size(), 1);  // only "a" is left
  EXPECT_THAT(KeyStatsFor("p", "b").statuses(), IsEmpty());

  EXPECT_THAT(Drop(erase), StatusIs(absl::StatusCode::kNotFound));
  ::provider::v1::DropBookingRequest bad_status = declined;
  bad_status.set_status(Booking::CONFIRMED);
  EXPECT_THAT(Drop(bad_status), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ControlTest, ResetForgetsBookingsCountersAndRunTimeModes) {
  auto table = ParseModesFlag("x=reject");
  ASSERT_OK(table);
  StartServer(*table);
  ASSERT_OK(SetMode("x", Spec(::provider::v1::IMMEDIATE)));
  ASSERT_OK(Book("x", "k").status);
  ASSERT_OK(Book("y", "k").status);

  ASSERT_OK(Reset(0));
  EXPECT_THAT(ListAll(), IsEmpty());
  StatsResponse stats = Stats();
  EXPECT_THAT(stats.keys(), IsEmpty());
  EXPECT_THAT(stats.totals(), IsEmpty());
  // Back to the modes given at start.
  EXPECT_THAT(Book("x", "k").status,
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ControlTest, StatsReportTotalsPerProviderAndFilter) {
  ASSERT_OK(Book("p", "1").status);
  ASSERT_OK(Book("p", "1").status);
  ASSERT_OK(Book("p", "2").status);
  ASSERT_OK(Book("q", "1").status);
  ASSERT_OK(Cancel("p", "", "2"));
  ASSERT_OK(Get("p", "", "1"));
  ASSERT_OK(List("p", 0, ""));

  ProviderTotals p = TotalsFor("p");
  EXPECT_EQ(p.book_calls(), 3);
  EXPECT_EQ(p.bookings_created(), 2);
  EXPECT_EQ(p.live_bookings(), 1);
  EXPECT_EQ(p.cancel_calls(), 1);
  EXPECT_EQ(p.get_calls(), 1);
  EXPECT_EQ(p.list_calls(), 1);
  EXPECT_EQ(p.failures_injected(), 0);

  StatsResponse only_p = Stats("p");
  EXPECT_EQ(only_p.keys_size(), 2);
  EXPECT_EQ(only_p.totals_size(), 1);
  StatsResponse key_1 = Stats("", "1");
  ASSERT_EQ(key_1.keys_size(), 2);  // "1" at p and at q
  EXPECT_EQ(key_1.keys(0).provider_id(), "p");
  EXPECT_EQ(key_1.keys(1).provider_id(), "q");
}

}  // namespace
}  // namespace booking::mock::testing
