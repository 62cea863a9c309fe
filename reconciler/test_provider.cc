#include "reconciler/test_provider.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/common/time_util.h"

namespace booking::reconciler::testing {
namespace {

using ::provider::v1::Booking;

bool IsLive(const ProviderBooking& b) {
  return b.status() == Booking::CONFIRMED || b.status() == Booking::PENDING;
}

bool Matches(const ProviderBooking& b, const std::string& booking_id,
             const std::string& key) {
  return (!booking_id.empty() && b.booking_id() == booking_id) ||
         (!key.empty() && b.idempotency_key() == key);
}

absl::StatusOr<int64_t> ParseToken(const std::string& token) {
  if (token.empty()) return 0;
  int64_t index = 0;
  if (!absl::SimpleAtoi(token, &index) || index < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad page token '", token, "'"));
  }
  return index;
}

int PageSize(int requested) {
  return requested <= 0 ? 100 : std::min(requested, 1000);
}

}  // namespace

void PagedFakeProvider::Book(const provider::v1::BookRequest& request,
                             absl::Duration, ProviderCallback done) {
  ProviderResult result;
  {
    absl::MutexLock lock(&mu_);
    for (const ProviderBooking& b : bookings_) {
      if (b.idempotency_key() == request.idempotency_key()) {
        result.booking = b;
        break;
      }
    }
    if (!result.booking.ok() || result.booking->booking_id().empty()) {
      ProviderBooking b;
      b.set_booking_id(absl::StrCat("pb-", next_id_++));
      b.set_idempotency_key(request.idempotency_key());
      b.set_provider_id(request.provider_id());
      b.set_status(Booking::CONFIRMED);
      *b.mutable_start_time() = request.start_time();
      b.set_duration_minutes(request.duration_minutes());
      b.set_location(request.location());
      b.set_customer_ref(request.customer_ref());
      *b.mutable_create_time() = ToProtoTimestamp(clock_->Now());
      bookings_.push_back(b);
      result.booking = b;
    }
  }
  done(std::move(result));
}

void PagedFakeProvider::Cancel(const provider::v1::CancelRequest& request,
                               absl::Duration, ProviderCallback done) {
  ProviderResult result;
  {
    absl::MutexLock lock(&mu_);
    ++cancel_calls_;
    if (!cancel_error_.ok()) {
      result.booking = cancel_error_;
    } else {
      ProviderBooking answer;
      answer.set_provider_id(request.provider_id());
      answer.set_booking_id(request.booking_id());
      answer.set_idempotency_key(request.idempotency_key());
      for (ProviderBooking& b : bookings_) {
        if (!Matches(b, request.booking_id(), request.idempotency_key())) {
          continue;
        }
        if (IsLive(b)) b.set_status(Booking::CANCELLED);
        answer = b;
      }
      answer.set_status(Booking::CANCELLED);
      result.booking = answer;
    }
  }
  done(std::move(result));
}

void PagedFakeProvider::GetBooking(
    const provider::v1::GetBookingRequest& request, absl::Duration,
    ProviderCallback done) {
  ProviderResult result;
  result.booking = absl::NotFoundError("no such booking");
  {
    absl::MutexLock lock(&mu_);
    for (const ProviderBooking& b : bookings_) {
      if (Matches(b, request.booking_id(), request.idempotency_key())) {
        result.booking = b;
        break;
      }
    }
  }
  done(std::move(result));
}

absl::StatusOr<provider::v1::ListBookingsResponse>
PagedFakeProvider::ListBookings(
    const provider::v1::ListBookingsRequest& request, absl::Duration) {
  absl::StatusOr<int64_t> start = ParseToken(request.page_token());
  if (!start.ok()) return start.status();
  absl::MutexLock lock(&mu_);
  if (fail_after_pages_ >= 0 && pages_served_ >= fail_after_pages_) {
    return list_error_;
  }
  ++pages_served_;
  provider::v1::ListBookingsResponse response;
  const int page_size = PageSize(request.page_size());
  size_t i = static_cast<size_t>(*start);
  for (; i < bookings_.size() && response.bookings_size() < page_size; ++i) {
    if (!request.provider_id().empty() &&
        bookings_[i].provider_id() != request.provider_id()) {
      continue;
    }
    *response.add_bookings() = bookings_[i];
  }
  if (i < bookings_.size()) response.set_next_page_token(absl::StrCat(i));
  return response;
}

std::string PagedFakeProvider::Inject(ProviderBooking booking) {
  absl::MutexLock lock(&mu_);
  if (booking.booking_id().empty()) {
    booking.set_booking_id(absl::StrCat("pb-", next_id_++));
  }
  if (!booking.has_create_time()) {
    *booking.mutable_create_time() = ToProtoTimestamp(clock_->Now());
  }
  bookings_.push_back(booking);
  return booking.booking_id();
}

std::string PagedFakeProvider::InjectFor(const std::string& key,
                                         absl::Time base,
                                         Booking::Status status,
                                         const std::string& provider_id) {
  ProviderBooking b;
  b.set_idempotency_key(key);
  b.set_provider_id(provider_id);
  b.set_status(status);
  *b.mutable_start_time() = ToProtoTimestamp(base + absl::Hours(48));
  b.set_duration_minutes(30);
  b.set_location("Room 1");
  return Inject(std::move(b));
}

void PagedFakeProvider::SetStatus(const std::string& booking_id,
                                  Booking::Status status) {
  absl::MutexLock lock(&mu_);
  for (ProviderBooking& b : bookings_) {
    if (b.booking_id() == booking_id) b.set_status(status);
  }
}

std::optional<ProviderBooking> PagedFakeProvider::Find(
    const std::string& booking_id) const {
  absl::MutexLock lock(&mu_);
  for (const ProviderBooking& b : bookings_) {
    if (b.booking_id() == booking_id) return b;
  }
  return std::nullopt;
}

int PagedFakeProvider::LiveBookings(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const ProviderBooking& b : bookings_) {
    if (b.idempotency_key() == key && IsLive(b)) ++n;
  }
  return n;
}

