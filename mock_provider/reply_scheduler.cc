#include "mock_provider/reply_scheduler.h"

#include <utility>

#include "core/common/clock.h"

namespace booking::mock {

// Shared by the reactor and the timer entry; whichever finishes first wins.
struct ReplyScheduler::Slot {
  explicit Slot(ReplyScheduler* o) : owner(o) {}
  ReplyScheduler* const owner;
  absl::Mutex mu;
  grpc::ServerUnaryReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
  grpc::Status status;

  // Finishes the call once; later calls do nothing. Finish runs outside the
  // lock because it may run OnDone (which deletes the reactor) inline.
  bool TryFinish(const grpc::Status& s) {
    grpc::ServerUnaryReactor* r = nullptr;
    {
      absl::MutexLock lock(&mu);
      std::swap(r, reactor);
    }
    if (r == nullptr) return false;
    r->Finish(s);
    owner->Answered();
    return true;
  }
};

class ReplyScheduler::HeldReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit HeldReactor(std::shared_ptr<Slot> slot) : slot_(std::move(slot)) {}
  void OnCancel() override {
    std::shared_ptr<Slot> slot = slot_;  // survives a `delete this` in Finish
    slot->TryFinish(grpc::Status(grpc::StatusCode::CANCELLED,
                                 "client went away before the answer"));
  }
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<Slot> slot_;
};

ReplyScheduler::ReplyScheduler() : thread_([this] { Run(); }) {}

ReplyScheduler::~ReplyScheduler() {
  Flush();
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    wake_.Signal();
  }
  thread_.join();
}

grpc::ServerUnaryReactor* ReplyScheduler::Hold(
    grpc::CallbackServerContext* context, absl::Duration delay,
    grpc::Status status) {
  auto slot = std::make_shared<Slot>(this);
  slot->status = std::move(status);
  auto* reactor = new HeldReactor(slot);
  {
    absl::MutexLock slot_lock(&slot->mu);
    slot->reactor = reactor;
  }
  (void)context;  // cancellation arrives through HeldReactor::OnCancel
  bool now = false;
  {
    absl::MutexLock lock(&mu_);
    now = flushing_ || delay <= absl::ZeroDuration();
    ++held_;
    if (!now) {
      queue_.push({RealClock()->Now() + delay, next_order_++, slot});
      wake_.Signal();
    }
  }
  if (now) slot->TryFinish(slot->status);
  return reactor;
}

void ReplyScheduler::Flush() {
  std::vector<std::shared_ptr<Slot>> due;
  {
    absl::MutexLock lock(&mu_);
    flushing_ = true;
    while (!queue_.empty()) {
      due.push_back(queue_.top().slot);
      queue_.pop();
    }
  }
  for (auto& slot : due) slot->TryFinish(slot->status);
}

void ReplyScheduler::Answered() {
  absl::MutexLock lock(&mu_);
  --held_;
}

int64_t ReplyScheduler::held() const {
  absl::MutexLock lock(&mu_);
  return held_;
}

bool ReplyScheduler::WaitUntilNoneHeld(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto none_held = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return held_ == 0;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&none_held), timeout);
}

void ReplyScheduler::Run() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    if (queue_.empty()) {
      wake_.Wait(&mu_);
      continue;
    }
    const absl::Time now = RealClock()->Now();
    if (queue_.top().due > now) {
      wake_.WaitWithDeadline(&mu_, queue_.top().due);
      continue;
    }
    std::shared_ptr<Slot> slot = queue_.top().slot;
    queue_.pop();
    mu_.Unlock();
    slot->TryFinish(slot->status);
    mu_.Lock();
  }
}

}  // namespace booking::mock
