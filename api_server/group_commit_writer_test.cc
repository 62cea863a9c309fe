#include "api_server/group_commit_writer.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "api_server/unimplemented_store.h"
#include "core/common/clock.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using ::booking::testing::StatusIs;
using ::testing::ElementsAre;

// Records what reaches the store. CreateAppointments can be held at a gate so
// a test can queue work while the writer is "committing".
class FakeStore final : public booking::testing::UnimplementedStore {
 public:
  // While closed, the next CreateAppointments/CancelAppointment call
  // notifies `entered()` and blocks until Open().
  void CloseGate() {
    absl::MutexLock lock(&mu_);
    gate_open_ = false;
    entered_ = std::make_unique<absl::Notification>();
  }
  void OpenGate() {
    absl::MutexLock lock(&mu_);
    gate_open_ = true;
  }
  void WaitEntered() {
    absl::Notification* n;
    {
      absl::MutexLock lock(&mu_);
      n = entered_.get();
    }
    n->WaitForNotification();
  }
  void FailWith(absl::Status s) {
    absl::MutexLock lock(&mu_);
    fail_ = s;
  }
  // Log of operations: "create:<n>" per transaction, "cancel:<id>".
  std::vector<std::string> log() const {
    absl::MutexLock lock(&mu_);
    return log_;
  }
  int transactions_committed() const {
    absl::MutexLock lock(&mu_);
    return committed_;
  }
  void WaitCommitted(int n) const {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return committed_ >= n;
    };
    mu_.Await(absl::Condition(&enough));
  }

  std::vector<absl::StatusOr<CreateResult>> CreateAppointments(
      absl::Span<const CreateIntent> intents) override {
    Gate();
    absl::MutexLock lock(&mu_);
    log_.push_back("create:" + std::to_string(intents.size()));
    std::vector<absl::StatusOr<CreateResult>> out;
    for (const CreateIntent& in : intents) {
      if (!fail_.ok()) {
        out.push_back(fail_);
        continue;
      }
      CreateResult r;
      r.appointment = in.appointment;
      r.appointment.set_request_id(in.request_id);
      out.push_back(r);
    }
    ++committed_;
    return out;
  }
  absl::StatusOr<CancelResult> CancelAppointment(
      const CancelIntent& intent) override {
    Gate();
    absl::MutexLock lock(&mu_);
    log_.push_back("cancel:" + intent.appointment_id);
    ++committed_;
    CancelResult r;
    r.appointment.set_id(intent.appointment_id);
    return r;
  }

 private:
  void Gate() {
    absl::MutexLock lock(&mu_);
    if (gate_open_) return;
    entered_->Notify();
    mu_.Await(absl::Condition(&gate_open_));
  }

  mutable absl::Mutex mu_;
  bool gate_open_ ABSL_GUARDED_BY(mu_) = true;
  std::unique_ptr<absl::Notification> entered_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);
  int committed_ ABSL_GUARDED_BY(mu_) = 0;
};

CreateIntent Intent(const std::string& request_id) {
  CreateIntent in;
  in.request_id = request_id;
  in.appointment.set_id("id-" + request_id);
  return in;
}

// Collects callback results; lets the test wait for N of them.
class Results {
 public:
  GroupCommitWriter::CreateDone CreateCallback(const FakeStore* store) {
    return [this, store](absl::StatusOr<CreateResult> r) {
      absl::MutexLock lock(&mu_);
      statuses_.push_back(r.status());
      // An answer is only ever given after a commit.
      if (r.ok()) {
        EXPECT_GT(store->transactions_committed(), 0);
      }
    };
  }
  void WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return statuses_.size() >= n;
    };
    mu_.Await(absl::Condition(&enough));
  }
  std::vector<absl::Status> statuses() {
    absl::MutexLock lock(&mu_);
    return statuses_;
  }

 private:
  absl::Mutex mu_;
  std::vector<absl::Status> statuses_ ABSL_GUARDED_BY(mu_);
};

// Submits a create whose answer goes to `results`.
void Submit(GroupCommitWriter& writer, const FakeStore& store, Results& results,
            const std::string& request_id,
            absl::Time deadline = absl::InfiniteFuture()) {
  writer.SubmitCreate(Intent(request_id), deadline,
                      results.CreateCallback(&store));
}

