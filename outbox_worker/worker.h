#ifndef OUTBOX_WORKER_WORKER_H_
#define OUTBOX_WORKER_WORKER_H_

// The outbox worker loop (DESIGN §6): claim due commands with a lease and a
// fencing token, call the provider asynchronously with a bounded number of
// calls in flight, and commit each outcome (state transition + audit event +
// follow-up command) in one transaction that only succeeds while the token
// still matches.
//
// One thread runs the loop (Run(), or Step() from tests); provider callbacks
// only queue their answers, so every store access happens on the loop thread
// and a slow fsync never blocks gRPC's threads.
//
// Wake-ups without busy polling (see README.md, "Picking up new work"): the
// loop sleeps until the earliest of NextDueTime(), an OPEN breaker's end of
// wait, or --idle_poll, and meanwhile reads store->ChangeCounter() (SQLite's
// PRAGMA data_version: an in-memory read, no table scan) every
// --change_poll to notice a commit by another process within milliseconds.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/common/clock.h"
#include "core/faults/crash_points.h"
#include "core/observability/metrics.h"
#include "core/provider/provider_client.h"
#include "core/resilience/backoff.h"
#include "core/resilience/circuit_breaker.h"
#include "core/store/appointment_store.h"
#include "outbox_worker/decision.h"

namespace booking {

// The worker's crash points for kill -9 tests (armed by BOOKING_CRASH_POINT,
// see core/faults/crash_points.h).
namespace crash_points {
// A claim committed and a provider call about to start (rows that finish
// without a call are committed before it); that call not made yet.
inline constexpr char kAfterClaim[] = "after_claim";
// The provider answered; the outcome is not committed yet.
inline constexpr char kAfterProviderAnswer[] = "after_provider_answer";
// A compensating cancel was answered; FAILED is not committed yet.
inline constexpr char kDuringCompensation[] = "during_compensation";
}  // namespace crash_points

struct WorkerOptions {
  std::string worker_id = "worker";
  // Provider calls in flight at most (also bounds the leases held).
  int max_in_flight = 256;
  // Rows claimed per transaction at most. Larger claims and more calls in
  // flight drain a backlog faster (ADR 0006: 64/32 ≈ 10.4k rows/s, 256/128
  // ≈ 12.4k on 2 cores), but a claim holds the write lock while it runs.
  int claim_batch = 128;
  // Lease per claim; must exceed attempt_timeout plus commit time, or a slow
  // call's row is claimed again while its first call is still running.
  absl::Duration lease = absl::Seconds(10);
  // Longest sleep when nothing is due (a safety net; changes wake earlier).
  absl::Duration idle_poll = absl::Seconds(1);
  // How often ChangeCounter() is read while sleeping.
  absl::Duration change_poll = absl::Milliseconds(3);
  // On Stop(): how long in-flight calls may still finish before their
  // leases are released.
  absl::Duration shutdown_grace = absl::Seconds(5);
  DecisionPolicy policy;
  BackoffPolicy backoff;
  uint64_t seed = 1;
  CircuitBreakerConfig breaker;
};

// INVALID_ARGUMENT naming the first bad option (e.g. a lease not longer than
// the attempt timeout).
absl::Status ValidateWorkerOptions(const WorkerOptions& options);

class Worker {
 public:
  // Nothing is owned; all must outlive the worker. `metrics` may be null.
  // `crash` may be null (no crash points).
  Worker(AppointmentStore* store, ProviderClient* client, Clock* clock,
         WorkerOptions options, MetricsRegistry* metrics = nullptr,
         CrashPoints* crash = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs until Stop(): then stops claiming, lets in-flight calls finish for
  // up to shutdown_grace (committing their outcomes), releases the leases
  // of any still running, and returns.
  void Run();
  // Asks Run() to finish. Thread-safe, async-signal-unsafe (call it from a
  // signal-waiting thread).
  void Stop();

  // One loop iteration without sleeping, for tests driving a
  // SimulatedClock: commits queued answers, then claims and dispatches.
  // Returns the number of rows claimed.
  absl::StatusOr<int> Step();
  // Commits the answers queued so far; returns how many.
  int CommitAnswers();

  int in_flight() const;
  CircuitBreakerRegistry& breakers() { return breakers_; }

 private:
  struct InFlight {
    ClaimedCommand claimed;
    absl::Time started;
  };
  struct Answer {
    InFlight call;
    ProviderResult result;
  };

  absl::StatusOr<int> ClaimAndDispatch();
  void Dispatch(ClaimedCommand claimed);
  void StartCall(const ClaimedCommand& claimed, const Plan& plan);
  void OnAnswer(InFlight call, ProviderResult result);
  // The outcome of one answer (feeds the breaker, metrics and the
  // provider_call log line); committed by the caller.
  CommandOutcome DecideAnswer(const Answer& answer);
  // CompleteCommand, then AfterCommit.
  void Commit(const ClaimedCommand& claimed, CommandOutcome outcome);
  // Logging and metrics for a commit's result; ABORTED (stale lease) is
  // dropped.
  void AfterCommit(const ClaimedCommand& claimed, const CommandOutcome& outcome,
                   const absl::StatusOr<Appointment>& after);
  // Sleeps until `wake_at`, an answer, Stop(), or a change in the store.
  void WaitForWork(absl::Time wake_at);
  // When to look again if nothing more is claimable now.
  absl::Time NextWake(int claimed_now, int asked);
  void ReleaseAllInFlight();
  void UpdateDepthGauges(bool force);
  void OnBreakerChange(const std::string& provider, CircuitBreaker::State from,
                       CircuitBreaker::State to);
  absl::Duration BackoffDelayFor(const ClaimedCommand& claimed, absl::Time now);

  AppointmentStore* const store_;
  ProviderClient* const client_;
  Clock* const clock_;
  const WorkerOptions options_;
  // Ours when the caller gave none, so metric code needs no null checks.
  std::unique_ptr<MetricsRegistry> own_metrics_;
  MetricsRegistry* const metrics_;
  CrashPoints* const crash_;
  const std::string actor_;
  Backoff backoff_;
  CircuitBreakerRegistry breakers_;

  mutable absl::Mutex mu_;
  std::deque<Answer> answers_ ABSL_GUARDED_BY(mu_);
  // Calls started and not yet committed, by command id.
  std::map<int64_t, InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  // Provider callbacks not yet returned (the destructor waits for them).
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // Loop-thread state.
  std::optional<int64_t> last_change_;
  absl::Time last_depth_update_ = absl::InfinitePast();
};

}  // namespace booking

#endif  // OUTBOX_WORKER_WORKER_H_
