#include "api_server/watch_hub.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "api_server/unimplemented_store.h"
#include "core/common/clock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

// A store whose change counter and rows the test sets; counts reads.
class FakeStore final : public booking::testing::UnimplementedStore {
 public:
  void Put(const std::string& id, int64_t version, Appointment::State state) {
    absl::MutexLock lock(&mu_);
    Appointment a;
    a.set_id(id);
    a.set_version(version);
    a.set_state(state);
    rows_[id] = a;
    ++counter_;
  }
  int64_t gets() const {
    absl::MutexLock lock(&mu_);
    return gets_;
  }
  absl::StatusOr<int64_t> ChangeCounter() override {
    absl::MutexLock lock(&mu_);
    return counter_;
  }
  absl::StatusOr<Appointment> GetAppointment(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    ++gets_;
    auto it = rows_.find(id);
    if (it == rows_.end()) return absl::NotFoundError(id);
    return it->second;
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Appointment> rows_ ABSL_GUARDED_BY(mu_);
  int64_t counter_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t gets_ ABSL_GUARDED_BY(mu_) = 0;
};

class FakeWatcher final : public Watcher {
 public:
  FakeWatcher(std::string id, absl::Time deadline)
      : id_(std::move(id)), deadline_(deadline) {}
  const std::string& appointment_id() const override { return id_; }
  absl::Time deadline() const override { return deadline_; }
  void OnAppointment(const Appointment& a) override {
    absl::MutexLock lock(&mu_);
    if (versions_.empty() || versions_.back() != a.version()) {
      versions_.push_back(a.version());
    }
  }
  void OnExpired() override {
    absl::MutexLock lock(&mu_);
    expired_ = true;
  }
  void OnShutdown() override {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
  }

  void AwaitVersion(int64_t v) {
    absl::MutexLock lock(&mu_);
    auto seen = [this, v]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !versions_.empty() && versions_.back() >= v;
    };
    mu_.Await(absl::Condition(&seen));
  }
  void AwaitExpired() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&expired_));
  }
  std::vector<int64_t> versions() {
    absl::MutexLock lock(&mu_);
    return versions_;
  }
  bool shutdown() {
    absl::MutexLock lock(&mu_);
    return shutdown_;
  }

 private:
  const std::string id_;
  const absl::Time deadline_;
  absl::Mutex mu_;
  std::vector<int64_t> versions_ ABSL_GUARDED_BY(mu_);
  bool expired_ ABSL_GUARDED_BY(mu_) = false;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

WatchHubOptions Fast(const Clock* clock) {
  WatchHubOptions o;
  o.poll_interval = absl::Milliseconds(1);
  o.clock = clock;
  return o;
}

TEST(WatchHubTest, DeliversEachChangeAndReadsOnlyWhenTheCounterMoves) {
  FakeStore store;
  SimulatedClock clock;
  store.Put("a1", 1, Appointment::PENDING);
  WatchHub hub(&store, Fast(&clock));
  auto w = std::make_shared<FakeWatcher>("a1", absl::InfiniteFuture());
  ASSERT_TRUE(hub.Add(w));
  w->AwaitVersion(1);

  // Quiet database: many ticks, no further reads.
  const int64_t gets = store.gets();
  hub.AwaitTicks(hub.ticks() + 20);
  EXPECT_EQ(store.gets(), gets);

  store.Put("a1", 2, Appointment::IN_PROGRESS);
  w->AwaitVersion(2);
  store.Put("a1", 3, Appointment::CONFIRMED);
  w->AwaitVersion(3);
  EXPECT_EQ(w->versions(), (std::vector<int64_t>{1, 2, 3}));
}

TEST(WatchHubTest, OneReadPerAppointmentHoweverManyWatchIt) {
  FakeStore store;
  SimulatedClock clock;
  store.Put("a1", 1, Appointment::PENDING);
  WatchHub hub(&store, Fast(&clock));
  std::vector<std::shared_ptr<FakeWatcher>> watchers;
  for (int i = 0; i < 50; ++i) {
    watchers.push_back(
        std::make_shared<FakeWatcher>("a1", absl::InfiniteFuture()));
    ASSERT_TRUE(hub.Add(watchers.back()));
  }
  for (auto& w : watchers) w->AwaitVersion(1);
  hub.AwaitTicks(hub.ticks() + 1);
  const int64_t gets = store.gets();
  const int64_t rereads = hub.rereads();
  store.Put("a1", 2, Appointment::IN_PROGRESS);
  for (auto& w : watchers) w->AwaitVersion(2);
  hub.AwaitTicks(hub.ticks() + 1);
  EXPECT_EQ(store.gets() - gets, hub.rereads() - rereads);
}

TEST(WatchHubTest, ExpiresWatchersPastTheirDeadline) {
  FakeStore store;
  SimulatedClock clock;
  store.Put("a1", 1, Appointment::PENDING);
  WatchHub hub(&store, Fast(&clock));
  auto soon =
      std::make_shared<FakeWatcher>("a1", clock.Now() + absl::Seconds(5));
  auto later =
      std::make_shared<FakeWatcher>("a1", clock.Now() + absl::Seconds(50));
  ASSERT_TRUE(hub.Add(soon));
  ASSERT_TRUE(hub.Add(later));
  soon->AwaitVersion(1);
  clock.Advance(absl::Seconds(6));
  soon->AwaitExpired();
  hub.Remove(soon.get());  // what a finished reactor does
  store.Put("a1", 2, Appointment::CONFIRMED);
  later->AwaitVersion(2);
  EXPECT_EQ(soon->versions(), (std::vector<int64_t>{1}));
  EXPECT_EQ(hub.watcher_count(), 1u);
}

TEST(WatchHubTest, StopTellsEveryWatcherAndRefusesNewOnes) {
  FakeStore store;
  SimulatedClock clock;
  store.Put("a1", 1, Appointment::PENDING);
  WatchHub hub(&store, Fast(&clock));
  auto w = std::make_shared<FakeWatcher>("a1", absl::InfiniteFuture());
  ASSERT_TRUE(hub.Add(w));
  hub.Stop();
  EXPECT_TRUE(w->shutdown());
  EXPECT_FALSE(
      hub.Add(std::make_shared<FakeWatcher>("a1", absl::InfiniteFuture())));
  hub.Stop();  // idempotent
}

}  // namespace
}  // namespace booking
