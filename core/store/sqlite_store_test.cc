// SqliteAppointmentStore, one operation at a time, on real files under
// $TEST_TMPDIR. Concurrency, busy and crash behaviour are in
// sqlite_store_concurrency_test.cc.

#include "core/store/sqlite_store.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/common/clock.h"
#include "core/common/time_util.h"
#include "core/domain/state_machine.h"
#include "core/store/sqlite_schema.h"
#include "core/store/store_test_fixture.h"
#include "core/store/store_test_util.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using ::booking::testing::IsOk;
using ::booking::testing::IsOkAndHolds;
using ::booking::testing::MakeCancelIntent;
using ::booking::testing::MakeCreateIntent;
using ::booking::testing::RawDb;
using ::booking::testing::StatusIs;
using ::booking::testing::TestNow;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using A = Appointment;

// One store on a fresh file per test (store_test_fixture.h).
class SqliteStoreTest : public testing::SqliteStoreFixture {};

// ---------------------------------------------------------------- open --

TEST_F(SqliteStoreTest, OpenSetsWalAndSchemaVersionAndReopenKeepsData) {
  A created = Create("appt-1", "req-1");
  RawDb raw(path_);
  EXPECT_EQ(raw.Text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.Int("PRAGMA user_version"),
            sqlite::SchemaMigrations().back().version);

  store_.reset();
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(Get("appt-1").DebugString(), created.DebugString());
  EXPECT_EQ(raw.Int("PRAGMA user_version"),
            sqlite::SchemaMigrations().back().version);
}

TEST_F(SqliteStoreTest, OpenWithEmptyPathIsInvalid) {
  EXPECT_THAT(SqliteAppointmentStore::Open(SqliteOptions{}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// -------------------------------------------------------------- create --

TEST_F(SqliteStoreTest, CreateWritesAppointmentBookCommandEventAndKey) {
  CreateIntent in = MakeCreateIntent("appt-1", "req-1", now_);
  absl::StatusOr<CreateResult> r = store_->CreateAppointment(in);
  ASSERT_OK(r);
  EXPECT_FALSE(r->replayed);
  const A& a = r->appointment;
  EXPECT_EQ(a.id(), "appt-1");
  EXPECT_EQ(a.request_id(), "req-1");
  EXPECT_EQ(a.state(), A::PENDING);
  EXPECT_EQ(a.version(), 1);
  EXPECT_EQ(a.attempt_count(), 0);
  EXPECT_EQ(FromProtoTimestamp(a.create_time()), now_);
  EXPECT_EQ(FromProtoTimestamp(a.update_time()), now_);
  EXPECT_EQ(a.start_time().seconds(), in.appointment.start_time().seconds());
  EXPECT_EQ(a.patient().email(), "ada@example.com");
  EXPECT_EQ(a.priority(), A::NORMAL);
  EXPECT_EQ(a.notes(), "first visit");
  EXPECT_EQ(Get("appt-1").DebugString(), a.DebugString());

  std::vector<OutboxCommand> cmds = Commands("appt-1");
  ASSERT_THAT(cmds, SizeIs(1));
  EXPECT_EQ(cmds[0].type, CommandType::kBook);
  EXPECT_EQ(cmds[0].status, CommandStatus::kPending);
  EXPECT_EQ(cmds[0].provider_id, "prov-a");
  EXPECT_EQ(cmds[0].next_attempt_time, now_);
  EXPECT_EQ(cmds[0].deadline, in.book_deadline);
  EXPECT_EQ(cmds[0].attempts, 0);

  std::vector<AppointmentEvent> events = Events("appt-1");
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].from_state, A::STATE_UNSPECIFIED);
  EXPECT_EQ(events[0].to_state, A::PENDING);
  EXPECT_EQ(events[0].actor, "api");
  EXPECT_EQ(events[0].request_id, "req-1");
  EXPECT_EQ(events[0].detail, "created");
  EXPECT_EQ(events[0].time, now_);

  RawDb raw(path_);
  EXPECT_EQ(raw.Text("SELECT appointment_id || ' ' || fingerprint FROM "
                     "idempotency_keys WHERE scope = 'create' AND "
                     "key = 'req-1'"),
            "appt-1 " + in.fingerprint);
  EXPECT_EQ(raw.Int("SELECT expiry_ms FROM idempotency_keys"),
            ToDbMillis(in.key_expiry));
}

TEST_F(SqliteStoreTest, SameRequestIdAndParametersReplaysCurrentAppointment) {
  Create("appt-1", "req-1");
  ASSERT_OK(store_->TransitionAppointment(
      {"appt-1", 1, A::CANCELLED, "api", "", "", now_}));
  // A retry: the API layer minted a new id, but the key wins.
  absl::StatusOr<CreateResult> r =
      store_->CreateAppointment(MakeCreateIntent("appt-2", "req-1", now_));
  ASSERT_OK(r);
  EXPECT_TRUE(r->replayed);
  EXPECT_EQ(r->appointment.id(), "appt-1");
  EXPECT_EQ(r->appointment.state(), A::CANCELLED);  // as it is now
  EXPECT_EQ(r->appointment.version(), 2);
  RawDb raw(path_);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM appointments"), 1);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM outbox"), 1);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM appointment_events"), 2);
}

