// The reconciler's part of SqliteAppointmentStore (schema step 2, the run
// and finding history, the TEMP scratch set and the guarded repairs), on
// real files under $TEST_TMPDIR.

#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/common/clock.h"
#include "core/domain/state_machine.h"
#include "core/store/sqlite_schema.h"
#include "core/store/sqlite_store.h"
#include "core/store/store_test_fixture.h"
#include "core/store/store_test_util.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using ::booking::testing::MakeCreateIntent;
using ::booking::testing::RawDb;
using ::booking::testing::StatusIs;
using ::booking::testing::TestNow;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using A = Appointment;

SeenBooking Seen(const std::string& key, const std::string& booking_id,
                 const std::string& status = "CONFIRMED",
                 absl::Time created = TestNow()) {
  SeenBooking b;
  b.booking_id = booking_id;
  b.idempotency_key = key;
  b.provider_id = "prov-a";
  b.status = status;
  b.live = status == "CONFIRMED" || status == "PENDING";
  b.start_time = TestNow() + absl::Hours(48);
  b.duration_minutes = 30;
  b.location = "Room 1";
  b.create_time = created;
  return b;
}

// One store on a fresh file per test (store_test_fixture.h).
class SqliteStoreReconcileTest : public testing::SqliteStoreFixture {};

// --------------------------------------------------------------- schema --

TEST_F(SqliteStoreReconcileTest, SchemaStepTwoAddsRunAndFindingTables) {
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("PRAGMA user_version"),
            sqlite::SchemaMigrations().back().version);
  EXPECT_GE(sqlite::SchemaMigrations().back().version, 2);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM sqlite_master WHERE name IN"
                    " ('reconcile_runs', 'reconcile_findings')"),
            2);
}

TEST_F(SqliteStoreReconcileTest, VersionOneFileIsUpgradedKeepingItsData) {
  Confirmed("a1");
  store_.reset();
  {
    // Make the file look like one written by the previous binary.
    RawDb raw(path_);
    ASSERT_EQ(raw.Exec("DROP TABLE reconcile_findings; DROP TABLE"
                       " reconcile_runs; PRAGMA user_version = 1;"),
              SQLITE_OK);
  }
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(Get("a1").state(), A::CONFIRMED);
  EXPECT_OK(store_->StartReconcileRun("dry-run", now_));
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("PRAGMA user_version"),
            sqlite::SchemaMigrations().back().version);
}

// ------------------------------------------------------------- history --

TEST_F(SqliteStoreReconcileTest, RunsAreRecordedAndListedNewestFirst) {
  absl::StatusOr<int64_t> first = store_->StartReconcileRun("dry-run", now_);
  ASSERT_OK(first);
  absl::StatusOr<int64_t> second =
      store_->StartReconcileRun("apply", now_ + absl::Minutes(10));
  ASSERT_OK(second);
  EXPECT_GT(*second, *first);

  ReconcileRun done;
  done.id = *first;
  done.finished = now_ + absl::Seconds(3);
  done.provider_bookings_scanned = 120;
  done.db_rows_scanned = 100;
  done.findings = 4;
  done.repaired = 0;
  done.errors = 1;
  done.exit_code = 1;
  done.error = "";
  ASSERT_OK(store_->FinishReconcileRun(done));

  absl::StatusOr<std::vector<ReconcileRun>> runs =
      store_->ListReconcileRuns(10);
  ASSERT_OK(runs);
  ASSERT_THAT(*runs, SizeIs(2));
  // The second run has not finished: no exit code, no finish time.
  EXPECT_EQ((*runs)[0].id, *second);
  EXPECT_EQ((*runs)[0].mode, "apply");
  EXPECT_FALSE((*runs)[0].exit_code.has_value());
  EXPECT_EQ((*runs)[0].finished, absl::InfinitePast());
  const ReconcileRun& r = (*runs)[1];
  EXPECT_EQ(r.id, *first);
  EXPECT_EQ(r.mode, "dry-run");
  EXPECT_EQ(r.started, now_);
  EXPECT_EQ(r.finished, now_ + absl::Seconds(3));
  EXPECT_EQ(r.provider_bookings_scanned, 120);
  EXPECT_EQ(r.db_rows_scanned, 100);
  EXPECT_EQ(r.findings, 4);
  EXPECT_EQ(r.errors, 1);
  EXPECT_EQ(r.exit_code, 1);

  EXPECT_THAT(store_->ListReconcileRuns(1), ::testing::Truly([&](auto& v) {
                return v.ok() && v->size() == 1 && (*v)[0].id == *second;
              }));
}

