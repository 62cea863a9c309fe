#include "reconciler/drift.h"

namespace booking::reconciler {

absl::string_view DriftClassName(DriftClass c) {
  switch (c) {
    case DriftClass::kProviderLost:
      return "provider_lost";
    case DriftClass::kOrphan:
      return "orphan";
    case DriftClass::kFieldMismatch:
      return "field_mismatch";
    case DriftClass::kStuck:
      return "stuck";
    case DriftClass::kDuplicate:
      return "duplicate";
    case DriftClass::kLateConfirmation:
      return "late_confirmation";
  }
  return "unknown";
}

const std::array<DriftClass, kDriftClassCount>& AllDriftClasses() {
  static constexpr std::array<DriftClass, kDriftClassCount> kAll = {
      DriftClass::kProviderLost,  DriftClass::kOrphan,
      DriftClass::kFieldMismatch, DriftClass::kStuck,
      DriftClass::kDuplicate,     DriftClass::kLateConfirmation};
  return kAll;
}

absl::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kPlanned:
      return "planned";
    case Outcome::kRepaired:
      return "repaired";
    case Outcome::kSkipped:
      return "skipped";
    case Outcome::kFailed:
      return "failed";
  }
  return "unknown";
}

nlohmann::ordered_json FindingToJson(const Finding& f) {
  nlohmann::ordered_json j;
  j["class"] = std::string(DriftClassName(f.drift_class));
  j["appointment_id"] = f.appointment_id;
  j["provider_id"] = f.provider_id;
  j["booking_ids"] = f.booking_ids;
  j["evidence"] = f.evidence;
  j["action"] = f.action;
  j["outcome"] = std::string(OutcomeName(f.outcome));
  j["detail"] = f.detail;
  return j;
}

void ClassCounts::Add(Outcome o) {
  ++found;
  switch (o) {
    case Outcome::kPlanned:
      ++planned;
      break;
    case Outcome::kRepaired:
      ++repaired;
      break;
    case Outcome::kSkipped:
      ++skipped;
      break;
    case Outcome::kFailed:
      ++failed;
      break;
  }
}

}  // namespace booking::reconciler
