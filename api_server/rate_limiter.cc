#include "api_server/rate_limiter.h"

#include <algorithm>
#include <vector>

namespace booking {

RateLimiter::RateLimiter(const RateLimiterOptions& options, const Clock* clock)
    : qps_(options.qps > 0 ? options.qps : 0),
      burst_(options.burst > 0 ? options.burst : std::max(1.0, options.qps)),
      max_keys_(std::max<size_t>(1, options.max_keys)),
      clock_(clock) {}

double RateLimiter::Refilled(const Bucket& b, absl::Time now) const {
  const double elapsed =
      std::max(0.0, absl::ToDoubleSeconds(now - b.last_refill));
  return std::min(burst_, b.tokens + elapsed * qps_);
}

RateLimiter::Decision RateLimiter::Acquire(absl::string_view key) {
  if (!enabled()) return {};
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) EvictLocked(now);
    it = buckets_.emplace(std::string(key), Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  b.tokens = Refilled(b, now);
  b.last_refill = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return {};
  }
  Decision d;
  d.allowed = false;
  // Round up to whole milliseconds so a client waiting exactly this long
  // finds a token.
  d.retry_after = absl::Milliseconds(std::max<int64_t>(
      1, static_cast<int64_t>((1.0 - b.tokens) / qps_ * 1000.0 + 0.999)));
  return d;
}

void RateLimiter::EvictLocked(absl::Time now) {
  // Full buckets carry no information: a forgotten key starts full again.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (Refilled(it->second, now) >= burst_) {
      buckets_.erase(it++);
    } else {
      ++it;
    }
  }
  if (buckets_.size() < max_keys_) return;
  // Everyone is active: drop the least recently used eighth (at least one),
  // so the O(n) scan is paid once per many insertions.
  std::vector<std::pair<absl::Time, std::string>> by_age;
  by_age.reserve(buckets_.size());
  for (const auto& [key, bucket] : buckets_) {
    by_age.emplace_back(bucket.last_refill, key);
  }
  const size_t drop = std::max<size_t>(1, by_age.size() / 8);
  std::nth_element(by_age.begin(), by_age.begin() + (drop - 1), by_age.end());
  for (size_t i = 0; i < drop; ++i) buckets_.erase(by_age[i].second);
}

size_t RateLimiter::tracked_keys() const {
  absl::MutexLock lock(&mu_);
  return buckets_.size();
}

}  // namespace booking
