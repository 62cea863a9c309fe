// The worker's decision table (DESIGN §3, §6), row by row.
#include "outbox_worker/decision.h"

#include <optional>
#include <string>
#include <vector>

#include "core/common/time_util.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using A = appointments::v1::Appointment;
using B = provider::v1::Booking;
using D = CommandOutcome::Disposition;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
const absl::Duration kDelay = absl::Milliseconds(300);

DecisionPolicy Policy() {
  DecisionPolicy p;
  p.max_attempts = 4;
  p.max_cancel_attempts = 3;
  p.attempt_timeout = absl::Seconds(2);
  p.confirm_timeout = absl::Minutes(5);
  p.compensate_timeout = absl::Hours(1);
  return p;
}

ClaimedCommand Claimed(CommandType type, A::State state, int attempts = 0,
                       std::string last_error = "") {
  ClaimedCommand c;
  c.command.id = 7;
  c.command.fencing_token = 42;
  c.command.type = type;
  c.command.status = CommandStatus::kLeased;
  c.command.attempts = attempts;
  c.command.deadline = kNow + absl::Hours(1);
  c.command.last_error = std::move(last_error);
  c.command.appointment_id = "apt_1";
  c.command.provider_id = "p";
  c.appointment.set_id("apt_1");
  c.appointment.set_provider_id("p");
  c.appointment.set_state(state);
  *c.appointment.mutable_start_time() =
      ToProtoTimestamp(kNow + absl::Hours(48));
  return c;
}

ProviderResult Ok(B::Status status, std::string id = "b-1") {
  B b;
  b.set_booking_id(std::move(id));
  b.set_status(status);
  return ProviderResult{b, std::nullopt};
}

ProviderResult Err(absl::StatusCode code,
                   std::optional<absl::Duration> hint = std::nullopt) {
  return ProviderResult{absl::Status(code, "x"), hint};
}

// What a row of the table expects.
struct Expect {
  D disposition;
  std::optional<A::State> to_state;
  std::string reason;  // "" = no failure_reason
  std::optional<CommandType> enqueue;
  bool counted = true;
};

void Check(const CommandOutcome& o, const Expect& e) {
  EXPECT_EQ(o.command_id, 7);
  EXPECT_EQ(o.fencing_token, 42);
  EXPECT_EQ(o.now, kNow);
  EXPECT_EQ(o.disposition, e.disposition);
  EXPECT_EQ(o.to_state, e.to_state);
  EXPECT_EQ(o.failure_reason.value_or(""), e.reason);
  EXPECT_EQ(o.enqueue, e.enqueue);
  EXPECT_EQ(o.count_attempt, e.counted);
}

struct Row {
  std::string name;
  CommandType type;
  A::State state;
  int attempts;
  std::string last_error;
  ProviderResult result;
  Expect expect;
};

class DecisionTable : public ::testing::TestWithParam<Row> {};

TEST_P(DecisionTable, Outcome) {
  const Row& row = GetParam();
  ClaimedCommand c = Claimed(row.type, row.state, row.attempts, row.last_error);
  CommandOutcome o = DecideOutcome(c, row.result, kNow, kDelay, Policy());
  Check(o, row.expect);
}

const std::string kUnknown =
    std::string("attempt 1: DEADLINE_EXCEEDED: x ") + kMaybeBookedTag;
// What the store notes when it re-claims an expired lease.
const std::string kLostLease =
    std::string(kLeaseExpiredTag) +
    " lease of worker:w9 (token 3) expired before an outcome was recorded";
const std::string kRateLimited = "attempt 3: RESOURCE_EXHAUSTED: x";

