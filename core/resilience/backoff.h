#ifndef CORE_RESILIENCE_BACKOFF_H_
#define CORE_RESILIENCE_BACKOFF_H_

#include <cstdint>
#include <optional>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace booking {

// Retry pacing for provider calls (DESIGN §6). Every field is meant to be
// bound to a flag.
struct BackoffPolicy {
  absl::Duration base = absl::Milliseconds(200);
  absl::Duration cap = absl::Seconds(60);
  // Total attempts allowed, the first call included.
  int max_attempts = 8;
};

// Exponential backoff with full jitter ("Exponential Backoff And Jitter",
// AWS Architecture Blog): delay(n) = min(cap, base * 2^n) * U[0, 1).
// Full jitter spreads a burst of retries (e.g. after a provider outage)
// evenly over the window instead of re-synchronising them.
//
// The RNG is seeded by the caller so a run replays exactly. Thread-safe.
class Backoff {
 public:
  Backoff(BackoffPolicy policy, uint64_t seed);

  // Jittered delay before retry number `attempt` (0-based: 0 is the delay
  // after the first failure). Always in [0, Bound(attempt)) — or exactly zero
  // when the bound is zero. Negative attempts count as 0.
  absl::Duration Delay(int attempt);

  // The un-jittered ceiling min(cap, base * 2^attempt). Never overflows:
  // large attempts simply return `cap`.
  absl::Duration Bound(int attempt) const;

  // True once `attempts` calls have been made and no further one is allowed.
  bool ExhaustedAfter(int attempts) const {
    return attempts >= policy_.max_attempts;
  }

  const BackoffPolicy& policy() const { return policy_; }

 private:
  const BackoffPolicy policy_;
  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

// A provider's retry-after hint (RESOURCE_EXHAUSTED) is a floor, never a
// ceiling: wait the longer of our jittered delay and the hint.
absl::Duration WithRetryAfter(absl::Duration jittered,
                              std::optional<absl::Duration> hint);

}  // namespace booking

#endif  // CORE_RESILIENCE_BACKOFF_H_