TEST_F(SqliteStoreTest, SameRequestIdWithOtherParametersIsAlreadyExists) {
  Create("appt-1", "req-1");
  CreateIntent other = MakeCreateIntent("appt-2", "req-1", now_, "prov-b");
  EXPECT_THAT(store_->CreateAppointment(other),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       "request_id 'req-1' was already used with different "
                       "parameters"));
  EXPECT_THAT(store_->GetAppointment("appt-2"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SqliteStoreTest, BatchResultsStandAloneAndDuplicatesInBatchReplay) {
  Create("appt-0", "req-0");
  std::vector<CreateIntent> batch = {
      MakeCreateIntent("appt-1", "req-1", now_),
      // req-0 reused with other parameters.
      MakeCreateIntent("appt-x", "req-0", now_, "prov-b"),
      // The same request twice in one batch: the second replays the first.
      MakeCreateIntent("appt-1b", "req-1", now_),
      // Same request_id in the batch but other parameters.
      MakeCreateIntent("appt-1c", "req-1", now_, "prov-c"),
      // An id collision (a caller bug) fails inside its savepoint only.
      MakeCreateIntent("appt-0", "req-collide", now_),
      MakeCreateIntent("appt-2", "req-2", now_),
  };
  std::vector<absl::StatusOr<CreateResult>> results =
      store_->CreateAppointments(batch);
  ASSERT_THAT(results, SizeIs(6));
  ASSERT_OK(results[0]);
  EXPECT_FALSE(results[0]->replayed);
  EXPECT_THAT(results[1], StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK(results[2]);
  EXPECT_TRUE(results[2]->replayed);
  EXPECT_EQ(results[2]->appointment.id(), "appt-1");
  EXPECT_THAT(results[3], StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(results[4], StatusIs(absl::StatusCode::kInternal,
                                   HasSubstr("UNIQUE constraint failed")));
  ASSERT_OK(results[5]);
  EXPECT_EQ(results[5]->appointment.id(), "appt-2");

  RawDb raw(path_);
  EXPECT_EQ(raw.Text("SELECT group_concat(id) FROM (SELECT id FROM "
                     "appointments ORDER BY id)"),
            "appt-0,appt-1,appt-2");
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM outbox"), 3);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM appointment_events"), 3);
  // The failed intent left no key behind: a retry with a fresh id works.
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM idempotency_keys"), 3);
  EXPECT_OK(store_->CreateAppointment(
      MakeCreateIntent("appt-3", "req-collide", now_)));
}

TEST_F(SqliteStoreTest, FailureLateInAnIntentUndoesAllOfItsRowsOnly) {
  // Fault injection: the last write of one intent (its key) fails.
  RawDb raw(path_);
  raw.Text(
      "CREATE TRIGGER poison BEFORE INSERT ON idempotency_keys"
      " WHEN NEW.key = 'req-poison'"
      " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  std::vector<CreateIntent> batch = {
      MakeCreateIntent("appt-1", "req-1", now_),
      MakeCreateIntent("appt-p", "req-poison", now_),
      MakeCreateIntent("appt-2", "req-2", now_),
  };
  std::vector<absl::StatusOr<CreateResult>> results =
      store_->CreateAppointments(batch);
  ASSERT_THAT(results, SizeIs(3));
  EXPECT_OK(results[0]);
  EXPECT_THAT(results[1], StatusIs(absl::StatusCode::kInternal,
                                   HasSubstr("injected failure")));
  EXPECT_OK(results[2]);
  // The poisoned intent's appointment, BOOK row and event are gone too.
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM appointments"), 2);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM outbox"), 2);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM appointment_events"), 2);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM outbox WHERE appointment_id = "
                    "'appt-p'"),
            0);
}

