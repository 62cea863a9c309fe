#ifndef CORE_PROVIDER_PROVIDER_CLIENT_H_
#define CORE_PROVIDER_PROVIDER_CLIENT_H_

// The worker's and reconciler's view of a calendar provider (DESIGN §5).
//
// Calls are asynchronous: each takes a per-attempt deadline and a completion
// callback, so the worker can keep many calls in flight without a thread per
// call. The callback runs exactly once, on an implementation thread (never
// inside the call itself for the gRPC client; the fake may run it inline, see
// fake_provider_client.h), and must not block for long.

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/appointments/v1/appointment_service.pb.h"
#include "proto/provider/v1/provider.pb.h"

namespace booking {

using ProviderBooking = provider::v1::Booking;

// What one provider call produced.
struct ProviderResult {
  // The booking, or the call's error mapped one to one from gRPC
  // (DEADLINE_EXCEEDED when the per-attempt deadline passed).
  absl::StatusOr<ProviderBooking> booking;
  // The provider's `retry-after-ms` trailing metadata, if it sent one (a
  // floor for the next attempt; see core/resilience/backoff.h).
  std::optional<absl::Duration> retry_after;
};

using ProviderCallback = std::function<void(ProviderResult)>;

class ProviderClient {
 public:
  virtual ~ProviderClient() = default;

  virtual void Book(const provider::v1::BookRequest& request,
                    absl::Duration deadline, ProviderCallback done) = 0;
  virtual void Cancel(const provider::v1::CancelRequest& request,
                      absl::Duration deadline, ProviderCallback done) = 0;
  virtual void GetBooking(const provider::v1::GetBookingRequest& request,
                          absl::Duration deadline, ProviderCallback done) = 0;

  // Asks every call in flight to end now (its callback still runs, with
  // CANCELLED). For a fast shutdown once their leases are released.
  virtual void CancelInFlight() {}

  // One page, synchronously (the reconciler pages at its own pace).
  virtual absl::StatusOr<provider::v1::ListBookingsResponse> ListBookings(
      const provider::v1::ListBookingsRequest& request,
      absl::Duration deadline) = 0;
};

// The Book request for an appointment. The idempotency key is the appointment
// id, so every attempt, after any crash, carries the same key and any booking
// traces back to its appointment. Patient data never leaves: customer_ref is
// the opaque customer id, and name/email/phone/notes are not copied.
provider::v1::BookRequest BookRequestFor(
    const appointments::v1::Appointment& appointment);

// Cancel / GetBooking by idempotency key (= appointment id): a cancel by key
// removes every live booking made with that key, whatever its booking id.
provider::v1::CancelRequest CancelRequestFor(
    const appointments::v1::Appointment& appointment);
provider::v1::GetBookingRequest GetBookingRequestFor(
    const appointments::v1::Appointment& appointment);

}  // namespace booking

#endif  // CORE_PROVIDER_PROVIDER_CLIENT_H_
