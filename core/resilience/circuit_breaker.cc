#include "core/resilience/circuit_breaker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace booking {
namespace {

// Rates are only meaningful in (0, 1]; a threshold of 0 would open on the
// first recorded call.
constexpr double kMinThreshold = 1e-6;

CircuitBreakerConfig Clamp(CircuitBreakerConfig c) {
  c.window_size = std::max(1, c.window_size);
  c.minimum_calls = std::clamp(c.minimum_calls, 1, c.window_size);
  c.failure_rate_threshold =
      std::clamp(c.failure_rate_threshold, kMinThreshold, 1.0);
  c.slow_call_rate_threshold =
      std::clamp(c.slow_call_rate_threshold, kMinThreshold, 1.0);
  c.wait_in_open = std::max(c.wait_in_open, absl::ZeroDuration());
  c.permitted_calls_in_half_open = std::max(1, c.permitted_calls_in_half_open);
  return c;
}

}  // namespace

absl::Status ValidateCircuitBreakerConfig(const CircuitBreakerConfig& c) {
  if (c.window_size < 1) {
    return absl::InvalidArgumentError("window_size must be >= 1");
  }
  if (c.minimum_calls < 1 || c.minimum_calls > c.window_size) {
    return absl::InvalidArgumentError(
        "minimum_calls must be between 1 and window_size");
  }
  if (!(c.failure_rate_threshold > 0 && c.failure_rate_threshold <= 1)) {
    return absl::InvalidArgumentError(
        "failure_rate_threshold must be in (0, 1]");
  }
  if (!(c.slow_call_rate_threshold > 0 && c.slow_call_rate_threshold <= 1)) {
    return absl::InvalidArgumentError(
        "slow_call_rate_threshold must be in (0, 1]");
  }
  if (c.slow_call_duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("slow_call_duration must be positive");
  }
  if (c.wait_in_open < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("wait_in_open must not be negative");
  }
  if (c.permitted_calls_in_half_open < 1) {
    return absl::InvalidArgumentError(
        "permitted_calls_in_half_open must be >= 1");
  }
  return absl::OkStatus();
}

CircuitBreaker::CircuitBreaker(std::string name, CircuitBreakerConfig config,
                               Clock* clock)
    : name_(std::move(name)), config_(Clamp(config)), clock_(clock) {}

absl::string_view CircuitBreaker::StateName(State state) {
  switch (state) {
    case State::kClosed:
      return "CLOSED";
    case State::kOpen:
      return "OPEN";
    case State::kHalfOpen:
      return "HALF_OPEN";
  }
  return "UNKNOWN";
}

bool CircuitBreaker::TryAcquirePermission() {
  bool granted = false;
  bool notify;
  {
    absl::MutexLock lock(&mu_);
    MaybeHalfOpenLocked();
    switch (state_) {
      case State::kClosed:
        granted = true;
        break;
      case State::kOpen:
        granted = false;
        break;
      case State::kHalfOpen:
        if (probes_issued_ < config_.permitted_calls_in_half_open) {
          ++probes_issued_;
          granted = true;
        }
        break;
    }
    notify = !pending_.empty();
  }
  if (notify) DeliverTransitions();
  return granted;
}

void CircuitBreaker::ReleasePermission() {
  absl::MutexLock lock(&mu_);
  if (state_ == State::kHalfOpen &&
      probes_issued_ > static_cast<int>(window_.size())) {
    --probes_issued_;
  }
}

void CircuitBreaker::OnSuccess(absl::Duration elapsed) {
  OnComplete(/*failed=*/false, elapsed);
}

void CircuitBreaker::OnFailure(absl::Duration elapsed) {
  OnComplete(/*failed=*/true, elapsed);
}

