#include "core/provider/fake_provider_client.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace booking {
namespace {

bool IsLive(const ProviderBooking& b) {
  return b.status() == provider::v1::Booking::CONFIRMED ||
         b.status() == provider::v1::Booking::PENDING;
}

}  // namespace

void FakeProviderClient::Dispatch(Work work) {
  {
    absl::MutexLock lock(&mu_);
    if (hold_) {
      held_.push_back(std::move(work));
      return;
    }
  }
  work();
}

void FakeProviderClient::Book(const provider::v1::BookRequest& request,
                              absl::Duration deadline, ProviderCallback done) {
  {
    absl::MutexLock lock(&mu_);
    last_deadline_ = deadline;
  }
  Dispatch([this, request, done = std::move(done)] { done(DoBook(request)); });
}

void FakeProviderClient::Cancel(const provider::v1::CancelRequest& request,
                                absl::Duration deadline,
                                ProviderCallback done) {
  {
    absl::MutexLock lock(&mu_);
    last_deadline_ = deadline;
  }
  Dispatch(
      [this, request, done = std::move(done)] { done(DoCancel(request)); });
}

void FakeProviderClient::GetBooking(
    const provider::v1::GetBookingRequest& request, absl::Duration deadline,
    ProviderCallback done) {
  {
    absl::MutexLock lock(&mu_);
    last_deadline_ = deadline;
  }
  Dispatch([this, request, done = std::move(done)] { done(DoGet(request)); });
}

std::optional<FakeProviderClient::Scripted>
FakeProviderClient::NextScriptedLocked(Method method,
                                       const std::string& provider_id) {
  ++calls_[method];
  auto& queue = scripts_[method];
  if (!queue.empty()) {
    Scripted s = queue.front();
    queue.pop_front();
    return s;
  }
  auto it = failing_.find(provider_id);
  if (it != failing_.end()) return Scripted{it->second, std::nullopt, false};
  return std::nullopt;
}

ProviderResult FakeProviderClient::DoBook(
    const provider::v1::BookRequest& request) {
  absl::MutexLock lock(&mu_);
  const std::string& key = request.idempotency_key();
  ++book_calls_[key];
  std::optional<Scripted> scripted =
      NextScriptedLocked(Method::kBook, request.provider_id());
  ProviderResult result;
  if (scripted.has_value() && !scripted->error.ok() &&
      !scripted->apply_anyway) {
    result.booking = scripted->error;
    result.retry_after = scripted->retry_after;
    return result;
  }
  auto& list = bookings_[key];
  if (list.empty()) {
    ProviderBooking b;
    b.set_booking_id(absl::StrCat("fb-", next_id_++));
    b.set_idempotency_key(key);
    b.set_provider_id(request.provider_id());
    b.set_status(new_status_);
    *b.mutable_start_time() = request.start_time();
    b.set_duration_minutes(request.duration_minutes());
    b.set_location(request.location());
    b.set_customer_ref(request.customer_ref());
    list.push_back(b);
  }
  if (scripted.has_value() && !scripted->error.ok()) {
    result.booking = scripted->error;
    result.retry_after = scripted->retry_after;
    return result;
  }
  result.booking = list.front();
  return result;
}

ProviderResult FakeProviderClient::DoCancel(
    const provider::v1::CancelRequest& request) {
  absl::MutexLock lock(&mu_);
  std::optional<Scripted> scripted =
      NextScriptedLocked(Method::kCancel, request.provider_id());
  ProviderResult result;
  if (scripted.has_value() && !scripted->error.ok() &&
      !scripted->apply_anyway) {
    result.booking = scripted->error;
    result.retry_after = scripted->retry_after;
    return result;
  }
  ProviderBooking answer;
  answer.set_provider_id(request.provider_id());
  answer.set_booking_id(request.booking_id());
  answer.set_idempotency_key(request.idempotency_key());
  for (auto& [key, list] : bookings_) {
    for (auto& b : list) {
      const bool match = (!request.idempotency_key().empty() &&
                          b.idempotency_key() == request.idempotency_key()) ||
                         (!request.booking_id().empty() &&
                          b.booking_id() == request.booking_id());
      if (!match) continue;
      if (IsLive(b)) b.set_status(provider::v1::Booking::CANCELLED);
      answer = b;
    }
  }
  answer.set_status(provider::v1::Booking::CANCELLED);
  if (scripted.has_value() && !scripted->error.ok()) {
    result.booking = scripted->error;
    return result;
  }
  result.booking = answer;
  return result;
}

