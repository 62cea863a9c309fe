#ifndef API_SERVER_GROUP_COMMIT_WRITER_H_
#define API_SERVER_GROUP_COMMIT_WRITER_H_

// The api_server's only path to the database for writes (ADR 0001: durable
// throughput comes from group commit, not from weaker durability).
//
// One thread owns the write connection. Callers enqueue intents with a
// completion callback and return at once (the gRPC callback API never blocks
// a thread on I/O). Each time the thread wakes it takes everything queued at
// that moment (up to max_batch) and commits all waiting creates in ONE
// transaction with ONE fsync (AppointmentStore::CreateAppointments); only
// then are their callbacks run, so an OK is never sent before the commit that
// holds its intent. Cancels and maintenance tasks run one by one on the same
// thread, in queue order.
//
// The callbacks run on a second thread, the completion thread, in the order
// the writer produced them: answering a call (a log line, gRPC's Finish)
// costs about a fifth of a create's time, and the writer starts its next
// transaction meanwhile (ADR 0006).
//
// Back-pressure: the queue is bounded; when it is full a call is refused at
// once with UNAVAILABLE. Deadlines: an intent whose deadline passed before
// its transaction starts is answered DEADLINE_EXCEEDED and nothing is
// written for it. Stop() refuses new work, finishes what is queued, and joins.

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/common/clock.h"
#include "core/store/appointment_store.h"

namespace booking {

struct GroupCommitWriterOptions {
  // Most intents per transaction.
  int max_batch = 256;
  // Most intents waiting; more are refused with UNAVAILABLE.
  int max_queue = 10'000;
  // Deadlines are compared against this clock (the real clock in the server:
  // gRPC deadlines are wall-clock times). Not owned.
  const Clock* clock = RealClock();
  // Observer called on the writer thread after each create transaction with
  // the number of creates it carried (metrics). May be empty.
  std::function<void(int)> on_create_batch;
};

class GroupCommitWriter {
 public:
  using CreateDone = absl::AnyInvocable<void(absl::StatusOr<CreateResult>)>;
  using CancelDone = absl::AnyInvocable<void(absl::StatusOr<CancelResult>)>;
  // Runs on the writer thread with the write store (e.g. purging keys).
  using Task = absl::AnyInvocable<void(AppointmentStore*)>;

  // `store` is not owned, must outlive the writer, and is used only from the
  // writer thread. The thread starts at once.
  GroupCommitWriter(AppointmentStore* store,
                    GroupCommitWriterOptions options = {});
  // Calls Stop().
  ~GroupCommitWriter();

  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Each callback is run exactly once: on the completion thread after the
  // transaction, or inline from Submit* when the work is refused (queue full:
  // UNAVAILABLE; stopped: UNAVAILABLE). `deadline` = absl::InfiniteFuture()
  // for none.
  void SubmitCreate(CreateIntent intent, absl::Time deadline, CreateDone done);
  void SubmitCancel(CancelIntent intent, absl::Time deadline, CancelDone done);
  // Maintenance work; refused (returns false, task not run) when stopped or
  // the queue is full.
  bool SubmitTask(Task task);

  // Refuses new work, finishes everything queued, runs every callback,
  // joins both threads. Idempotent.
  void Stop();

  // Intents waiting (not yet taken by the thread).
  int64_t queue_depth() const;
  // Intents submitted and not yet answered: waiting or being committed.
  int64_t pending() const;

 private:
  struct CreateItem {
    CreateIntent intent;
    absl::Time deadline;
    CreateDone done;
  };
  struct CancelItem {
    CancelIntent intent;
    absl::Time deadline;
    CancelDone done;
  };
  struct TaskItem {
    Task task;
  };
  using Item = std::variant<CreateItem, CancelItem, TaskItem>;
  // A callback bound to its result, for the completion thread.
  using Answer = absl::AnyInvocable<void() &&>;

  // Returns false (and leaves `item` untouched) when refused.
  bool Enqueue(Item& item, absl::Status* refusal);
  void Run();
  // Runs the answers the writer hands over until the writer has finished.
  void RunCompletions();
  // Writes `items`; appends their callbacks' answers to `answers`.
  void Process(std::deque<Item>& items, std::vector<Answer>& answers);
  void CommitCreates(std::vector<CreateItem>& batch,
                     std::vector<Answer>& answers);

  AppointmentStore* const store_;
  const GroupCommitWriterOptions options_;

  mutable absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t pending_ ABSL_GUARDED_BY(mu_) = 0;
  // Answers waiting for the completion thread, in order.
  std::vector<Answer> answers_ ABSL_GUARDED_BY(mu_);
  // The writer thread has returned: no more answers will come.
  bool writer_done_ ABSL_GUARDED_BY(mu_) = false;

  std::once_flag join_once_;
  std::thread thread_;
  std::thread completion_thread_;
};

}  // namespace booking

#endif  // API_SERVER_GROUP_COMMIT_WRITER_H_