void CircuitBreaker::OnComplete(bool failed, absl::Duration elapsed) {
  const Outcome outcome{failed, elapsed > config_.slow_call_duration};
  bool notify;
  {
    absl::MutexLock lock(&mu_);
    switch (state_) {
      case State::kClosed:
        window_.push_back(outcome);
        while (static_cast<int>(window_.size()) > config_.window_size) {
          window_.pop_front();
        }
        if (static_cast<int>(window_.size()) >= config_.minimum_calls &&
            OverThresholdLocked()) {
          TransitionLocked(State::kOpen);
        }
        break;
      case State::kOpen:
        // A call admitted while CLOSED that finished after the breaker
        // opened: the verdict is already made (as in resilience4j).
        break;
      case State::kHalfOpen:
        // Only outcomes of outstanding probes count; a straggler from the
        // CLOSED period must not decide the probe round.
        if (static_cast<int>(window_.size()) >= probes_issued_) break;
        window_.push_back(outcome);
        if (static_cast<int>(window_.size()) >=
            config_.permitted_calls_in_half_open) {
          TransitionLocked(OverThresholdLocked() ? State::kOpen
                                                 : State::kClosed);
        }
        break;
    }
    notify = !pending_.empty();
  }
  if (notify) DeliverTransitions();
}

CircuitBreaker::State CircuitBreaker::state() {
  State s;
  bool notify;
  {
    absl::MutexLock lock(&mu_);
    MaybeHalfOpenLocked();
    s = state_;
    notify = !pending_.empty();
  }
  if (notify) DeliverTransitions();
  return s;
}

absl::Time CircuitBreaker::open_until() const {
  absl::MutexLock lock(&mu_);
  return state_ == State::kOpen ? open_until_ : absl::InfinitePast();
}

void CircuitBreaker::SetListener(Listener listener) {
  absl::MutexLock lock(&mu_);
  listener_ = std::move(listener);
}

void CircuitBreaker::MaybeHalfOpenLocked() {
  if (state_ == State::kOpen && clock_->Now() >= open_until_) {
    TransitionLocked(State::kHalfOpen);
  }
}

void CircuitBreaker::TransitionLocked(State to) {
  const State from = state_;
  state_ = to;
  // Every state starts with a clean slate: the CLOSED window must not carry
  // the failures that opened it, and HALF_OPEN judges only its own probes.
  window_.clear();
  probes_issued_ = 0;
  open_until_ = to == State::kOpen ? clock_->Now() + config_.wait_in_open
                                   : absl::InfinitePast();
  if (listener_) pending_.push_back({from, to});
}

bool CircuitBreaker::OverThresholdLocked() const {
  if (window_.empty()) return false;
  int failed = 0;
  int slow = 0;
  for (const Outcome& o : window_) {
    failed += o.failed;
    slow += o.slow;
  }
  const double n = static_cast<double>(window_.size());
  return failed / n >= config_.failure_rate_threshold ||
         slow / n >= config_.slow_call_rate_threshold;
}

void CircuitBreaker::DeliverTransitions() {
  mu_.Lock();
  // Whoever is already delivering will also deliver ours, in order. This also
  // makes a listener that calls back into the breaker safe.
  if (delivering_) {
    mu_.Unlock();
    return;
  }
  delivering_ = true;
  while (!pending_.empty()) {
    const Transition t = pending_.front();
    pending_.pop_front();
    Listener listener = listener_;
    mu_.Unlock();
    if (listener) listener(t.from, t.to);
    mu_.Lock();
  }
  delivering_ = false;
  mu_.Unlock();
}

CircuitBreakerRegistry::CircuitBreakerRegistry(CircuitBreakerConfig config,
                                               Clock* clock, Listener listener)
    : config_(config), clock_(clock), listener_(std::move(listener)) {}

CircuitBreaker* CircuitBreakerRegistry::Get(const std::string& provider_id) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<CircuitBreaker>& slot = breakers_[provider_id];
  if (slot == nullptr) {
    slot = std::make_unique<CircuitBreaker>(provider_id, config_, clock_);
    if (listener_) {
      slot->SetListener(
          [listener = listener_, provider_id](CircuitBreaker::State from,
                                              CircuitBreaker::State to) {
            listener(provider_id, from, to);
          });
    }
  }
  return slot.get();
}

std::vector<CircuitBreaker*> CircuitBreakerRegistry::All() const {
  std::vector<CircuitBreaker*> out;
  {
    absl::MutexLock lock(&mu_);
    out.reserve(breakers_.size());
    for (const auto& [id, breaker] : breakers_) out.push_back(breaker.get());
  }
  std::sort(out.begin(), out.end(),
            [](const CircuitBreaker* a, const CircuitBreaker* b) {
              return a->name() < b->name();
            });
  return out;
}

}  // namespace booking
