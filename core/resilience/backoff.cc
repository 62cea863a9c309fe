#include "core/resilience/backoff.h"

#include <algorithm>

namespace booking {

Backoff::Backoff(BackoffPolicy policy, uint64_t seed)
    : policy_(policy), rng_(seed) {}

absl::Duration Backoff::Bound(int attempt) const {
  const absl::Duration cap = policy_.cap;
  absl::Duration bound = policy_.base;
  if (bound <= absl::ZeroDuration() || cap <= absl::ZeroDuration()) {
    return absl::ZeroDuration();
  }
  // Double until the cap is reached instead of computing 2^n: no shift
  // overflow for large n, and at most ~100 iterations from 1ns to any cap
  // (absl::Duration saturates to infinity rather than wrapping).
  for (int i = 0; i < attempt && bound < cap; ++i) bound *= 2;
  return std::min(bound, cap);
}

absl::Duration Backoff::Delay(int attempt) {
  const int64_t bound_ns = absl::ToInt64Nanoseconds(Bound(attempt));
  if (bound_ns <= 0) return absl::ZeroDuration();
  uint64_t r;
  {
    absl::MutexLock lock(&mu_);
    r = rng_();
  }
  // Scale a uniform 64-bit draw into [0, bound_ns) with a 128-bit multiply:
  // exact integer arithmetic (no floating-point rounding up to the bound) and
  // the same result on every platform, unlike std::uniform_*_distribution.
  const auto scaled = static_cast<unsigned __int128>(r) *
                      static_cast<unsigned __int128>(bound_ns);
  return absl::Nanoseconds(static_cast<int64_t>(scaled >> 64));
}

absl::Duration WithRetryAfter(absl::Duration jittered,
                              std::optional<absl::Duration> hint) {
  if (!hint.has_value()) return jittered;
  return std::max(jittered, *hint);
}

}  // namespace booking
