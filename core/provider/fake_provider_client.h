#ifndef CORE_PROVIDER_FAKE_PROVIDER_CLIENT_H_
#define CORE_PROVIDER_FAKE_PROVIDER_CLIENT_H_

// An in-memory provider for fast unit tests of the worker (and later the
// reconciler). It keeps bookings per idempotency key like the real contract
// (a repeated Book returns the first booking; Cancel by key cancels every live
// booking; cancelling an unknown key is OK), and lets a test script failures
// and hold calls "in flight" until it releases them.
//
// By default callbacks run inline, inside Book/Cancel/GetBooking. With
// HoldCalls(true) they are parked until ReleaseHeld(), which lets a test
// observe a call in flight (e.g. a user's cancel arriving meanwhile).

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/provider/provider_client.h"

namespace booking {

class FakeProviderClient final : public ProviderClient {
 public:
  enum class Method { kBook, kCancel, kGetBooking };

  // One scripted answer, consumed by the next call of its method.
  struct Scripted {
    absl::Status error;  // OK: answer normally
    std::optional<absl::Duration> retry_after;
    // With an error: still carry out the operation first (a ghost booking:
    // the provider booked, the caller saw a failure).
    bool apply_anyway = false;
  };

  FakeProviderClient() = default;

  void Book(const provider::v1::BookRequest& request, absl::Duration deadline,
            ProviderCallback done) override;
  void Cancel(const provider::v1::CancelRequest& request,
              absl::Duration deadline, ProviderCallback done) override;
  void GetBooking(const provider::v1::GetBookingRequest& request,
                  absl::Duration deadline, ProviderCallback done) override;
  absl::StatusOr<provider::v1::ListBookingsResponse> ListBookings(
      const provider::v1::ListBookingsRequest& request,
      absl::Duration deadline) override;

  // Appends scripted answers for `method`.
  void Script(Method method, std::vector<Scripted> answers);
  // Every call of `method` for `provider_id` fails with `error` until
  // cleared with an OK status (like mock_provider's always_fail).
  void FailProvider(const std::string& provider_id, absl::Status error);
  // Status of new bookings (default CONFIRMED; PENDING for async confirm).
  void SetNewBookingStatus(provider::v1::Booking::Status status);
  // Changes every booking of `key` (e.g. PENDING -> CONFIRMED later).
  void SetStatusForKey(const std::string& key,
                       provider::v1::Booking::Status status);

  void HoldCalls(bool hold);
  // Runs every parked call; returns how many.
  int ReleaseHeld();
  int held() const;
  // Blocks until at least `n` calls are parked, or `timeout` passes; returns
  // whether they are.
  bool WaitHeld(int n, absl::Duration timeout) const;

  // Counters for assertions.
  int calls(Method method) const;
  int book_calls(const std::string& key) const;
  // Bookings of `key` in CONFIRMED or PENDING.
  int live_bookings(const std::string& key) const;
  // The last per-attempt deadline passed to any call.
  absl::Duration last_deadline() const;

 private:
  using Work = std::function<void()>;
  // Runs or parks `work` (which computes and delivers the answer).
  void Dispatch(Work work);
  ProviderResult DoBook(const provider::v1::BookRequest& request);
  ProviderResult DoCancel(const provider::v1::CancelRequest& request);
  ProviderResult DoGet(const provider::v1::GetBookingRequest& request);
  // Pops a scripted answer for `method`, or a provider-wide failure.
  std::optional<Scripted> NextScriptedLocked(Method method,
                                             const std::string& provider_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<Method, std::deque<Scripted>> scripts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> failing_ ABSL_GUARDED_BY(mu_);
  provider::v1::Booking::Status new_status_ ABSL_GUARDED_BY(mu_) =
      provider::v1::Booking::CONFIRMED;
  // Bookings in creation order, per key.
  std::map<std::string, std::vector<ProviderBooking>> bookings_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> book_calls_ ABSL_GUARDED_BY(mu_);
  std::map<Method, int> calls_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Work> held_ ABSL_GUARDED_BY(mu_);
  absl::Duration last_deadline_ ABSL_GUARDED_BY(mu_);
};

}  // namespace booking

#endif  // CORE_PROVIDER_FAKE_PROVIDER_CLIENT_H_
