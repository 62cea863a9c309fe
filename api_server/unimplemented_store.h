#ifndef API_SERVER_UNIMPLEMENTED_STORE_H_
#define API_SERVER_UNIMPLEMENTED_STORE_H_

// Test base: an AppointmentStore whose every method answers UNIMPLEMENTED.
// Fakes override only what the code under test calls.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/store/appointment_store.h"

namespace booking::testing {

class UnimplementedStore : public AppointmentStore {
 public:
  absl::StatusOr<CreateResult> CreateAppointment(const CreateIntent&) override {
    return No();
  }
  std::vector<absl::StatusOr<CreateResult>> CreateAppointments(
      absl::Span<const CreateIntent> intents) override {
    return std::vector<absl::StatusOr<CreateResult>>(intents.size(), No());
  }
  absl::StatusOr<Appointment> GetAppointment(const std::string&) override {
    return No();
  }
  absl::StatusOr<ListPage> ListAppointments(const ListQuery&) override {
    return No();
  }
  absl::StatusOr<Appointment> TransitionAppointment(
      const Transition&) override {
    return No();
  }
  absl::StatusOr<CancelResult> CancelAppointment(const CancelIntent&) override {
    return No();
  }
  absl::StatusOr<std::vector<ClaimedCommand>> ClaimDueCommands(
      const ClaimRequest&) override {
    return No();
  }
  absl::StatusOr<Appointment> CompleteCommand(const CommandOutcome&) override {
    return No();
  }
  std::vector<absl::StatusOr<Appointment>> CompleteCommands(
      absl::Span<const CommandOutcome> outcomes) override {
    return std::vector<absl::StatusOr<Appointment>>(outcomes.size(), No());
  }
  absl::Status ReleaseCommand(int64_t, int64_t) override { return No(); }
  absl::Status RequeueDeadCommand(int64_t, absl::Time) override { return No(); }
  absl::StatusOr<OutboxCommand> GetCommand(int64_t) override { return No(); }
  absl::StatusOr<std::vector<OutboxCommand>> ListCommandsFor(
      const std::string&) override {
    return No();
  }
  absl::StatusOr<std::optional<absl::Time>> NextDueTime() override {
    return No();
  }
  absl::StatusOr<std::vector<std::pair<CommandStatus, int64_t>>>
  CountCommandsByStatus() override {
    return No();
  }
  absl::StatusOr<std::vector<AppointmentEvent>> ListEvents(
      const std::string&) override {
    return No();
  }
  absl::StatusOr<int64_t> PurgeExpiredIdempotencyKeys(absl::Time) override {
    return No();
  }
  absl::StatusOr<int64_t> ChangeCounter() override { return No(); }

 private:
  static absl::Status No() { return absl::UnimplementedError("not faked"); }
};

}  // namespace booking::testing

#endif  // API_SERVER_UNIMPLEMENTED_STORE_H_
