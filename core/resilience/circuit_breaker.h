#ifndef CORE_RESILIENCE_CIRCUIT_BREAKER_H_
#define CORE_RESILIENCE_CIRCUIT_BREAKER_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/common/clock.h"

namespace booking {

// Tuning of one breaker, named after resilience4j's CircuitBreakerConfig.
struct CircuitBreakerConfig {
  // Count-based sliding window: outcomes of the last `window_size` calls.
  int window_size = 20;
  // No verdict before this many calls are in the window (capped at
  // window_size), so a single early failure cannot open the breaker.
  int minimum_calls = 10;
  // Open when failed/recorded >= this (0..1].
  double failure_rate_threshold = 0.5;
  // Open when slow/recorded >= this (0..1]; 1.0 means "only if every call
  // was slow". A slow call counts whether it succeeded or failed.
  double slow_call_rate_threshold = 1.0;
  // A call is slow when it took longer than this (strictly, as resilience4j).
  absl::Duration slow_call_duration = absl::Seconds(5);
  // Time in OPEN before probing.
  absl::Duration wait_in_open = absl::Seconds(30);
  // Probes admitted in HALF_OPEN; their outcomes decide CLOSED vs OPEN.
  int permitted_calls_in_half_open = 3;
};

// INVALID_ARGUMENT naming the field if a value is out of range. The breaker
// itself clamps bad values, so this is for flag parsing.
absl::Status ValidateCircuitBreakerConfig(const CircuitBreakerConfig& config);

// A per-provider circuit breaker after resilience4j (DESIGN §6): while OPEN
// the worker defers that provider's rows without spending attempts.
//
//   CLOSED --(>= minimum_calls recorded and failure or slow rate >= threshold)
//     --> OPEN --(wait_in_open elapsed, noticed lazily by the next
//     TryAcquirePermission()/state())--> HALF_OPEN --(all probes done:
//     rate >= threshold)--> OPEN (fresh wait) | (else) --> CLOSED (empty
//     window).
//
// Usage: if (TryAcquirePermission()) { call; OnSuccess/OnFailure(elapsed); }
// Every permission granted must be followed by exactly one OnSuccess,
// OnFailure or ReleasePermission, or HALF_OPEN waits for it forever.
//
// Thread-safe. Time comes from the injected Clock.
class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };
  // Called on every state change, in order, outside the breaker's lock (so it
  // may call back into the breaker). Deliveries are serialised: when several
  // threads cause transitions at once, one of them delivers them all in
  // order, so the callback may run on a different thread than the one that
  // caused the change.
  using Listener = std::function<void(State from, State to)>;

  CircuitBreaker(std::string name, CircuitBreakerConfig config, Clock* clock);
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // CLOSED: always true. OPEN: false until wait_in_open has elapsed, then the
  // breaker moves to HALF_OPEN and this call may take a probe slot.
  // HALF_OPEN: true for the first permitted_calls_in_half_open callers.
  bool TryAcquirePermission();
  // Gives back a permission that was not used for a call (e.g. the work was
  // cancelled before reaching the provider).
  void ReleasePermission();

  void OnSuccess(absl::Duration elapsed);
  void OnFailure(absl::Duration elapsed);

  // The current state; performs the lazy OPEN -> HALF_OPEN transition.
  State state();
  // When an OPEN breaker will start probing; InfinitePast() unless OPEN.
  absl::Time open_until() const;

  void SetListener(Listener listener);

  const std::string& name() const { return name_; }
  const CircuitBreakerConfig& config() const { return config_; }

  static absl::string_view StateName(State state);

 private:
  struct Outcome {
    bool failed;
    bool slow;
  };
  struct Transition {
    State from;
    State to;
  };

  void OnComplete(bool failed, absl::Duration elapsed);
  void MaybeHalfOpenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TransitionLocked(State to) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True if the outcomes in `window_` cross either threshold.
  bool OverThresholdLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeliverTransitions() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string name_;
  const CircuitBreakerConfig config_;  // Clamped to sane values.
  Clock* const clock_;

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kClosed;
  absl::Time open_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // CLOSED: the sliding window (oldest first). HALF_OPEN: probe outcomes.
  std::deque<Outcome> window_ ABSL_GUARDED_BY(mu_);
  int probes_issued_ ABSL_GUARDED_BY(mu_) = 0;
  Listener listener_ ABSL_GUARDED_BY(mu_);
  std::deque<Transition> pending_ ABSL_GUARDED_BY(mu_);
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;
};

// One breaker per provider, all with the same config and one shared listener
// (for logging and metrics). Breakers live as long as the registry.
// Thread-safe.
class CircuitBreakerRegistry {
 public:
  using Listener =
      std::function<void(const std::string& provider_id,
                         CircuitBreaker::State from, CircuitBreaker::State to)>;

  CircuitBreakerRegistry(CircuitBreakerConfig config, Clock* clock,
                         Listener listener = nullptr);

  // Creates the provider's breaker on first use. Never null.
  CircuitBreaker* Get(const std::string& provider_id);
  // All breakers created so far, sorted by provider id (for metrics).
  std::vector<CircuitBreaker*> All() const;

 private:
  const CircuitBreakerConfig config_;
  Clock* const clock_;
  const Listener listener_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<CircuitBreaker>> breakers_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace booking

#endif  // CORE_RESILIENCE_CIRCUIT_BREAKER_H_
