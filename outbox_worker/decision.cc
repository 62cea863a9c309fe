#include "outbox_worker/decision.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/common/time_util.h"
#include "core/domain/state_machine.h"
#include "core/resilience/backoff.h"

namespace booking {
namespace {

using A = appointments::v1::Appointment;
using Disposition = CommandOutcome::Disposition;

CommandOutcome Base(const ClaimedCommand& claimed, absl::Time now) {
  CommandOutcome out;
  out.command_id = claimed.command.id;
  out.fencing_token = claimed.command.fencing_token;
  out.now = now;
  out.disposition = Disposition::kDone;
  out.count_attempt = true;
  return out;
}

std::string ErrorText(const ClaimedCommand& claimed, const absl::Status& error,
                      bool maybe_booked) {
  std::string text = absl::StrCat("attempt ", claimed.command.attempts + 1,
                                  ": ", absl::StatusCodeToString(error.code()),
                                  ": ", error.message());
  if (maybe_booked) absl::StrAppend(&text, " ", kMaybeBookedTag);
  return text;
}

// A finish without a provider call: nothing is counted.
CommandOutcome Superseded(const ClaimedCommand& claimed, absl::Time now) {
  CommandOutcome out = Base(claimed, now);
  out.count_attempt = false;
  out.detail = absl::StrCat(CommandTypeName(claimed.command.type),
                            " superseded: appointment is ",
                            StateName(claimed.appointment.state()));
  out.error = out.detail;
  return out;
}

CommandOutcome Dead(const ClaimedCommand& claimed, absl::Time now,
                    std::string error, bool counted) {
  CommandOutcome out = Base(claimed, now);
  out.disposition = Disposition::kDead;
  out.count_attempt = counted;
  out.error = std::move(error);
  out.detail = out.error;
  return out;
}

// System undo: COMPENSATING now, a COMPENSATE (cancel by key) queued in the
// same transaction; it ends FAILED with `reason`.
void Compensate(CommandOutcome& out, const std::string& reason,
                const DecisionPolicy& policy) {
  out.disposition = Disposition::kDone;
  out.to_state = A::COMPENSATING;
  out.failure_reason = reason;
  out.enqueue = CommandType::kCompensate;
  out.enqueue_at = out.now;
  out.enqueue_deadline = out.now + policy.compensate_timeout;
  out.detail = absl::StrCat("compensating: ", reason);
}

void Fail(CommandOutcome& out, const std::string& reason) {
  out.disposition = Disposition::kDone;
  out.to_state = A::FAILED;
  out.failure_reason = reason;
  out.detail = absl::StrCat("failed: ", reason);
}

// A BOOK that will not be tried again.
void GiveUpBook(CommandOutcome& out, bool maybe_booked,
                const std::string& reason, const DecisionPolicy& policy) {
  if (maybe_booked) {
    Compensate(out, reason, policy);
  } else {
    Fail(out, reason);
  }
}

absl::Duration AttemptBudget(const ClaimedCommand& claimed, absl::Time now,
                             const DecisionPolicy& policy) {
  return std::min(policy.attempt_timeout, claimed.command.deadline - now);
}

CommandOutcome DecideBookAnswer(const ClaimedCommand& claimed,
                                const ProviderBooking& booking, absl::Time now,
                                absl::Duration delay,
                                const DecisionPolicy& policy) {
  CommandOutcome out = Base(claimed, now);
  if (!booking.booking_id().empty()) {
    out.provider_booking_id = booking.booking_id();
  }
  switch (booking.status()) {
    case provider::v1::Booking::CONFIRMED:
      out.to_state = A::CONFIRMED;
      out.detail = absl::StrCat("booked ", booking.booking_id());
      return out;
    case provider::v1::Booking::PENDING: {
      out.to_state = A::AWAITING_CONFIRMATION;
      out.enqueue = CommandType::kConfirm;
      out.enqueue_at = now + delay;
      // Confirmation may not come later than the appointment itself.
      const absl::Time start =
          FromProtoTimestamp(claimed.appointment.start_time());
      out.enqueue_deadline = std::min(now + policy.confirm_timeout, start);
      out.detail = absl::StrCat("provider accepted ", booking.booking_id(),
                                ", confirmation pending");
      return out;
    }
    case provider::v1::Booking::DECLINED:
      Fail(out, reasons::kProviderDeclined);
      return out;
    case provider::v1::Booking::CANCELLED:
      // The key's booking was cancelled earlier (e.g. by the reconciler):
      // nothing live is left to undo.
      Fail(out, reasons::kProviderCancelled);
      return out;
    default:
      break;
  }
  // A malformed answer: we cannot tell what the provider did.
  ProviderResult unknown;
  unknown.booking = absl::UnknownError(
      absl::StrCat("provider answered booking status ", booking.status()));
  return DecideOutcome(claimed, unknown, now, delay, policy);
}

CommandOutcome DecideConfirmAnswer(const ClaimedCommand& claimed,
                                   const ProviderBooking& booking,
                                   absl::Time now, absl::Duration delay) {
  CommandOutcome out = Base(claimed, now);
  if (!booking.booking_id().empty()) {
    out.provider_booking_id = booking.booking_id();
  }
  switch (booking.status()) {
    case provider::v1::Booking::CONFIRMED:
      out.to_state = A::CONFIRMED;
      out.detail = absl::StrCat("confirmed ", booking.booking_id());
      return out;
    case provider::v1::Booking::DECLINED:
      Fail(out, reasons::kProviderDeclined);
      return out;
    case provider::v1::Booking::CANCELLED:
      Fail(out, reasons::kProviderCancelled);
      return out;
    default:
      // Still PENDING: look again later, but check the deadline exactly at
      // the deadline (PlanCommand compensates then).
      out.disposition = Disposition::kReschedule;
      out.next_attempt_time = std::min(now + delay, claimed.command.deadline);
      return out;
  }
}

CommandOutcome DecideCancelAnswer(const ClaimedCommand& claimed,
                                  absl::Time now) {
  CommandOutcome out = Base(claimed, now);
  if (claimed.command.type == CommandType::kCancel) {
    out.to_state = A::CANCELLED;
    out.detail = "cancelled at the provider by idempotency key";
  } else {
    const std::string& carried = claimed.appointment.failure_reason();
    out.to_state = A::FAILED;
    out.failure_reason = carried.empty() ? reasons::kCompensated : carried;
    out.detail = "compensated: cancelled at the provider by idempotency key";
  }
  return out;
}

}  // namespace

ErrorClass ClassifyError(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return ErrorClass::kOk;
    case absl::StatusCode::kResourceExhausted:
      return ErrorClass::kRetryableNotApplied;
    // UNAVAILABLE is ambiguous at the transport level: the request may never
    // have left, or the connection broke after the provider received it.
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kDataLoss:
      return ErrorClass::kRetryableUnknown;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kPermissionDenied:
      return ErrorClass::kRefused;
    default:
      return ErrorClass::kPermanentUnknown;
  }
}