INSTANTIATE_TEST_SUITE_P(
    Rows, DecisionTable,
    ::testing::Values(
        // --- BOOK answered
        Row{"BookConfirmed",
            CommandType::kBook,
            A::IN_PROGRESS,
            0,
            "",
            Ok(B::CONFIRMED),
            {D::kDone, A::CONFIRMED, "", std::nullopt}},
        Row{"BookPending",
            CommandType::kBook,
            A::IN_PROGRESS,
            0,
            "",
            Ok(B::PENDING),
            {D::kDone, A::AWAITING_CONFIRMATION, "", CommandType::kConfirm}},
        Row{"BookDeclined",
            CommandType::kBook,
            A::IN_PROGRESS,
            0,
            "",
            Ok(B::DECLINED),
            {D::kDone, A::FAILED, "provider_declined"}},
        Row{"BookFoundCancelled",
            CommandType::kBook,
            A::IN_PROGRESS,
            1,
            "",
            Ok(B::CANCELLED),
            {D::kDone, A::FAILED, "provider_cancelled"}},
        Row{"BookMalformedIsUnknownAndRetried",
            CommandType::kBook,
            A::IN_PROGRESS,
            0,
            "",
            Ok(B::STATUS_UNSPECIFIED),
            {D::kReschedule, A::PENDING, ""}},
        // --- BOOK retryable
        Row{"BookUnavailableRetries",
            CommandType::kBook,
            A::IN_PROGRESS,
            0,
            "",
            Err(absl::StatusCode::kUnavailable),
            {D::kReschedule, A::PENDING, ""}},
        Row{"BookDeadlineRetries",
            CommandType::kBook,
            A::IN_PROGRESS,
            1,
            "",
            Err(absl::StatusCode::kDeadlineExceeded),
            {D::kReschedule, A::PENDING, ""}},
        Row{"BookRateLimitedRetries",
            CommandType::kBook,
            A::IN_PROGRESS,
            0,
            "",
            Err(absl::StatusCode::kResourceExhausted, absl::Seconds(1)),
            {D::kReschedule, A::PENDING, ""}},
        Row{"BookAbortedRetries",
            CommandType::kBook,
            A::IN_PROGRESS,
            0,
            "",
            Err(absl::StatusCode::kAborted),
            {D::kReschedule, A::PENDING, ""}},
        Row{"BookInternalRetries",
            CommandType::kBook,
            A::IN_PROGRESS,
            0,
            "",
            Err(absl::StatusCode::kInternal),
            {D::kReschedule, A::PENDING, ""}},
        // --- BOOK exhausted
        // UNAVAILABLE may have booked (the connection can break after the
        // provider got the request): compensated, reason still says why.
        Row{"BookExhaustedUnavailableCompensates",
            CommandType::kBook,
            A::IN_PROGRESS,
            3,
            std::string("attempt 3: UNAVAILABLE: x ") + kMaybeBookedTag,
            Err(absl::StatusCode::kUnavailable),
            {D::kDone, A::COMPENSATING, "provider_unavailable",
             CommandType::kCompensate}},
        Row{"BookExhaustedUnavailableFirstTimeCompensates",
            CommandType::kBook,
            A::IN_PROGRESS,
            3,
            kRateLimited,
            Err(absl::StatusCode::kUnavailable),
            {D::kDone, A::COMPENSATING, "provider_unavailable",
             CommandType::kCompensate}},
        // Only rate limits: the provider refused every time, nothing booked.
        Row{"BookExhaustedRateLimitedOnlyFails",
            CommandType::kBook,
            A::IN_PROGRESS,
            3,
            kRateLimited,
            Err(absl::StatusCode::kResourceExhausted),
            {D::kDone, A::FAILED, "provider_unavailable"}},
        Row{"BookExhaustedRateLimitedAfterLostLeaseCompensates",
            CommandType::kBook,
            A::IN_PROGRESS,
            3,
            kLostLease,
            Err(absl::StatusCode::kResourceExhausted),
            {D::kDone, A::COMPENSATING, "provider_unavailable",
             CommandType::kCompensate}},
        Row{"BookExhaustedUnknownCompensates",
            CommandType::kBook,
            A::IN_PROGRESS,
            3,
            "",
            Err(absl::StatusCode::kInternal),
            {D::kDone, A::COMPENSATING, "book_outcome_unknown",
             CommandType::kCompensate}},
        Row{"BookExhaustedRateLimitedAfterEarlierUnknownCompensates",
            CommandType::kBook,
            A::IN_PROGRESS,
            3,
            kUnknown,
            Err(absl::StatusCode::kResourceExhausted),
            {D::kDone, A::COMPENSATING, "provider_unavailable",
             CommandType::kCompensate}},
        // --- BOOK permanent
        Row{"BookRejectedFails",
            CommandType::kBook,
            A::IN_PROGRESS,
            0,
            "",
            Err(absl::StatusCode::kFailedPrecondition),
            {D::kDone, A::FAILED, "provider_rejected"}},
        Row{"BookInvalidArgumentFails",
            CommandType::kBook,
            A::IN_PROGRESS,
            0,
            "",
            Err(absl::StatusCode::kInvalidArgument),
            {D::kDone, A::FAILED, "provider_refused"}},
        Row{"BookPermissionDeniedFails",
            CommandType::kBook,
            A::IN_PROGRESS,
            0,
            "",
            Err(absl::StatusCode::kPermissionDenied),
            {D::kDone, A::FAILED, "provider_refused"}},
        Row{"BookNotFoundFails",
            CommandType::kBook,
            A::IN_PROGRESS,
            0,
            "",
            Err(absl::StatusCode::kNotFound),
            {D::kDone, A::FAILED, "provider_refused"}},
        Row{"BookRejectedAfterUnknownCompensates",
            CommandType::kBook,
            A::IN_PROGRESS,
            1,
            kUnknown,
            Err(absl::StatusCode::kFailedPrecondition),
            {D::kDone, A::COMPENSATING, "provider_rejected",
             CommandType::kCompensate}},
        Row{"BookRejectedAfterUnavailableCompensates",
            CommandType::kBook,
            A::IN_PROGRESS,
            1,
            std::string("attempt 1: UNAVAILABLE: x ") + kMaybeBookedTag,
            Err(absl::StatusCode::kFailedPrecondition),
            {D::kDone, A::COMPENSATING, "provider_rejected",
             CommandType::kCompensate}},
        Row{"BookRejectedAfterLostLeaseCompensates",
            CommandType::kBook,
            A::IN_PROGRESS,
            1,
            kLostLease,
            Err(absl::StatusCode::kFailedPrecondition),
            {D::kDone, A::COMPENSATING, "provider_rejected",
             CommandType::kCompensate}},
        // Not an explicit "did nothing": a Book's ALREADY_EXISTS means the
        // key holds a booking.
        Row{"BookAlreadyExistsCompensates",
            CommandType::kBook,
            A::IN_PROGRESS,
            0,
            "",
            Err(absl::StatusCode::kAlreadyExists),
            {D::kDone, A::COMPENSATING, "provider_refused",
             CommandType::kCompensate}},
        // --- CONFIRM polls (each a provider call, so counted)
        Row{"ConfirmConfirmed",
            CommandType::kConfirm,
            A::AWAITING_CONFIRMATION,
            0,
            "",
            Ok(B::CONFIRMED),
            {D::kDone, A::CONFIRMED, "", std::nullopt}},
        Row{"ConfirmDeclined",
            CommandType::kConfirm,
            A::AWAITING_CONFIRMATION,
            0,
            "",
            Ok(B::DECLINED),
            {D::kDone, A::FAILED, "provider_declined", std::nullopt}},
        Row{"ConfirmStillPending",
            CommandType::kConfirm,
            A::AWAITING_CONFIRMATION,
            0,
            "",
            Ok(B::PENDING),
            {D::kReschedule, std::nullopt, "", std::nullopt}},
        Row{"ConfirmUnavailableRepolls",
            CommandType::kConfirm,
            A::AWAITING_CONFIRMATION,
            0,
            "",
            Err(absl::StatusCode::kUnavailable),
            {D::kReschedule, std::nullopt, "", std::nullopt}},
        Row{"ConfirmNotFoundCompensates",
            CommandType::kConfirm,
            A::AWAITING_CONFIRMATION,
            0,
            "",
            Err(absl::StatusCode::kNotFound),
            {D::kDone, A::COMPENSATING, "confirmation_lost",
             CommandType::kCompensate}},
        // --- CANCEL (user) and COMPENSATE (system)
        Row{"CancelDone",
            CommandType::kCancel,
            A::CANCELLING,
            0,
            "",
            Ok(B::CANCELLED),
            {D::kDone, A::CANCELLED, ""}},
        Row{"CancelRetries",
            CommandType::kCancel,
            A::CANCELLING,
            0,
            "",
            Err(absl::StatusCode::kUnavailable),
            {D::kReschedule, std::nullopt, ""}},
        Row{"CancelExhaustedGoesDead",
            CommandType::kCancel,
            A::CANCELLING,
            2,
            "",
            Err(absl::StatusCode::kUnavailable),
            {D::kDead, std::nullopt, ""}},
        Row{"CancelPermanentGoesDead",
            CommandType::kCancel,
            A::CANCELLING,
            0,
            "",
            Err(absl::StatusCode::kPermissionDenied),
            {D::kDead, std::nullopt, ""}},
        Row{"CompensateDoneFailsWithGenericReason",
            CommandType::kCompensate,
            A::COMPENSATING,
            0,
            "",
            Ok(B::CANCELLED),
            {D::kDone, A::FAILED, "compensated"}},
        Row{"CompensateRetries",
            CommandType::kCompensate,
            A::COMPENSATING,
            0,
            "",
            Err(absl::StatusCode::kDeadlineExceeded),
            {D::kReschedule, std::nullopt, ""}},
        // The provider is still down: keep trying, the appointment stays
        // COMPENSATING (no state change) ...
        Row{"CompensateUnavailableRetriesAndStaysCompensating",
            CommandType::kCompensate,
            A::COMPENSATING,
            1,
            "attempt 1: UNAVAILABLE: x",
            Err(absl::StatusCode::kUnavailable),
            {D::kReschedule, std::nullopt, ""}},
        // ... until its attempts run out: DEAD, still COMPENSATING, for the
        // operator and the reconciler.
        Row{"CompensateExhaustedGoesDeadAndStaysCompensating",
            CommandType::kCompensate,
            A::COMPENSATING,
            2,
            "attempt 2: UNAVAILABLE: x",
            Err(absl::StatusCode::kUnavailable),
            {D::kDead, std::nullopt, ""}}),
    [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

TEST(DecideOutcome, CompensationCarriesTheReasonItStartedWith) {
  ClaimedCommand c = Claimed(CommandType::kCompensate, A::COMPENSATING);
  c.appointment.set_failure_reason("book_outcome_unknown");
  CommandOutcome o = DecideOutcome(c, Ok(B::CANCELLED), kNow, kDelay, Policy());
  EXPECT_EQ(o.to_state, A::FAILED);
  EXPECT_EQ(o.failure_reason, "book_outcome_unknown");
}

TEST(DecideOutcome, RetryWaitsTheJitteredDelay) {
  ClaimedCommand c = Claimed(CommandType::kBook, A::IN_PROGRESS);
  CommandOutcome o = DecideOutcome(c, Err(absl::StatusCode::kUnavailable), kNow,
                                   kDelay, Policy());
  EXPECT_EQ(o.next_attempt_time, kNow + kDelay);
}

TEST(DecideOutcome, RetryAfterHintIsAFloor) {
  ClaimedCommand c = Claimed(CommandType::kBook, A::IN_PROGRESS);
  CommandOutcome o = DecideOutcome(
      c, Err(absl::StatusCode::kResourceExhausted, absl::Seconds(5)), kNow,
      kDelay, Policy());
  EXPECT_EQ(o.next_attempt_time, kNow + absl::Seconds(5));
  // A hint shorter than our delay does not shorten it.
  o = DecideOutcome(
      c, Err(absl::StatusCode::kResourceExhausted, absl::Milliseconds(1)), kNow,
      kDelay, Policy());
  EXPECT_EQ(o.next_attempt_time, kNow + kDelay);
}

TEST(DecideOutcome, RetryThatWouldPassTheDeadlineGivesUpNow) {
  ClaimedCommand c = Claimed(CommandType::kBook, A::IN_PROGRESS);
  c.command.deadline = kNow + absl::Milliseconds(100);
  CommandOutcome o = DecideOutcome(c, Err(absl::StatusCode::kResourceExhausted),
                                   kNow, kDelay, Policy());
  EXPECT_EQ(o.to_state, A::FAILED);
  EXPECT_EQ(o.failure_reason, "book_deadline_exceeded");
  for (absl::StatusCode code :
       {absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kUnavailable}) {
    o = DecideOutcome(c, Err(code), kNow, kDelay, Policy());
    EXPECT_EQ(o.to_state, A::COMPENSATING) << code;
    EXPECT_EQ(o.failure_reason, "book_deadline_exceeded");
    EXPECT_EQ(o.enqueue, CommandType::kCompensate);
  }
}

TEST(DecideOutcome, UnknownOutcomeIsRememberedInTheError) {
  ClaimedCommand c = Claimed(CommandType::kBook, A::IN_PROGRESS);
  CommandOutcome o = DecideOutcome(c, Err(absl::StatusCode::kDeadlineExceeded),
                                   kNow, kDelay, Policy());
  OutboxCommand next = c.command;
  next.last_error = o.error;
  EXPECT_TRUE(MaybeBookedBefore(next));
  // A later refusal keeps the mark (the provider may still hold the first).
  c.command.last_error = o.error;
  o = DecideOutcome(c, Err(absl::StatusCode::kUnavailable), kNow, kDelay,
                    Policy());
  next.last_error = o.error;
  EXPECT_TRUE(MaybeBookedBefore(next));
  // A refusal alone does not.
  c.command.last_error = "";
  o = DecideOutcome(c, Err(absl::StatusCode::kResourceExhausted), kNow, kDelay,
                    Policy());
  next.last_error = o.error;
  EXPECT_FALSE(MaybeBookedBefore(next));
  // UNAVAILABLE alone does: the request may have reached the provider.
  o = DecideOutcome(c, Err(absl::StatusCode::kUnavailable), kNow, kDelay,
                    Policy());
  next.last_error = o.error;
  EXPECT_TRUE(MaybeBookedBefore(next));
}

TEST(DecideOutcome, LostLeaseCountsAsMaybeBookedAndStaysSo) {
  OutboxCommand cmd;
  cmd.last_error = kLostLease;
  EXPECT_TRUE(MaybeBookedBefore(cmd));
  // The next attempt's error replaces last_error; the mark is carried on.
  ClaimedCommand c = Claimed(CommandType::kBook, A::IN_PROGRESS, 1, kLostLease);
  CommandOutcome o = DecideOutcome(c, Err(absl::StatusCode::kResourceExhausted),
                                   kNow, kDelay, Policy());
  EXPECT_EQ(o.disposition, D::kReschedule);
  cmd.last_error = o.error;
  EXPECT_TRUE(MaybeBookedBefore(cmd));
}

TEST(DecideOutcome, PendingBookSchedulesAConfirmNoLaterThanTheStart) {
  ClaimedCommand c = Claimed(CommandType::kBook, A::IN_PROGRESS);
  *c.appointment.mutable_start_time() =
      ToProtoTimestamp(kNow + absl::Minutes(2));
  CommandOutcome o =
      DecideOutcome(c, Ok(B::PENDING, "b-9"), kNow, kDelay, Policy());
  EXPECT_EQ(o.provider_booking_id, "b-9");
  EXPECT_EQ(o.enqueue_at, kNow + kDelay);
  EXPECT_EQ(o.enqueue_deadline, kNow + absl::Minutes(2));
}

TEST(DecideOutcome, ConfirmPollNeverSleepsPastTheDeadline) {
  ClaimedCommand c = Claimed(CommandType::kConfirm, A::AWAITING_CONFIRMATION);
  c.command.deadline = kNow + absl::Milliseconds(50);
  CommandOutcome o = DecideOutcome(c, Ok(B::PENDING), kNow, kDelay, Policy());
  EXPECT_EQ(o.next_attempt_time, kNow + absl::Milliseconds(50));
}

TEST(DecideOutcome, BookAnsweredAfterUserCancelStillRecordsTheBookingId) {
  // The store refuses IN_PROGRESS->CONFIRMED from CANCELLING and keeps the
  // booking id; the decision itself does not need to know about the cancel.
  ClaimedCommand c = Claimed(CommandType::kBook, A::IN_PROGRESS);
  CommandOutcome o =
      DecideOutcome(c, Ok(B::CONFIRMED, "b-5"), kNow, kDelay, Policy());
  EXPECT_EQ(o.provider_booking_id, "b-5");
  EXPECT_EQ(o.disposition, D::kDone);
}

// --------------------------------------------------------------- planning --

TEST(PlanCommand, BookCallsWithTheSmallerOfAttemptTimeoutAndTimeLeft) {
  ClaimedCommand c = Claimed(CommandType::kBook, A::IN_PROGRESS);
  Plan p = PlanCommand(c, kNow, Policy());
  EXPECT_EQ(p.action, Plan::Action::kBook);
  EXPECT_EQ(p.attempt_deadline, absl::Seconds(2));
  c.command.deadline = kNow + absl::Milliseconds(500);
  p = PlanCommand(c, kNow, Policy());
  EXPECT_EQ(p.attempt_deadline, absl::Milliseconds(500));
}

TEST(PlanCommand, BookOfACancellingAppointmentIsSupersededWithoutACall) {
  for (A::State s : {A::CANCELLING, A::CANCELLED, A::FAILED, A::CONFIRMED,
                     A::COMPENSATING, A::AWAITING_CONFIRMATION}) {
    Plan p = PlanCommand(Claimed(CommandType::kBook, s), kNow, Policy());
    EXPECT_EQ(p.action, Plan::Action::kFinish);
    Check(p.outcome, {D::kDone, std::nullopt, "", std::nullopt, false});
  }
}

TEST(PlanCommand, BookPastItsDeadline) {
  ClaimedCommand c = Claimed(CommandType::kBook, A::IN_PROGRESS, 2);
  c.command.deadline = kNow;
  Plan p = PlanCommand(c, kNow, Policy());
  EXPECT_EQ(p.action, Plan::Action::kFinish);
  Check(p.outcome,
        {D::kDone, A::FAILED, "book_deadline_exceeded", std::nullopt, false});
  c.command.last_error = kUnknown;
  p = PlanCommand(c, kNow, Policy());
  Check(p.outcome, {D::kDone, A::COMPENSATING, "book_deadline_exceeded",
                    CommandType::kCompensate, false});
}

TEST(PlanCommand, BookWhoseAttemptsRanOutWithoutAnswersGivesUpWithoutACall) {
  // Lost leases: the store counted the attempts, no answer was recorded.
  ClaimedCommand c = Claimed(CommandType::kBook, A::IN_PROGRESS, 4, kLostLease);
  Plan p = PlanCommand(c, kNow, Policy());
  EXPECT_EQ(p.action, Plan::Action::kFinish);
  Check(p.outcome, {D::kDone, A::COMPENSATING, "book_outcome_unknown",
                    CommandType::kCompensate, false});
  EXPECT_NE(p.outcome.error.find(kMaybeBookedTag), std::string::npos);
  // One attempt left: call.
  c.command.attempts = 3;
  EXPECT_EQ(PlanCommand(c, kNow, Policy()).action, Plan::Action::kBook);
  // Exhausted by refusals only (e.g. --max_attempts lowered): plain FAILED.
  c = Claimed(CommandType::kBook, A::IN_PROGRESS, 4, kRateLimited);
  p = PlanCommand(c, kNow, Policy());
  Check(p.outcome,
        {D::kDone, A::FAILED, "provider_unavailable", std::nullopt, false});
}

TEST(PlanCommand, ConfirmPastItsDeadlineCompensates) {
  ClaimedCommand c = Claimed(CommandType::kConfirm, A::AWAITING_CONFIRMATION);
  c.command.deadline = kNow;
  Plan p = PlanCommand(c, kNow, Policy());
  EXPECT_EQ(p.action, Plan::Action::kFinish);
  Check(p.outcome, {D::kDone, A::COMPENSATING, "confirmation_timeout",
                    CommandType::kCompensate, false});
  EXPECT_EQ(p.outcome.enqueue_deadline, kNow + absl::Hours(1));
}

TEST(PlanCommand, ConfirmOfACancellingAppointmentIsSuperseded) {
  Plan p = PlanCommand(Claimed(CommandType::kConfirm, A::CANCELLING), kNow,
                       Policy());
  EXPECT_EQ(p.action, Plan::Action::kFinish);
  EXPECT_EQ(p.outcome.to_state, std::nullopt);
}

TEST(PlanCommand, CancelAndCompensateCallEvenPastTheirDeadline) {
  for (CommandType t : {CommandType::kCancel, CommandType::kCompensate}) {
    ClaimedCommand c =
        Claimed(t, t == CommandType::kCancel ? A::CANCELLING : A::COMPENSATING);
    c.command.deadline = kNow - absl::Hours(1);
    EXPECT_EQ(PlanCommand(c, kNow, Policy()).action, Plan::Action::kCancel);
  }
}

TEST(PlanCommand, CancelForAnUnexpectedStateGoesDead) {
  Plan p =
      PlanCommand(Claimed(CommandType::kCancel, A::CONFIRMED), kNow, Policy());
  EXPECT_EQ(p.action, Plan::Action::kFinish);
  EXPECT_EQ(p.outcome.disposition, D::kDead);
  EXPECT_FALSE(p.outcome.error.empty());
}

TEST(PlanCommand, CancelOfAnAlreadyCancelledAppointmentIsSuperseded) {
  Plan p =
      PlanCommand(Claimed(CommandType::kCancel, A::CANCELLED), kNow, Policy());
  EXPECT_EQ(p.action, Plan::Action::kFinish);
  EXPECT_EQ(p.outcome.disposition, D::kDone);
}

TEST(DeferForBreaker, RequeuesWithoutSpendingAnAttempt) {
  ClaimedCommand c = Claimed(CommandType::kBook, A::IN_PROGRESS, 2, kUnknown);
  CommandOutcome o = DeferForBreaker(c, kNow, kNow + absl::Seconds(3));
  Check(o, {D::kReschedule, A::PENDING, "", std::nullopt, false});
  EXPECT_EQ(o.next_attempt_time, kNow + absl::Seconds(3));
  EXPECT_TRUE(o.error.empty());  // keeps the command's last_error intact
}

// ------------------------------------------------------------ classifiers --

TEST(ClassifyError, MatchesDesignSection6) {
  using C = absl::StatusCode;
  EXPECT_EQ(ClassifyError(C::kResourceExhausted),
            ErrorClass::kRetryableNotApplied);
  for (C c : {C::kUnavailable, C::kDeadlineExceeded, C::kAborted, C::kInternal,
              C::kUnknown, C::kCancelled, C::kDataLoss}) {
    EXPECT_EQ(ClassifyError(c), ErrorClass::kRetryableUnknown) << c;
  }
  for (C c : {C::kInvalidArgument, C::kFailedPrecondition, C::kNotFound,
              C::kPermissionDenied}) {
    EXPECT_EQ(ClassifyError(c), ErrorClass::kRefused) << c;
  }
  for (C c : {C::kAlreadyExists, C::kUnimplemented, C::kOutOfRange}) {
    EXPECT_EQ(ClassifyError(c), ErrorClass::kPermanentUnknown) << c;
  }
}

TEST(ClassifyError, OnlyExplicitRefusalsRuleOutABooking) {
  using C = absl::StatusCode;
  for (C c : {C::kResourceExhausted, C::kInvalidArgument,
              C::kFailedPrecondition, C::kNotFound, C::kPermissionDenied}) {
    EXPECT_FALSE(MayHaveActed(ClassifyError(c))) << c;
  }
  for (C c : {C::kUnavailable, C::kDeadlineExceeded, C::kAborted, C::kInternal,
              C::kUnknown, C::kCancelled, C::kDataLoss, C::kAlreadyExists}) {
    EXPECT_TRUE(MayHaveActed(ClassifyError(c))) << c;
  }
  EXPECT_TRUE(IsRetryable(ClassifyError(C::kUnavailable)));
  EXPECT_TRUE(IsRetryable(ClassifyError(C::kResourceExhausted)));
  EXPECT_FALSE(IsRetryable(ClassifyError(C::kAlreadyExists)));
  EXPECT_FALSE(IsRetryable(ClassifyError(C::kFailedPrecondition)));
}

TEST(IsBreakerFailure, OnlyUnhealthyProviderAnswersCount) {
  EXPECT_TRUE(IsBreakerFailure(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(IsBreakerFailure(absl::StatusCode::kDeadlineExceeded));
  EXPECT_TRUE(IsBreakerFailure(absl::StatusCode::kInternal));
  EXPECT_FALSE(IsBreakerFailure(absl::StatusCode::kOk));
  EXPECT_FALSE(IsBreakerFailure(absl::StatusCode::kFailedPrecondition));
  EXPECT_FALSE(IsBreakerFailure(absl::StatusCode::kResourceExhausted));
}

TEST(PollExponent, GrowsWithTimeWaited) {
  const absl::Duration base = absl::Milliseconds(100);
  EXPECT_EQ(PollExponent(absl::ZeroDuration(), base), 0);
  EXPECT_EQ(PollExponent(absl::Milliseconds(100), base), 0);
  EXPECT_EQ(PollExponent(absl::Milliseconds(150), base), 1);
  EXPECT_EQ(PollExponent(absl::Milliseconds(800), base), 3);
  EXPECT_EQ(PollExponent(absl::Hours(1000000), base), 30);
}

}  // namespace
}  // namespace booking
