// The worker loop against a real SQLite store (files under $TEST_TMPDIR), an
// in-memory provider and a SimulatedClock: each test drives Step() and moves
// time by hand, so retries, leases and breaker waits need no sleeping.
#include "outbox_worker/worker.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/common/clock.h"
#include "core/observability/metrics.h"
#include "core/provider/fake_provider_client.h"
#include "core/store/sqlite_store.h"
#include "core/store/store_test_util.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "outbox_worker/requeue.h"

namespace booking {
namespace {

using ::booking::testing::FreshDbPath;
using ::booking::testing::IsOkAndHolds;
using ::booking::testing::MakeCancelIntent;
using ::booking::testing::MakeCreateIntent;
using ::booking::testing::TestNow;
using A = Appointment;
using Method = FakeProviderClient::Method;

std::unique_ptr<SqliteAppointmentStore> OpenStore(const std::string& path,
                                                  Clock* clock) {
  SqliteOptions o;
  o.path = path;
  o.clock = clock;
  auto store = SqliteAppointmentStore::Open(o);
  EXPECT_OK(store);
  return std::move(*store);
}

WorkerOptions TestOptions(const std::string& id = "w1") {
  WorkerOptions o;
  o.worker_id = id;
  o.max_in_flight = 8;
  o.lease = absl::Seconds(10);
  o.policy.attempt_timeout = absl::Seconds(2);
  o.policy.max_attempts = 4;
  o.policy.max_cancel_attempts = 3;
  o.policy.confirm_timeout = absl::Minutes(1);
  o.backoff.base = absl::Milliseconds(100);
  o.backoff.cap = absl::Milliseconds(400);
  o.seed = 7;
  // Out of the way unless a test tunes it.
  o.breaker.window_size = 100;
  o.breaker.minimum_calls = 100;
  return o;
}

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = FreshDbPath(absl::StrCat(
        ::testing::UnitTest::GetInstance()->current_test_info()->name(),
        ".db"));
    store_ = OpenStore(path_, &clock_);
  }

  void MakeWorker(WorkerOptions o = TestOptions()) {
    worker_ =
        std::make_unique<Worker>(store_.get(), &fake_, &clock_, o, &metrics_);
  }

  std::string Create(const std::string& id,
                     const std::string& provider = "prov-a") {
    auto r = store_->CreateAppointment(
        MakeCreateIntent(id, "req-" + id, clock_.Now(), provider));
    EXPECT_OK(r);
    return id;
  }

  A Get(const std::string& id) {
    auto a = store_->GetAppointment(id);
    EXPECT_OK(a);
    return a.ok() ? *a : A();
  }

  // Steps (commit answers, claim, dispatch) and moves time by `tick` until
  // `id` is in `state` or `max_steps` pass.
  bool DriveUntil(const std::string& id, A::State state, int max_steps = 50,
                  absl::Duration tick = absl::Seconds(1)) {
    for (int i = 0; i < max_steps; ++i) {
      EXPECT_OK(worker_->Step());
      worker_->CommitAnswers();
      if (Get(id).state() == state) return true;
      clock_.Advance(tick);
    }
    return false;
  }

  // A worker that claims due rows and dies before recording anything.
  void ClaimAndVanish(const std::string& worker_id) {
    ClaimRequest req;
    req.worker_id = worker_id;
    req.now = clock_.Now();
    req.lease = absl::Seconds(10);
    auto claimed = store_->ClaimDueCommands(req);
    ASSERT_OK(claimed);
    ASSERT_FALSE(claimed->empty());
  }

  bool HadState(const std::string& id, A::State state) {
    auto events = store_->ListEvents(id);
    EXPECT_OK(events);
    if (!events.ok()) return false;
    for (const auto& e : *events) {
      if (e.to_state == state) return true;
    }
    return false;
  }

  std::vector<OutboxCommand> Commands(const std::string& id) {
    auto c = store_->ListCommandsFor(id);
    EXPECT_OK(c);
    return c.ok() ? *c : std::vector<OutboxCommand>();
  }