TEST_F(SqliteStoreTest, FailedTransactionRollsBackAndConnectionStaysUsable) {
  Create("appt-1", "req-1");
  RawDb raw(path_);
  raw.Text(
      "CREATE TRIGGER poison BEFORE INSERT ON appointment_events"
      " WHEN NEW.actor = 'poison'"
      " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  Transition t{"appt-1", 1, A::IN_PROGRESS, "poison", "", "", now_};
  // The state UPDATE ran before the failing event INSERT: both undone.
  EXPECT_THAT(
      store_->TransitionAppointment(t),
      StatusIs(absl::StatusCode::kInternal, HasSubstr("injected failure")));
  A a = Get("appt-1");
  EXPECT_EQ(a.state(), A::PENDING);
  EXPECT_EQ(a.version(), 1);
  t.actor = "api";
  absl::StatusOr<A> moved = store_->TransitionAppointment(t);
  ASSERT_OK(moved);
  EXPECT_EQ(moved->state(), A::IN_PROGRESS);
}

TEST_F(SqliteStoreTest, EmptyBatchReturnsNothing) {
  EXPECT_THAT(store_->CreateAppointments({}), IsEmpty());
}

TEST_F(SqliteStoreTest, GetUnknownIsNotFound) {
  EXPECT_THAT(store_->GetAppointment("nope"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope")));
  EXPECT_THAT(store_->ListEvents("nope"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->ListCommandsFor("nope"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->GetCommand(12345), StatusIs(absl::StatusCode::kNotFound));
}

// ---------------------------------------------------------------- list --

class ListTest : public SqliteStoreTest {
 protected:
  static constexpr int kRows = 1000;
  static std::string Id(int i) { return absl::StrFormat("appt-%04d", i); }
  static std::string Provider(int i) { return absl::StrCat("prov-", i % 3); }
  static std::string Customer(int i) { return absl::StrCat("cust-", i % 7); }

  void SetUp() override {
    SqliteStoreTest::SetUp();
    std::vector<CreateIntent> batch;
    for (int i = 0; i < kRows; ++i) {
      batch.push_back(MakeCreateIntent(Id(i), absl::StrCat("req-", i), now_,
                                       Provider(i), Customer(i)));
    }
    for (const auto& r : store_->CreateAppointments(batch)) ASSERT_OK(r);
    // BOOK commands are claimed in id order: appt-0000..0099 → IN_PROGRESS.
    ASSERT_THAT(Claim(now_, "w1", {}, 100), SizeIs(100));
  }

  // Pages through `q` and returns the ids in the order served.
  std::vector<std::string> ReadAll(ListQuery q, int* pages = nullptr) {
    std::vector<std::string> ids;
    int n = 0;
    while (true) {
      absl::StatusOr<ListPage> page = store_->ListAppointments(q);
      EXPECT_OK(page);
      if (!page.ok()) break;
      ++n;
      EXPECT_LE(static_cast<int>(page->appointments.size()),
                std::clamp(q.page_size, 1, 1000));
      for (const A& a : page->appointments) ids.push_back(a.id());
      if (!page->next_before_id.has_value()) break;
      EXPECT_EQ(*page->next_before_id, ids.back());
      q.before_id = page->next_before_id;
      if (n > 2 * kRows) break;  // a bug; do not loop forever
    }
    if (pages != nullptr) *pages = n;
    return ids;
  }

  static std::vector<std::string> Expected(
      const std::function<bool(int)>& match) {
    std::vector<std::string> ids;
    for (int i = kRows - 1; i >= 0; --i) {
      if (match(i)) ids.push_back(Id(i));
    }
    return ids;
  }
};

TEST_F(ListTest, EveryRowExactlyOnceNewestFirst) {
  ListQuery q;
  q.page_size = 37;
  int pages = 0;
  EXPECT_EQ(ReadAll(q, &pages), Expected([](int) { return true; }));
  EXPECT_EQ(pages, (kRows + 36) / 37);
}

TEST_F(ListTest, FiltersCombineWithPagination) {
  ListQuery q;
  q.page_size = 50;
  q.provider_id = "prov-1";
  EXPECT_EQ(ReadAll(q),
            Expected([](int i) { return Provider(i) == "prov-1"; }));

  q.customer_id = "cust-3";
  EXPECT_EQ(ReadAll(q), Expected([](int i) {
              return Provider(i) == "prov-1" && Customer(i) == "cust-3";
            }));

  ListQuery by_state;
  by_state.page_size = 9;
  by_state.state = A::IN_PROGRESS;
  EXPECT_EQ(ReadAll(by_state), Expected([](int i) { return i < 100; }));

  by_state.provider_id = "prov-2";
  EXPECT_EQ(ReadAll(by_state),
            Expected([](int i) { return i < 100 && Provider(i) == "prov-2"; }));

  ListQuery none;
  none.customer_id = "nobody";
  absl::StatusOr<ListPage> page = store_->ListAppointments(none);
  ASSERT_OK(page);
  EXPECT_THAT(page->appointments, IsEmpty());
  EXPECT_FALSE(page->next_before_id.has_value());
}

TEST_F(ListTest, NextPageTokenOnlyWhenAnotherRowExists) {
  // Exactly 100 IN_PROGRESS rows in a page of 100: no next page.
  ListQuery q;
  q.state = A::IN_PROGRESS;
  q.page_size = 100;
  absl::StatusOr<ListPage> page = store_->ListAppointments(q);
  ASSERT_OK(page);
  EXPECT_THAT(page->appointments, SizeIs(100));
  EXPECT_FALSE(page->next_before_id.has_value());

  q.page_size = 99;
  page = store_->ListAppointments(q);
  ASSERT_OK(page);
  EXPECT_THAT(page->next_before_id, ::testing::Optional(Id(1)));
}

TEST_F(ListTest, PageSizeIsClampedTo1Through1000) {
  ListQuery q;
  q.page_size = 0;
  absl::StatusOr<ListPage> page = store_->ListAppointments(q);
  ASSERT_OK(page);
  EXPECT_THAT(page->appointments, SizeIs(1));
  EXPECT_EQ(page->appointments[0].id(), Id(kRows - 1));

  q.page_size = 5000;
  page = store_->ListAppointments(q);
  ASSERT_OK(page);
  EXPECT_THAT(page->appointments, SizeIs(1000));
  EXPECT_FALSE(page->next_before_id.has_value());  // exactly 1000 rows
}

// ---------------------------------------------------------- transition --

TEST_F(SqliteStoreTest, TransitionIsCompareAndSetWithEvent) {
  Create("appt-1", "req-1");
  Transition t;
  t.appointment_id = "appt-1";
  t.expected_version = 1;
  t.to = A::IN_PROGRESS;
  t.actor = "reconciler";
  t.request_id = "run-7";
  t.detail = "requeue";
  t.now = now_ + absl::Seconds(3);
  absl::StatusOr<A> a = store_->TransitionAppointment(t);
  ASSERT_OK(a);
  EXPECT_EQ(a->state(), A::IN_PROGRESS);
  EXPECT_EQ(a->version(), 2);
  EXPECT_EQ(FromProtoTimestamp(a->update_time()), t.now);
  std::vector<AppointmentEvent> events = Events("appt-1");
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[1].from_state, A::PENDING);
  EXPECT_EQ(events[1].to_state, A::IN_PROGRESS);
  EXPECT_EQ(events[1].actor, "reconciler");
  EXPECT_EQ(events[1].request_id, "run-7");
  EXPECT_EQ(events[1].detail, "requeue");
  EXPECT_EQ(events[1].time, t.now);

  // The same (now stale) version again: refused, nothing written.
  t.to = A::CONFIRMED;
  EXPECT_THAT(store_->TransitionAppointment(t),
              StatusIs(absl::StatusCode::kAborted,
                       "version mismatch: expected 1, found 2"));
  // Right version, illegal edge.
  t.expected_version = 2;
  t.to = A::CANCELLED;
  EXPECT_THAT(store_->TransitionAppointment(t),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("IN_PROGRESS -> CANCELLED")));
  EXPECT_EQ(Get("appt-1").version(), 2);
  EXPECT_THAT(Events("appt-1"), SizeIs(2));

  // Optional fields travel with the state change.
  t.to = A::FAILED;
  t.failure_reason = "provider_rejected";
  t.provider_booking_id = "bk-9";
  a = store_->TransitionAppointment(t);
  ASSERT_OK(a);
  EXPECT_EQ(a->state(), A::FAILED);
  EXPECT_EQ(a->failure_reason(), "provider_rejected");
  EXPECT_EQ(a->provider_booking_id(), "bk-9");

  t.appointment_id = "nope";
  EXPECT_THAT(store_->TransitionAppointment(t),
              StatusIs(absl::StatusCode::kNotFound));
}

// -------------------------------------------------------------- cancel --

TEST_F(SqliteStoreTest, CancelPendingUnsentIsLocalAndBookIsNeverClaimed) {
  Create("appt-1", "req-1");
  absl::StatusOr<CancelResult> r =
      store_->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_));
  ASSERT_OK(r);
  EXPECT_FALSE(r->replayed);
  EXPECT_EQ(r->appointment.state(), A::CANCELLED);
  EXPECT_EQ(r->appointment.cancel_reason(), "changed plans");
  EXPECT_EQ(r->appointment.version(), 2);
  std::vector<OutboxCommand> cmds = Commands("appt-1");
  ASSERT_THAT(cmds, SizeIs(1));
  EXPECT_EQ(cmds[0].status, CommandStatus::kDone);
  EXPECT_EQ(cmds[0].last_error, "superseded by cancel");
  EXPECT_THAT(Claim(now_ + absl::Hours(10)), IsEmpty());
  EXPECT_THAT(store_->NextDueTime(), IsOkAndHolds(std::optional<absl::Time>()));

  std::vector<AppointmentEvent> events = Events("appt-1");
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[1].from_state, A::PENDING);
  EXPECT_EQ(events[1].to_state, A::CANCELLED);
  EXPECT_EQ(events[1].request_id, "c-1");

  // A retry replays; a new cancel of a terminal appointment is refused.
  r = store_->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_));
  ASSERT_OK(r);
  EXPECT_TRUE(r->replayed);
  EXPECT_EQ(r->appointment.state(), A::CANCELLED);
  EXPECT_THAT(
      store_->CancelAppointment(MakeCancelIntent("appt-1", "c-2", now_)),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "appointment appt-1 is already CANCELLED"));
  // The same key with another reason is a different request.
  EXPECT_THAT(store_->CancelAppointment(
                  MakeCancelIntent("appt-1", "c-1", now_, "other reason")),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr("request_id 'c-1'")));
}

TEST_F(SqliteStoreTest, CancelPendingAfterAnAttemptQueuesCancel) {
  Create("appt-1", "req-1");
  ClaimedCommand book = ClaimOne(now_);
  CommandOutcome o = RetryOutcome(book, now_, now_ + absl::Seconds(10),
                                  "UNAVAILABLE: provider down");
  ASSERT_OK(store_->CompleteCommand(o));
  ASSERT_EQ(Get("appt-1").state(), A::PENDING);

  absl::StatusOr<CancelResult> r =
      store_->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_));
  ASSERT_OK(r);
  EXPECT_EQ(r->appointment.state(), A::CANCELLING);
  std::vector<OutboxCommand> cmds = Commands("appt-1");
  ASSERT_THAT(cmds, SizeIs(2));
  EXPECT_EQ(cmds[0].status, CommandStatus::kDone);  // BOOK retired
  EXPECT_EQ(cmds[1].type, CommandType::kCancel);
  EXPECT_EQ(cmds[1].status, CommandStatus::kPending);
  EXPECT_EQ(cmds[1].deadline, now_ + absl::Hours(1));
  ClaimedCommand cancel = ClaimOne(now_);
  EXPECT_EQ(cancel.command.type, CommandType::kCancel);
  EXPECT_EQ(cancel.appointment.state(), A::CANCELLING);
}

