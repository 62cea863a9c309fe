#include "core/store/appointment_store.h"

#include "absl/strings/str_cat.h"

namespace booking {

const char* CommandTypeName(CommandType t) {
  switch (t) {
    case CommandType::kBook:
      return "BOOK";
    case CommandType::kCancel:
      return "CANCEL";
    case CommandType::kCompensate:
      return "COMPENSATE";
    case CommandType::kConfirm:
      return "CONFIRM";
  }
  return "UNKNOWN";
}

const char* CommandStatusName(CommandStatus s) {
  switch (s) {
    case CommandStatus::kPending:
      return "PENDING";
    case CommandStatus::kLeased:
      return "LEASED";
    case CommandStatus::kDone:
      return "DONE";
    case CommandStatus::kDead:
      return "DEAD";
  }
  return "UNKNOWN";
}

// ------------------------------------------------------------ reconciler --
// Defaults for stores that do not support the reconciler (test fakes).

namespace {
absl::Status NotSupported(const char* method) {
  return absl::UnimplementedError(
      absl::StrCat(method, " is not supported by this store"));
}
}  // namespace

absl::StatusOr<int64_t> AppointmentStore::StartReconcileRun(const std::string&,
                                                            absl::Time) {
  return NotSupported("StartReconcileRun");
}
absl::Status AppointmentStore::FinishReconcileRun(const ReconcileRun&) {
  return NotSupported("FinishReconcileRun");
}
absl::Status AppointmentStore::RecordReconcileFindings(
    absl::Span<const ReconcileFindingRecord>) {
  return NotSupported("RecordReconcileFindings");
}
absl::StatusOr<std::vector<ReconcileRun>> AppointmentStore::ListReconcileRuns(
    int) {
  return NotSupported("ListReconcileRuns");
}
absl::StatusOr<std::vector<ReconcileFindingRecord>>
AppointmentStore::ListReconcileFindings(int64_t, int64_t, int) {
  return NotSupported("ListReconcileFindings");
}
absl::Status AppointmentStore::AddSeenBookings(int64_t,
                                               absl::Span<const SeenBooking>) {
  return NotSupported("AddSeenBookings");
}
absl::Status AppointmentStore::ClearSeenBookings(int64_t) {
  return NotSupported("ClearSeenBookings");
}
absl::StatusOr<ReconcileItemPage> AppointmentStore::ListSeenKeys(
    int64_t, const std::string&, int) {
  return NotSupported("ListSeenKeys");
}
absl::StatusOr<ReconcileItemPage>
AppointmentStore::ListAppointmentsForReconcile(int64_t, Appointment::State,
                                               const std::string&, int) {
  return NotSupported("ListAppointmentsForReconcile");
}
absl::StatusOr<Appointment> AppointmentStore::ReconcileTransitionAppointment(
    const ReconcileTransition&) {
  return NotSupported("ReconcileTransitionAppointment");
}
absl::StatusOr<StuckRequeueResult> AppointmentStore::RequeueStuckAppointment(
    const StuckRequeue&) {
  return NotSupported("RequeueStuckAppointment");
}

}  // namespace booking
