#ifndef BENCH_OUTCOME_CHECK_H_
#define BENCH_OUTCOME_CHECK_H_

// The end-of-benchmark correctness check (issue 8): at the rates measured,
// did every intent reach a final state with exactly one provider booking?
// Compares the database with the provider's per-key live booking counts.

#include <cstdint>
#include <map>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/store/appointment_store.h"
#include "nlohmann/json.hpp"

namespace booking::bench {

struct OutcomeReport {
  int64_t appointments = 0;
  std::map<std::string, int64_t> states;  // state name -> appointments
  // Not CONFIRMED, CANCELLED or FAILED.
  int64_t not_final = 0;
  // CONFIRMED with exactly one live provider booking under its id.
  int64_t confirmed_one_booking = 0;
  // CONFIRMED with no live booking.
  int64_t confirmed_without_booking = 0;
  // Appointments (any state) with more than one live booking.
  int64_t duplicates = 0;
  // CANCELLED/FAILED appointments that still have a live booking, plus live
  // bookings whose key is no appointment of this database.
  int64_t orphans = 0;
  // Outbox commands still PENDING or LEASED.
  int64_t unfinished_commands = 0;

  bool ok() const {
    return not_final == 0 && confirmed_without_booking == 0 &&
           duplicates == 0 && orphans == 0 && unfinished_commands == 0;
  }
  nlohmann::json ToJson() const;
};

// `live_by_key`: the provider's live (CONFIRMED or PENDING) bookings per
// idempotency key; our BOOK key is the appointment id (DESIGN §5). Reads
// every appointment of `store` page by page.
absl::StatusOr<OutcomeReport> CheckOutcome(
    AppointmentStore& store,
    const absl::flat_hash_map<std::string, int64_t>& live_by_key);

}  // namespace booking::bench

#endif  // BENCH_OUTCOME_CHECK_H_