TEST_F(SqliteStoreTest, CancelInProgressWaitsForLeasedBook) {
  Create("appt-1", "req-1");
  ClaimedCommand book = ClaimOne(now_);
  absl::StatusOr<CancelResult> r =
      store_->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_));
  ASSERT_OK(r);
  EXPECT_EQ(r->appointment.state(), A::CANCELLING);
  std::vector<OutboxCommand> cmds = Commands("appt-1");
  ASSERT_THAT(cmds, SizeIs(2));
  EXPECT_EQ(cmds[0].status, CommandStatus::kLeased);  // still in flight
  EXPECT_EQ(cmds[1].type, CommandType::kCancel);
  // BOOK before CANCEL: nothing is claimable while the BOOK is leased.
  EXPECT_THAT(Claim(now_ + absl::Seconds(1)), IsEmpty());

  // The BOOK answers "confirmed" after the cancel: the booking id is kept,
  // the state machine refuses CANCELLING → CONFIRMED.
  CommandOutcome o = Outcome(book, now_ + absl::Seconds(2));
  o.to_state = A::CONFIRMED;
  o.provider_booking_id = "bk-1";
  absl::StatusOr<A> a = store_->CompleteCommand(o);
  ASSERT_OK(a);
  EXPECT_EQ(a->state(), A::CANCELLING);
  EXPECT_EQ(a->provider_booking_id(), "bk-1");
  EXPECT_EQ(a->attempt_count(), 1);

  ClaimedCommand cancel = ClaimOne(now_ + absl::Seconds(3));
  EXPECT_EQ(cancel.command.type, CommandType::kCancel);
  CommandOutcome done = Outcome(cancel, now_ + absl::Seconds(4));
  done.to_state = A::CANCELLED;
  a = store_->CompleteCommand(done);
  ASSERT_OK(a);
  EXPECT_EQ(a->state(), A::CANCELLED);
  EXPECT_EQ(a->attempt_count(), 2);
}

TEST_F(SqliteStoreTest, BookFailingAfterCancelIsRetiredNotRequeued) {
  Create("appt-1", "req-1");
  ClaimedCommand book = ClaimOne(now_);
  ASSERT_OK(store_->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_)));
  // The in-flight BOOK fails retryably: re-queueing it would hold the CANCEL
  // back and call the provider again; the CANCEL by key covers it.
  CommandOutcome o =
      RetryOutcome(book, now_ + absl::Seconds(1), now_ + absl::Seconds(60),
                   "DEADLINE_EXCEEDED: outcome unknown");
  absl::StatusOr<A> a = store_->CompleteCommand(o);
  ASSERT_OK(a);
  EXPECT_EQ(a->state(), A::CANCELLING);
  EXPECT_EQ(a->attempt_count(), 1);
  absl::StatusOr<OutboxCommand> cmd = store_->GetCommand(book.command.id);
  ASSERT_OK(cmd);
  EXPECT_EQ(cmd->status, CommandStatus::kDone);
  EXPECT_EQ(cmd->attempts, 1);
  EXPECT_EQ(cmd->last_error, "superseded: appointment is CANCELLING");
  EXPECT_EQ(ClaimOne(now_ + absl::Seconds(2)).command.type,
            CommandType::kCancel);
}

TEST_F(SqliteStoreTest, BookReleasedAfterCancelIsRetired) {
  Create("appt-1", "req-1");
  ClaimedCommand book = ClaimOne(now_);
  ASSERT_OK(store_->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_)));
  ASSERT_OK(
      store_->ReleaseCommand(book.command.id, book.command.fencing_token));
  EXPECT_EQ(store_->GetCommand(book.command.id)->status, CommandStatus::kDone);
  EXPECT_EQ(Get("appt-1").state(), A::CANCELLING);
  EXPECT_EQ(ClaimOne(clock_.Now()).command.type, CommandType::kCancel);
}

TEST_F(SqliteStoreTest, CancelAwaitingConfirmationRetiresPendingConfirm) {
  Create("appt-1", "req-1");
  ClaimedCommand book = ClaimOne(now_);
  CommandOutcome o = Outcome(book, now_);
  o.to_state = A::AWAITING_CONFIRMATION;
  o.enqueue = CommandType::kConfirm;
  o.enqueue_at = now_ + absl::Seconds(30);
  o.enqueue_deadline = now_ + absl::Minutes(10);
  ASSERT_OK(store_->CompleteCommand(o));
  std::vector<OutboxCommand> cmds = Commands("appt-1");
  ASSERT_THAT(cmds, SizeIs(2));
  EXPECT_EQ(cmds[1].type, CommandType::kConfirm);
  EXPECT_EQ(cmds[1].next_attempt_time, now_ + absl::Seconds(30));
  EXPECT_EQ(cmds[1].deadline, now_ + absl::Minutes(10));

  absl::StatusOr<CancelResult> r =
      store_->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_));
  ASSERT_OK(r);
  EXPECT_EQ(r->appointment.state(), A::CANCELLING);
  cmds = Commands("appt-1");
  ASSERT_THAT(cmds, SizeIs(3));
  EXPECT_EQ(cmds[1].status, CommandStatus::kDone);
  EXPECT_EQ(cmds[1].last_error, "superseded by cancel");
  EXPECT_EQ(cmds[2].type, CommandType::kCancel);
  EXPECT_EQ(ClaimOne(now_ + absl::Minutes(1)).command.type,
            CommandType::kCancel);
}

TEST_F(SqliteStoreTest, CancelConfirmedQueuesCancelAndRepeatReturnsAsIs) {
  ASSERT_EQ(Confirmed("appt-1").state(), A::CONFIRMED);
  absl::StatusOr<CancelResult> r =
      store_->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_));
  ASSERT_OK(r);
  EXPECT_EQ(r->appointment.state(), A::CANCELLING);
  EXPECT_EQ(r->appointment.provider_booking_id(), "bk-appt-1");

  // A second cancel (new request_id) while CANCELLING: returned as is, no
  // second CANCEL; then its own retry replays.
  r = store_->CancelAppointment(MakeCancelIntent("appt-1", "c-2", now_));
  ASSERT_OK(r);
  EXPECT_FALSE(r->replayed);
  EXPECT_EQ(r->appointment.state(), A::CANCELLING);
  r = store_->CancelAppointment(MakeCancelIntent("appt-1", "c-2", now_));
  ASSERT_OK(r);
  EXPECT_TRUE(r->replayed);
  EXPECT_THAT(Commands("appt-1"), SizeIs(2));  // BOOK + one CANCEL
}

