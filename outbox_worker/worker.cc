#include "outbox_worker/worker.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"
#include "core/domain/state_machine.h"
#include "core/observability/logging.h"

namespace booking {
namespace {

using A = appointments::v1::Appointment;

double BreakerGaugeValue(CircuitBreaker::State s) {
  switch (s) {
    case CircuitBreaker::State::kClosed:
      return 0;
    case CircuitBreaker::State::kOpen:
      return 1;
    case CircuitBreaker::State::kHalfOpen:
      return 2;
  }
  return 0;
}

const char* MethodFor(CommandType t) {
  switch (t) {
    case CommandType::kBook:
      return "Book";
    case CommandType::kConfirm:
      return "GetBooking";
    case CommandType::kCancel:
    case CommandType::kCompensate:
      return "Cancel";
  }
  return "?";
}

}  // namespace

absl::Status ValidateWorkerOptions(const WorkerOptions& o) {
  if (o.worker_id.empty()) {
    return absl::InvalidArgumentError("worker_id must not be empty");
  }
  if (o.max_in_flight < 1) {
    return absl::InvalidArgumentError("max_in_flight must be at least 1");
  }
  if (o.claim_batch < 1) {
    return absl::InvalidArgumentError("claim_batch must be at least 1");
  }
  if (o.policy.attempt_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("attempt_timeout must be positive");
  }
  // The lease must cover a whole attempt plus the commit, or a second
  // worker could claim the row while the first call is still running.
  if (o.lease <= o.policy.attempt_timeout) {
    return absl::InvalidArgumentError(
        absl::StrCat("lease (", absl::FormatDuration(o.lease),
                     ") must be longer than attempt_timeout (",
                     absl::FormatDuration(o.policy.attempt_timeout), ")"));
  }
  if (o.policy.max_attempts < 1 || o.policy.max_cancel_attempts < 1) {
    return absl::InvalidArgumentError("max attempts must be at least 1");
  }
  if (o.backoff.base < absl::ZeroDuration() || o.backoff.cap < o.backoff.base) {
    return absl::InvalidArgumentError(
        "backoff_base must be >= 0 and backoff_cap >= backoff_base");
  }
  if (o.change_poll <= absl::ZeroDuration() ||
      o.idle_poll <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("poll intervals must be positive");
  }
  return absl::OkStatus();
}

Worker::Worker(AppointmentStore* store, ProviderClient* client, Clock* clock,
               WorkerOptions options, MetricsRegistry* metrics,
               CrashPoints* crash)
    : store_(store),
      client_(client),
      clock_(clock),
      options_(std::move(options)),
      own_metrics_(metrics == nullptr ? std::make_unique<MetricsRegistry>()
                                      : nullptr),
      metrics_(metrics == nullptr ? own_metrics_.get() : metrics),
      crash_(crash),
      actor_(absl::StrCat("worker:", options_.worker_id)),
      backoff_(options_.backoff, options_.seed),
      breakers_(options_.breaker, clock,
                [this](const std::string& provider, CircuitBreaker::State from,
                       CircuitBreaker::State to) {
                  OnBreakerChange(provider, from, to);
                }) {}

Worker::~Worker() {
  // Callbacks refer to this object: wait until none can still arrive.
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* n) { return *n == 0; }, &outstanding_));
}

int Worker::in_flight() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(in_flight_.size());
}

void Worker::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
}

void Worker::OnBreakerChange(const std::string& provider,
                             CircuitBreaker::State from,
                             CircuitBreaker::State to) {
  LogEvent(
      to == CircuitBreaker::State::kClosed ? LogLevel::kInfo : LogLevel::kWarn,
      "breaker_state_change")
      .Field("provider_id", provider)
      .Field("from_state", CircuitBreaker::StateName(from))
      .Field("to_state", CircuitBreaker::StateName(to));
  metrics_
      ->GetGauge("outbox_breaker_state",
                 "Circuit breaker per provider: 0 closed, 1 open, 2 half-open",
                 {{"provider", provider}})
      ->Set(BreakerGaugeValue(to));
  metrics_
      ->GetCounter("outbox_breaker_transitions_total",
                   "Circuit breaker state changes",
                   {{"provider", provider},
                    {"from", std::string(CircuitBreaker::StateName(from))},
                    {"to", std::string(CircuitBreaker::StateName(to))}})
      ->Increment();
}

