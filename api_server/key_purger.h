#ifndef API_SERVER_KEY_PURGER_H_
#define API_SERVER_KEY_PURGER_H_

// Purges expired idempotency keys in the background (DESIGN §4: keys are
// kept at least the TTL, then purged). The purge runs as a task on the
// group-commit writer's thread, so it shares the one write connection and
// never competes with our own writes for the database lock.

#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api_server/group_commit_writer.h"
#include "core/common/clock.h"

namespace booking {

class KeyPurger {
 public:
  // `writer` and `clock` are not owned. With a positive `interval` a thread
  // purges at once and then every interval; otherwise only PurgeNow() does.
  KeyPurger(GroupCommitWriter* writer, const Clock* clock,
            absl::Duration interval);
  ~KeyPurger();  // Stop()

  KeyPurger(const KeyPurger&) = delete;
  KeyPurger& operator=(const KeyPurger&) = delete;

  // Deletes keys whose expiry is <= clock->Now(); returns how many. Waits
  // for the writer. UNAVAILABLE if the writer is stopped.
  absl::StatusOr<int64_t> PurgeNow();

  // Joins the thread. Idempotent.
  void Stop();

 private:
  void Run(absl::Duration interval);

  GroupCommitWriter* const writer_;
  const Clock* const clock_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex join_mu_;
  std::thread thread_;
};

}  // namespace booking

#endif  // API_SERVER_KEY_PURGER_H_