TEST_F(SqliteStoreTest, CancelOfFailedOrCompensatingIsRefused) {
  Create("appt-1", "req-1");
  ClaimOne(now_);
  ASSERT_OK(store_->TransitionAppointment(
      {"appt-1", 2, A::COMPENSATING, "worker:w1", "", "", now_}));
  EXPECT_THAT(
      store_->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_)),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("COMPENSATING")));
  ASSERT_OK(store_->TransitionAppointment(
      {"appt-1", 3, A::FAILED, "worker:w1", "", "", now_}));
  EXPECT_THAT(
      store_->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_)),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               "appointment appt-1 is already FAILED"));
  EXPECT_THAT(store_->CancelAppointment(MakeCancelIntent("nope", "c-3", now_)),
              StatusIs(absl::StatusCode::kNotFound));
}

// --------------------------------------------------------------- claim --

TEST_F(SqliteStoreTest, ClaimLeasesWithGrowingTokensAndMovesBookToInProgress) {
  Create("appt-1", "req-1");
  Create("appt-2", "req-2");
  std::vector<ClaimedCommand> claimed = Claim(now_, "w1");
  ASSERT_THAT(claimed, SizeIs(2));
  EXPECT_EQ(claimed[0].command.appointment_id, "appt-1");
  EXPECT_LT(claimed[0].command.fencing_token, claimed[1].command.fencing_token);
  for (const ClaimedCommand& c : claimed) {
    EXPECT_EQ(c.command.status, CommandStatus::kLeased);
    EXPECT_EQ(c.command.lease_owner, "w1");
    EXPECT_EQ(c.command.lease_expiry, now_ + absl::Seconds(30));
    EXPECT_EQ(c.appointment.state(), A::IN_PROGRESS);
    EXPECT_EQ(c.appointment.version(), 2);
  }
  std::vector<AppointmentEvent> events = Events("appt-1");
  ASSERT_THAT(events, SizeIs(2));
  EXPECT_EQ(events[1].to_state, A::IN_PROGRESS);
  EXPECT_EQ(events[1].actor, "worker:w1");

  // Leased and not expired: nobody else gets them.
  EXPECT_THAT(Claim(now_ + absl::Seconds(29), "w2"), IsEmpty());
  EXPECT_THAT(store_->NextDueTime(),
              IsOkAndHolds(::testing::Optional(now_ + absl::Seconds(30))));

  // The lease ran out (w1 crashed): w2 takes over with a newer token; the
  // appointment stays IN_PROGRESS without a second event.
  std::vector<ClaimedCommand> again = Claim(now_ + absl::Seconds(30), "w2");
  ASSERT_THAT(again, SizeIs(2));
  EXPECT_GT(again[0].command.fencing_token, claimed[1].command.fencing_token);
  EXPECT_EQ(again[0].command.lease_owner, "w2");
  EXPECT_EQ(again[0].appointment.state(), A::IN_PROGRESS);
  EXPECT_THAT(Events("appt-1"), SizeIs(2));
}

TEST_F(SqliteStoreTest, ReclaimOfAnExpiredLeaseCountsTheLostCallWithANote) {
  Create("appt-1", "req-1");
  // A normal claim counts nothing and notes nothing.
  ClaimedCommand first = ClaimOne(now_);
  EXPECT_EQ(first.command.attempts, 0);
  EXPECT_EQ(first.command.last_error, "");
  EXPECT_EQ(first.appointment.attempt_count(), 0);

  // w1 never reports back; after its lease the re-claim counts its call.
  ClaimedCommand second = ClaimOne(now_ + absl::Seconds(30));
  EXPECT_EQ(second.command.attempts, 1);
  EXPECT_THAT(second.command.last_error,
              ::testing::StartsWith(kLeaseExpiredTag));
  EXPECT_THAT(second.command.last_error, HasSubstr("worker:w1"));
  EXPECT_THAT(second.command.last_error,
              HasSubstr("the call may have reached the provider"));
  EXPECT_EQ(second.appointment.attempt_count(), 1);
  EXPECT_EQ(second.appointment.state(), A::IN_PROGRESS);
  EXPECT_THAT(Events("appt-1"), SizeIs(2));  // no state change, no event
  RawDb raw(path_);
  EXPECT_EQ(raw.Text(absl::StrCat(
                "SELECT group_concat(json_extract(value, '$.attempt') || ':' "
                "|| substr(json_extract(value, '$.error'), 1, 15), '|') FROM "
                "outbox, json_each(outbox.error_history) WHERE outbox.id = ",
                first.command.id)),
            absl::StrCat("1:", kLeaseExpiredTag));

  // Lost twice: two attempts.
  ClaimedCommand third = ClaimOne(now_ + absl::Seconds(60));
  EXPECT_EQ(third.command.attempts, 2);
  EXPECT_EQ(third.appointment.attempt_count(), 2);

  // The IN_PROGRESS appointment still moves on: a retry puts it back to
  // PENDING, the next (normal) claim to IN_PROGRESS without counting, and
  // the answer to CONFIRMED.
  CommandOutcome retry =
      RetryOutcome(third, now_ + absl::Seconds(61), now_ + absl::Seconds(62),
                   "UNAVAILABLE: down");
  ASSERT_THAT(store_->CompleteCommand(retry),
              IsOkAndHolds(::testing::Property(&A::attempt_count, 3)));
  ClaimedCommand fourth = ClaimOne(now_ + absl::Seconds(62));
  EXPECT_EQ(fourth.command.attempts, 3);
  EXPECT_EQ(fourth.command.last_error, "UNAVAILABLE: down");
  EXPECT_EQ(fourth.appointment.state(), A::IN_PROGRESS);
  CommandOutcome done = Outcome(fourth, now_ + absl::Seconds(63));
  done.to_state = A::CONFIRMED;
  absl::StatusOr<A> a = store_->CompleteCommand(done);
  ASSERT_OK(a);
  EXPECT_EQ(a->state(), A::CONFIRMED);
  EXPECT_EQ(a->attempt_count(), 4);
  EXPECT_EQ(store_->GetCommand(first.command.id)->attempts, 4);
}

TEST_F(SqliteStoreTest, ClaimSkipsOpenBreakerProvidersAndHonoursLimitAndDue) {
  Create("appt-1", "req-1", "prov-a");
  Create("appt-2", "req-2", "prov-b");
  Create("appt-3", "req-3", "prov-\"odd\\");
  EXPECT_THAT(Claim(now_ - absl::Seconds(1)), IsEmpty());  // not yet due
  std::vector<ClaimedCommand> claimed =
      Claim(now_, "w1", {"prov-a", "prov-\"odd\\"});
  ASSERT_THAT(claimed, SizeIs(1));
  EXPECT_EQ(claimed[0].command.provider_id, "prov-b");
  // Skipped rows spent nothing and are still PENDING.
  EXPECT_EQ(Commands("appt-1")[0].status, CommandStatus::kPending);
  EXPECT_EQ(Get("appt-1").state(), A::PENDING);
  EXPECT_THAT(Claim(now_, "w1", {}, 1), SizeIs(1));
  EXPECT_THAT(Claim(now_, "w1", {}, 0), IsEmpty());
  EXPECT_THAT(Claim(now_, "w1", {}, 5), SizeIs(1));
}