ProviderResult FakeProviderClient::DoGet(
    const provider::v1::GetBookingRequest& request) {
  absl::MutexLock lock(&mu_);
  std::optional<Scripted> scripted =
      NextScriptedLocked(Method::kGetBooking, request.provider_id());
  ProviderResult result;
  if (scripted.has_value() && !scripted->error.ok()) {
    result.booking = scripted->error;
    result.retry_after = scripted->retry_after;
    return result;
  }
  for (const auto& [key, list] : bookings_) {
    for (const auto& b : list) {
      if ((!request.idempotency_key().empty() &&
           b.idempotency_key() == request.idempotency_key()) ||
          (!request.booking_id().empty() &&
           b.booking_id() == request.booking_id())) {
        result.booking = b;
        return result;
      }
    }
  }
  result.booking = absl::NotFoundError("no such booking");
  return result;
}

absl::StatusOr<provider::v1::ListBookingsResponse>
FakeProviderClient::ListBookings(
    const provider::v1::ListBookingsRequest& request, absl::Duration) {
  absl::MutexLock lock(&mu_);
  provider::v1::ListBookingsResponse response;
  for (const auto& [key, list] : bookings_) {
    for (const auto& b : list) {
      if (request.provider_id().empty() ||
          b.provider_id() == request.provider_id()) {
        *response.add_bookings() = b;
      }
    }
  }
  return response;
}

void FakeProviderClient::Script(Method method, std::vector<Scripted> answers) {
  absl::MutexLock lock(&mu_);
  for (auto& a : answers) scripts_[method].push_back(std::move(a));
}

void FakeProviderClient::FailProvider(const std::string& provider_id,
                                      absl::Status error) {
  absl::MutexLock lock(&mu_);
  if (error.ok()) {
    failing_.erase(provider_id);
  } else {
    failing_[provider_id] = std::move(error);
  }
}

void FakeProviderClient::SetNewBookingStatus(
    provider::v1::Booking::Status status) {
  absl::MutexLock lock(&mu_);
  new_status_ = status;
}

void FakeProviderClient::SetStatusForKey(const std::string& key,
                                         provider::v1::Booking::Status status) {
  absl::MutexLock lock(&mu_);
  for (auto& b : bookings_[key]) b.set_status(status);
}

void FakeProviderClient::HoldCalls(bool hold) {
  absl::MutexLock lock(&mu_);
  hold_ = hold;
}

int FakeProviderClient::ReleaseHeld() {
  std::deque<Work> work;
  {
    absl::MutexLock lock(&mu_);
    work.swap(held_);
  }
  for (auto& w : work) w();
  return static_cast<int>(work.size());
}

int FakeProviderClient::held() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(held_.size());
}

bool FakeProviderClient::WaitHeld(int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(held_.size()) >= n;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

int FakeProviderClient::calls(Method method) const {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}

int FakeProviderClient::book_calls(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = book_calls_.find(key);
  return it == book_calls_.end() ? 0 : it->second;
}

int FakeProviderClient::live_bookings(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  auto it = bookings_.find(key);
  if (it == bookings_.end()) return 0;
  int n = 0;
  for (const auto& b : it->second) n += IsLive(b) ? 1 : 0;
  return n;
}

absl::Duration FakeProviderClient::last_deadline() const {
  absl::MutexLock lock(&mu_);
  return last_deadline_;
}

}  // namespace booking