  SimulatedClock clock_{TestNow()};
  std::string path_;
  std::unique_ptr<SqliteAppointmentStore> store_;
  FakeProviderClient fake_;
  MetricsRegistry metrics_;
  std::unique_ptr<Worker> worker_;
};

TEST_F(WorkerTest, ImmediateBookingConfirmsInOneAttempt) {
  MakeWorker();
  Create("apt-1");
  ASSERT_TRUE(DriveUntil("apt-1", A::CONFIRMED));
  A a = Get("apt-1");
  EXPECT_EQ(a.attempt_count(), 1);
  EXPECT_FALSE(a.provider_booking_id().empty());
  EXPECT_EQ(fake_.book_calls("apt-1"), 1);
  EXPECT_EQ(fake_.live_bookings("apt-1"), 1);
  auto events = store_->ListEvents("apt-1");
  ASSERT_OK(events);
  ASSERT_FALSE(events->empty());
  EXPECT_EQ(events->back().to_state, A::CONFIRMED);
  EXPECT_EQ(events->back().actor, "worker:w1");
}

TEST_F(WorkerTest, PerAttemptDeadlineIsTheSmallerOfTimeoutAndTimeLeft) {
  MakeWorker();
  CreateIntent in = MakeCreateIntent("apt-1", "req-1", clock_.Now());
  in.book_deadline = clock_.Now() + absl::Milliseconds(700);
  ASSERT_OK(store_->CreateAppointment(in));
  ASSERT_OK(worker_->Step());
  EXPECT_EQ(fake_.last_deadline(), absl::Milliseconds(700));
}

TEST_F(WorkerTest, RetryableFailuresBackOffThenConfirmWithOneBooking) {
  MakeWorker();
  fake_.Script(Method::kBook, {{absl::UnavailableError("down")},
                               {absl::UnavailableError("down")}});
  Create("apt-1");
  ASSERT_OK(worker_->Step());
  worker_->CommitAnswers();
  A a = Get("apt-1");
  EXPECT_EQ(a.state(), A::PENDING);  // retry scheduled
  EXPECT_EQ(a.attempt_count(), 1);
  // Not due again before its backoff: nothing is claimed.
  auto due = store_->NextDueTime();
  ASSERT_OK(due);
  ASSERT_TRUE(due->has_value());
  EXPECT_GE(**due, clock_.Now());
  EXPECT_LE(**due, clock_.Now() + absl::Milliseconds(100));
  ASSERT_TRUE(DriveUntil("apt-1", A::CONFIRMED));
  EXPECT_EQ(Get("apt-1").attempt_count(), 3);
  EXPECT_EQ(fake_.book_calls("apt-1"), 3);
  EXPECT_EQ(fake_.live_bookings("apt-1"), 1);
}

TEST_F(WorkerTest, RetryAfterHintDelaysTheNextAttempt) {
  MakeWorker();
  fake_.Script(Method::kBook,
               {{absl::ResourceExhaustedError("slow down"), absl::Seconds(5)}});
  Create("apt-1");
  const absl::Time t0 = clock_.Now();
  ASSERT_OK(worker_->Step());
  worker_->CommitAnswers();
  std::vector<OutboxCommand> cmds = Commands("apt-1");
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].next_attempt_time, t0 + absl::Seconds(5));
  clock_.Advance(absl::Seconds(4));
  EXPECT_EQ(*worker_->Step(), 0);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(*worker_->Step(), 1);
}

TEST_F(WorkerTest, PendingAnswerIsPolledUntilConfirmed) {
  MakeWorker();
  fake_.SetNewBookingStatus(provider::v1::Booking::PENDING);
  Create("apt-1");
  ASSERT_TRUE(DriveUntil("apt-1", A::AWAITING_CONFIRMATION));
  // Still pending at the provider: polls go on, nothing changes.
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_OK(worker_->Step());
    worker_->CommitAnswers();
  }
  EXPECT_EQ(Get("apt-1").state(), A::AWAITING_CONFIRMATION);
  EXPECT_GE(fake_.calls(Method::kGetBooking), 1);
  fake_.SetStatusForKey("apt-1", provider::v1::Booking::CONFIRMED);
  ASSERT_TRUE(DriveUntil("apt-1", A::CONFIRMED));
  // Every provider call counts: the BOOK and each poll.
  EXPECT_EQ(Get("apt-1").attempt_count(), 1 + fake_.calls(Method::kGetBooking));
}