TEST_F(SqliteStoreTest, ClaimTakesDueRowsAndExpiredLeasesInDueTimeOrder) {
  // The claim merges two scans (PENDING by next attempt, LEASED by lease
  // expiry); the merged order and the limit must hold across both.
  Create("appt-1", "req-1");
  Create("appt-2", "req-2");
  Create("appt-3", "req-3");
  std::vector<ClaimedCommand> first = Claim(now_, "w1");
  ASSERT_THAT(first, SizeIs(3));
  // appt-1's lease expires at +30 s; appt-2 is retried at +35 s, appt-3 at
  // +20 s.
  ASSERT_OK(store_->CompleteCommand(RetryOutcome(
      first[1], now_ + absl::Seconds(1), now_ + absl::Seconds(35), "e")));
  ASSERT_OK(store_->CompleteCommand(RetryOutcome(
      first[2], now_ + absl::Seconds(1), now_ + absl::Seconds(20), "e")));
  auto ids = [](const std::vector<ClaimedCommand>& claimed) {
    std::vector<std::string> out;
    for (const ClaimedCommand& c : claimed) {
      out.push_back(c.command.appointment_id);
    }
    return out;
  };
  EXPECT_THAT(ids(Claim(now_ + absl::Seconds(40), "w2", {}, 2)),
              ElementsAre("appt-3", "appt-1"));
  EXPECT_THAT(ids(Claim(now_ + absl::Seconds(40), "w2", {}, 2)),
              ElementsAre("appt-2"));
}

// ------------------------------------------------------------ complete --

TEST_F(SqliteStoreTest, StaleFencingTokenIsRefusedAndChangesNothing) {
  Create("appt-1", "req-1");
  ClaimedCommand first = ClaimOne(now_);
  ClaimedCommand second = ClaimOne(now_ + absl::Seconds(31));  // lease expired
  const std::string cmd_before = [&] {
    absl::StatusOr<OutboxCommand> c = store_->GetCommand(first.command.id);
    return absl::StrCat(c->status, c->attempts, c->fencing_token,
                        c->lease_owner);
  }();
  const std::string appt_before = Get("appt-1").DebugString();

  CommandOutcome late = Outcome(first, now_ + absl::Seconds(40));
  late.to_state = A::CONFIRMED;
  late.provider_booking_id = "bk-late";
  late.enqueue = CommandType::kConfirm;
  EXPECT_THAT(
      store_->CompleteCommand(late),
      StatusIs(absl::StatusCode::kAborted, HasSubstr("stale fencing token")));
  EXPECT_THAT(
      store_->ReleaseCommand(first.command.id, first.command.fencing_token),
      StatusIs(absl::StatusCode::kAborted, HasSubstr("stale fencing token")));
  absl::StatusOr<OutboxCommand> after = store_->GetCommand(first.command.id);
  ASSERT_OK(after);
  EXPECT_EQ(absl::StrCat(after->status, after->attempts, after->fencing_token,
                         after->lease_owner),
            cmd_before);
  EXPECT_EQ(Get("appt-1").DebugString(), appt_before);
  EXPECT_THAT(Commands("appt-1"), SizeIs(1));

  // The current holder commits; afterwards even its own token is stale.
  CommandOutcome ok = Outcome(second, now_ + absl::Seconds(41));
  ok.to_state = A::CONFIRMED;
  ASSERT_OK(store_->CompleteCommand(ok));
  EXPECT_THAT(store_->CompleteCommand(ok),
              StatusIs(absl::StatusCode::kAborted));
}

