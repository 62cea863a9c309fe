#include "api_server/watch_hub.h"

#include <utility>
#include <vector>

namespace booking {

WatchHub::WatchHub(AppointmentStore* store, WatchHubOptions options)
    : store_(store), options_(options) {
  thread_ = std::thread([this] { Run(); });
}

WatchHub::~WatchHub() { Stop(); }

bool WatchHub::Add(std::shared_ptr<Watcher> watcher) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  const Watcher* key = watcher.get();
  watchers_[key] = std::move(watcher);
  added_since_tick_ = true;
  return true;
}

void WatchHub::Remove(const Watcher* watcher) {
  // Declared before the lock so that, if it holds the last reference, the
  // watcher is destroyed after mu_ is released.
  std::shared_ptr<Watcher> dropped;
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(watcher);
  if (it == watchers_.end()) return;
  dropped = std::move(it->second);
  watchers_.erase(it);
}

void WatchHub::Stop() {
  std::vector<std::shared_ptr<Watcher>> all;
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      stopping_ = true;
      for (auto& [key, w] : watchers_) all.push_back(w);
    }
  }
  for (auto& w : all) w->OnShutdown();
  absl::MutexLock join(&join_mu_);
  if (thread_.joinable()) thread_.join();
}

size_t WatchHub::watcher_count() const {
  absl::MutexLock lock(&mu_);
  return watchers_.size();
}

int64_t WatchHub::rereads() const {
  absl::MutexLock lock(&mu_);
  return rereads_;
}

int64_t WatchHub::ticks() const {
  absl::MutexLock lock(&mu_);
  return ticks_;
}

void WatchHub::AwaitTicks(int64_t n) const {
  absl::MutexLock lock(&mu_);
  auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return ticks_ >= n || stopping_;
  };
  mu_.Await(absl::Condition(&reached));
}

void WatchHub::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      // Idle while nobody watches; otherwise wake every poll_interval.
      auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !watchers_.empty();
      };
      mu_.Await(absl::Condition(&wake));
      if (stopping_) return;
      // A polling period, not synchronisation: changes are found by reading
      // the counter, whenever this wakes.
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                               options_.poll_interval)) {
        return;
      }
    }
    Tick();
    absl::MutexLock lock(&mu_);
    ++ticks_;
  }
}

void WatchHub::Tick() {
  std::vector<std::shared_ptr<Watcher>> snapshot;
  bool added;
  {
    absl::MutexLock lock(&mu_);
    snapshot.reserve(watchers_.size());
    for (auto& [key, w] : watchers_) snapshot.push_back(w);
    added = added_since_tick_;
    added_since_tick_ = false;
  }
  if (snapshot.empty()) return;

  const absl::Time now = options_.clock->Now();
  std::vector<std::shared_ptr<Watcher>> live;
  live.reserve(snapshot.size());
  for (auto& w : snapshot) {
    if (now >= w->deadline()) {
      w->OnExpired();
    } else {
      live.push_back(std::move(w));
    }
  }
  if (live.empty()) return;

  absl::StatusOr<int64_t> counter = store_->ChangeCounter();
  if (!counter.ok()) {
    retry_read_ = true;  // try again next tick
    return;
  }
  const bool moved = !last_counter_.has_value() || *last_counter_ != *counter;
  last_counter_ = *counter;
  if (!moved && !added && !retry_read_) return;
  retry_read_ = false;
  {
    absl::MutexLock lock(&mu_);
    ++rereads_;
  }

  // One read per distinct appointment, however many watch it.
  absl::flat_hash_map<std::string, std::vector<Watcher*>> by_id;
  for (auto& w : live) by_id[w->appointment_id()].push_back(w.get());
  for (auto& [id, watchers] : by_id) {
    absl::StatusOr<Appointment> a = store_->GetAppointment(id);
    if (!a.ok()) {
      // Busy or an I/O error: read again next tick even if nothing moves.
      retry_read_ = true;
      continue;
    }
    for (Watcher* w : watchers) w->OnAppointment(*a);
  }
}

}  // namespace booking
