// The reconciler beside a real outbox Worker on the same database file
// (DESIGN §7: "safe beside running workers"). The interleavings are made
// deterministic with the reconciler's before_repair hook, the worker's
// Step() and the fake provider's held calls, instead of sleeps.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/common/clock.h"
#include "core/provider/fake_provider_client.h"
#include "core/store/sqlite_store.h"
#include "core/store/store_test_util.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "outbox_worker/worker.h"
#include "reconciler/reconciler.h"
#include "reconciler/test_rows.h"

namespace booking::reconciler {
namespace {

using ::provider::v1::Booking;
using A = Appointment;

class ReconcilerWorkerRaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteOptions opts;
    opts.path = booking::testing::FreshDbPath(absl::StrCat(
        ::testing::UnitTest::GetInstance()->current_test_info()->name(),
        ".db"));
    opts.clock = &clock_;
    auto store = SqliteAppointmentStore::Open(opts);
    ASSERT_OK(store);
    worker_store_ = std::move(*store);
    store = SqliteAppointmentStore::Open(opts);
    ASSERT_OK(store);
    reconciler_store_ = std::move(*store);

    // a1 was booked PENDING at the provider, which has confirmed it since;
    // the worker's CONFIRM poll is due.
    testing::RowMaker rows(worker_store_.get());
    const A pending = rows.Pending("a1", t0_);
    provider_.SetNewBookingStatus(Booking::PENDING);
    std::string booking_id;
    provider_.Book(BookRequestFor(pending), absl::Seconds(1),
                   [&](ProviderResult r) {
                     ASSERT_OK(r.booking);
                     booking_id = r.booking->booking_id();
                   });
    ClaimRequest claim;
    claim.worker_id = "booker";
    claim.now = t0_;
    claim.lease = absl::Seconds(30);
    auto claimed = worker_store_->ClaimDueCommands(claim);
    ASSERT_OK(claimed);
    ASSERT_EQ(claimed->size(), 1u);
    CommandOutcome o;
    o.command_id = (*claimed)[0].command.id;
    o.fencing_token = (*claimed)[0].command.fencing_token;
    o.now = t0_;
    o.actor = "worker:booker";
    o.to_state = A::AWAITING_CONFIRMATION;
    o.provider_booking_id = booking_id;
    o.enqueue = CommandType::kConfirm;
    o.enqueue_at = t0_ + absl::Minutes(1);
    o.enqueue_deadline = t0_ + absl::Hours(1);
    ASSERT_OK(worker_store_->CompleteCommand(o));
    provider_.SetStatusForKey("a1", Booking::CONFIRMED);
    clock_.Advance(absl::Minutes(10));

    WorkerOptions wo;
    wo.worker_id = "w1";
    worker_ =
        std::make_unique<Worker>(worker_store_.get(), &provider_, &clock_, wo);
    options_.apply = true;
  }

  RunSummary Reconcile() {
    Reconciler reconciler(reconciler_store_.get(), &provider_, &clock_,
                          options_);
    return reconciler.RunOnce();
  }

  std::vector<AppointmentEvent> ConfirmEvents() {
    auto events = worker_store_->ListEvents("a1");
    EXPECT_OK(events);
    std::vector<AppointmentEvent> out;
    for (const AppointmentEvent& e : *events) {
      if (e.to_state == A::CONFIRMED) out.push_back(e);
    }
    return out;
  }

  const absl::Time t0_ = booking::testing::TestNow();
  SimulatedClock clock_{t0_};
  std::unique_ptr<SqliteAppointmentStore> worker_store_;
  std::unique_ptr<SqliteAppointmentStore> reconciler_store_;
  FakeProviderClient provider_;
  std::unique_ptr<Worker> worker_;
  ReconcilerOptions options_;
};

TEST_F(ReconcilerWorkerRaceTest, WorkerCommitBetweenReadAndWriteWins) {
  // The worker polls and commits CONFIRMED after the reconciler read the
  // row and before it writes: the reconciler's compare-and-set loses.
  options_.before_repair = [&](const Finding& f) {
    ASSERT_EQ(f.drift_class, DriftClass::kLateConfirmation);
    ASSERT_OK(worker_->Step());
    EXPECT_EQ(worker_->CommitAnswers(), 1);
  };
  RunSummary s = Reconcile();
  EXPECT_EQ(s.counts(DriftClass::kLateConfirmation).found, 1);
  EXPECT_EQ(s.counts(DriftClass::kLateConfirmation).skipped, 1);
  EXPECT_EQ(s.exit_code, kExitDrift);
  std::vector<AppointmentEvent> confirmed = ConfirmEvents();
  ASSERT_EQ(confirmed.size(), 1u);
  EXPECT_EQ(confirmed[0].actor, "worker:w1");
  EXPECT_EQ(worker_store_->GetAppointment("a1")->state(), A::CONFIRMED);

  options_.before_repair = nullptr;
  RunSummary again = Reconcile();
  EXPECT_EQ(again.findings(), 0);
  EXPECT_EQ(again.exit_code, kExitClean);
}

TEST_F(ReconcilerWorkerRaceTest, CallInFlightHoldsTheLeaseAndIsLeftAlone) {
  provider_.HoldCalls(true);
  ASSERT_OK(worker_->Step());  // claims the CONFIRM; the poll is in flight
  ASSERT_EQ(provider_.held(), 1);

  RunSummary s = Reconcile();
  EXPECT_EQ(s.findings(), 0);
  EXPECT_EQ(s.left_leased, 1);
  EXPECT_EQ(s.exit_code, kExitClean);
  EXPECT_EQ(worker_store_->GetAppointment("a1")->state(),
            A::AWAITING_CONFIRMATION);

  // The worker finishes its own work.
  EXPECT_EQ(provider_.ReleaseHeld(), 1);
  EXPECT_EQ(worker_->CommitAnswers(), 1);
  std::vector<AppointmentEvent> confirmed = ConfirmEvents();
  ASSERT_EQ(confirmed.size(), 1u);
  EXPECT_EQ(confirmed[0].actor, "worker:w1");
}

TEST_F(ReconcilerWorkerRaceTest, ReconcilerFirstRetiresThePollForTheWorker) {
  RunSummary s = Reconcile();
  EXPECT_EQ(s.counts(DriftClass::kLateConfirmation).repaired, 1);
  EXPECT_EQ(s.exit_code, kExitClean);
  // The worker finds nothing left to do: its poll was retired.
  absl::StatusOr<int> claimed = worker_->Step();
  ASSERT_OK(claimed);
  EXPECT_EQ(*claimed, 0);
  std::vector<AppointmentEvent> confirmed = ConfirmEvents();
  ASSERT_EQ(confirmed.size(), 1u);
  EXPECT_EQ(confirmed[0].actor, "reconciler");
}

}  // namespace
}  // namespace booking::reconciler
