#include "api_server/key_purger.h"

#include <memory>

#include "absl/synchronization/notification.h"
#include "core/observability/logging.h"

namespace booking {

KeyPurger::KeyPurger(GroupCommitWriter* writer, const Clock* clock,
                     absl::Duration interval)
    : writer_(writer), clock_(clock) {
  if (interval > absl::ZeroDuration()) {
    thread_ = std::thread([this, interval] { Run(interval); });
  }
}

KeyPurger::~KeyPurger() { Stop(); }

absl::StatusOr<int64_t> KeyPurger::PurgeNow() {
  struct Result {
    absl::Notification done;
    absl::StatusOr<int64_t> purged;
  };
  auto result = std::make_shared<Result>();
  const absl::Time now = clock_->Now();
  const bool queued = writer_->SubmitTask([result, now](AppointmentStore* s) {
    result->purged = s->PurgeExpiredIdempotencyKeys(now);
    result->done.Notify();
  });
  if (!queued) {
    return absl::UnavailableError("the writer is stopped or overloaded");
  }
  result->done.WaitForNotification();
  return result->purged;
}

void KeyPurger::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  absl::MutexLock join(&join_mu_);
  if (thread_.joinable()) thread_.join();
}

void KeyPurger::Run(absl::Duration interval) {
  while (true) {
    absl::StatusOr<int64_t> purged = PurgeNow();
    if (!purged.ok()) {
      LogEvent(LogLevel::kWarn, "idempotency_keys_purge_failed")
          .Error(purged.status());
    } else if (*purged > 0) {
      LogEvent(LogLevel::kInfo, "idempotency_keys_purged")
          .Field("purged", *purged);
    }
    absl::MutexLock lock(&mu_);
    // The purge period; Stop() wakes it early.
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval)) return;
  }
}

}  // namespace booking
