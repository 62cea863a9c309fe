#ifndef LEGACY_CLIENT_LEGACY_BOOKER_H_
#define LEGACY_CLIENT_LEGACY_BOOKER_H_

// The "legacy" direct-booking client of DESIGN §9, kept as the baseline the
// service is compared against: it calls the provider directly, once per
// request, with a fresh idempotency key on every call (so the provider cannot
// deduplicate a retry), no retries, no outbox and no reconciliation. An error
// is simply reported to the caller; whatever the provider did meanwhile
// (a ghost booking, a booking made after our deadline) stays unknown to it.
//
// Deliberately naive: do not "fix" it, its flaws are what the scenario run
// measures.

#include <cstdint>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/common/clock.h"
#include "core/provider/provider_client.h"

namespace booking::legacy {

// What a legacy front-end sends for one booking. No patient data: the
// provider only ever sees the opaque customer reference.
struct LegacyBookRequest {
  std::string provider_id;
  absl::Time start_time;
  int duration_minutes = 0;
  std::string location;
  std::string customer_ref;
};

// The answer of one provider call, as the legacy client saw it.
struct LegacyResult {
  // The call's outcome; DEADLINE_EXCEEDED when our deadline passed first.
  absl::Status status;
  // Set when the call succeeded.
  std::string booking_id;
  provider::v1::Booking::Status booking_status =
      provider::v1::Booking::STATUS_UNSPECIFIED;
  // The key this one call carried (Book only). Never reused by the legacy
  // client; recorded so an evaluator can trace the provider's bookings.
  std::string idempotency_key;
  absl::Duration latency;
};

class LegacyBooker {
 public:
  // `provider` and `clock` are not owned and must outlive the booker.
  // `call_timeout` is the deadline of each call; `key_seed` seeds the fresh
  // keys (any value; different seeds give different keys).
  LegacyBooker(ProviderClient* provider, absl::Duration call_timeout,
               uint64_t key_seed, Clock* clock = RealClock());

  // One Book call with a fresh key. Thread-safe.
  LegacyResult Book(const LegacyBookRequest& request);

  // One Cancel call by booking id (the only handle the legacy client keeps).
  // Thread-safe.
  LegacyResult Cancel(const std::string& provider_id,
                      const std::string& booking_id);

 private:
  std::string FreshKey();
  // Runs one async provider call to completion.
  template <typename Start>
  LegacyResult Call(Start start);

  ProviderClient* const provider_;
  const absl::Duration call_timeout_;
  Clock* const clock_;
  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

// "CONFIRMED", "PENDING", ...; for printing.
std::string BookingStatusName(provider::v1::Booking::Status status);

}  // namespace booking::legacy

#endif  // LEGACY_CLIENT_LEGACY_BOOKER_H_
