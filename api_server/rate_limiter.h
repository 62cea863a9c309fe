#ifndef API_SERVER_RATE_LIMITER_H_
#define API_SERVER_RATE_LIMITER_H_

// Per-client token buckets (DESIGN §4 "RESOURCE_EXHAUSTED from the per-client
// rate limiter"). Each key (the x-client-id metadata, else the peer host) has
// a bucket of `burst` tokens refilled at `qps` tokens per second; a call
// spends one token. Time comes from the injected Clock so tests drive it.
//
// The key map is bounded: a flood of distinct keys cannot grow memory without
// limit. When it is full, buckets that have refilled completely are dropped
// first (forgetting them changes nothing: a new bucket starts full); only if
// that frees nothing are the least recently used buckets dropped, which at
// worst gives those clients a fresh burst.

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/common/clock.h"

namespace booking {

struct RateLimiterOptions {
  // Sustained requests per second per key; 0 (or less) disables limiting.
  double qps = 0;
  // Bucket size: requests a client may make at once. 0 means max(1, qps).
  double burst = 0;
  // Most keys tracked at once.
  size_t max_keys = 10'000;
};

class RateLimiter {
 public:
  struct Decision {
    bool allowed = true;
    // When refused: how long until one token is available again.
    absl::Duration retry_after = absl::ZeroDuration();
  };

  // `clock` is not owned and must outlive the limiter.
  RateLimiter(const RateLimiterOptions& options, const Clock* clock);

  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  bool enabled() const { return qps_ > 0; }
  double qps() const { return qps_; }
  double burst() const { return burst_; }

  // Spends one token of `key`'s bucket if there is one. Thread-safe.
  Decision Acquire(absl::string_view key);

  // Number of keys currently tracked (for tests and metrics).
  size_t tracked_keys() const;

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time last_refill;
  };
  // Tokens in `b` at `now` (without modifying it).
  double Refilled(const Bucket& b, absl::Time now) const;
  void EvictLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double qps_;
  const double burst_;
  const size_t max_keys_;
  const Clock* const clock_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace booking

#endif  // API_SERVER_RATE_LIMITER_H_
