#ifndef RECONCILER_TEST_PROVIDER_H_
#define RECONCILER_TEST_PROVIDER_H_

// Test providers for the reconciler (testonly).
//
// PagedFakeProvider: in-memory bookings with the real contract (Book dedups
// by key, Cancel by booking id or key, ListBookings pages in creation order
// like mock_provider) plus MockControl-like hooks to make drift: Inject any
// booking (an orphan, a duplicate, one with other fields), SetStatus (the
// provider drops or confirms it), scripted failures.
//
// GeneratedProvider: `count` bookings made up from their index page by page
// and never held at once, for the 100,000-booking memory test.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/common/clock.h"
#include "core/provider/provider_client.h"

namespace booking::reconciler::testing {

class PagedFakeProvider final : public ProviderClient {
 public:
  // New bookings get create_time = clock->Now() unless set.
  explicit PagedFakeProvider(Clock* clock) : clock_(clock) {}

  void Book(const provider::v1::BookRequest& request, absl::Duration deadline,
            ProviderCallback done) override;
  void Cancel(const provider::v1::CancelRequest& request,
              absl::Duration deadline, ProviderCallback done) override;
  void GetBooking(const provider::v1::GetBookingRequest& request,
                  absl::Duration deadline, ProviderCallback done) override;
  absl::StatusOr<provider::v1::ListBookingsResponse> ListBookings(
      const provider::v1::ListBookingsRequest& request,
      absl::Duration deadline) override;

  // Adds a booking as is (booking_id "pb-N" if empty); returns its id.
  std::string Inject(ProviderBooking booking);
  // A CONFIRMED (or `status`) booking for `key` with the fields of
  // store_test_util's MakeCreateIntent at `base` (start base+48h, 30 min,
  // "Room 1"), so it matches such a row.
  std::string InjectFor(
      const std::string& key, absl::Time base,
      provider::v1::Booking::Status status = provider::v1::Booking::CONFIRMED,
      const std::string& provider_id = "prov-a");
  void SetStatus(const std::string& booking_id,
                 provider::v1::Booking::Status status);
  std::optional<ProviderBooking> Find(const std::string& booking_id) const;
  // Bookings of `key` in CONFIRMED or PENDING.
  int LiveBookings(const std::string& key) const;
  // "id:STATUS,..." in creation order: a fingerprint for "nothing changed".
  std::string Fingerprint() const;

  // ListBookings fails with `error` once `after_pages` pages were served
  // (OK error: never).
  void FailListAfter(int after_pages, absl::Status error);
  // Every Cancel fails with `error` (OK: stop failing).
  void FailCancels(absl::Status error);
  int cancel_calls() const;

 private:
  Clock* const clock_;
  mutable absl::Mutex mu_;
  std::vector<ProviderBooking> bookings_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 1;
  int pages_served_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_after_pages_ ABSL_GUARDED_BY(mu_) = -1;
  absl::Status list_error_ ABSL_GUARDED_BY(mu_);
  absl::Status cancel_error_ ABSL_GUARDED_BY(mu_);
  int cancel_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

class GeneratedProvider final : public ProviderClient {
 public:
  GeneratedProvider(int64_t count,
                    std::function<ProviderBooking(int64_t index)> make)
      : count_(count), make_(std::move(make)) {}

  void Book(const provider::v1::BookRequest&, absl::Duration,
            ProviderCallback done) override;
  void Cancel(const provider::v1::CancelRequest&, absl::Duration,
              ProviderCallback done) override;
  void GetBooking(const provider::v1::GetBookingRequest&, absl::Duration,
                  ProviderCallback done) override;
  absl::StatusOr<provider::v1::ListBookingsResponse> ListBookings(
      const provider::v1::ListBookingsRequest& request,
      absl::Duration deadline) override;

 private:
  const int64_t count_;
  const std::function<ProviderBooking(int64_t)> make_;
};

}  // namespace booking::reconciler::testing

#endif  // RECONCILER_TEST_PROVIDER_H_