TEST_F(SqliteStoreTest, CompleteCommandsCommitsOnceAndEachResultStandsAlone) {
  for (const char* id : {"appt-1", "appt-2", "appt-3", "appt-4"}) Create(id);
  std::vector<ClaimedCommand> claimed = Claim(now_);
  ASSERT_THAT(claimed, SizeIs(4));
  // appt-3's outcome fails late, after its outbox row was already updated.
  RawDb raw(path_);
  raw.Text(
      "CREATE TRIGGER poison BEFORE INSERT ON appointment_events"
      " WHEN NEW.actor = 'poison'"
      " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  std::vector<CommandOutcome> outcomes;
  for (const ClaimedCommand& c : claimed) {
    CommandOutcome o = Outcome(c, now_ + absl::Seconds(1));
    o.to_state = A::CONFIRMED;
    o.provider_booking_id = "bk-" + c.command.appointment_id;
    outcomes.push_back(o);
  }
  outcomes[1].fencing_token += 1000;  // appt-2: a stale lease
  outcomes[2].actor = "poison";       // appt-3: fails mid-way

  absl::StatusOr<int64_t> before = store_->ChangeCounter();
  ASSERT_OK(before);
  std::vector<absl::StatusOr<A>> results = store_->CompleteCommands(outcomes);
  ASSERT_THAT(results, SizeIs(4));
  // One transaction for the batch.
  EXPECT_THAT(store_->ChangeCounter(), IsOkAndHolds(*before + 1));

  ASSERT_OK(results[0]);
  EXPECT_EQ(results[0]->state(), A::CONFIRMED);
  EXPECT_EQ(results[0]->provider_booking_id(), "bk-appt-1");
  EXPECT_THAT(results[1], StatusIs(absl::StatusCode::kAborted,
                                   HasSubstr("stale fencing token")));
  EXPECT_THAT(results[2], StatusIs(absl::StatusCode::kInternal,
                                   HasSubstr("injected failure")));
  ASSERT_OK(results[3]);
  EXPECT_EQ(results[3]->state(), A::CONFIRMED);

  // The failed outcomes left nothing behind: rows still leased, no event.
  for (const char* id : {"appt-2", "appt-3"}) {
    SCOPED_TRACE(id);
    EXPECT_EQ(Get(id).state(), A::IN_PROGRESS);
    EXPECT_EQ(Get(id).provider_booking_id(), "");
    EXPECT_EQ(Commands(id)[0].status, CommandStatus::kLeased);
    EXPECT_THAT(Events(id), SizeIs(2));
  }
  EXPECT_EQ(Commands("appt-1")[0].status, CommandStatus::kDone);
  EXPECT_EQ(Commands("appt-4")[0].status, CommandStatus::kDone);
  EXPECT_THAT(store_->CompleteCommands({}), IsEmpty());
}

TEST_F(SqliteStoreTest, RescheduleDeadRequeueKeepAttemptsAndErrorHistory) {
  Create("appt-1", "req-1");
  ClaimedCommand c1 = ClaimOne(now_);
  CommandOutcome o =
      RetryOutcome(c1, now_ + absl::Seconds(1), now_ + absl::Seconds(20),
                   "UNAVAILABLE: first");
  absl::StatusOr<A> a = store_->CompleteCommand(o);
  ASSERT_OK(a);
  EXPECT_EQ(a->state(), A::PENDING);
  EXPECT_EQ(a->attempt_count(), 1);
  absl::StatusOr<OutboxCommand> cmd = store_->GetCommand(c1.command.id);
  ASSERT_OK(cmd);
  EXPECT_EQ(cmd->status, CommandStatus::kPending);
  EXPECT_EQ(cmd->attempts, 1);
  EXPECT_EQ(cmd->next_attempt_time, now_ + absl::Seconds(20));
  EXPECT_EQ(cmd->lease_owner, "");
  EXPECT_EQ(cmd->last_error, "UNAVAILABLE: first");
  EXPECT_THAT(store_->NextDueTime(),
              IsOkAndHolds(::testing::Optional(now_ + absl::Seconds(20))));
  EXPECT_THAT(Claim(now_ + absl::Seconds(19)), IsEmpty());

  // A deferral by the breaker spends no attempt.
  ClaimedCommand c2 = ClaimOne(now_ + absl::Seconds(20));
  o = Outcome(c2, now_ + absl::Seconds(21));
  o.disposition = CommandOutcome::Disposition::kReschedule;
  o.next_attempt_time = now_ + absl::Seconds(25);
  o.count_attempt = false;
  o.error = "breaker open";
  ASSERT_OK(store_->CompleteCommand(o));
  EXPECT_EQ(store_->GetCommand(c1.command.id)->attempts, 1);

  ClaimedCommand c3 = ClaimOne(now_ + absl::Seconds(25));
  o = Outcome(c3, now_ + absl::Seconds(26));
  o.disposition = CommandOutcome::Disposition::kDead;
  o.error = "INVALID_ARGUMENT: bad slot";
  o.to_state = A::FAILED;
  o.failure_reason = "provider_rejected";
  a = store_->CompleteCommand(o);
  ASSERT_OK(a);
  EXPECT_EQ(a->state(), A::FAILED);
  EXPECT_EQ(a->failure_reason(), "provider_rejected");
  EXPECT_EQ(a->attempt_count(), 2);
  cmd = store_->GetCommand(c1.command.id);
  EXPECT_EQ(cmd->status, CommandStatus::kDead);
  EXPECT_EQ(cmd->attempts, 2);
  EXPECT_EQ(cmd->last_error, "INVALID_ARGUMENT: bad slot");
  EXPECT_THAT(Claim(now_ + absl::Hours(1)), IsEmpty());

  RawDb raw(path_);
  EXPECT_EQ(raw.Text(absl::StrCat(
                "SELECT group_concat(json_extract(value, '$.attempt') || ':' "
                "|| json_extract(value, '$.error'), '|') FROM outbox, "
                "json_each(outbox.error_history) WHERE outbox.id = ",
                c1.command.id)),
            "1:UNAVAILABLE: first|1:breaker open|2:INVALID_ARGUMENT: bad slot");

  // Operator requeue: due at the given time, attempts kept.
  EXPECT_THAT(store_->RequeueDeadCommand(c1.command.id + 100, now_),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(store_->RequeueDeadCommand(c1.command.id, now_ + absl::Hours(2)));
  cmd = store_->GetCommand(c1.command.id);
  EXPECT_EQ(cmd->status, CommandStatus::kPending);
  EXPECT_EQ(cmd->attempts, 2);
  EXPECT_EQ(cmd->next_attempt_time, now_ + absl::Hours(2));
  EXPECT_THAT(store_->RequeueDeadCommand(c1.command.id, now_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is PENDING, not DEAD")));
  EXPECT_THAT(Claim(now_ + absl::Hours(2)), SizeIs(1));
}

TEST_F(SqliteStoreTest, ReleaseGivesCommandBackWithoutAnAttempt) {
  Create("appt-1", "req-1");
  ClaimedCommand c = ClaimOne(now_);
  ASSERT_OK(store_->ReleaseCommand(c.command.id, c.command.fencing_token));
  absl::StatusOr<OutboxCommand> cmd = store_->GetCommand(c.command.id);
  ASSERT_OK(cmd);
  EXPECT_EQ(cmd->status, CommandStatus::kPending);
  EXPECT_EQ(cmd->attempts, 0);
  EXPECT_EQ(cmd->next_attempt_time, clock_.Now());
  EXPECT_EQ(cmd->lease_owner, "");
  A a = Get("appt-1");
  EXPECT_EQ(a.state(), A::PENDING);
  std::vector<AppointmentEvent> events = Events("appt-1");
  ASSERT_THAT(events, SizeIs(3));
  EXPECT_EQ(events[2].from_state, A::IN_PROGRESS);
  EXPECT_EQ(events[2].to_state, A::PENDING);
  // Another worker picks it up with a new token; a released lease is not a
  // lost one, so still no attempt and no note.
  ClaimedCommand again = ClaimOne(clock_.Now());
  EXPECT_GT(again.command.fencing_token, c.command.fencing_token);
  EXPECT_EQ(again.command.attempts, 0);
  EXPECT_EQ(again.command.last_error, "");
  EXPECT_EQ(again.appointment.attempt_count(), 0);
  // Released rows were never attempted: a cancel is still local.
  ASSERT_OK(
      store_->ReleaseCommand(again.command.id, again.command.fencing_token));
  absl::StatusOr<CancelResult> r =
      store_->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_));
  ASSERT_OK(r);
  EXPECT_EQ(r->appointment.state(), A::CANCELLED);
}

TEST_F(SqliteStoreTest, StuckRequeueOfAnExpiredLeaseCountsTheLostCallToo) {
  Create("appt-1", "req-1");
  ClaimOne(now_);  // w1 leases the BOOK for 30 s and is never heard of again
  StuckRequeue r;
  r.appointment_id = "appt-1";
  r.expected_version = Get("appt-1").version();
  r.now = now_ + absl::Hours(1);
  r.new_command_deadline = now_ + absl::Hours(2);
  r.actor = "reconciler";
  r.detail = "stuck";
  absl::StatusOr<StuckRequeueResult> result =
      store_->RequeueStuckAppointment(r);
  ASSERT_OK(result);
  EXPECT_FALSE(result->created);
  EXPECT_EQ(result->previous_status, CommandStatus::kLeased);
  EXPECT_EQ(result->appointment.attempt_count(), 1);
  absl::StatusOr<OutboxCommand> cmd = store_->GetCommand(result->command_id);
  ASSERT_OK(cmd);
  EXPECT_EQ(cmd->status, CommandStatus::kPending);
  EXPECT_EQ(cmd->attempts, 1);
  EXPECT_THAT(cmd->last_error, ::testing::StartsWith(kLeaseExpiredTag));
  EXPECT_THAT(cmd->last_error, HasSubstr("worker:w1"));
  // The next claim is a normal one: nothing more is counted.
  ClaimedCommand again = ClaimOne(r.now);
  EXPECT_EQ(again.command.attempts, 1);
  EXPECT_EQ(again.appointment.attempt_count(), 1);
}

TEST_F(SqliteStoreTest, ListCommandsByStatusPagesByIdFromAfterId) {
  std::vector<int64_t> dead;
  for (int i = 0; i < 4; ++i) {
    Create(absl::StrCat("appt-", i), absl::StrCat("req-", i));
  }
  std::vector<ClaimedCommand> claimed = Claim(now_);
  ASSERT_THAT(claimed, SizeIs(4));
  for (int i : {0, 2, 3}) {  // appt-1's BOOK stays LEASED
    CommandOutcome o = Outcome(claimed[i], now_);
    o.disposition = CommandOutcome::Disposition::kDead;
    o.error = absl::StrCat("dead ", i);
    ASSERT_OK(store_->CompleteCommand(o));
    dead.push_back(claimed[i].command.id);
  }
  auto ids = [](const absl::StatusOr<std::vector<OutboxCommand>>& page) {
    std::vector<int64_t> out;
    if (page.ok()) {
      for (const OutboxCommand& c : *page) out.push_back(c.id);
    }
    return out;
  };
  auto all = store_->ListCommandsByStatus(CommandStatus::kDead, 0, 10);
  ASSERT_OK(all);
  EXPECT_EQ(ids(all), dead);
  EXPECT_EQ((*all)[1].last_error, "dead 2");
  EXPECT_EQ((*all)[1].appointment_id, "appt-2");
  // Pages of one: each row once, and a row changed after it was seen (here
  // requeued) does not disturb the next page.
  std::vector<int64_t> paged;
  int64_t after = 0;
  while (true) {
    auto page = store_->ListCommandsByStatus(CommandStatus::kDead, after, 1);
    ASSERT_OK(page);
    if (page->empty()) break;
    ASSERT_THAT(*page, SizeIs(1));
    paged.push_back((*page)[0].id);
    after = (*page)[0].id;
    ASSERT_OK(store_->RequeueDeadCommand(after, now_));
  }
  EXPECT_EQ(paged, dead);
  EXPECT_THAT(store_->ListCommandsByStatus(CommandStatus::kDead, 0, 10),
              IsOkAndHolds(IsEmpty()));
  EXPECT_EQ(ids(store_->ListCommandsByStatus(CommandStatus::kLeased, 0, 10)),
            std::vector<int64_t>{claimed[1].command.id});
  EXPECT_EQ(
      ids(store_->ListCommandsByStatus(CommandStatus::kPending, dead[0], 10)),
      (std::vector<int64_t>{dead[1], dead[2]}));
}

TEST_F(SqliteStoreTest, NextDueTimeAndCountsByStatus) {
  EXPECT_THAT(store_->NextDueTime(), IsOkAndHolds(std::optional<absl::Time>()));
  Create("appt-1", "req-1");
  Create("appt-2", "req-2");
  Create("appt-3", "req-3");
  EXPECT_THAT(store_->NextDueTime(), IsOkAndHolds(::testing::Optional(now_)));
  std::vector<ClaimedCommand> claimed = Claim(now_, "w1", {}, 2);
  ASSERT_THAT(claimed, SizeIs(2));
  CommandOutcome dead = Outcome(claimed[1], now_);
  dead.disposition = CommandOutcome::Disposition::kDead;
  ASSERT_OK(store_->CompleteCommand(dead));
  absl::StatusOr<std::vector<std::pair<CommandStatus, int64_t>>> counts =
      store_->CountCommandsByStatus();
  ASSERT_OK(counts);
  EXPECT_THAT(*counts, ElementsAre(std::make_pair(CommandStatus::kPending, 1),
                                   std::make_pair(CommandStatus::kLeased, 1),
                                   std::make_pair(CommandStatus::kDone, 0),
                                   std::make_pair(CommandStatus::kDead, 1)));
}

TEST_F(SqliteStoreTest, NextDueTimeIgnoresCommandsWaitingBehindALease) {
  Create("appt-1", "req-1");
  ClaimOne(now_);  // BOOK leased until now + 30 s
  ASSERT_OK(store_->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_)));
  // The CANCEL is due now but blocked: the next due time is the lease expiry.
  EXPECT_THAT(store_->NextDueTime(),
              IsOkAndHolds(::testing::Optional(now_ + absl::Seconds(30))));
}