TEST_F(WorkerTest, LateConfirmationIsCompensatedAndFails) {
  MakeWorker();
  fake_.SetNewBookingStatus(provider::v1::Booking::PENDING);
  Create("apt-1");
  ASSERT_TRUE(DriveUntil("apt-1", A::AWAITING_CONFIRMATION));
  ASSERT_TRUE(DriveUntil("apt-1", A::FAILED, 200));
  A a = Get("apt-1");
  EXPECT_EQ(a.failure_reason(), "confirmation_timeout");
  EXPECT_EQ(fake_.live_bookings("apt-1"), 0);
  EXPECT_GE(fake_.calls(Method::kCancel), 1);
}

TEST_F(WorkerTest, GhostBookingsAreCompensatedWhenAttemptsRunOut) {
  MakeWorker();
  std::vector<FakeProviderClient::Scripted> ghost(
      4, {absl::InternalError("booked, then failed"), std::nullopt, true});
  fake_.Script(Method::kBook, ghost);
  Create("apt-1");
  ASSERT_TRUE(DriveUntil("apt-1", A::FAILED));
  A a = Get("apt-1");
  EXPECT_EQ(a.failure_reason(), "book_outcome_unknown");
  EXPECT_EQ(fake_.book_calls("apt-1"), 4);
  EXPECT_EQ(fake_.live_bookings("apt-1"), 0);
  auto events = store_->ListEvents("apt-1");
  ASSERT_OK(events);
  bool compensated = false;
  for (const auto& e : *events) compensated |= e.to_state == A::COMPENSATING;
  EXPECT_TRUE(compensated);
}

TEST_F(WorkerTest, UnavailableUntilExhaustedIsCompensated) {
  // UNAVAILABLE can come after the provider got the request (a broken
  // connection): the worker cancels by key before FAILED.
  MakeWorker();
  fake_.Script(Method::kBook, std::vector<FakeProviderClient::Scripted>(
                                  4, {absl::UnavailableError("down")}));
  Create("apt-1");
  ASSERT_TRUE(DriveUntil("apt-1", A::FAILED));
  A a = Get("apt-1");
  EXPECT_EQ(a.failure_reason(), "provider_unavailable");
  EXPECT_EQ(a.attempt_count(), 5);  // four BOOKs and the cancel
  EXPECT_EQ(fake_.book_calls("apt-1"), 4);
  EXPECT_EQ(fake_.calls(Method::kCancel), 1);
  EXPECT_TRUE(HadState("apt-1", A::COMPENSATING));
}

TEST_F(WorkerTest, RateLimitedUntilExhaustedFailsWithoutCompensation) {
  MakeWorker();
  fake_.Script(Method::kBook,
               std::vector<FakeProviderClient::Scripted>(
                   4, {absl::ResourceExhaustedError("slow down")}));
  Create("apt-1");
  ASSERT_TRUE(DriveUntil("apt-1", A::FAILED));
  EXPECT_EQ(Get("apt-1").failure_reason(), "provider_unavailable");
  EXPECT_EQ(Get("apt-1").attempt_count(), 4);
  EXPECT_EQ(fake_.calls(Method::kCancel), 0);
  EXPECT_FALSE(HadState("apt-1", A::COMPENSATING));
}