// ------------------------------------------------------------------ loop --

void Worker::Run() {
  LogEvent(LogLevel::kInfo, "worker_loop_started")
      .Field("worker_id", options_.worker_id)
      .Field("max_in_flight", options_.max_in_flight);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    CommitAnswers();
    UpdateDepthGauges(false);
    const int room = options_.max_in_flight - in_flight();
    const int asked = std::min(room, options_.claim_batch);
    int claimed = 0;
    if (asked > 0) {
      absl::StatusOr<int> n = ClaimAndDispatch();
      if (!n.ok()) {
        // The database is busy or broken: log, back off, try again.
        LogEvent(LogLevel::kError, "claim_failed").Error(n.status());
        WaitForWork(clock_->Now() +
                    std::min(options_.idle_poll, absl::Milliseconds(100)));
        continue;
      }
      claimed = *n;
    }
    if (asked > 0 && claimed == asked) continue;  // more may be due
    WaitForWork(asked > 0 ? NextWake(claimed, asked)
                          : clock_->Now() + options_.idle_poll);
  }

  // Graceful stop: no more claims; finish or release what is in flight.
  const absl::Time give_up = clock_->Now() + options_.shutdown_grace;
  while (in_flight() > 0 && clock_->Now() < give_up) {
    CommitAnswers();
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !answers_.empty() || in_flight_.empty();
    };
    mu_.AwaitWithTimeout(
        absl::Condition(&ready),
        std::max(give_up - clock_->Now(), absl::Milliseconds(1)));
  }
  CommitAnswers();
  ReleaseAllInFlight();
  UpdateDepthGauges(true);
  LogEvent(LogLevel::kInfo, "worker_loop_stopped")
      .Field("worker_id", options_.worker_id);
}

absl::StatusOr<int> Worker::Step() {
  CommitAnswers();
  return ClaimAndDispatch();
}

absl::Time Worker::NextWake(int claimed_now, int asked) {
  const absl::Time now = clock_->Now();
  absl::Time wake = now + options_.idle_poll;
  absl::StatusOr<std::optional<absl::Time>> due = store_->NextDueTime();
  if (!due.ok()) {
    LogEvent(LogLevel::kWarn, "next_due_failed").Error(due.status());
    return std::min(wake, now + absl::Milliseconds(100));
  }
  if (due->has_value()) {
    if (**due > now) {
      wake = std::min(wake, **due);
    } else if (claimed_now < asked) {
      // Something is due but was not claimable: its provider's breaker is
      // OPEN (wake when the wait ends) or another worker just took it. Do
      // not spin; the change counter still wakes us for new work.
      for (CircuitBreaker* b : breakers_.All()) {
        if (b->state() == CircuitBreaker::State::kOpen) {
          wake = std::min(wake, b->open_until());
        }
      }
      wake = std::max(wake, now + options_.change_poll);
    } else {
      wake = now;
    }
  }
  return wake;
}

void Worker::WaitForWork(absl::Time wake_at) {
  while (true) {
    const absl::Time now = clock_->Now();
    if (now >= wake_at) return;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !answers_.empty();
      };
      if (mu_.AwaitWithTimeout(absl::Condition(&ready),
                               std::min(wake_at - now, options_.change_poll))) {
        return;
      }
    }
    absl::StatusOr<int64_t> counter = store_->ChangeCounter();
    if (counter.ok()) {
      const bool moved = last_change_.has_value() && *last_change_ != *counter;
      last_change_ = *counter;
      if (moved) return;
    }
  }
}