// --------------------------------------------------------- maintenance --

TEST_F(SqliteStoreTest, PurgeDeletesOnlyExpiredKeys) {
  CreateIntent old_intent = MakeCreateIntent("appt-1", "req-1", now_);
  old_intent.key_expiry = now_ + absl::Hours(24);
  CreateIntent new_intent = MakeCreateIntent("appt-2", "req-2", now_);
  new_intent.key_expiry = now_ + absl::Hours(48);
  ASSERT_OK(store_->CreateAppointment(old_intent));
  ASSERT_OK(store_->CreateAppointment(new_intent));
  ASSERT_OK(store_->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_)));

  EXPECT_THAT(store_->PurgeExpiredIdempotencyKeys(now_ + absl::Hours(23)),
              IsOkAndHolds(0));
  EXPECT_THAT(store_->PurgeExpiredIdempotencyKeys(now_ + absl::Hours(24)),
              IsOkAndHolds(2));  // req-1 and c-1
  // req-2 still replays; req-1 is forgotten and would create anew.
  CreateIntent retry = MakeCreateIntent("appt-9", "req-2", now_);
  absl::StatusOr<CreateResult> r = store_->CreateAppointment(retry);
  ASSERT_OK(r);
  EXPECT_TRUE(r->replayed);
  r = store_->CreateAppointment(MakeCreateIntent("appt-10", "req-1", now_));
  ASSERT_OK(r);
  EXPECT_FALSE(r->replayed);
}

TEST_F(SqliteStoreTest, ChangeCounterMovesOnOwnAndOtherWrites) {
  std::unique_ptr<SqliteAppointmentStore> other = OpenStore();
  ASSERT_NE(other, nullptr);
  absl::StatusOr<int64_t> c0 = store_->ChangeCounter();
  ASSERT_OK(c0);
  EXPECT_THAT(store_->ChangeCounter(), IsOkAndHolds(*c0));
  Create("appt-1", "req-1");
  absl::StatusOr<int64_t> c1 = store_->ChangeCounter();
  ASSERT_OK(c1);
  EXPECT_GT(*c1, *c0);
  ASSERT_OK(other->CancelAppointment(MakeCancelIntent("appt-1", "c-1", now_)));
  absl::StatusOr<int64_t> c2 = store_->ChangeCounter();
  ASSERT_OK(c2);
  EXPECT_GT(*c2, *c1);
  EXPECT_EQ(Get("appt-1").state(), A::CANCELLED);
  EXPECT_THAT(store_->ChangeCounter(), IsOkAndHolds(*c2));
}

}  // namespace
}  // namespace booking