TEST_F(WorkerTest, CompensationWaitsOutADownProviderThenFails) {
  WorkerOptions o = TestOptions();
  o.policy.max_cancel_attempts = 50;
  MakeWorker(o);
  fake_.FailProvider("prov-a", absl::UnavailableError("down"));
  Create("apt-1");
  ASSERT_TRUE(DriveUntil("apt-1", A::COMPENSATING));
  // Still down: the COMPENSATE keeps retrying with backoff; the appointment
  // honestly stays COMPENSATING.
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_OK(worker_->Step());
    worker_->CommitAnswers();
  }
  EXPECT_EQ(Get("apt-1").state(), A::COMPENSATING);
  const std::vector<OutboxCommand> cmds = Commands("apt-1");
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[1].type, CommandType::kCompensate);
  EXPECT_EQ(cmds[1].status, CommandStatus::kPending);
  EXPECT_GE(cmds[1].attempts, 3);
  // The provider is back: cancelled by key, FAILED with the reason.
  fake_.FailProvider("prov-a", absl::OkStatus());
  ASSERT_TRUE(DriveUntil("apt-1", A::FAILED));
  EXPECT_EQ(Get("apt-1").failure_reason(), "provider_unavailable");
  EXPECT_EQ(fake_.live_bookings("apt-1"), 0);
}

TEST_F(WorkerTest, CompensationOutOfAttemptsGoesDeadAndStaysCompensating) {
  MakeWorker();  // max_cancel_attempts = 3
  fake_.FailProvider("prov-a", absl::UnavailableError("down"));
  Create("apt-1");
  ASSERT_TRUE(DriveUntil("apt-1", A::COMPENSATING));
  for (int i = 0;
       i < 10 && Commands("apt-1").back().status != CommandStatus::kDead; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_OK(worker_->Step());
    worker_->CommitAnswers();
  }
  const OutboxCommand compensate = Commands("apt-1").back();
  EXPECT_EQ(compensate.type, CommandType::kCompensate);
  EXPECT_EQ(compensate.status, CommandStatus::kDead);
  EXPECT_EQ(compensate.attempts, 3);
  EXPECT_EQ(Get("apt-1").state(), A::COMPENSATING);
  // The operator requeues it once the provider is back.
  fake_.FailProvider("prov-a", absl::OkStatus());
  ASSERT_OK(RequeueDead(store_.get(), "all", clock_.Now()));
  ASSERT_TRUE(DriveUntil("apt-1", A::FAILED));
  EXPECT_EQ(Get("apt-1").failure_reason(), "provider_unavailable");
}

TEST_F(WorkerTest, LostLeaseIsCountedAndTheRetryStillConfirms) {
  MakeWorker();
  Create("apt-1");
  ClaimAndVanish("dead-1");  // PENDING -> IN_PROGRESS, then nothing
  EXPECT_EQ(Get("apt-1").state(), A::IN_PROGRESS);
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(DriveUntil("apt-1", A::CONFIRMED));
  EXPECT_EQ(Get("apt-1").attempt_count(), 2);  // the lost call and ours
  EXPECT_EQ(fake_.book_calls("apt-1"), 1);
  EXPECT_EQ(fake_.live_bookings("apt-1"), 1);
}

TEST_F(WorkerTest, BookWhoseWorkersKeepDyingRunsOutOfAttemptsAndIsCompensated) {
  WorkerOptions o = TestOptions();
  o.policy.max_attempts = 2;
  CrashPoints crash(crash_points::kAfterClaim, 1);
  static int crashes = 0;
  crashes = 0;
  crash.set_on_crash_for_testing(+[] { ++crashes; });
  worker_ = std::make_unique<Worker>(store_.get(), &fake_, &clock_, o,
                                     &metrics_, &crash);
  Create("apt-1");
  // Two workers claim the BOOK and die before any outcome is recorded.
  ClaimAndVanish("dead-1");
  clock_.Advance(absl::Seconds(10));
  ClaimAndVanish("dead-2");
  clock_.Advance(absl::Seconds(10));
  // Both lost calls count: no attempt left, so no call, and since either
  // may have booked, a compensating cancel by key. This happens before the
  // after_claim crash point, which only precedes a provider call.
  ASSERT_EQ(*worker_->Step(), 1);
  EXPECT_EQ(crashes, 0);
  A a = Get("apt-1");
  EXPECT_EQ(a.state(), A::COMPENSATING);
  EXPECT_EQ(a.failure_reason(), "book_outcome_unknown");
  EXPECT_EQ(a.attempt_count(), 2);
  EXPECT_EQ(fake_.book_calls("apt-1"), 0);
  const OutboxCommand book = Commands("apt-1")[0];
  EXPECT_EQ(book.status, CommandStatus::kDone);
  EXPECT_EQ(book.attempts, 2);
  EXPECT_NE(book.last_error.find(kMaybeBookedTag), std::string::npos);
  // The cancel is a provider call: the crash point is reached before it.
  ASSERT_OK(worker_->Step());
  EXPECT_EQ(crashes, 1);
  ASSERT_TRUE(DriveUntil("apt-1", A::FAILED));
  EXPECT_EQ(Get("apt-1").failure_reason(), "book_outcome_unknown");
  EXPECT_EQ(fake_.calls(Method::kCancel), 1);
  EXPECT_EQ(fake_.live_bookings("apt-1"), 0);
}

