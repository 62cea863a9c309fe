#ifndef SHARED_RUNNER_RECORDS_H_
#define SHARED_RUNNER_RECORDS_H_

// What the runner saw: the play records (one per case and path, written by
// `scenario_runner play`) and the end-state inspection (read by `check` after
// the reconciler ran). Both round-trip through JSON, so the two phases can
// run in separate processes with the reconciler in between.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace booking::scenarios {

using OrderedJson = nlohmann::ordered_json;

inline constexpr char kLegacyPath[] = "legacy";
inline constexpr char kServicePath[] = "service";

// The answer to one API call (service) or provider call (legacy).
struct CallRecord {
  int step = 0;
  std::string op;  // "create", "cancel"
  std::string intent;
  std::string request_id;
  std::string code = "OK";  // gRPC code name, or NOTHING_TO_CANCEL
  std::string message;
  bool replay = false;  // service: `idempotent-replay: true` came back
  double latency_ms = 0;
  std::string appointment_id;  // service
  std::string booking_id;      // legacy: the booking it was told about
  std::string booking_status;  // legacy
  std::string key;             // legacy: the fresh key of this call
};

// One appointment the user means (several calls may concern it).
struct IntentRecord {
  std::string name;
  // Provider idempotency keys that may carry its bookings: the appointment
  // id (service) or every key the legacy client used for it.
  std::vector<std::string> keys;
  std::string appointment_id;  // service
  // Legacy: the booking ids it believes it holds (booked, not cancelled).
  std::vector<std::string> held_booking_ids;
  // Service: from the first create to the last waited-for state.
  std::optional<double> settle_ms;
};

struct CaseRun {
  std::string case_id;
  std::string path;  // kLegacyPath or kServicePath
  std::vector<CallRecord> calls;
  std::vector<IntentRecord> intents;
  // A wait that timed out, a control call that failed: the case fails.
  std::vector<std::string> play_errors;
  double duration_ms = 0;

  IntentRecord* FindIntent(const std::string& name);
};

struct PlayState {
  std::string started_at;       // RFC 3339
  std::string base_start_time;  // the slot time every create starts from
  std::vector<CaseRun> runs;    // legacy and service, in play order
};

OrderedJson ToJson(const CallRecord& c);
OrderedJson ToJson(const IntentRecord& i);
OrderedJson ToJson(const CaseRun& r);
OrderedJson ToJson(const PlayState& s);
absl::StatusOr<PlayState> PlayStateFromJson(const std::string& text);

// ---- End-state inspection -------------------------------------------------

struct BookingView {
  std::string booking_id;
  std::string key;
  std::string status;  // provider.v1.Booking.Status name
  bool live = false;   // CONFIRMED or PENDING
};

struct AppointmentView {
  bool found = false;
  std::string state;  // appointments.v1.Appointment.State name
  std::string failure_reason;
  int attempts = 0;
};

// Breaker history of one provider from the worker's /metrics.
struct BreakerView {
  bool scraped = false;
  int64_t openings = 0;  // transitions into OPEN
  int64_t closings = 0;  // transitions into CLOSED
  std::optional<int>
      state;  // 0 closed, 1 open, 2 half-open; unset: never changed
};

struct CaseInspection {
  std::vector<BookingView> bookings;  // every booking of the case's provider
  std::map<std::string, int64_t> book_calls_by_key;
  // Service: appointments by id, for every intent and every live booking key.
  std::map<std::string, AppointmentView> appointments;
  BreakerView breaker;
};

OrderedJson ToJson(const BookingView& b);

}  // namespace booking::scenarios

#endif  // SHARED_RUNNER_RECORDS_H_
