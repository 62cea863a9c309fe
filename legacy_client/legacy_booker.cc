#include "legacy_client/legacy_booker.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "core/common/time_util.h"

namespace booking::legacy {

LegacyBooker::LegacyBooker(ProviderClient* provider,
                           absl::Duration call_timeout, uint64_t key_seed,
                           Clock* clock)
    : provider_(provider),
      call_timeout_(call_timeout),
      clock_(clock),
      rng_(key_seed) {}

std::string LegacyBooker::FreshKey() {
  absl::MutexLock lock(&mu_);
  return absl::StrFormat("legacy-%016x", rng_());
}

template <typename Start>
LegacyResult LegacyBooker::Call(Start start) {
  LegacyResult out;
  absl::Notification done;
  const absl::Time begin = clock_->Now();
  start([&out, &done](ProviderResult result) {
    if (result.booking.ok()) {
      out.status = absl::OkStatus();
      out.booking_id = result.booking->booking_id();
      out.booking_status = result.booking->status();
    } else {
      out.status = result.booking.status();
    }
    done.Notify();
  });
  // The client's deadline bounds the call, so this wait ends.
  done.WaitForNotification();
  out.latency = clock_->Now() - begin;
  return out;
}

LegacyResult LegacyBooker::Book(const LegacyBookRequest& request) {
  provider::v1::BookRequest book;
  book.set_idempotency_key(FreshKey());
  book.set_provider_id(request.provider_id);
  *book.mutable_start_time() = ToProtoTimestamp(request.start_time);
  book.set_duration_minutes(request.duration_minutes);
  book.set_location(request.location);
  book.set_customer_ref(request.customer_ref);
  LegacyResult out = Call([&](ProviderCallback cb) {
    provider_->Book(book, call_timeout_, std::move(cb));
  });
  out.idempotency_key = book.idempotency_key();
  return out;
}

LegacyResult LegacyBooker::Cancel(const std::string& provider_id,
                                  const std::string& booking_id) {
  provider::v1::CancelRequest cancel;
  cancel.set_provider_id(provider_id);
  cancel.set_booking_id(booking_id);
  return Call([&](ProviderCallback cb) {
    provider_->Cancel(cancel, call_timeout_, std::move(cb));
  });
}

std::string BookingStatusName(provider::v1::Booking::Status status) {
  return provider::v1::Booking::Status_Name(status);
}

}  // namespace booking::legacy