TEST_F(WorkerTest, RejectFailsAtOnce) {
  MakeWorker();
  fake_.Script(Method::kBook, {{absl::FailedPreconditionError("slot taken")}});
  Create("apt-1");
  ASSERT_TRUE(DriveUntil("apt-1", A::FAILED));
  EXPECT_EQ(Get("apt-1").failure_reason(), "provider_rejected");
  EXPECT_EQ(Get("apt-1").attempt_count(), 1);
  EXPECT_EQ(Commands("apt-1").size(), 1u);  // no compensation queued
}

TEST_F(WorkerTest, UserCancelDuringTheBookEndsCancelledWithNoBooking) {
  MakeWorker();
  fake_.HoldCalls(true);
  Create("apt-1");
  ASSERT_EQ(*worker_->Step(), 1);
  EXPECT_EQ(worker_->in_flight(), 1);
  auto cancel = store_->CancelAppointment(
      MakeCancelIntent("apt-1", "cancel-1", clock_.Now()));
  ASSERT_OK(cancel);
  EXPECT_EQ(cancel->appointment.state(), A::CANCELLING);
  // The provider books and answers after the cancel.
  fake_.HoldCalls(false);
  EXPECT_EQ(fake_.ReleaseHeld(), 1);
  worker_->CommitAnswers();
  EXPECT_EQ(Get("apt-1").state(), A::CANCELLING);
  EXPECT_FALSE(Get("apt-1").provider_booking_id().empty());
  EXPECT_EQ(fake_.live_bookings("apt-1"), 1);
  ASSERT_TRUE(DriveUntil("apt-1", A::CANCELLED));
  EXPECT_EQ(fake_.live_bookings("apt-1"), 0);
  EXPECT_TRUE(Get("apt-1").failure_reason().empty());
}

TEST_F(WorkerTest, InFlightCallsAreBounded) {
  WorkerOptions o = TestOptions();
  o.max_in_flight = 2;
  MakeWorker(o);
  fake_.HoldCalls(true);
  for (int i = 0; i < 5; ++i) Create(absl::StrCat("apt-", i));
  EXPECT_EQ(*worker_->Step(), 2);
  EXPECT_EQ(*worker_->Step(), 0);
  EXPECT_EQ(worker_->in_flight(), 2);
  fake_.HoldCalls(false);
  fake_.ReleaseHeld();
  EXPECT_EQ(*worker_->Step(), 2);
}

