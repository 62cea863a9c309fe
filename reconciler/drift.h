#ifndef RECONCILER_DRIFT_H_
#define RECONCILER_DRIFT_H_

// The vocabulary of a reconciler run (DESIGN §7): the six drift classes, a
// finding (class, ids, evidence, action, outcome) and per-class counts.
// Names returned here are a contract: they appear in the JSON report, the
// reconcile_findings table, the metrics and the logs.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace booking::reconciler {

enum class DriftClass {
  kProviderLost,      // DB CONFIRMED, provider has no live booking
  kOrphan,            // provider booking live, DB row FAILED/CANCELLED/absent
  kFieldMismatch,     // time, duration or location differ
  kStuck,             // PENDING/IN_PROGRESS/AWAITING past its SLA, no lease
  kDuplicate,         // more than one live booking for one appointment
  kLateConfirmation,  // DB AWAITING_CONFIRMATION, provider CONFIRMED
};
inline constexpr int kDriftClassCount = 6;

// "provider_lost", "orphan", "field_mismatch", "stuck", "duplicate",
// "late_confirmation".
absl::string_view DriftClassName(DriftClass c);
// In the order above (report and summary order).
const std::array<DriftClass, kDriftClassCount>& AllDriftClasses();

enum class Outcome {
  kPlanned,   // dry-run: what --apply would do
  kRepaired,  // done
  kSkipped,   // not done on purpose (changed concurrently, report-only)
  kFailed,    // tried and failed (e.g. the provider's cancel failed)
};
// "planned", "repaired", "skipped", "failed".
absl::string_view OutcomeName(Outcome o);

struct Finding {
  DriftClass drift_class = DriftClass::kOrphan;
  // The appointment id, which is also the bookings' idempotency key (for an
  // orphan without a row: the key the provider holds).
  std::string appointment_id;
  std::string provider_id;
  // The provider bookings the finding is about (those to cancel, the one to
  // confirm, ...).
  std::vector<std::string> booking_ids;
  // What was seen, as a JSON object (DB state and version, provider
  // statuses, differing fields, ...).
  nlohmann::ordered_json evidence = nlohmann::ordered_json::object();
  // What is (or would be) done: "mark_failed", "cancel_bookings",
  // "cancel_duplicates", "mark_confirmed", "requeue", "report_only",
  // "mark_failed_and_cancel".
  std::string action;
  Outcome outcome = Outcome::kPlanned;
  std::string detail;
};

// The finding as one JSON object of the report's "findings" array.
nlohmann::ordered_json FindingToJson(const Finding& f);

struct ClassCounts {
  int64_t found = 0;
  int64_t planned = 0;
  int64_t repaired = 0;
  int64_t skipped = 0;
  int64_t failed = 0;

  void Add(Outcome o);
};

}  // namespace booking::reconciler

#endif  // RECONCILER_DRIFT_H_