// Submits `request_id` with the store's gate closed and returns once the
// writer is inside that transaction, so the test can queue more behind it.
void HoldWriterIn(GroupCommitWriter& writer, FakeStore& store, Results& results,
                  const std::string& request_id) {
  store.CloseGate();
  Submit(writer, store, results, request_id);
  store.WaitEntered();
}

TEST(GroupCommitWriterTest, RequestsWaitingDuringACommitShareTheNextOne) {
  FakeStore store;
  GroupCommitWriter writer(&store);
  Results results;

  // The writer is inside the first transaction.
  HoldWriterIn(writer, store, results, "first");
  for (int i = 0; i < 20; ++i) {
    Submit(writer, store, results, "r" + std::to_string(i));
  }
  EXPECT_EQ(writer.queue_depth(), 20);
  EXPECT_EQ(writer.pending(), 21);
  store.OpenGate();
  results.WaitFor(21);
  EXPECT_THAT(store.log(), ElementsAre("create:1", "create:20"));
  for (const absl::Status& s : results.statuses()) EXPECT_OK(s);
}

TEST(GroupCommitWriterTest, ASlowAnswerDoesNotHoldUpTheNextCommit) {
  FakeStore store;
  GroupCommitWriter writer(&store);
  absl::Notification first_answered;
  absl::Notification release_first;
  writer.SubmitCreate(Intent("slow"), absl::InfiniteFuture(),
                      [&](absl::StatusOr<CreateResult> r) {
                        EXPECT_OK(r);
                        first_answered.Notify();
                        release_first.WaitForNotification();
                      });
  first_answered.WaitForNotification();
  // The first call's answer is still running; the next create is committed
  // meanwhile, and answered only after the first answer returns (in order).
  Results results;
  Submit(writer, store, results, "next");
  store.WaitCommitted(2);
  EXPECT_THAT(store.log(), ElementsAre("create:1", "create:1"));
  EXPECT_THAT(results.statuses(), ::testing::IsEmpty());
  release_first.Notify();
  results.WaitFor(1);
  EXPECT_OK(results.statuses()[0]);
}

TEST(GroupCommitWriterTest, BatchesAreCappedAtMaxBatch) {
  FakeStore store;
  GroupCommitWriterOptions options;
  options.max_batch = 4;
  GroupCommitWriter writer(&store, options);
  Results results;
  HoldWriterIn(writer, store, results, "first");
  for (int i = 0; i < 10; ++i) {
    Submit(writer, store, results, "r" + std::to_string(i));
  }
  store.OpenGate();
  results.WaitFor(11);
  EXPECT_THAT(store.log(),
              ElementsAre("create:1", "create:4", "create:4", "create:2"));
}

TEST(GroupCommitWriterTest, BatchObserverSeesEachTransactionSize) {
  FakeStore store;
  absl::Mutex mu;
  std::vector<int> sizes;
  GroupCommitWriterOptions options;
  options.on_create_batch = [&](int n) {
    absl::MutexLock lock(&mu);
    sizes.push_back(n);
  };
  GroupCommitWriter writer(&store, options);
  Results results;
  HoldWriterIn(writer, store, results, "a");
  Submit(writer, store, results, "b");
  Submit(writer, store, results, "c");
  store.OpenGate();
  results.WaitFor(3);
  writer.Stop();
  absl::MutexLock lock(&mu);
  EXPECT_THAT(sizes, ElementsAre(1, 2));
}

TEST(GroupCommitWriterTest, CancelsKeepTheirPlaceInTheQueue) {
  FakeStore store;
  GroupCommitWriter writer(&store);
  Results results;
  absl::Notification cancelled;
  HoldWriterIn(writer, store, results, "first");
  Submit(writer, store, results, "a");
  Submit(writer, store, results, "b");
  CancelIntent cancel;
  cancel.appointment_id = "X";
  writer.SubmitCancel(cancel, absl::InfiniteFuture(),
                      [&](absl::StatusOr<CancelResult> r) {
                        EXPECT_OK(r);
                        cancelled.Notify();
                      });
  Submit(writer, store, results, "c");
  store.OpenGate();
  results.WaitFor(4);
  cancelled.WaitForNotification();
  EXPECT_THAT(store.log(),
              ElementsAre("create:1", "create:2", "cancel:X", "create:1"));
}