TEST_F(WorkerTest, OpenBreakerDefersRowsWithoutAttemptsAndSparesOthers) {
  WorkerOptions o = TestOptions();
  o.policy.max_attempts = 50;
  o.breaker.window_size = 4;
  o.breaker.minimum_calls = 4;
  o.breaker.failure_rate_threshold = 0.5;
  o.breaker.wait_in_open = absl::Seconds(30);
  o.breaker.permitted_calls_in_half_open = 1;
  MakeWorker(o);
  fake_.FailProvider("prov-a", absl::UnavailableError("down"));
  for (int i = 0; i < 4; ++i) Create(absl::StrCat("a-", i), "prov-a");
  // One round: four failures fill the window and open the breaker.
  ASSERT_EQ(*worker_->Step(), 4);
  worker_->CommitAnswers();
  CircuitBreaker* breaker = worker_->breakers().Get("prov-a");
  EXPECT_EQ(breaker->state(), CircuitBreaker::State::kOpen);
  const int calls_when_opened = fake_.calls(Method::kBook);
  // While OPEN: no calls, no attempts spent, and another provider works.
  Create("b-1", "prov-b");
  ASSERT_TRUE(DriveUntil("b-1", A::CONFIRMED, 10));
  EXPECT_EQ(fake_.calls(Method::kBook), calls_when_opened + 1);  // b-1 only
  for (int i = 0; i < 4; ++i) {
    A a = Get(absl::StrCat("a-", i));
    EXPECT_EQ(a.state(), A::PENDING);
    EXPECT_EQ(a.attempt_count(), 1);
  }
  EXPECT_EQ(
      metrics_.GetGauge("outbox_breaker_state", "", {{"provider", "prov-a"}})
          ->Value(),
      1);
  // The provider recovers; after the wait one probe closes the breaker and
  // the deferred rows go through.
  fake_.FailProvider("prov-a", absl::OkStatus());
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(DriveUntil("a-3", A::CONFIRMED, 20));
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(DriveUntil(absl::StrCat("a-", i), A::CONFIRMED, 20));
    EXPECT_EQ(fake_.live_bookings(absl::StrCat("a-", i)), 1);
  }
  EXPECT_EQ(breaker->state(), CircuitBreaker::State::kClosed);
}

TEST_F(WorkerTest, AnswersThatArriveTogetherShareOneCommit) {
  MakeWorker();
  fake_.HoldCalls(true);
  for (int i = 0; i < 4; ++i) Create(absl::StrCat("apt-", i));
  ASSERT_EQ(*worker_->Step(), 4);
  // apt-0's lease runs out while its call hangs and w2 takes the row over:
  // that one answer is stale, the other three still commit.
  clock_.Advance(absl::Seconds(11));
  ClaimRequest req;
  req.worker_id = "w2";
  req.now = clock_.Now();
  req.lease = absl::Seconds(10);
  req.max_rows = 1;
  auto taken = store_->ClaimDueCommands(req);
  ASSERT_OK(taken);
  ASSERT_THAT(*taken, ::testing::SizeIs(1));
  EXPECT_EQ((*taken)[0].command.appointment_id, "apt-0");
  fake_.HoldCalls(false);
  fake_.ReleaseHeld();

  auto before = store_->ChangeCounter();
  ASSERT_OK(before);
  EXPECT_EQ(worker_->CommitAnswers(), 4);
  EXPECT_THAT(store_->ChangeCounter(), IsOkAndHolds(*before + 1));
  EXPECT_EQ(worker_->in_flight(), 0);
  EXPECT_EQ(Get("apt-0").state(), A::IN_PROGRESS);
  EXPECT_EQ(Commands("apt-0")[0].lease_owner, "w2");
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(Get(absl::StrCat("apt-", i)).state(), A::CONFIRMED);
  }
  EXPECT_EQ(metrics_.GetCounter("outbox_stale_outcomes_total", "")->Value(), 1);
  EXPECT_EQ(
      metrics_
          .GetCounter("outbox_transitions_total", "", {{"to", "CONFIRMED"}})
          ->Value(),
      3);
}