absl::StatusOr<int> Worker::ClaimAndDispatch() {
  const int room = options_.max_in_flight - in_flight();
  if (room <= 0) return 0;
  ClaimRequest req;
  req.worker_id = options_.worker_id;
  req.now = clock_->Now();
  req.lease = options_.lease;
  req.max_rows = std::min(room, options_.claim_batch);
  // OPEN breakers: their rows stay queued, with their attempts untouched.
  // state() also moves an OPEN breaker whose wait is over to HALF_OPEN, so
  // its rows are claimed again for the probes.
  for (CircuitBreaker* b : breakers_.All()) {
    if (b->state() == CircuitBreaker::State::kOpen) {
      req.skip_providers.push_back(b->name());
    }
  }
  // Read the counter before claiming: a commit landing after this read
  // moves it and wakes the next wait.
  absl::StatusOr<int64_t> counter = store_->ChangeCounter();
  if (counter.ok()) last_change_ = *counter;
  ASSIGN_OR_RETURN(std::vector<ClaimedCommand> claimed,
                   store_->ClaimDueCommands(req));
  if (claimed.empty()) return 0;
  // Our own claim moved the counter; do not wake on it.
  counter = store_->ChangeCounter();
  if (counter.ok()) last_change_ = *counter;
  const int n = static_cast<int>(claimed.size());
  for (ClaimedCommand& c : claimed) Dispatch(std::move(c));
  return n;
}

void Worker::Dispatch(ClaimedCommand claimed) {
  const absl::Time now = clock_->Now();
  LogEvent(LogLevel::kDebug, "command_claimed")
      .Field("appointment_id", claimed.command.appointment_id)
      .Field("provider_id", claimed.command.provider_id)
      .Field("command", CommandTypeName(claimed.command.type))
      .Field("command_id", claimed.command.id)
      .Field("fencing_token", claimed.command.fencing_token)
      .Field("attempt", claimed.command.attempts + 1);
  Plan plan = PlanCommand(claimed, now, options_.policy);
  if (plan.action == Plan::Action::kFinish) {
    Commit(claimed, std::move(plan.outcome));
    return;
  }
  CircuitBreaker* breaker = breakers_.Get(claimed.command.provider_id);
  if (!breaker->TryAcquirePermission()) {
    // OPEN (it opened after the claim) or HALF_OPEN with every probe out:
    // back to the queue without spending an attempt.
    absl::Time retry_at = breaker->open_until();
    if (retry_at <= now) {
      retry_at = now + std::clamp(options_.breaker.wait_in_open / 10,
                                  absl::Milliseconds(10), absl::Seconds(1));
    }
    metrics_
        ->GetCounter("outbox_breaker_deferrals_total",
                     "Claimed rows sent back because the breaker refused",
                     {{"provider", claimed.command.provider_id}})
        ->Increment();
    Commit(claimed, DeferForBreaker(claimed, now, retry_at));
    return;
  }
  // Here rather than right after the claim: rows that finish without a call
  // (superseded, deadline passed, attempts exhausted) are committed first,
  // so a worker that dies here on every claim still lets a BOOK run out of
  // attempts and be compensated.
  if (crash_ != nullptr) crash_->Hit(crash_points::kAfterClaim);
  StartCall(claimed, plan);
}

void Worker::StartCall(const ClaimedCommand& claimed, const Plan& plan) {
  InFlight call{claimed, clock_->Now()};
  const int64_t id = claimed.command.id;
  {
    absl::MutexLock lock(&mu_);
    in_flight_[id] = call;
    ++outstanding_;
  }
  metrics_
      ->GetGauge("outbox_in_flight", "Provider calls in flight",
                 {{"worker", options_.worker_id}})
      ->Set(in_flight());
  auto done = [this, call](ProviderResult result) {
    OnAnswer(call, std::move(result));
  };
  const A& a = claimed.appointment;
  switch (plan.action) {
    case Plan::Action::kBook:
      client_->Book(BookRequestFor(a), plan.attempt_deadline, std::move(done));
      break;
    case Plan::Action::kCancel:
      client_->Cancel(CancelRequestFor(a), plan.attempt_deadline,
                      std::move(done));
      break;
    case Plan::Action::kGetBooking:
      client_->GetBooking(GetBookingRequestFor(a), plan.attempt_deadline,
                          std::move(done));
      break;
    case Plan::Action::kFinish:
      break;  // not reached: handled by Dispatch
  }
}

// Runs on the provider client's thread: only queue the answer.
void Worker::OnAnswer(InFlight call, ProviderResult result) {
  absl::MutexLock lock(&mu_);
  answers_.push_back(Answer{std::move(call), std::move(result)});
  --outstanding_;
}

