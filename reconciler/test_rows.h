#ifndef RECONCILER_TEST_ROWS_H_
#define RECONCILER_TEST_ROWS_H_

// Drives appointments into each state the way the api_server and a worker
// would (create, claim, complete), at a chosen time (testonly). Fields are
// those of store_test_util's MakeCreateIntent (start at+48h, 30 min,
// "Room 1"), matching PagedFakeProvider::InjectFor(key, at).
//
// A claim takes the oldest due command: create the rows meant to stay
// PENDING after the others.

#include <string>

#include "absl/time/time.h"
#include "core/store/appointment_store.h"

namespace booking::reconciler::testing {

class RowMaker {
 public:
  explicit RowMaker(AppointmentStore* store) : store_(store) {}

  Appointment Pending(const std::string& id, absl::Time at,
                      const std::string& provider = "prov-a");
  // The BOOK claimed by worker "w-test" with `lease`, never completed.
  Appointment InProgress(const std::string& id, absl::Time at,
                         absl::Duration lease = absl::Seconds(30),
                         const std::string& provider = "prov-a");
  Appointment Confirmed(const std::string& id, const std::string& booking_id,
                        absl::Time at, const std::string& provider = "prov-a");
  // Booked PENDING at the provider: a CONFIRM poll is queued at at+1m with
  // deadline at+1h.
  Appointment Awaiting(const std::string& id, const std::string& booking_id,
                       absl::Time at, const std::string& provider = "prov-a");
  Appointment Failed(const std::string& id, absl::Time at,
                     const std::string& reason = "provider_rejected",
                     const std::string& provider = "prov-a");
  // Cancelled before any provider call.
  Appointment Cancelled(const std::string& id, absl::Time at);

 private:
  // Claims the oldest due command at `at`; it must belong to `id`.
  ClaimedCommand ClaimFor(const std::string& id, absl::Time at,
                          absl::Duration lease);
  Appointment Complete(const ClaimedCommand& claimed, absl::Time at,
                       CommandOutcome outcome);

  AppointmentStore* const store_;
};

}  // namespace booking::reconciler::testing

#endif  // RECONCILER_TEST_ROWS_H_
