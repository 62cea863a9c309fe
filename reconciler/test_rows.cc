#include "reconciler/test_rows.h"

#include <vector>

#include "core/store/store_test_util.h"
#include "gtest/gtest.h"

namespace booking::reconciler::testing {

using A = Appointment;

A RowMaker::Pending(const std::string& id, absl::Time at,
                    const std::string& provider) {
  absl::StatusOr<CreateResult> r = store_->CreateAppointment(
      booking::testing::MakeCreateIntent(id, "req-" + id, at, provider));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->appointment : A();
}

ClaimedCommand RowMaker::ClaimFor(const std::string& id, absl::Time at,
                                  absl::Duration lease) {
  ClaimRequest req;
  req.worker_id = "w-test";
  req.now = at;
  req.lease = lease;
  req.max_rows = 1;
  absl::StatusOr<std::vector<ClaimedCommand>> claimed =
      store_->ClaimDueCommands(req);
  EXPECT_TRUE(claimed.ok()) << claimed.status();
  if (!claimed.ok() || claimed->empty()) {
    ADD_FAILURE() << "nothing to claim for " << id;
    return ClaimedCommand();
  }
  EXPECT_EQ((*claimed)[0].command.appointment_id, id)
      << "another row's command was due first";
  return (*claimed)[0];
}

A RowMaker::Complete(const ClaimedCommand& claimed, absl::Time at,
                     CommandOutcome o) {
  o.command_id = claimed.command.id;
  o.fencing_token = claimed.command.fencing_token;
  o.now = at;
  o.actor = "worker:w-test";
  absl::StatusOr<A> a = store_->CompleteCommand(o);
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *a : A();
}

A RowMaker::InProgress(const std::string& id, absl::Time at,
                       absl::Duration lease, const std::string& provider) {
  Pending(id, at, provider);
  ClaimFor(id, at, lease);
  absl::StatusOr<A> a = store_->GetAppointment(id);
  return a.ok() ? *a : A();
}

A RowMaker::Confirmed(const std::string& id, const std::string& booking_id,
                      absl::Time at, const std::string& provider) {
  Pending(id, at, provider);
  CommandOutcome o;
  o.to_state = A::CONFIRMED;
  o.provider_booking_id = booking_id;
  return Complete(ClaimFor(id, at, absl::Seconds(30)), at, o);
}

A RowMaker::Awaiting(const std::string& id, const std::string& booking_id,
                     absl::Time at, const std::string& provider) {
  Pending(id, at, provider);
  CommandOutcome o;
  o.to_state = A::AWAITING_CONFIRMATION;
  o.provider_booking_id = booking_id;
  o.enqueue = CommandType::kConfirm;
  o.enqueue_at = at + absl::Minutes(1);
  o.enqueue_deadline = at + absl::Hours(1);
  return Complete(ClaimFor(id, at, absl::Seconds(30)), at, o);
}

A RowMaker::Failed(const std::string& id, absl::Time at,
                   const std::string& reason, const std::string& provider) {
  Pending(id, at, provider);
  CommandOutcome o;
  o.to_state = A::FAILED;
  o.failure_reason = reason;
  return Complete(ClaimFor(id, at, absl::Seconds(30)), at, o);
}

A RowMaker::Cancelled(const std::string& id, absl::Time at) {
  Pending(id, at);
  absl::StatusOr<CancelResult> r = store_->CancelAppointment(
      booking::testing::MakeCancelIntent(id, "cancel-" + id, at));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->appointment : A();
}

}  // namespace booking::reconciler::testing
