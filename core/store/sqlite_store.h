#ifndef CORE_STORE_SQLITE_STORE_H_
#define CORE_STORE_SQLITE_STORE_H_

// AppointmentStore on one SQLite file in WAL mode (README.md: schema,
// transaction rules, error mapping).
//
// One object = one connection, guarded by a mutex: the object is
// thread-safe, but its calls run one at a time. Processes and threads that
// want parallel reads open their own objects on the same file; SQLite
// serialises writers (BEGIN IMMEDIATE + busy timeout).
//
// Choices the interface leaves open:
// - Times are stored as UTC milliseconds; finer parts are dropped.
// - An idempotency key counts until PurgeExpiredIdempotencyKeys deletes it,
//   even past its expiry.
// - ListAppointments clamps page_size to 1..1000 (callers map 0 to their
//   default).
// - ReleaseCommand of a BOOK puts an IN_PROGRESS appointment back to PENDING
//   (with an event): nothing was sent under that lease.
// - A BOOK or CONFIRM that CompleteCommand(kReschedule) or ReleaseCommand
//   would put back in the queue while its appointment is CANCELLING,
//   COMPENSATING or terminal is retired instead (DONE, "superseded:
//   appointment is X"): the CANCEL/COMPENSATE behind it covers it by
//   idempotency key.
// - ClaimDueCommands records PENDING → IN_PROGRESS with actor
//   "worker:<worker_id>"; CancelAppointment's event has actor "api".
// - The attempt ClaimDueCommands counts for an expired lease gets no
//   appointment event (the state does not change), only the command's note.
// - ListCommandsByStatus clamps limit to 1..1000.
// - NextDueTime ignores commands waiting behind an older unfinished one of
//   their appointment, but not skipped (breaker-open) providers.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/common/clock.h"
#include "core/store/appointment_store.h"
#include "core/store/sqlite_db.h"

namespace booking {

struct SqliteOptions {
  // The database file; created (with the schema) if missing.
  std::string path;
  // How long a write waits for another connection's write lock before the
  // call fails with UNAVAILABLE.
  absl::Duration busy_timeout = absl::Seconds(5);
  // Only for ReleaseCommand, whose interface carries no time. Null means
  // RealClock().
  Clock* clock = nullptr;
  // PRAGMA temp_store = MEMORY: the statement journals of a batch's
  // savepoints stay in memory instead of spilling to a temp file after
  // 64 KiB (ADR 0006). For a connection that writes small batches (the
  // api_server's writer); not for one that fills the reconciler's TEMP
  // scratch table, which must stay on disk to keep its memory flat.
  bool temp_store_in_memory = false;
};

class SqliteAppointmentStore final : public AppointmentStore {
 public:
  // Opens the file, sets journal_mode=WAL, synchronous=FULL,
  // foreign_keys=ON and the busy timeout, and migrates the schema to the
  // latest version (see sqlite_schema.h).
  static absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> Open(
      const SqliteOptions& opts);

  absl::StatusOr<CreateResult> CreateAppointment(
      const CreateIntent& intent) override;
  std::vector<absl::StatusOr<CreateResult>> CreateAppointments(
      absl::Span<const CreateIntent> intents) override;
  absl::StatusOr<Appointment> GetAppointment(const std::string& id) override;
  absl::StatusOr<ListPage> ListAppointments(const ListQuery& q) override;
  absl::StatusOr<Appointment> TransitionAppointment(
      const Transition& t) override;
  absl::StatusOr<CancelResult> CancelAppointment(
      const CancelIntent& intent) override;
  absl::StatusOr<std::vector<ClaimedCommand>> ClaimDueCommands(
      const ClaimRequest& req) override;
  absl::StatusOr<Appointment> CompleteCommand(
      const CommandOutcome& outcome) override;
  std::vector<absl::StatusOr<Appointment>> CompleteCommands(
      absl::Span<const CommandOutcome> outcomes) override;
  absl::Status ReleaseCommand(int64_t command_id,
                              int64_t fencing_token) override;
  absl::Status RequeueDeadCommand(int64_t command_id, absl::Time now) override;
  absl::StatusOr<OutboxCommand> GetCommand(int64_t command_id) override;
  absl::StatusOr<std::vector<OutboxCommand>> ListCommandsFor(
      const std::string& appointment_id) override;
  absl::StatusOr<std::vector<OutboxCommand>> ListCommandsByStatus(
      CommandStatus status, int64_t after_id, int limit) override;
  absl::StatusOr<std::optional<absl::Time>> NextDueTime() override;
  absl::StatusOr<std::vector<std::pair<CommandStatus, int64_t>>>
  CountCommandsByStatus() override;
  absl::StatusOr<std::vector<AppointmentEvent>> ListEvents(
      const std::string& appointment_id) override;
  absl::StatusOr<int64_t> PurgeExpiredIdempotencyKeys(absl::Time now) override;
  absl::StatusOr<int64_t> ChangeCounter() override;

