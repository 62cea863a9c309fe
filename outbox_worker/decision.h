#ifndef OUTBOX_WORKER_DECISION_H_
#define OUTBOX_WORKER_DECISION_H_

// The worker's decisions as pure functions (DESIGN §3, §6): given a claimed
// command, the provider's answer, the time and the policy, what to commit.
// No I/O, no clock, no randomness (the caller passes the jittered delay), so
// every row of the decision table is a unit test.
//
// Vocabulary:
// - "maybe booked": an attempt may have reached the provider and made a
//   booking. Only an explicit refusal that books nothing rules that out:
//   RESOURCE_EXHAUSTED (rate limit), FAILED_PRECONDITION (reject),
//   INVALID_ARGUMENT, PERMISSION_DENIED, NOT_FOUND. Every other failure is
//   "maybe booked", UNAVAILABLE included: gRPC returns it both when the
//   request never left and when the connection broke after the provider
//   received it. So is a lease that expired before its outcome was
//   recorded (the store notes it with kLeaseExpiredTag). The fact is sticky:
//   it is carried in the command's last_error as kMaybeBookedTag (or the
//   store's kLeaseExpiredTag), so it survives later refusals and crashes.
// - A BOOK that gives up while "maybe booked" goes COMPENSATING (cancel by
//   key, then FAILED); one that only ever met refusals goes FAILED.
// - The failure_reason names why it gave up (the last answer), not whether
//   it compensated: e.g. provider_unavailable after UNAVAILABLE, with or
//   without a compensating cancel.

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/provider/provider_client.h"
#include "core/store/appointment_store.h"

namespace booking {

inline constexpr char kMaybeBookedTag[] = "[maybe_booked]";

// failure_reason values written by the worker (stable: tests, dashboards and
// the reconciler read them).
namespace reasons {
inline constexpr char kProviderRejected[] = "provider_rejected";
inline constexpr char kProviderRefused[] = "provider_refused";
inline constexpr char kProviderDeclined[] = "provider_declined";
inline constexpr char kProviderCancelled[] = "provider_cancelled";
inline constexpr char kProviderUnavailable[] = "provider_unavailable";
inline constexpr char kBookOutcomeUnknown[] = "book_outcome_unknown";
inline constexpr char kBookDeadlineExceeded[] = "book_deadline_exceeded";
inline constexpr char kConfirmationTimeout[] = "confirmation_timeout";
inline constexpr char kConfirmationLost[] = "confirmation_lost";
inline constexpr char kCompensated[] = "compensated";
}  // namespace reasons

enum class ErrorClass {
  kOk,
  // Retry; the provider said it did not act (RESOURCE_EXHAUSTED).
  kRetryableNotApplied,
  // Retry; the provider may have acted (UNAVAILABLE, DEADLINE_EXCEEDED,
  // ABORTED, INTERNAL, UNKNOWN, CANCELLED, DATA_LOSS).
  kRetryableUnknown,
  // Do not retry; an explicit refusal that did nothing (INVALID_ARGUMENT,
  // FAILED_PRECONDITION, NOT_FOUND, PERMISSION_DENIED).
  kRefused,
  // Do not retry, and the provider may have acted: every other code (e.g.
  // ALREADY_EXISTS, which for a Book means the key holds a booking).
  kPermanentUnknown,
};
ErrorClass ClassifyError(absl::StatusCode code);
bool IsRetryable(ErrorClass c);
// True if a call that failed this way may still have been carried out by
// the provider ("maybe booked" for a BOOK).
bool MayHaveActed(ErrorClass c);

// Whether a call's outcome counts as a failure for the provider's circuit
// breaker: the provider is unhealthy (UNAVAILABLE, DEADLINE_EXCEEDED,
// INTERNAL, UNKNOWN, DATA_LOSS). A rejection or a rate limit is a healthy
// provider answering.
bool IsBreakerFailure(absl::StatusCode code);

struct DecisionPolicy {
  // Total BOOK attempts (the first call included).
  int max_attempts = 8;
  // CANCEL / COMPENSATE attempts before the row goes DEAD.
  int max_cancel_attempts = 20;
  // Per-attempt deadline (start-to-close).
  absl::Duration attempt_timeout = absl::Seconds(2);
  // How long a PENDING provider answer may stay unconfirmed (never past the
  // appointment's start).
  absl::Duration confirm_timeout = absl::Minutes(10);
  // Overall deadline of a COMPENSATE command the worker enqueues.
  absl::Duration compensate_timeout = absl::Hours(24);
};

// What to do with a freshly claimed command before any call.
struct Plan {
  enum class Action { kBook, kCancel, kGetBooking, kFinish };
  Action action = Action::kFinish;
  // For calls: the per-attempt deadline, min(attempt_timeout, time left).
  absl::Duration attempt_deadline;
  // For kFinish: what to commit without calling (superseded rows, deadlines
  // already passed, rows that make no sense).
  CommandOutcome outcome;
};
Plan PlanCommand(const ClaimedCommand& claimed, absl::Time now,
                 const DecisionPolicy& policy);

// What to commit after the provider answered. `backoff_delay` is the
// caller's jittered delay for a retry (Backoff::Delay(attempt)); the
// provider's retry-after hint, if any, is applied here as a floor.
CommandOutcome DecideOutcome(const ClaimedCommand& claimed,
                             const ProviderResult& result, absl::Time now,
                             absl::Duration backoff_delay,
                             const DecisionPolicy& policy);

// The outcome for a claimed command that may not call because its
// provider's breaker is OPEN (or out of HALF_OPEN probes): back to the queue
// at `retry_at`, no attempt spent.
CommandOutcome DeferForBreaker(const ClaimedCommand& claimed, absl::Time now,
                               absl::Time retry_at);

// True if the command's history says an earlier attempt may have booked
// (kMaybeBookedTag, or the store's kLeaseExpiredTag for a lost lease).
bool MaybeBookedBefore(const OutboxCommand& command);

// Exponent for the next CONFIRM poll delay. It grows with the time already
// spent waiting, not with the poll count, so the spacing stays right after a
// crash lost some polls (smallest n with base * 2^n >= waited, capped at 30).
int PollExponent(absl::Duration waited, absl::Duration base);

}  // namespace booking

#endif  // OUTBOX_WORKER_DECISION_H_
