#ifndef SHARED_RUNNER_EVALUATE_H_
#define SHARED_RUNNER_EVALUATE_H_

// Judges one played case against its expectation, from plain data (no I/O):
// the play record, the provider's bookings and the appointments' end states.
//
// Counting rules (the same for both paths, reported per case):
// - lost: an intent the client believes booked (service: CONFIRMED; legacy:
//   it holds a booking id) or that the case expects booked (the service
//   expectation says CONFIRMED), with no live provider booking at the end.
// - duplicate: live bookings of one intent beyond the first.
// - orphan: a live booking the client does not hold: its key belongs to no
//   intent, or (service) its appointment is not CONFIRMED, or (legacy) the
//   client was never told its booking id / cancelled it.
// An intent can count as duplicate and orphan at once (two bookings made
// behind timeouts): both are wrong, for different reasons.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "Shared/runner/records.h"
#include "Shared/runner/scenario_data.h"

namespace booking::scenarios {

struct IntentResult {
  std::string name;
  std::string appointment_id;  // service
  std::vector<std::string> keys;
  // Service: the appointment's state (NOT_FOUND if the id is unknown,
  // NOT_CREATED if no create succeeded). Legacy: what the client believes:
  // "booked", "cancelled" or "not booked".
  std::string state;
  std::string failure_reason;
  int attempts = 0;  // service
  int64_t book_calls = 0;
  int64_t live_bookings = 0;
  std::optional<double> settle_ms;
  bool lost = false;
};

struct CaseResult {
  std::string case_id;
  std::string path;
  std::string provider_id;
  std::string mode;
  bool pass = true;
  std::vector<std::string> failures;
  std::vector<CallRecord> calls;
  std::vector<IntentResult> intents;
  std::vector<BookingView> bookings;
  int64_t provider_live_bookings = 0;
  int64_t lost = 0;
  int64_t duplicate = 0;
  int64_t orphan = 0;
  // Book calls beyond the first, per intent (the service's retries; the
  // legacy client never retries, its repeated requests are new bookings).
  int64_t retries = 0;
  int64_t errors = 0;  // calls answered with anything but OK
  int64_t idempotency_checks = 0;
  int64_t idempotency_passed = 0;
  BreakerView breaker;
  double duration_ms = 0;
};

CaseResult Evaluate(const Case& c, const CaseExpectation& expected,
                    const CaseRun& run, const CaseInspection& inspection);

OrderedJson ToJson(const CaseResult& r);

}  // namespace booking::scenarios

#endif  // SHARED_RUNNER_EVALUATE_H_