TEST_F(WorkerTest, StaleWorkerCannotOverwriteTheNewerOutcome) {
  // Worker 1 claims and its call hangs past the lease; worker 2 (its own
  // connection to the same file) claims again and confirms; worker 1's late
  // answer is refused by the fencing token.
  MakeWorker();
  auto store2 = OpenStore(path_, &clock_);
  FakeProviderClient fake2;
  MetricsRegistry metrics2;
  Worker worker2(store2.get(), &fake2, &clock_, TestOptions("w2"), &metrics2);
  fake_.HoldCalls(true);
  fake_.Script(Method::kBook, {{absl::FailedPreconditionError("late no")}});
  Create("apt-1");
  ASSERT_EQ(*worker_->Step(), 1);
  clock_.Advance(absl::Seconds(11));  // past the 10 s lease
  ASSERT_EQ(*worker2.Step(), 1);
  worker2.CommitAnswers();
  ASSERT_EQ(Get("apt-1").state(), A::CONFIRMED);
  fake_.HoldCalls(false);
  fake_.ReleaseHeld();  // worker 1's "rejected" finally arrives
  worker_->CommitAnswers();
  EXPECT_EQ(Get("apt-1").state(), A::CONFIRMED);
  EXPECT_TRUE(Get("apt-1").failure_reason().empty());
  EXPECT_EQ(metrics_.GetCounter("outbox_stale_outcomes_total", "")->Value(), 1);
}

TEST_F(WorkerTest, DeadCancelCanBeRequeuedByTheOperator) {
  MakeWorker();
  Create("apt-1");
  ASSERT_TRUE(DriveUntil("apt-1", A::CONFIRMED));
  ASSERT_OK(store_->CancelAppointment(
      MakeCancelIntent("apt-1", "cancel-1", clock_.Now())));
  fake_.Script(Method::kCancel, {{absl::PermissionDeniedError("nope")}});
  ASSERT_OK(worker_->Step());
  worker_->CommitAnswers();
  std::vector<OutboxCommand> cmds = Commands("apt-1");
  ASSERT_EQ(cmds.back().status, CommandStatus::kDead);
  EXPECT_NE(cmds.back().last_error.find("PERMISSION_DENIED"),
            std::string::npos);
  EXPECT_EQ(Get("apt-1").state(), A::CANCELLING);

  auto requeued = RequeueDead(store_.get(), "all", clock_.Now());
  ASSERT_OK(requeued);
  ASSERT_EQ(requeued->size(), 1u);
  EXPECT_EQ((*requeued)[0].type, "CANCEL");
  ASSERT_TRUE(DriveUntil("apt-1", A::CANCELLED));
  EXPECT_EQ(fake_.live_bookings("apt-1"), 0);
}

TEST_F(WorkerTest, RequeueAllPagesThroughDeadRowsOnlyInIdOrder) {
  for (int i = 0; i < 7; ++i) Create(absl::StrCat("apt-", i));
  ClaimRequest req;
  req.worker_id = "w9";
  req.now = clock_.Now();
  req.lease = absl::Seconds(10);
  auto claimed = store_->ClaimDueCommands(req);
  ASSERT_OK(claimed);
  ASSERT_EQ(claimed->size(), 7u);
  std::vector<int64_t> dead;
  for (int i = 0; i < 7; ++i) {
    if (i == 1) continue;  // stays LEASED
    const ClaimedCommand& c = (*claimed)[i];
    CommandOutcome o;
    o.command_id = c.command.id;
    o.fencing_token = c.command.fencing_token;
    o.now = clock_.Now();
    o.disposition = i == 4 ? CommandOutcome::Disposition::kReschedule
                           : CommandOutcome::Disposition::kDead;
    o.next_attempt_time = clock_.Now() + absl::Hours(1);
    ASSERT_OK(store_->CompleteCommand(o));
    if (i != 4) dead.push_back(c.command.id);
  }
  auto requeued = RequeueDead(store_.get(), "all", clock_.Now(),
                              /*page_size=*/2);
  ASSERT_OK(requeued);
  std::vector<int64_t> ids;
  for (const RequeuedCommand& r : *requeued) ids.push_back(r.command_id);
  EXPECT_EQ(ids, dead);  // 5 rows over 3 pages, each once, in id order
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(Commands(absl::StrCat("apt-", i))[0].status,
              i == 1 ? CommandStatus::kLeased : CommandStatus::kPending)
        << i;
  }
  auto again = RequeueDead(store_.get(), "all", clock_.Now());
  ASSERT_OK(again);
  EXPECT_TRUE(again->empty());
}