TEST(GroupCommitWriterTest, AFullQueueRefusesAtOnceWithUnavailable) {
  FakeStore store;
  GroupCommitWriterOptions options;
  options.max_queue = 2;
  GroupCommitWriter writer(&store, options);
  Results results;
  HoldWriterIn(writer, store, results, "in-store");
  Submit(writer, store, results, "q1");
  Submit(writer, store, results, "q2");
  absl::Status refused;
  writer.SubmitCreate(
      Intent("q3"), absl::InfiniteFuture(),
      [&](absl::StatusOr<CreateResult> r) { refused = r.status(); });
  // Refused inline, before the gate opens.
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kUnavailable,
                                ::testing::HasSubstr("overloaded")));
  store.OpenGate();
  results.WaitFor(3);
  for (const absl::Status& s : results.statuses()) EXPECT_OK(s);
}

TEST(GroupCommitWriterTest, ExpiredIntentsAreAnsweredWithoutBeingWritten) {
  FakeStore store;
  SimulatedClock clock;
  GroupCommitWriterOptions options;
  options.clock = &clock;
  GroupCommitWriter writer(&store, options);
  Results results;
  HoldWriterIn(writer, store, results, "first");
  Submit(writer, store, results, "late", clock.Now() + absl::Seconds(1));
  Submit(writer, store, results, "patient", clock.Now() + absl::Seconds(10));
  absl::Status cancel_status;
  absl::Notification cancel_done;
  CancelIntent cancel;
  cancel.appointment_id = "Y";
  writer.SubmitCancel(cancel, clock.Now() + absl::Seconds(1),
                      [&](absl::StatusOr<CancelResult> r) {
                        cancel_status = r.status();
                        cancel_done.Notify();
                      });
  clock.Advance(absl::Seconds(2));  // "late" and the cancel have expired
  store.OpenGate();
  results.WaitFor(3);
  cancel_done.WaitForNotification();
  std::vector<absl::Status> statuses = results.statuses();
  EXPECT_OK(statuses[0]);
  EXPECT_THAT(statuses[1], StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_OK(statuses[2]);
  EXPECT_THAT(cancel_status, StatusIs(absl::StatusCode::kDeadlineExceeded));
  // Only "patient" reached the second transaction; the cancel never ran.
  EXPECT_THAT(store.log(), ElementsAre("create:1", "create:1"));
}

TEST(GroupCommitWriterTest, AFailedTransactionFailsEveryIntentInIt) {
  FakeStore store;
  store.FailWith(absl::UnavailableError("database is busy"));
  GroupCommitWriter writer(&store);
  Results results;
  for (int i = 0; i < 5; ++i) {
    Submit(writer, store, results, "r" + std::to_string(i));
  }
  results.WaitFor(5);
  for (const absl::Status& s : results.statuses()) {
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable));
  }
}

TEST(GroupCommitWriterTest, StopFinishesQueuedWorkThenRefuses) {
  FakeStore store;
  GroupCommitWriter writer(&store);
  Results results;
  HoldWriterIn(writer, store, results, "first");
  for (int i = 0; i < 5; ++i) {
    Submit(writer, store, results, "r" + std::to_string(i));
  }
  std::thread stopper([&] { writer.Stop(); });
  // Stop has been asked for (or is about to be); new work is refused once it
  // is, but the queued work still completes.
  store.OpenGate();
  stopper.join();
  EXPECT_EQ(results.statuses().size(), 6u);
  for (const absl::Status& s : results.statuses()) EXPECT_OK(s);

  absl::Status after;
  writer.SubmitCreate(
      Intent("after"), absl::InfiniteFuture(),
      [&](absl::StatusOr<CreateResult> r) { after = r.status(); });
  EXPECT_THAT(after, StatusIs(absl::StatusCode::kUnavailable,
                              ::testing::HasSubstr("shutting down")));
  EXPECT_FALSE(writer.SubmitTask([](AppointmentStore*) {}));
  writer.Stop();  // idempotent
}

TEST(GroupCommitWriterTest, TasksRunOnTheWriterThreadWithTheStore) {
  FakeStore store;
  GroupCommitWriter writer(&store);
  absl::Notification ran;
  AppointmentStore* seen = nullptr;
  ASSERT_TRUE(writer.SubmitTask([&](AppointmentStore* s) {
    seen = s;
    ran.Notify();
  }));
  ran.WaitForNotification();
  EXPECT_EQ(seen, &store);
}

}  // namespace
}  // namespace booking