  // Reconciler (see appointment_store.h). The scratch set is a TEMP table
  // of this connection, created on first use: it lives in SQLite's temp
  // file (bounded page cache, not the heap), disappears with the
  // connection, and is written in deferred transactions that lock only the
  // temp database, never the shared file.
  absl::StatusOr<int64_t> StartReconcileRun(const std::string& mode,
                                            absl::Time started) override;
  absl::Status FinishReconcileRun(const ReconcileRun& run) override;
  absl::Status RecordReconcileFindings(
      absl::Span<const ReconcileFindingRecord> findings) override;
  absl::StatusOr<std::vector<ReconcileRun>> ListReconcileRuns(
      int limit) override;
  absl::StatusOr<std::vector<ReconcileFindingRecord>> ListReconcileFindings(
      int64_t run_id, int64_t after_id, int limit) override;
  absl::Status AddSeenBookings(int64_t run_id,
                               absl::Span<const SeenBooking> bookings) override;
  absl::Status ClearSeenBookings(int64_t run_id) override;
  absl::StatusOr<ReconcileItemPage> ListSeenKeys(int64_t run_id,
                                                 const std::string& after,
                                                 int limit) override;
  absl::StatusOr<ReconcileItemPage> ListAppointmentsForReconcile(
      int64_t run_id, Appointment::State state, const std::string& after,
      int limit) override;
  absl::StatusOr<Appointment> ReconcileTransitionAppointment(
      const ReconcileTransition& t) override;
  absl::StatusOr<StuckRequeueResult> RequeueStuckAppointment(
      const StuckRequeue& r) override;

 private:
  struct KeyRow {
    std::string fingerprint;
    std::string appointment_id;
  };

  SqliteAppointmentStore(std::unique_ptr<sqlite::Db> db, Clock* clock)
      : clock_(clock), db_(std::move(db)) {}

