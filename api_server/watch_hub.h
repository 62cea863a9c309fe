#ifndef API_SERVER_WATCH_HUB_H_
#define API_SERVER_WATCH_HUB_H_

// Change notification for WatchAppointment without a thread per watcher and
// without hammering the database.
//
// One ticker thread serves every watcher. Each tick (every poll_interval,
// only while someone watches) it reads the store's ChangeCounter() — a cheap
// PRAGMA on SQLite that moves whenever any connection, in any process (the
// outbox_worker, the reconciler, our own writer), commits. Only when the
// counter moved (or a watcher was just added) does it re-read the watched
// appointments, once per distinct id, and hand each watcher the row; the
// watcher decides whether its version is new. The same tick ends watchers
// whose deadline has passed.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/common/clock.h"
#include "core/store/appointment_store.h"

namespace booking {

// What the hub drives. Callbacks run on the hub's thread, one at a time per
// tick, and must not block (a gRPC reactor only starts a write).
class Watcher {
 public:
  virtual ~Watcher() = default;
  virtual const std::string& appointment_id() const = 0;
  // When to give up; absl::InfiniteFuture() for never.
  virtual absl::Time deadline() const = 0;
  // The appointment as it is now (possibly unchanged since the last call).
  virtual void OnAppointment(const Appointment& appointment) = 0;
  // The deadline passed.
  virtual void OnExpired() = 0;
  // The hub is stopping (server shutdown).
  virtual void OnShutdown() = 0;
};

struct WatchHubOptions {
  // How often the change counter is read while anyone watches.
  absl::Duration poll_interval = absl::Milliseconds(10);
  // For deadlines (gRPC deadlines are wall-clock). Not owned.
  const Clock* clock = RealClock();
};

class WatchHub {
 public:
  // `store` is not owned, must outlive the hub, and should be a connection
  // of its own (reads only). The ticker thread starts at once.
  explicit WatchHub(AppointmentStore* store, WatchHubOptions options = {});
  ~WatchHub();  // Stop()

  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Starts watching. False (and nothing is kept) once stopping. The watcher
  // is re-read on the next tick whether or not the counter moved, so a
  // change between the caller's first read and Add() is not missed.
  bool Add(std::shared_ptr<Watcher> watcher);
  // Stops watching. Safe to call for a watcher never added or already
  // removed. After it returns the hub no longer calls the watcher, except
  // that a tick already running may finish its calls: watchers must stay
  // valid as long as the shared_ptr they gave lives (the hub holds one).
  void Remove(const Watcher* watcher);

  // Calls OnShutdown on every watcher, refuses new ones, joins the thread.
  // Idempotent.
  void Stop();

  size_t watcher_count() const;
  // Ticks that re-read appointments (for tests: proves reads happen only
  // when something changed).
  int64_t rereads() const;
  // Ticks completed so far, and a wait for the n-th (tests).
  int64_t ticks() const;
  void AwaitTicks(int64_t n) const;

 private:
  void Run();
  void Tick();

  AppointmentStore* const store_;
  const WatchHubOptions options_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<const Watcher*, std::shared_ptr<Watcher>> watchers_
      ABSL_GUARDED_BY(mu_);
  bool added_since_tick_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t rereads_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t ticks_ ABSL_GUARDED_BY(mu_) = 0;

  // Owned by the ticker thread.
  std::optional<int64_t> last_counter_;
  bool retry_read_ = false;

  absl::Mutex join_mu_;
  std::thread thread_;
};

}  // namespace booking

#endif  // API_SERVER_WATCH_HUB_H_
