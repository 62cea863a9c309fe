#ifndef RECONCILER_RECONCILER_H_
#define RECONCILER_RECONCILER_H_

// Finds and repairs drift between the provider and the database (DESIGN §7).
//
// Level-triggered: each run derives what to do from the state it reads, not
// from history, so a run that dies half-way is simply run again. One run:
//
//  1. Lists the provider's bookings page by page into the run's scratch set
//     in SQLite (AppointmentStore::AddSeenBookings; a TEMP table, not RAM).
//  2. Pages through the scratch set by idempotency key (= appointment id),
//     each key with its appointment row, lease and all its bookings:
//     orphan, duplicate, field_mismatch, late_confirmation.
//  3. Pages through the appointments in CONFIRMED, AWAITING_CONFIRMATION,
//     PENDING and IN_PROGRESS by id, each with the scratch set's bookings
//     for it: provider_lost, stuck.
//  Memory is O(--page_size) whatever the number of bookings or rows; step 3
//  runs only if step 1 listed everything (a partial listing must never make
//  CONFIRMED rows look lost).
//
// Safety beside running workers: a row is touched only if it was last
// changed before (run start - grace) and none of its commands holds a live
// lease; every DB write is compare-and-set on the version read (plus the
// lease check) in one transaction, so a concurrent change makes the repair
// "skipped", never overwritten. Provider cancels (orphans, duplicates)
// re-read the row first and are skipped if it moved.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/common/clock.h"
#include "core/faults/crash_points.h"
#include "core/observability/metrics.h"
#include "core/provider/provider_client.h"
#include "core/store/appointment_store.h"
#include "reconciler/drift.h"
#include "reconciler/report.h"

namespace booking::reconciler {

// Crash points for kill -9 tests (DESIGN §3 "during a reconciler fix"; armed
// by BOOKING_CRASH_POINT, see core/faults/crash_points.h).
namespace crash_points {
// A field-mismatch repair marked the row FAILED; the provider's booking is
// not cancelled yet (the next run finds it as an orphan).
inline constexpr char kReconcilerMidRepair[] = "reconciler_mid_repair";
// A repair is done; its finding and the run's end are not recorded yet.
inline constexpr char kReconcilerAfterRepair[] = "reconciler_after_repair";
}  // namespace crash_points

// failure_reason values the reconciler writes.
inline constexpr char kReasonProviderLost[] = "provider_lost";
inline constexpr char kReasonFieldMismatch[] = "field_mismatch";

struct ReconcilerOptions {
  // Dry-run (false) only reports; apply repairs.
  bool apply = false;
  // Rows changed more recently than this before the run's start are left
  // alone (a worker may be about to finish them).
  absl::Duration grace = absl::Minutes(5);
  // PENDING / IN_PROGRESS / AWAITING_CONFIRMATION unchanged this long (and
  // at least `grace`) is stuck.
  absl::Duration stuck_after = absl::Minutes(15);
  // Repair field mismatches (mark FAILED field_mismatch and cancel the
  // provider's booking); otherwise they are only reported.
  bool repair_mismatch = false;
  // Provider bookings per ListBookings page, and rows per store page.
  int page_size = 500;
  // Per provider call (one ListBookings page, one Cancel).
  absl::Duration provider_deadline = absl::Seconds(10);
  // Deadline of a command the stuck repair has to enqueue anew (never after
  // the appointment's start).
  absl::Duration requeue_deadline = absl::Minutes(15);
  // Only this provider's bookings and rows; empty = every provider.
  std::string provider_id;
  // Safety rail (apply mode): after this many repairs in one run the other
  // findings are only reported ("skipped") and the run exits 1, so a wrong
  // picture of the world (a provider answering with too little) cannot
  // rewrite the whole table in one go. 0 = unlimited. Every repair tried
  // that was not skipped counts, including one that failed part-way.
  int max_repairs = 100;
  // Safety rail (apply mode): a provider listing that is empty while the
  // database holds CONFIRMED rows older than `grace` (for `provider_id`, or
  // any provider) refuses the run (exit 2, nothing repaired): every one of
  // them would be marked provider_lost. True accepts the empty listing.
  bool allow_empty_provider = false;
  // JSON report file ("{run_id}" is replaced); empty = none.
  std::string report_path;
  // Actor of the audit events the repairs write.
  std::string actor = "reconciler";
  // How many findings the human summary lists.
  int summary_examples = 10;
  // Test hook: runs after a finding is detected and just before its repair
  // is written (apply mode), e.g. to make a concurrent change.
  std::function<void(const Finding&)> before_repair;
};

// INVALID_ARGUMENT naming the first bad option.
absl::Status ValidateReconcilerOptions(const ReconcilerOptions& options);

class Reconciler {
 public:
  // Nothing is owned; all must outlive the reconciler. `metrics` and
  // `crash` may be null. The store should be a connection of its own (its
  // scratch set is per connection).
  Reconciler(AppointmentStore* store, ProviderClient* provider, Clock* clock,
             ReconcilerOptions options, MetricsRegistry* metrics = nullptr,
             CrashPoints* crash = nullptr);
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // One full run: recorded in reconcile_runs / reconcile_findings, written
  // to the report file, logged and counted in the metrics. Never throws;
  // a run that cannot complete has `error` set and exit code 2.
  RunSummary RunOnce();

 private:
  class Run;
  struct Metrics;

  AppointmentStore* const store_;
  ProviderClient* const provider_;
  Clock* const clock_;
  const ReconcilerOptions options_;
  std::unique_ptr<MetricsRegistry> own_metrics_;
  std::unique_ptr<Metrics> metrics_;
  CrashPoints* const crash_;
};

}  // namespace booking::reconciler

#endif  // RECONCILER_RECONCILER_H_