  // Helpers: the caller holds mu_ and, for writes, an open transaction.
  absl::Status Commit(sqlite::Transaction& tx)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<CreateResult> CreateOne(const CreateIntent& intent)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Appointment> LoadAppointment(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The compare-and-set read of the guarded writes: ABORTED unless the row
  // is at `expected_version`.
  absl::StatusOr<Appointment> LoadAppointmentAtVersion(const std::string& id,
                                                       int64_t expected_version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The same for the reconciler's repairs, which must also find no live
  // lease on any of the appointment's commands (ABORTED).
  absl::StatusOr<Appointment> LoadUnleasedAtVersion(const std::string& id,
                                                    int64_t expected_version,
                                                    absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `current` -> t.to if the state machine allows it (else
  // FAILED_PRECONDITION): the row update and its event.
  absl::Status ApplyTransition(const Appointment& current, const Transition& t)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads the row as the write left it, then commits `tx`.
  absl::StatusOr<Appointment> ReloadAndCommit(sqlite::Transaction& tx,
                                              const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckAppointmentExists(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<OutboxCommand> LoadCommand(int64_t id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<OutboxCommand>> LoadCommandsFor(
      const std::string& appointment_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<KeyRow>> LookupKey(const char* scope,
                                                  const std::string& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The appointment a request id of `scope` already made (a replay), or
  // nullopt for a new request; ALREADY_EXISTS if the key was used with
  // another fingerprint.
  absl::StatusOr<std::optional<Appointment>> LoadReplay(
      const char* scope, const std::string& request_id,
      const std::string& fingerprint) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertKey(const char* scope, const std::string& key,
                         const std::string& fingerprint,
                         const std::string& appointment_id, absl::Time now,
                         absl::Time expiry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int64_t> InsertCommand(const std::string& appointment_id,
                                        const std::string& provider_id,
                                        CommandType type, absl::Time due,
                                        absl::Time deadline, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertEvent(const std::string& appointment_id,
                           Appointment::State from, Appointment::State to,
                           const std::string& actor,
                           const std::string& request_id, absl::Time time,
                           const std::string& detail)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One UPDATE of an appointment row: the set fields change, attempt_count
  // grows by `attempts`, the version is bumped. No event (callers add it).
  struct AppointmentUpdate {
    absl::Time now;
    std::optional<Appointment::State> state;
    std::optional<std::string> provider_booking_id;
    std::optional<std::string> failure_reason;
    std::optional<std::string> cancel_reason;
    int attempts = 0;
  };
  absl::Status UpdateAppointment(const std::string& id,
                                 const AppointmentUpdate& u)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks a command DONE without running it (a cancel superseded it).
  absl::Status RetireCommand(int64_t id, absl::Time now,
                             const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Retires each of `commands` whose type is in `types` and that is still
  // queued: PENDING or DEAD, and with `expired_leases_too` also LEASED with
  // a lease expired by `now`. A live lease is never retired: its worker is
  // calling the provider.
  absl::Status RetireQueuedCommands(const std::vector<OutboxCommand>& commands,
                                    absl::Span<const CommandType> types,
                                    absl::Time now, bool expired_leases_too,
                                    const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // PENDING and due at `now`, lease cleared; attempts are kept (they are the
  // evidence that the provider may have seen the command).
  absl::Status RequeueCommandNow(int64_t id, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A lease of `lease_owner` expired without an outcome: its call may have
  // reached the provider, so it counts as an attempt, noted (tagged
  // kLeaseExpiredTag) in last_error and the error history. The caller adds
  // the attempt to the appointment.
  absl::Status CountLostLeaseCall(int64_t id, const std::string& lease_owner,
                                  int64_t fencing_token, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // CompleteCommand's work inside the caller's transaction.
  absl::StatusOr<Appointment> CompleteOne(const CommandOutcome& o)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes `count` new fencing tokens; returns the first (the others follow
  // it in order).
  absl::StatusOr<int64_t> ReserveFencingTokens(int64_t count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckLease(const OutboxCommand& cmd, int64_t fencing_token);
  // Reconciler helpers.
  absl::Status EnsureSeenTable() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ABORTED if any command of the appointment is LEASED past `now`.
  absl::Status CheckNoLiveLease(const std::string& appointment_id,
                                absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appointment, lease and scratch bookings for each of `keys` (in order).
  absl::StatusOr<std::vector<ReconcileItem>> LoadReconcileItems(
      int64_t run_id, const std::vector<std::string>& keys)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Steps `keys_query` (its first column is the key; it selects at most
  // page_size + 1 rows, the extra one only telling that another page
  // follows) and loads the page's items.
  absl::StatusOr<ReconcileItemPage> LoadReconcilePage(
      int64_t run_id, sqlite::Statement& keys_query, int page_size)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  absl::Mutex mu_;
  std::unique_ptr<sqlite::Db> db_ ABSL_GUARDED_BY(mu_);
  // Commits made through this connection: PRAGMA data_version only counts
  // other connections' commits.
  int64_t own_commits_ ABSL_GUARDED_BY(mu_) = 0;
  // The reconciler's TEMP scratch table exists on this connection.
  bool seen_table_ready_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace booking

#endif  // CORE_STORE_SQLITE_STORE_H_
