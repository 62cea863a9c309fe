#ifndef MOCK_PROVIDER_REPLY_SCHEDULER_H_
#define MOCK_PROVIDER_REPLY_SCHEDULER_H_

// Answers unary callback calls later (the delayed and timeout modes) without
// holding a gRPC thread: one timer thread finishes each held call when its
// time comes. A call whose client goes away (cancel, deadline) is finished
// at once with CANCELLED, so a held call never outlives its client.

#include <cstdint>
#include <memory>
#include <queue>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace booking::mock {

class ReplyScheduler {
 public:
  ReplyScheduler();
  // Flush()es, then stops the timer thread.
  ~ReplyScheduler();

  ReplyScheduler(const ReplyScheduler&) = delete;
  ReplyScheduler& operator=(const ReplyScheduler&) = delete;

  // Returns the reactor for the call: it answers `status` after `delay`
  // (wall-clock, like the client's deadline). Fill the response before.
  grpc::ServerUnaryReactor* Hold(grpc::CallbackServerContext* context,
                                 absl::Duration delay, grpc::Status status);

  // Answers every held call now, and every later Hold() at once. For
  // shutdown: a drain must not wait out a 60 s timeout mode.
  void Flush();

  // Calls held and not answered yet.
  int64_t held() const;
  // Waits until no call is held; false after `timeout`. For tests that check
  // a departed client's call is released (a bound, not a sleep).
  bool WaitUntilNoneHeld(absl::Duration timeout) const;

 private:
  struct Slot;
  class HeldReactor;
  struct Entry {
    absl::Time due;
    uint64_t order;
    std::shared_ptr<Slot> slot;
    bool operator>(const Entry& o) const {
      return due != o.due ? due > o.due : order > o.order;
    }
  };

  void Run();
  void Answered();

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool flushing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_order_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t held_ ABSL_GUARDED_BY(mu_) = 0;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue_
      ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace booking::mock

#endif  // MOCK_PROVIDER_REPLY_SCHEDULER_H_