TEST_F(SqliteStoreReconcileTest, BadModeAndUnknownRunAreRefused) {
  EXPECT_THAT(store_->StartReconcileRun("maybe", now_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ReconcileRun run;
  run.id = 42;
  EXPECT_THAT(store_->FinishReconcileRun(run),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SqliteStoreReconcileTest, FindingsRoundTripAndPageById) {
  absl::StatusOr<int64_t> run = store_->StartReconcileRun("apply", now_);
  ASSERT_OK(run);
  std::vector<ReconcileFindingRecord> batch;
  for (int i = 0; i < 3; ++i) {
    ReconcileFindingRecord f;
    f.run_id = *run;
    f.drift_class = i == 0 ? "duplicate" : "orphan";
    f.appointment_id = absl::StrCat("a", i);
    f.provider_id = "prov-a";
    f.booking_ids = {absl::StrCat("b", i), "with \"quote\""};
    f.evidence_json = R"({"live_bookings":2})";
    f.action = "cancel_bookings";
    f.outcome = "repaired";
    f.detail = "cancelled";
    f.time = now_ + absl::Seconds(i);
    batch.push_back(f);
  }
  ASSERT_OK(store_->RecordReconcileFindings(batch));

  absl::StatusOr<std::vector<ReconcileFindingRecord>> page =
      store_->ListReconcileFindings(*run, 0, 2);
  ASSERT_OK(page);
  ASSERT_THAT(*page, SizeIs(2));
  EXPECT_EQ((*page)[0].drift_class, "duplicate");
  EXPECT_THAT((*page)[0].booking_ids, ElementsAre("b0", "with \"quote\""));
  EXPECT_EQ((*page)[0].evidence_json, R"({"live_bookings":2})");
  EXPECT_EQ((*page)[0].outcome, "repaired");
  EXPECT_EQ((*page)[1].time, now_ + absl::Seconds(1));
  absl::StatusOr<std::vector<ReconcileFindingRecord>> rest =
      store_->ListReconcileFindings(*run, (*page)[1].id, 10);
  ASSERT_OK(rest);
  ASSERT_THAT(*rest, SizeIs(1));
  EXPECT_EQ((*rest)[0].appointment_id, "a2");
}

TEST_F(SqliteStoreReconcileTest, ABadFindingRollsBackItsWholeBatch) {
  absl::StatusOr<int64_t> run = store_->StartReconcileRun("apply", now_);
  ASSERT_OK(run);
  ReconcileFindingRecord good;
  good.run_id = *run;
  good.drift_class = "orphan";
  good.action = "cancel_bookings";
  good.outcome = "planned";
  ReconcileFindingRecord bad = good;
  bad.evidence_json = "{not json";
  EXPECT_THAT(store_->RecordReconcileFindings({good, bad}),
              StatusIs(absl::StatusCode::kInternal));
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM reconcile_findings"), 0);
}

// --------------------------------------------------------- scratch set --

TEST_F(SqliteStoreReconcileTest, SeenKeysPageInKeyOrderWithTheirRows) {
  Confirmed("a1");
  Confirmed("a3");
  // The provider lists in its own order (not by key); duplicates of one
  // key arrive in different pages.
  ASSERT_OK(store_->AddSeenBookings(
      7, {Seen("a3", "b30", "CONFIRMED", now_ + absl::Seconds(2)),
          Seen("zz-orphan", "b99")}));
  ASSERT_OK(store_->AddSeenBookings(
      7, {Seen("a1", "b10"),
          Seen("a3", "b31", "CONFIRMED", now_ + absl::Seconds(1)),
          Seen("a2", "b20", "CANCELLED")}));
  // Another run's scratch rows are invisible.
  ASSERT_OK(store_->AddSeenBookings(8, {Seen("a0", "b00")}));

  absl::StatusOr<ReconcileItemPage> page = store_->ListSeenKeys(7, "", 2);
  ASSERT_OK(page);
  ASSERT_THAT(page->items, SizeIs(2));
  EXPECT_EQ(page->items[0].key, "a1");
  ASSERT_TRUE(page->items[0].appointment.has_value());
  EXPECT_EQ(page->items[0].appointment->state(), A::CONFIRMED);
  EXPECT_FALSE(page->items[0].lease_expiry.has_value());
  EXPECT_EQ(page->items[1].key, "a2");
  EXPECT_FALSE(page->items[1].appointment.has_value());
  ASSERT_THAT(page->items[1].bookings, SizeIs(1));
  EXPECT_FALSE(page->items[1].bookings[0].live);
  EXPECT_EQ(page->items[1].bookings[0].status, "CANCELLED");
  ASSERT_EQ(page->next_after, "a2");

  page = store_->ListSeenKeys(7, "a2", 2);
  ASSERT_OK(page);
  ASSERT_THAT(page->items, SizeIs(2));
  EXPECT_EQ(page->items[0].key, "a3");
  // Oldest first across the two pages they arrived in.
  ASSERT_THAT(page->items[0].bookings, SizeIs(2));
  EXPECT_EQ(page->items[0].bookings[0].booking_id, "b31");
  EXPECT_EQ(page->items[0].bookings[1].booking_id, "b30");
  EXPECT_EQ(page->items[0].bookings[1].start_time, now_ + absl::Hours(48));
  EXPECT_EQ(page->items[0].bookings[1].location, "Room 1");
  EXPECT_EQ(page->items[1].key, "zz-orphan");
  EXPECT_FALSE(page->next_after.has_value());

  ASSERT_OK(store_->ClearSeenBookings(7));
  page = store_->ListSeenKeys(7, "", 10);
  ASSERT_OK(page);
  EXPECT_THAT(page->items, IsEmpty());
  page = store_->ListSeenKeys(8, "", 10);
  ASSERT_OK(page);
  EXPECT_THAT(page->items, SizeIs(1));
}

TEST_F(SqliteStoreReconcileTest, SeenBookingListedTwiceKeepsTheLastCopy) {
  ASSERT_OK(store_->AddSeenBookings(1, {Seen("a1", "b1", "CONFIRMED")}));
  ASSERT_OK(store_->AddSeenBookings(1, {Seen("a1", "b1", "CANCELLED")}));
  absl::StatusOr<ReconcileItemPage> page = store_->ListSeenKeys(1, "", 10);
  ASSERT_OK(page);
  ASSERT_THAT(page->items, SizeIs(1));
  ASSERT_THAT(page->items[0].bookings, SizeIs(1));
  EXPECT_EQ(page->items[0].bookings[0].status, "CANCELLED");
}

TEST_F(SqliteStoreReconcileTest, FillingTheScratchSetNeedsNoWriteLock) {
  // Another connection holds the write lock (a long api_server batch).
  std::unique_ptr<SqliteAppointmentStore> reconciler =
      OpenStore(absl::Milliseconds(50));
  RawDb writer(path_);
  ASSERT_EQ(writer.Exec("BEGIN IMMEDIATE"), SQLITE_OK);
  EXPECT_OK(reconciler->AddSeenBookings(1, {Seen("a1", "b1")}));
  absl::StatusOr<ReconcileItemPage> page = reconciler->ListSeenKeys(1, "", 10);
  ASSERT_OK(page);
  EXPECT_THAT(page->items, SizeIs(1));
  // A real write still waits for the lock, as it should.
  EXPECT_THAT(reconciler->StartReconcileRun("dry-run", now_),
              StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_EQ(writer.Exec("COMMIT"), SQLITE_OK);
  // The scratch set is private to its connection.
  absl::StatusOr<ReconcileItemPage> other = store_->ListSeenKeys(1, "", 10);
  ASSERT_OK(other);
  EXPECT_THAT(other->items, IsEmpty());
}

TEST_F(SqliteStoreReconcileTest, AppointmentsInAStatePageByIdWithLeases) {
  Confirmed("a1");
  Confirmed("a3");
  Create("a2");  // PENDING: BOOK due
  Create("a4");
  ClaimNext(now_, absl::Minutes(2));  // a2's BOOK: IN_PROGRESS, leased
  ASSERT_OK(store_->AddSeenBookings(5, {Seen("a3", "b3"), Seen("a9", "b9")}));

  absl::StatusOr<ReconcileItemPage> page =
      store_->ListAppointmentsForReconcile(5, A::CONFIRMED, "", 1);
  ASSERT_OK(page);
  ASSERT_THAT(page->items, SizeIs(1));
  EXPECT_EQ(page->items[0].key, "a1");
  EXPECT_THAT(page->items[0].bookings, IsEmpty());
  ASSERT_EQ(page->next_after, "a1");
  page = store_->ListAppointmentsForReconcile(5, A::CONFIRMED, "a1", 1);
  ASSERT_OK(page);
  ASSERT_THAT(page->items, SizeIs(1));
  EXPECT_EQ(page->items[0].key, "a3");
  ASSERT_THAT(page->items[0].bookings, SizeIs(1));
  EXPECT_EQ(page->items[0].bookings[0].booking_id, "b3");
  // Exactly one row left: the page says nothing follows.
  EXPECT_FALSE(page->next_after.has_value());

  page = store_->ListAppointmentsForReconcile(5, A::IN_PROGRESS, "", 10);
  ASSERT_OK(page);
  ASSERT_THAT(page->items, SizeIs(1));
  EXPECT_EQ(page->items[0].key, "a2");
  EXPECT_EQ(page->items[0].lease_expiry, now_ + absl::Minutes(2));
}

// ------------------------------------------------------------- repairs --

ReconcileTransition LostTransition(const A& a, absl::Time now) {
  ReconcileTransition rt;
  rt.transition.appointment_id = a.id();
  rt.transition.expected_version = a.version();
  rt.transition.to = A::FAILED;
  rt.transition.actor = "reconciler";
  rt.transition.detail = "provider lost it";
  rt.transition.failure_reason = "provider_lost";
  rt.transition.now = now;
  return rt;
}

TEST_F(SqliteStoreReconcileTest, ReconcileTransitionIsCompareAndSet) {
  const A a = Confirmed("a1");
  ReconcileTransition stale = LostTransition(a, now_);
  stale.transition.expected_version = a.version() - 1;
  EXPECT_THAT(store_->ReconcileTransitionAppointment(stale),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("version")));
  EXPECT_EQ(Get("a1").state(), A::CONFIRMED);
  EXPECT_EQ(Get("a1").version(), a.version());

  absl::StatusOr<A> failed =
      store_->ReconcileTransitionAppointment(LostTransition(a, now_));
  ASSERT_OK(failed);
  EXPECT_EQ(failed->state(), A::FAILED);
  EXPECT_EQ(failed->failure_reason(), "provider_lost");
  EXPECT_EQ(failed->version(), a.version() + 1);
  absl::StatusOr<std::vector<AppointmentEvent>> events =
      store_->ListEvents("a1");
  ASSERT_OK(events);
  EXPECT_EQ(events->back().from_state, A::CONFIRMED);
  EXPECT_EQ(events->back().to_state, A::FAILED);
  EXPECT_EQ(events->back().actor, "reconciler");

  // A second attempt with the old version loses, whatever it wants.
  EXPECT_THAT(store_->ReconcileTransitionAppointment(LostTransition(a, now_)),
              StatusIs(absl::StatusCode::kAborted));
}

TEST_F(SqliteStoreReconcileTest, ReconcileTransitionRefusesALiveLease) {
  const A a = Awaiting("a1");
  // A worker claims the CONFIRM poll.
  ClaimedCommand poll = ClaimNext(now_ + absl::Minutes(1), absl::Seconds(30));
  ASSERT_EQ(poll.command.type, CommandType::kConfirm);
  const A leased = Get("a1");

  ReconcileTransition rt;
  rt.transition.appointment_id = "a1";
  rt.transition.expected_version = leased.version();
  rt.transition.to = A::CONFIRMED;
  rt.transition.actor = "reconciler";
  rt.transition.now = now_ + absl::Minutes(1) + absl::Seconds(10);
  rt.retire = {CommandType::kConfirm};
  rt.retire_reason = "superseded: reconciler confirmed";
  EXPECT_THAT(store_->ReconcileTransitionAppointment(rt),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("leased")));
  EXPECT_EQ(Get("a1").state(), A::AWAITING_CONFIRMATION);

  // Once the lease has run out, the change goes through and the CONFIRM
  // poll is retired.
  rt.transition.now = now_ + absl::Minutes(2);
  absl::StatusOr<A> confirmed = store_->ReconcileTransitionAppointment(rt);
  ASSERT_OK(confirmed);
  EXPECT_EQ(confirmed->state(), A::CONFIRMED);
  EXPECT_NE(a.version(), confirmed->version());
  std::vector<OutboxCommand> commands = Commands("a1");
  ASSERT_THAT(commands, SizeIs(2));
  EXPECT_EQ(commands[1].type, CommandType::kConfirm);
  EXPECT_EQ(commands[1].status, CommandStatus::kDone);
  EXPECT_EQ(commands[1].last_error, "superseded: reconciler confirmed");
  // The stale worker's answer is now refused by its fencing token.
  CommandOutcome late = Outcome(poll);
  late.to_state = A::CONFIRMED;
  EXPECT_THAT(store_->CompleteCommand(late),
              StatusIs(absl::StatusCode::kAborted));
}

TEST_F(SqliteStoreReconcileTest, ReconcileTransitionStillFollowsTheTable) {
  const A a = Create("a1");  // PENDING
  ReconcileTransition rt = LostTransition(a, now_);
  EXPECT_THAT(store_->ReconcileTransitionAppointment(rt),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(SqliteStoreReconcileTest, RequeueMakesADeadBookDueNow) {
  Create("a1");
  ClaimedCommand book = ClaimNext(now_);
  CommandOutcome dead = Outcome(book);
  dead.disposition = CommandOutcome::Disposition::kDead;
  dead.error = "cannot process";
  ASSERT_OK(store_->CompleteCommand(dead));
  const A stuck = Get("a1");
  ASSERT_EQ(stuck.state(), A::IN_PROGRESS);

  StuckRequeue r;
  r.appointment_id = "a1";
  r.expected_version = stuck.version();
  r.now = now_ + absl::Hours(1);
  r.new_command_deadline = now_ + absl::Hours(2);
  r.actor = "reconciler";
  r.detail = "stuck for 1h";
  absl::StatusOr<StuckRequeueResult> result =
      store_->RequeueStuckAppointment(r);
  ASSERT_OK(result);
  EXPECT_FALSE(result->created);
  EXPECT_EQ(result->command_id, book.command.id);
  EXPECT_EQ(result->type, CommandType::kBook);
  EXPECT_EQ(result->previous_status, CommandStatus::kDead);
  EXPECT_EQ(result->appointment.state(), A::IN_PROGRESS);
  EXPECT_EQ(result->appointment.version(), stuck.version() + 1);
  absl::StatusOr<OutboxCommand> cmd = store_->GetCommand(book.command.id);
  ASSERT_OK(cmd);
  EXPECT_EQ(cmd->status, CommandStatus::kPending);
  EXPECT_EQ(cmd->next_attempt_time, now_ + absl::Hours(1));
  EXPECT_EQ(cmd->attempts, 1);  // kept: it may have reached the provider
  absl::StatusOr<std::vector<AppointmentEvent>> events =
      store_->ListEvents("a1");
  ASSERT_OK(events);
  EXPECT_EQ(events->back().from_state, A::IN_PROGRESS);
  EXPECT_EQ(events->back().to_state, A::IN_PROGRESS);
  EXPECT_THAT(events->back().detail, HasSubstr("stuck for 1h"));
  EXPECT_THAT(events->back().detail, HasSubstr("was DEAD"));

  // A worker can claim it at once.
  ClaimedCommand again = ClaimNext(now_ + absl::Hours(1));
  EXPECT_EQ(again.command.id, book.command.id);
}

TEST_F(SqliteStoreReconcileTest, RequeueEnqueuesAMissingConfirm) {
  Awaiting("a1");
  // The CONFIRM poll went DEAD, then an operator retired it by hand.
  RawDb raw(path_);
  ASSERT_EQ(raw.Exec("UPDATE outbox SET status = 'DONE' WHERE command ="
                     " 'CONFIRM'"),
            SQLITE_OK);
  const A stuck = Get("a1");
  StuckRequeue r;
  r.appointment_id = "a1";
  r.expected_version = stuck.version();
  r.now = now_ + absl::Hours(1);
  r.new_command_deadline = now_ + absl::Hours(1) + absl::Minutes(15);
  r.actor = "reconciler";
  absl::StatusOr<StuckRequeueResult> result =
      store_->RequeueStuckAppointment(r);
  ASSERT_OK(result);
  EXPECT_TRUE(result->created);
  EXPECT_EQ(result->type, CommandType::kConfirm);
  absl::StatusOr<OutboxCommand> cmd = store_->GetCommand(result->command_id);
  ASSERT_OK(cmd);
  EXPECT_EQ(cmd->status, CommandStatus::kPending);
  EXPECT_EQ(cmd->next_attempt_time, r.now);
  EXPECT_EQ(cmd->deadline, r.new_command_deadline);
  EXPECT_EQ(cmd->provider_id, "prov-a");
}

TEST_F(SqliteStoreReconcileTest, RequeueRefusesStaleLeasedOrSettledRows) {
  Create("a1");
  ClaimNext(now_, absl::Minutes(5));  // IN_PROGRESS, leased for 5 min
  const A leased = Get("a1");
  StuckRequeue r;
  r.appointment_id = "a1";
  r.expected_version = leased.version();
  r.now = now_ + absl::Minutes(1);
  r.actor = "reconciler";
  EXPECT_THAT(store_->RequeueStuckAppointment(r),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("leased")));
  r.expected_version = leased.version() + 1;
  r.now = now_ + absl::Minutes(6);
  EXPECT_THAT(store_->RequeueStuckAppointment(r),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("version")));
  absl::StatusOr<OutboxCommand> cmd = store_->GetCommand(1);
  ASSERT_OK(cmd);
  EXPECT_EQ(cmd->status, CommandStatus::kLeased);

  const A confirmed = Confirmed("a2");
  r.appointment_id = "a2";
  r.expected_version = confirmed.version();
  EXPECT_THAT(store_->RequeueStuckAppointment(r),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Get("a2").version(), confirmed.version());
}

}  // namespace
}  // namespace booking