bool IsRetryable(ErrorClass c) {
  return c == ErrorClass::kRetryableNotApplied ||
         c == ErrorClass::kRetryableUnknown;
}

bool MayHaveActed(ErrorClass c) {
  return c == ErrorClass::kRetryableUnknown ||
         c == ErrorClass::kPermanentUnknown;
}

bool IsBreakerFailure(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

bool MaybeBookedBefore(const OutboxCommand& command) {
  return absl::StrContains(command.last_error, kMaybeBookedTag) ||
         absl::StrContains(command.last_error, kLeaseExpiredTag);
}

int PollExponent(absl::Duration waited, absl::Duration base) {
  if (base <= absl::ZeroDuration()) return 0;
  int n = 0;
  absl::Duration bound = base;
  while (bound < waited && n < 30) {
    bound *= 2;
    ++n;
  }
  return n;
}

Plan PlanCommand(const ClaimedCommand& claimed, absl::Time now,
                 const DecisionPolicy& policy) {
  const OutboxCommand& cmd = claimed.command;
  const A::State state = claimed.appointment.state();
  Plan plan;
  switch (cmd.type) {
    case CommandType::kBook:
      // Anything but PENDING/IN_PROGRESS means someone moved on: a user's
      // cancel (the queued CANCEL does the rest), or an earlier outcome.
      if (state != A::PENDING && state != A::IN_PROGRESS) {
        plan.outcome = Superseded(claimed, now);
        return plan;
      }
      if (now >= cmd.deadline) {
        plan.outcome = Base(claimed, now);
        plan.outcome.count_attempt = false;
        const bool maybe = MaybeBookedBefore(cmd);
        plan.outcome.error =
            absl::StrCat("deadline passed before attempt ", cmd.attempts + 1,
                         maybe ? absl::StrCat(" ", kMaybeBookedTag) : "");
        GiveUpBook(plan.outcome, maybe, reasons::kBookDeadlineExceeded, policy);
        return plan;
      }
      // Attempts can run out without an answer: the store counts each lease
      // that expired before its outcome was recorded (a worker that crashes
      // on this row every time must not loop forever).
      if (cmd.attempts >= policy.max_attempts) {
        plan.outcome = Base(claimed, now);
        plan.outcome.count_attempt = false;
        const bool maybe = MaybeBookedBefore(cmd);
        plan.outcome.error =
            absl::StrCat("attempts exhausted (", cmd.attempts, " of ",
                         policy.max_attempts, ") before another call",
                         maybe ? absl::StrCat(" ", kMaybeBookedTag) : "");
        GiveUpBook(plan.outcome, maybe,
                   maybe ? reasons::kBookOutcomeUnknown
                         : reasons::kProviderUnavailable,
                   policy);
        return plan;
      }
      plan.action = Plan::Action::kBook;
      plan.attempt_deadline = AttemptBudget(claimed, now, policy);
      return plan;

    case CommandType::kConfirm:
      if (state != A::AWAITING_CONFIRMATION) {
        plan.outcome = Superseded(claimed, now);
        return plan;
      }
      if (now >= cmd.deadline) {
        // A confirmation after this point is too late: undo whatever the
        // provider holds.
        plan.outcome = Base(claimed, now);
        plan.outcome.count_attempt = false;
        Compensate(plan.outcome, reasons::kConfirmationTimeout, policy);
        return plan;
      }
      plan.action = Plan::Action::kGetBooking;
      plan.attempt_deadline = AttemptBudget(claimed, now, policy);
      return plan;

    case CommandType::kCancel:
    case CommandType::kCompensate: {
      const A::State done =
          cmd.type == CommandType::kCancel ? A::CANCELLED : A::FAILED;
      const A::State working =
          cmd.type == CommandType::kCancel ? A::CANCELLING : A::COMPENSATING;
      if (state == done) {
        plan.outcome = Superseded(claimed, now);
        return plan;
      }
      if (state != working) {
        plan.outcome = Dead(
            claimed, now,
            absl::StrCat(CommandTypeName(cmd.type),
                         " for an appointment in state ", StateName(state)),
            /*counted=*/false);
        return plan;
      }
      // No deadline check before the call: a cancel is always worth one
      // more try (an operator's requeue of a DEAD row gets at least one).
      plan.action = Plan::Action::kCancel;
      plan.attempt_deadline = policy.attempt_timeout;
      return plan;
    }
  }
  plan.outcome = Dead(claimed, now, "unknown command type", false);
  return plan;
}

CommandOutcome DecideOutcome(const ClaimedCommand& claimed,
                             const ProviderResult& result, absl::Time now,
                             absl::Duration backoff_delay,
                             const DecisionPolicy& policy) {
  const OutboxCommand& cmd = claimed.command;
  if (result.booking.ok()) {
    switch (cmd.type) {
      case CommandType::kBook:
        return DecideBookAnswer(claimed, *result.booking, now, backoff_delay,
                                policy);
      case CommandType::kConfirm:
        return DecideConfirmAnswer(claimed, *result.booking, now,
                                   backoff_delay);
      case CommandType::kCancel:
      case CommandType::kCompensate:
        return DecideCancelAnswer(claimed, now);
    }
  }

  const absl::Status& error = result.booking.status();
  const ErrorClass cls = ClassifyError(error.code());
  const absl::Time next =
      now + WithRetryAfter(backoff_delay, result.retry_after);
  CommandOutcome out = Base(claimed, now);

  switch (cmd.type) {
    case CommandType::kBook: {
      const bool maybe = MaybeBookedBefore(cmd) || MayHaveActed(cls);
      out.error = ErrorText(claimed, error, maybe);
      out.detail = out.error;
      if (!IsRetryable(cls)) {
        GiveUpBook(out, maybe,
                   error.code() == absl::StatusCode::kFailedPrecondition
                       ? reasons::kProviderRejected
                       : reasons::kProviderRefused,
                   policy);
        return out;
      }
      if (cmd.attempts + 1 >= policy.max_attempts) {
        // The reason names the last answer; compensation (by `maybe`)
        // depends on the whole history.
        const bool not_serving =
            error.code() == absl::StatusCode::kUnavailable ||
            error.code() == absl::StatusCode::kResourceExhausted;
        GiveUpBook(out, maybe,
                   not_serving ? reasons::kProviderUnavailable
                               : reasons::kBookOutcomeUnknown,
                   policy);
        return out;
      }
      if (next >= cmd.deadline) {
        GiveUpBook(out, maybe, reasons::kBookDeadlineExceeded, policy);
        return out;
      }
      out.disposition = CommandOutcome::Disposition::kReschedule;
      out.next_attempt_time = next;
      out.to_state = A::PENDING;  // "retry scheduled" (DESIGN §3)
      return out;
    }

    case CommandType::kConfirm:
      out.error = ErrorText(claimed, error, false);
      out.detail = out.error;
      if (!IsRetryable(cls)) {
        Compensate(out,
                   error.code() == absl::StatusCode::kNotFound
                       ? reasons::kConfirmationLost
                       : reasons::kProviderRefused,
                   policy);
        return out;
      }
      out.disposition = CommandOutcome::Disposition::kReschedule;
      out.next_attempt_time = std::min(next, cmd.deadline);
      return out;

    case CommandType::kCancel:
    case CommandType::kCompensate:
      out.error = ErrorText(claimed, error, false);
      out.detail = out.error;
      if (!IsRetryable(cls) || cmd.attempts + 1 >= policy.max_cancel_attempts ||
          next >= cmd.deadline) {
        // Cannot be processed: kept with its error history for an operator
        // (requeue) and the reconciler (orphan sweep).
        out.disposition = CommandOutcome::Disposition::kDead;
        return out;
      }
      out.disposition = CommandOutcome::Disposition::kReschedule;
      out.next_attempt_time = next;
      return out;
  }
  return Dead(claimed, now, "unknown command type", true);
}

CommandOutcome DeferForBreaker(const ClaimedCommand& claimed, absl::Time now,
                               absl::Time retry_at) {
  CommandOutcome out = Base(claimed, now);
  out.disposition = CommandOutcome::Disposition::kReschedule;
  out.count_attempt = false;
  out.next_attempt_time = std::max(retry_at, now);
  if (claimed.command.type == CommandType::kBook) {
    out.to_state = appointments::v1::Appointment::PENDING;
  }
  out.detail = "deferred: circuit breaker open";
  return out;
}

}  // namespace booking
