#include "api_server/group_commit_writer.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace booking {
namespace {

absl::Status DeadlinePassed() {
  return absl::DeadlineExceededError(
      "the call's deadline passed before its write started; nothing was "
      "written");
}

// `done` called with `result` later, on the completion thread.
template <typename Done, typename Result>
absl::AnyInvocable<void() &&> AnswerWith(Done done, Result result) {
  return [done = std::move(done), result = std::move(result)]() mutable {
    done(std::move(result));
  };
}

}  // namespace

GroupCommitWriter::GroupCommitWriter(AppointmentStore* store,
                                     GroupCommitWriterOptions options)
    : store_(store), options_(std::move(options)) {
  thread_ = std::thread([this] { Run(); });
  completion_thread_ = std::thread([this] { RunCompletions(); });
}

GroupCommitWriter::~GroupCommitWriter() { Stop(); }

bool GroupCommitWriter::Enqueue(Item& item, absl::Status* refusal) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    *refusal = absl::UnavailableError(
        "the server is shutting down; retry with the same request_id");
    return false;
  }
  if (queue_.size() >= static_cast<size_t>(options_.max_queue)) {
    *refusal = absl::UnavailableError(
        absl::StrCat("the server is overloaded (", queue_.size(),
                     " writes waiting); retry with the same request_id"));
    return false;
  }
  queue_.push_back(std::move(item));
  ++pending_;
  return true;
}

void GroupCommitWriter::SubmitCreate(CreateIntent intent, absl::Time deadline,
                                     CreateDone done) {
  Item item = CreateItem{std::move(intent), deadline, std::move(done)};
  absl::Status refusal;
  if (!Enqueue(item, &refusal)) std::get<CreateItem>(item).done(refusal);
}

void GroupCommitWriter::SubmitCancel(CancelIntent intent, absl::Time deadline,
                                     CancelDone done) {
  Item item = CancelItem{std::move(intent), deadline, std::move(done)};
  absl::Status refusal;
  if (!Enqueue(item, &refusal)) std::get<CancelItem>(item).done(refusal);
}

bool GroupCommitWriter::SubmitTask(Task task) {
  Item item = TaskItem{std::move(task)};
  absl::Status refusal;
  return Enqueue(item, &refusal);
}

void GroupCommitWriter::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  std::call_once(join_once_, [this] {
    thread_.join();
    {
      absl::MutexLock lock(&mu_);
      writer_done_ = true;
    }
    completion_thread_.join();
  });
}

int64_t GroupCommitWriter::queue_depth() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(queue_.size());
}

int64_t GroupCommitWriter::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_;
}

void GroupCommitWriter::Run() {
  while (true) {
    std::deque<Item> items;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](GroupCommitWriter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
            return !w->queue_.empty() || w->stopping_;
          },
          this));
      if (queue_.empty()) return;  // stopping, and everything is done
      // Everything waiting right now, up to one batch: the requests that
      // arrived while the previous transaction was committing share the next
      // one.
      const size_t n =
          std::min(queue_.size(), static_cast<size_t>(options_.max_batch));
      for (size_t i = 0; i < n; ++i) {
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    const int64_t n = static_cast<int64_t>(items.size());
    std::vector<Answer> answers;
    answers.reserve(items.size());
    Process(items, answers);
    absl::MutexLock lock(&mu_);
    // Tasks have no answer: they are done now.
    pending_ -= n - static_cast<int64_t>(answers.size());
    for (Answer& answer : answers) answers_.push_back(std::move(answer));
  }
}

void GroupCommitWriter::RunCompletions() {
  while (true) {
    std::vector<Answer> answers;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](GroupCommitWriter* w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(w->mu_) {
            return !w->answers_.empty() || w->writer_done_;
          },
          this));
      if (answers_.empty()) return;  // the writer has finished, all answered
      answers.swap(answers_);
    }
    for (Answer& answer : answers) std::move(answer)();
    absl::MutexLock lock(&mu_);
    pending_ -= static_cast<int64_t>(answers.size());
  }
}

void GroupCommitWriter::Process(std::deque<Item>& items,
                                std::vector<Answer>& answers) {
  // Consecutive creates share a transaction; a cancel or task in between
  // closes the batch, so the queue's order is kept.
  std::vector<CreateItem> batch;
  for (Item& item : items) {
    if (auto* create = std::get_if<CreateItem>(&item)) {
      batch.push_back(std::move(*create));
      continue;
    }
    CommitCreates(batch, answers);
    if (auto* cancel = std::get_if<CancelItem>(&item)) {
      absl::StatusOr<CancelResult> result =
          options_.clock->Now() >= cancel->deadline
              ? absl::StatusOr<CancelResult>(DeadlinePassed())
              : store_->CancelAppointment(cancel->intent);
      answers.push_back(AnswerWith(std::move(cancel->done), std::move(result)));
    } else {
      std::get<TaskItem>(item).task(store_);
    }
  }
  CommitCreates(batch, answers);
}

void GroupCommitWriter::CommitCreates(std::vector<CreateItem>& batch,
                                      std::vector<Answer>& answers) {
  if (batch.empty()) return;
  // Answer expired calls without writing anything for them.
  const absl::Time now = options_.clock->Now();
  std::vector<CreateItem> live;
  live.reserve(batch.size());
  for (CreateItem& item : batch) {
    if (now >= item.deadline) {
      answers.push_back(
          AnswerWith(std::move(item.done),
                     absl::StatusOr<CreateResult>(DeadlinePassed())));
    } else {
      live.push_back(std::move(item));
    }
  }
  batch.clear();
  if (live.empty()) return;

  std::vector<CreateIntent> intents;
  intents.reserve(live.size());
  for (CreateItem& item : live) intents.push_back(std::move(item.intent));
  std::vector<absl::StatusOr<CreateResult>> results =
      store_->CreateAppointments(intents);
  if (options_.on_create_batch) {
    options_.on_create_batch(static_cast<int>(live.size()));
  }
  for (size_t i = 0; i < live.size(); ++i) {
    absl::StatusOr<CreateResult> result =
        i < results.size()
            ? std::move(results[i])
            : absl::InternalError("the store returned too few results");
    answers.push_back(AnswerWith(std::move(live[i].done), std::move(result)));
  }
}

}  // namespace booking