TEST(RequeueDead, RejectsMalformedIds) {
  EXPECT_THAT(RequeueDead(nullptr, "12,x", TestNow()),
              ::booking::testing::StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RequeueDead(nullptr, ",", TestNow()),
              ::booking::testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ValidateWorkerOptions, LeaseMustExceedTheAttemptTimeout) {
  WorkerOptions o = TestOptions();
  EXPECT_OK(ValidateWorkerOptions(o));
  o.lease = o.policy.attempt_timeout;
  EXPECT_THAT(ValidateWorkerOptions(o),
              ::booking::testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CrashPoints, FiresOnlyAtTheArmedPointsNthHit) {
  static int crashes = 0;
  CrashPoints cp(crash_points::kAfterClaim, 2);
  cp.set_on_crash_for_testing(+[] { ++crashes; });
  cp.Hit(crash_points::kAfterProviderAnswer);
  cp.Hit(crash_points::kAfterClaim);
  EXPECT_EQ(crashes, 0);
  cp.Hit(crash_points::kAfterClaim);
  EXPECT_EQ(crashes, 1);
  CrashPoints off;
  off.Hit(crash_points::kAfterClaim);
  EXPECT_EQ(crashes, 1);
}

// ------------------------------------------------ Run() on the real clock --

class WorkerRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = FreshDbPath(absl::StrCat(
        ::testing::UnitTest::GetInstance()->current_test_info()->name(),
        ".db"));
    store_ = OpenStore(path_, RealClock());
    writer_ = OpenStore(path_, RealClock());  // like api_server's connection
  }

  // Polls (bounded) until `id` reaches `state`.
  bool WaitFor(const std::string& id, A::State state) {
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (absl::Now() < give_up) {
      auto a = writer_->GetAppointment(id);
      if (a.ok() && a->state() == state) return true;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return false;
  }

  std::string path_;
  std::unique_ptr<SqliteAppointmentStore> store_;
  std::unique_ptr<SqliteAppointmentStore> writer_;
  FakeProviderClient fake_;
};

TEST_F(WorkerRunTest, PicksUpAnotherConnectionsCommitWhileIdle) {
  WorkerOptions o = TestOptions();
  o.idle_poll = absl::Seconds(30);  // only the change counter can wake it
  Worker worker(store_.get(), &fake_, RealClock(), o);
  std::thread loop([&worker] { worker.Run(); });
  ASSERT_OK(writer_->CreateAppointment(
      MakeCreateIntent("apt-1", "req-1", absl::Now())));
  EXPECT_TRUE(WaitFor("apt-1", A::CONFIRMED));
  worker.Stop();
  loop.join();
}

TEST_F(WorkerRunTest, StopReleasesLeasesOfCallsStillInFlight) {
  WorkerOptions o = TestOptions();
  o.shutdown_grace = absl::ZeroDuration();
  Worker worker(store_.get(), &fake_, RealClock(), o);
  fake_.HoldCalls(true);
  ASSERT_OK(writer_->CreateAppointment(
      MakeCreateIntent("apt-1", "req-1", absl::Now())));
  std::thread loop([&worker] { worker.Run(); });
  ASSERT_TRUE(fake_.WaitHeld(1, absl::Seconds(20)));
  ASSERT_EQ(fake_.held(), 1);
  worker.Stop();
  loop.join();
  auto cmds = writer_->ListCommandsFor("apt-1");
  ASSERT_OK(cmds);
  ASSERT_EQ(cmds->size(), 1u);
  EXPECT_EQ((*cmds)[0].status, CommandStatus::kPending);
  EXPECT_EQ((*cmds)[0].attempts, 0);
  EXPECT_EQ(writer_->GetAppointment("apt-1")->state(), A::PENDING);
  fake_.ReleaseHeld();  // the late answer is dropped
}

}  // namespace
}  // namespace booking