int Worker::CommitAnswers() {
  std::deque<Answer> answers;
  {
    absl::MutexLock lock(&mu_);
    answers.swap(answers_);
  }
  const int n = static_cast<int>(answers.size());
  // Every answer that arrived while the previous batch was committing
  // shares one transaction: one fsync for all (ADR 0006).
  std::vector<const ClaimedCommand*> claimed;
  std::vector<CommandOutcome> outcomes;
  for (Answer& a : answers) {
    bool ours;
    {
      absl::MutexLock lock(&mu_);
      ours = in_flight_.count(a.call.claimed.command.id) > 0;
    }
    // A call whose lease was released at shutdown: its row is someone
    // else's now.
    if (!ours) continue;
    outcomes.push_back(DecideAnswer(a));
    outcomes.back().actor = actor_;
    claimed.push_back(&a.call.claimed);
  }
  if (outcomes.empty()) return n;
  const std::vector<absl::StatusOr<A>> results =
      store_->CompleteCommands(outcomes);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    AfterCommit(*claimed[i], outcomes[i], results[i]);
  }
  {
    absl::MutexLock lock(&mu_);
    for (const ClaimedCommand* c : claimed) in_flight_.erase(c->command.id);
  }
  metrics_
      ->GetGauge("outbox_in_flight", "Provider calls in flight",
                 {{"worker", options_.worker_id}})
      ->Set(in_flight());
  return n;
}

absl::Duration Worker::BackoffDelayFor(const ClaimedCommand& claimed,
                                       absl::Time now) {
  if (claimed.command.type == CommandType::kConfirm) {
    return backoff_.Delay(
        PollExponent(now - claimed.command.create_time, options_.backoff.base));
  }
  return backoff_.Delay(claimed.command.attempts);
}

CommandOutcome Worker::DecideAnswer(const Answer& answer) {
  const ClaimedCommand& claimed = answer.call.claimed;
  const OutboxCommand& cmd = claimed.command;
  const absl::Time now = clock_->Now();
  const absl::Duration elapsed = now - answer.call.started;
  const absl::Status status = answer.result.booking.status();

  CircuitBreaker* breaker = breakers_.Get(cmd.provider_id);
  if (IsBreakerFailure(status.code())) {
    breaker->OnFailure(elapsed);
  } else {
    breaker->OnSuccess(elapsed);
  }
  const std::string code(absl::StatusCodeToString(status.code()));
  metrics_
      ->GetCounter("outbox_attempts_total", "Provider calls by outcome",
                   {{"provider", cmd.provider_id},
                    {"command", CommandTypeName(cmd.type)},
                    {"code", code}})
      ->Increment();
  metrics_
      ->GetHistogram(
          "outbox_provider_call_seconds", "Provider call latency",
          {{"provider", cmd.provider_id}, {"method", MethodFor(cmd.type)}})
      ->Observe(absl::ToDoubleSeconds(elapsed));
  LogEvent(status.ok() ? LogLevel::kInfo : LogLevel::kWarn, "provider_call")
      .Field("appointment_id", cmd.appointment_id)
      .Field("provider_id", cmd.provider_id)
      .Field("command", CommandTypeName(cmd.type))
      .Field("method", MethodFor(cmd.type))
      .Field("attempt", cmd.attempts + 1)
      .Field("latency_ms", absl::ToDoubleMilliseconds(elapsed))
      .Field("booking_status", status.ok()
                                   ? provider::v1::Booking::Status_Name(
                                         answer.result.booking->status())
                                   : std::string())
      .Error(status);

  if (crash_ != nullptr) {
    crash_->Hit(crash_points::kAfterProviderAnswer);
    if (cmd.type == CommandType::kCompensate) {
      crash_->Hit(crash_points::kDuringCompensation);
    }
  }
  CommandOutcome outcome =
      DecideOutcome(claimed, answer.result, now, BackoffDelayFor(claimed, now),
                    options_.policy);
  if (outcome.disposition == CommandOutcome::Disposition::kReschedule) {
    metrics_
        ->GetCounter("outbox_retries_total", "Commands rescheduled for retry",
                     {{"provider", cmd.provider_id},
                      {"command", CommandTypeName(cmd.type)}})
        ->Increment();
  }
  return outcome;
}

void Worker::Commit(const ClaimedCommand& claimed, CommandOutcome outcome) {
  outcome.actor = actor_;
  AfterCommit(claimed, outcome, store_->CompleteCommand(outcome));
}