std::string PagedFakeProvider::Fingerprint() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> parts;
  for (const ProviderBooking& b : bookings_) {
    parts.push_back(
        absl::StrCat(b.booking_id(), ":", Booking::Status_Name(b.status())));
  }
  return absl::StrJoin(parts, ",");
}

void PagedFakeProvider::FailListAfter(int after_pages, absl::Status error) {
  absl::MutexLock lock(&mu_);
  fail_after_pages_ = error.ok() ? -1 : pages_served_ + after_pages;
  list_error_ = std::move(error);
}

void PagedFakeProvider::FailCancels(absl::Status error) {
  absl::MutexLock lock(&mu_);
  cancel_error_ = std::move(error);
}

int PagedFakeProvider::cancel_calls() const {
  absl::MutexLock lock(&mu_);
  return cancel_calls_;
}

// ------------------------------------------------------------- generated --

void GeneratedProvider::Book(const provider::v1::BookRequest&, absl::Duration,
                             ProviderCallback done) {
  done(ProviderResult{absl::UnimplementedError("read-only provider"), {}});
}

void GeneratedProvider::Cancel(const provider::v1::CancelRequest&,
                               absl::Duration, ProviderCallback done) {
  done(ProviderResult{absl::UnimplementedError("read-only provider"), {}});
}

void GeneratedProvider::GetBooking(const provider::v1::GetBookingRequest&,
                                   absl::Duration, ProviderCallback done) {
  done(ProviderResult{absl::UnimplementedError("read-only provider"), {}});
}

absl::StatusOr<provider::v1::ListBookingsResponse>
GeneratedProvider::ListBookings(
    const provider::v1::ListBookingsRequest& request, absl::Duration) {
  absl::StatusOr<int64_t> start = ParseToken(request.page_token());
  if (!start.ok()) return start.status();
  provider::v1::ListBookingsResponse response;
  const int64_t end =
      std::min<int64_t>(count_, *start + PageSize(request.page_size()));
  for (int64_t i = *start; i < end; ++i) *response.add_bookings() = make_(i);
  if (end < count_) response.set_next_page_token(absl::StrCat(end));
  return response;
}

}  // namespace booking::reconciler::testing