void Worker::AfterCommit(const ClaimedCommand& claimed,
                         const CommandOutcome& outcome,
                         const absl::StatusOr<A>& after) {
  const OutboxCommand& cmd = claimed.command;
  if (after.status().code() == absl::StatusCode::kAborted) {
    // Our lease expired and another worker owns the row now: its outcome
    // wins, ours is dropped (fencing).
    metrics_
        ->GetCounter("outbox_stale_outcomes_total",
                     "Outcomes refused because the lease had moved on")
        ->Increment();
    LogEvent(LogLevel::kWarn, "stale_lease_outcome_dropped")
        .Field("appointment_id", cmd.appointment_id)
        .Field("provider_id", cmd.provider_id)
        .Field("command_id", cmd.id)
        .Field("fencing_token", cmd.fencing_token)
        .Error(after.status());
    return;
  }
  if (!after.ok()) {
    // Not committed: the lease expires and the row is tried again (the
    // idempotency key makes a repeated call harmless).
    metrics_
        ->GetCounter("outbox_commit_errors_total",
                     "Outcomes that could not be committed")
        ->Increment();
    LogEvent(LogLevel::kError, "commit_failed")
        .Field("appointment_id", cmd.appointment_id)
        .Field("command_id", cmd.id)
        .Error(after.status());
    return;
  }
  const A::State before = claimed.appointment.state();
  if (after->state() != before) {
    LogEvent(LogLevel::kInfo, "transition")
        .Field("appointment_id", cmd.appointment_id)
        .Field("provider_id", cmd.provider_id)
        .Field("command", CommandTypeName(cmd.type))
        .Field("attempt", after->attempt_count())
        .Field("from_state", StateName(before))
        .Field("to_state", StateName(after->state()))
        .Field("failure_reason", after->failure_reason())
        .Field("detail", outcome.detail);
    metrics_
        ->GetCounter("outbox_transitions_total",
                     "Appointment state changes made by the worker",
                     {{"to", std::string(StateName(after->state()))}})
        ->Increment();
  }
  if (outcome.disposition != CommandOutcome::Disposition::kReschedule) {
    metrics_
        ->GetHistogram("outbox_delivery_seconds",
                       "Command creation to its final outcome",
                       {{"command", CommandTypeName(cmd.type)}})
        ->Observe(absl::ToDoubleSeconds(outcome.now - cmd.create_time));
  }
  if (outcome.disposition == CommandOutcome::Disposition::kDead) {
    LogEvent(LogLevel::kError, "command_dead")
        .Field("appointment_id", cmd.appointment_id)
        .Field("provider_id", cmd.provider_id)
        .Field("command", CommandTypeName(cmd.type))
        .Field("command_id", cmd.id)
        .Field("error", outcome.error);
  }
}

void Worker::ReleaseAllInFlight() {
  std::map<int64_t, InFlight> still;
  {
    absl::MutexLock lock(&mu_);
    still.swap(in_flight_);
  }
  for (const auto& [id, call] : still) {
    absl::Status s =
        store_->ReleaseCommand(id, call.claimed.command.fencing_token);
    LogEvent(s.ok() ? LogLevel::kInfo : LogLevel::kWarn, "lease_released")
        .Field("appointment_id", call.claimed.command.appointment_id)
        .Field("command_id", id)
        .Error(s);
  }
  // Their rows are someone else's now: end the calls (their answers are
  // dropped by CommitAnswers; the destructor waits for the callbacks).
  if (!still.empty()) client_->CancelInFlight();
}

void Worker::UpdateDepthGauges(bool force) {
  const absl::Time now = clock_->Now();
  if (!force && now - last_depth_update_ < absl::Milliseconds(500)) return;
  last_depth_update_ = now;
  absl::StatusOr<std::vector<std::pair<CommandStatus, int64_t>>> counts =
      store_->CountCommandsByStatus();
  if (!counts.ok()) return;
  for (const auto& [status, count] : *counts) {
    metrics_
        ->GetGauge("outbox_depth", "Outbox rows by status",
                   {{"status", CommandStatusName(status)}})
        ->Set(static_cast<double>(count));
  }
}

}  // namespace booking
