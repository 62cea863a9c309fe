#ifndef CORE_STORE_APPOINTMENT_STORE_H_
#define CORE_STORE_APPOINTMENT_STORE_H_

// The persistence boundary shared by api_server, outbox_worker and reconciler.
//
// Every method is one transaction. Errors are absl::Status values:
//   UNAVAILABLE          the database stayed locked past the busy timeout, or
//                        the disk is full / read-only; nothing was written and
//                        the call may be retried.
//   NOT_FOUND            no such appointment / command.
//   ALREADY_EXISTS       an idempotency key reused with other parameters.
//   FAILED_PRECONDITION  the state machine refuses the transition, or a cancel
//                        of a terminal appointment.
//   ABORTED              a compare-and-set lost: the row version or the
//                        fencing token no longer matches (a stale writer).
//   INTERNAL             anything else (corruption, a bug).
// The SQLite implementation is sqlite_store.h; a PostgreSQL one can follow
// behind the same interface (DESIGN §2).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "proto/appointments/v1/appointment_service.pb.h"

namespace booking {

using Appointment = appointments::v1::Appointment;

// ---------------------------------------------------------------- create --

struct CreateIntent {
  std::string request_id;
  // Canonical hash of the request without request_id (domain/fingerprint.h).
  std::string fingerprint;
  // Fully formed by the caller: id (domain/ids.h), fields from the request.
  // The store sets state=PENDING, version=1, create/update times = now.
  Appointment appointment;
  absl::Time now;
  // When the idempotency key may be purged (now + TTL, at least 24 h).
  absl::Time key_expiry;
  // Overall (schedule-to-close) deadline of the BOOK command.
  absl::Time book_deadline;
  // Who asked (for the audit event): e.g. "api".
  std::string actor = "api";
};

struct CreateResult {
  Appointment appointment;
  // True when request_id was seen before with the same fingerprint: no new
  // row was written and `appointment` is the original (as it is now).
  bool replayed = false;
};

// -------------------------------------------------------------- list/get --

struct ListQuery {
  // Filters; unset means "any".
  std::optional<Appointment::State> state;
  std::optional<std::string> provider_id;
  std::optional<std::string> customer_id;
  // Keyset pagination, newest first: only ids strictly less than this.
  std::optional<std::string> before_id;
  int page_size = 100;
};

struct ListPage {
  std::vector<Appointment> appointments;
  // Set when more rows may follow: pass as before_id for the next page.
  std::optional<std::string> next_before_id;
};

// ------------------------------------------------------------ transition --

// A compare-and-set state change with its audit event, in one transaction.
struct Transition {
  std::string appointment_id;
  // The row version the caller read; ABORTED if it moved since.
  int64_t expected_version = 0;
  Appointment::State to = Appointment::STATE_UNSPECIFIED;
  std::string actor;       // "api", "worker:<id>", "reconciler", ...
  std::string request_id;  // for the event; may be empty
  std::string detail;      // free text for the event
  absl::Time now;
  // Optional field updates made together with the state change.
  std::optional<std::string> provider_booking_id;
  std::optional<std::string> failure_reason;
};

// ---------------------------------------------------------------- cancel --

struct CancelIntent {
  std::string appointment_id;
  std::string request_id;
  std::string fingerprint;  // of (id, reason)
  std::string reason;
  absl::Time now;
  absl::Time key_expiry;
  // Overall deadline of the CANCEL command, if one is queued.
  absl::Time cancel_deadline;
};

struct CancelResult {
  Appointment appointment;
  bool replayed = false;
};

// ---------------------------------------------------------------- outbox --

enum class CommandType {
  kBook,        // Book with idempotency key = appointment id.
  kCancel,      // User cancel: cancel by key, then CANCELLED.
  kCompensate,  // System undo: cancel by key, then FAILED.
  kConfirm,     // Poll GetBooking until CONFIRMED/DECLINED or deadline.
};
const char* CommandTypeName(CommandType t);  // "BOOK", "CANCEL", ...

enum class CommandStatus {
  kPending,  // due at next_attempt_time
  kLeased,   // a worker holds it until lease_expiry
  kDone,     // finished (successfully or superseded)
  kDead,     // cannot be processed; an operator may requeue it
};
const char* CommandStatusName(CommandStatus s);  // "PENDING", ...

// Starts the note ClaimDueCommands records when it re-claims an expired
// lease (see there): the lost call may have reached the provider, so a
// worker treats such a BOOK as "maybe booked".
inline constexpr char kLeaseExpiredTag[] = "[lease_expired]";

struct OutboxCommand {
  int64_t id = 0;
  std::string appointment_id;
  std::string provider_id;
  CommandType type = CommandType::kBook;
  CommandStatus status = CommandStatus::kPending;
  int32_t attempts = 0;
  absl::Time next_attempt_time;
  absl::Time deadline;  // schedule-to-close
  std::string lease_owner;
  absl::Time lease_expiry;
  int64_t fencing_token = 0;
  std::string last_error;
  absl::Time create_time;
};

struct ClaimRequest {
  std::string worker_id;
  absl::Time now;
  absl::Duration lease;
  int max_rows = 32;
  // Providers whose breaker is OPEN: their rows are not claimed (and spend no
  // attempts).
  std::vector<std::string> skip_providers;
};

// A leased command and a snapshot of its appointment at claim time.
struct ClaimedCommand {
  OutboxCommand command;  // status kLeased, fresh fencing_token
  Appointment appointment;
};

// What a worker commits after a provider call. Applied only if the command is
// still leased with the same fencing token (else ABORTED): a stale worker's
// late answer is dropped.
struct CommandOutcome {
  int64_t command_id = 0;
  int64_t fencing_token = 0;
  absl::Time now;
  std::string actor;  // "worker:<id>"

  enum class Disposition {
    kDone,        // command finished
    kReschedule,  // try again at next_attempt_time
    kDead,        // give up on the command (error kept in history)
  };
  Disposition disposition = Disposition::kDone;
  absl::Time next_attempt_time;  // for kReschedule
  // Count this call as an attempt (false when the breaker deferred it).
  bool count_attempt = true;
  std::string error;  // appended to the command's error history

  // Optional appointment change, made only if the state machine allows it
  // from the appointment's current state (else the outcome is still
  // recorded on the command and the appointment is left alone: e.g. a BOOK
  // answering after the user's cancel moved it to CANCELLING).
  std::optional<Appointment::State> to_state;
  std::optional<std::string> provider_booking_id;
  std::optional<std::string> failure_reason;
  std::string detail;

  // Optional follow-up command enqueued in the same transaction.
  std::optional<CommandType> enqueue;
  absl::Time enqueue_deadline;
  absl::Time enqueue_at;  // first attempt time of the follow-up
};

// ---------------------------------------------------------------- events --

struct AppointmentEvent {
  int64_t id = 0;
  std::string appointment_id;
  Appointment::State from_state = Appointment::STATE_UNSPECIFIED;
  Appointment::State to_state = Appointment::STATE_UNSPECIFIED;
  std::string actor;
  std::string request_id;
  std::string detail;
  absl::Time time;
};

// ------------------------------------------------------------ reconciler --
// What the reconciler (DESIGN §7) needs beyond the calls above: a per-run
// scratch set of the provider's bookings (kept in the database, not in
// memory, so 100,000 bookings need no 100,000 rows in RAM), pages that join
// it with the appointments, guarded repairs, and the run/finding history.

// One booking as the provider listed it, in the reconciler's scratch set.
// The status is the provider's enum name ("CONFIRMED", "PENDING",
// "DECLINED", "CANCELLED"), so the store needs no provider types.
struct SeenBooking {
  std::string booking_id;
  std::string idempotency_key;  // = appointment id for our bookings
  std::string provider_id;
  std::string status;
  bool live = false;  // CONFIRMED or PENDING at the provider
  absl::Time start_time;
  int32_t duration_minutes = 0;
  std::string location;
  absl::Time create_time;
};

// One idempotency key as the reconciler sees it: the appointment (if a row
// with that id exists), its lease, and the provider's bookings for it.
struct ReconcileItem {
  std::string key;
  std::optional<Appointment> appointment;
  // The latest lease_expiry among the appointment's LEASED commands; a lease
  // is live while it is after now.
  std::optional<absl::Time> lease_expiry;
  // Every booking of the key in the run's scratch set, oldest first
  // (create_time, then booking_id).
  std::vector<SeenBooking> bookings;
};

struct ReconcileItemPage {
  std::vector<ReconcileItem> items;
  // Set when more may follow: pass as `after` for the next page.
  std::optional<std::string> next_after;
};

// A compare-and-set state change by the reconciler, in one transaction:
// refused with ABORTED when the version moved or any command of the
// appointment holds a lease that has not expired at `transition.now`.
struct ReconcileTransition {
  Transition transition;
  // Unfinished commands (PENDING, DEAD, or LEASED with an expired lease) of
  // these types are retired (DONE, last_error = retire_reason): e.g. the
  // CONFIRM poll of an appointment the reconciler confirms.
  std::vector<CommandType> retire;
  std::string retire_reason;
};

// Requeue of a stuck appointment (PENDING, IN_PROGRESS or
// AWAITING_CONFIRMATION): its driving command (BOOK, or CONFIRM while
// AWAITING_CONFIRMATION) is made due now, or enqueued if none is left.
// A command taken from an expired lease has its lost call counted and
// noted, as ClaimDueCommands does.
struct StuckRequeue {
  std::string appointment_id;
  int64_t expected_version = 0;
  absl::Time now;
  // Deadline of a command enqueued because none was left to requeue.
  absl::Time new_command_deadline;
  std::string actor;
  std::string detail;
};

struct StuckRequeueResult {
  int64_t command_id = 0;
  CommandType type = CommandType::kBook;
  // True when a new command was enqueued; else the existing one was
  // requeued and `previous_status` says what it was.
  bool created = false;
  CommandStatus previous_status = CommandStatus::kPending;
  Appointment appointment;  // as it is after (version bumped)
};

// One reconciler run (table reconcile_runs).
struct ReconcileRun {
  int64_t id = 0;
  std::string mode;  // "dry-run" or "apply"
  absl::Time started;
  absl::Time finished;  // InfinitePast() while running (or if it died)
  int64_t provider_bookings_scanned = 0;
  int64_t db_rows_scanned = 0;
  int64_t findings = 0;
  int64_t repaired = 0;
  int64_t errors = 0;
  std::optional<int> exit_code;  // unset while running (or if it died)
  std::string error;             // why the run failed, if it did
};

// One finding of a run (table reconcile_findings).
struct ReconcileFindingRecord {
  int64_t id = 0;  // assigned by the store
  int64_t run_id = 0;
  std::string drift_class;  // "orphan", "provider_lost", ...
  std::string appointment_id;
  std::string provider_id;
  std::vector<std::string> booking_ids;
  std::string evidence_json;  // a JSON object
  std::string action;
  std::string outcome;  // "planned", "repaired", "skipped", "failed"
  std::string detail;
  absl::Time time;
};

// ----------------------------------------------------------------- store --

class AppointmentStore {
 public:
  virtual ~AppointmentStore() = default;

  // Appointment + BOOK outbox row + CREATE event + idempotency key, or a
  // replay / ALREADY_EXISTS decided inside the same transaction.
  virtual absl::StatusOr<CreateResult> CreateAppointment(
      const CreateIntent& intent) = 0;

  // Group commit: all intents in one transaction (one fsync). Each result
  // stands alone (one ALREADY_EXISTS does not fail the others); if the
  // transaction itself fails, every result carries that error. Intents with
  // the same request_id in one batch: the first creates, the rest replay.
  virtual std::vector<absl::StatusOr<CreateResult>> CreateAppointments(
      absl::Span<const CreateIntent> intents) = 0;

  virtual absl::StatusOr<Appointment> GetAppointment(const std::string& id) = 0;

  virtual absl::StatusOr<ListPage> ListAppointments(const ListQuery& q) = 0;

  // Compare-and-set on the row version, validated by the state machine.
  virtual absl::StatusOr<Appointment> TransitionAppointment(
      const Transition& t) = 0;

  // DESIGN §3 / issue 3: PENDING with nothing sent → CANCELLED locally (the
  // queued BOOK is retired); a BOOK that may have reached the provider, or
  // IN_PROGRESS / AWAITING_CONFIRMATION / CONFIRMED → CANCELLING with a
  // CANCEL command queued; CANCELLING → returned as is; terminal or
  // COMPENSATING → FAILED_PRECONDITION; a repeat of request_id replays.
  virtual absl::StatusOr<CancelResult> CancelAppointment(
      const CancelIntent& intent) = 0;

  // Leases due commands (status PENDING and next_attempt_time <= now, or
  // LEASED with an expired lease) in one BEGIN IMMEDIATE transaction, each
  // with a new fencing token. Per appointment, only the oldest unfinished
  // command is claimable (BOOK before CANCEL). Claiming a BOOK moves its
  // appointment PENDING → IN_PROGRESS.
  // Re-claiming an expired lease counts one attempt (on the command and the
  // appointment's attempt_count): the lost holder's call may have reached
  // the provider. last_error and the error history get a note starting
  // with kLeaseExpiredTag.
  virtual absl::StatusOr<std::vector<ClaimedCommand>> ClaimDueCommands(
      const ClaimRequest& req) = 0;

  // Applies a worker's outcome if the fencing token still matches (else
  // ABORTED, and nothing changes). Returns the appointment as it is after.
  virtual absl::StatusOr<Appointment> CompleteCommand(
      const CommandOutcome& outcome) = 0;

  // Group commit of outcomes: one transaction (one fsync) for all, but each
  // result stands alone, as CompleteCommand's would (a stale token fails
  // only its own outcome). A failure of the transaction itself fails all.
  virtual std::vector<absl::StatusOr<Appointment>> CompleteCommands(
      absl::Span<const CommandOutcome> outcomes) = 0;

  // Gives a leased command back (graceful shutdown): PENDING, due now, no
  // attempt counted. ABORTED if the token no longer matches.
  virtual absl::Status ReleaseCommand(int64_t command_id,
                                      int64_t fencing_token) = 0;

  // Operator action: a DEAD command back to PENDING, due at `now`.
  virtual absl::Status RequeueDeadCommand(int64_t command_id,
                                          absl::Time now) = 0;

  virtual absl::StatusOr<OutboxCommand> GetCommand(int64_t command_id) = 0;
  virtual absl::StatusOr<std::vector<OutboxCommand>> ListCommandsFor(
      const std::string& appointment_id) = 0;
  // Keyset page of the commands in `status` with id > after_id, in id order,
  // at most `limit` (e.g. every DEAD row for an operator's requeue).
  // Stores that do not support it answer UNIMPLEMENTED.
  virtual absl::StatusOr<std::vector<OutboxCommand>> ListCommandsByStatus(
      CommandStatus /*status*/, int64_t /*after_id*/, int /*limit*/) {
    return absl::UnimplementedError(
        "ListCommandsByStatus is not supported by this store");
  }
  // Earliest next_attempt_time (or lease expiry) among unfinished commands:
  // lets a worker sleep exactly until work is due.
  virtual absl::StatusOr<std::optional<absl::Time>> NextDueTime() = 0;
  // Number of commands per status (metrics: outbox depth).
  virtual absl::StatusOr<std::vector<std::pair<CommandStatus, int64_t>>>
  CountCommandsByStatus() = 0;

  virtual absl::StatusOr<std::vector<AppointmentEvent>> ListEvents(
      const std::string& appointment_id) = 0;

  // Deletes idempotency keys whose expiry is <= now; returns how many.
  virtual absl::StatusOr<int64_t> PurgeExpiredIdempotencyKeys(
      absl::Time now) = 0;

  // A cheap counter that changes whenever any appointment changes (SQLite:
  // PRAGMA data_version plus this connection's own writes). Watchers poll it
  // and re-read only when it moved.
  virtual absl::StatusOr<int64_t> ChangeCounter() = 0;

  // ------------------------------------------------------- reconciler --
  // Implemented by SqliteAppointmentStore; other stores (test fakes) answer
  // UNIMPLEMENTED unless they override them.

  // Starts a run (mode "dry-run" or "apply"); returns its id.
  virtual absl::StatusOr<int64_t> StartReconcileRun(const std::string& mode,
                                                    absl::Time started);
  // Records how a run ended (every field but id/mode/started is written).
  virtual absl::Status FinishReconcileRun(const ReconcileRun& run);
  // Appends findings, all in one transaction.
  virtual absl::Status RecordReconcileFindings(
      absl::Span<const ReconcileFindingRecord> findings);
  // The newest `limit` runs, newest first.
  virtual absl::StatusOr<std::vector<ReconcileRun>> ListReconcileRuns(
      int limit);
  // A run's findings with id > after_id, in order, at most `limit`.
  virtual absl::StatusOr<std::vector<ReconcileFindingRecord>>
  ListReconcileFindings(int64_t run_id, int64_t after_id, int limit);

  // The run's scratch set of provider bookings. Connection-private
  // (SQLite: a TEMP table), written without the database's write lock, so
  // filling it never blocks the api_server or the workers. Adding a booking
  // id twice keeps the last copy.
  virtual absl::Status AddSeenBookings(int64_t run_id,
                                       absl::Span<const SeenBooking> bookings);
  // Forgets the run's scratch set.
  virtual absl::Status ClearSeenBookings(int64_t run_id);
  // Keys of the scratch set in key order, after `after` (empty: from the
  // start), at most `limit` keys per page, each with its appointment, lease
  // and bookings.
  virtual absl::StatusOr<ReconcileItemPage> ListSeenKeys(
      int64_t run_id, const std::string& after, int limit);
  // Appointments in `state` in id order, after `after` (empty: from the
  // start), at most `limit`, each with its lease and the scratch set's
  // bookings for its id.
  virtual absl::StatusOr<ReconcileItemPage> ListAppointmentsForReconcile(
      int64_t run_id, Appointment::State state, const std::string& after,
      int limit);

  // See ReconcileTransition. Errors as TransitionAppointment, plus ABORTED
  // for a live lease.
  virtual absl::StatusOr<Appointment> ReconcileTransitionAppointment(
      const ReconcileTransition& t);
  // See StuckRequeue. ABORTED for a version mismatch or a live lease,
  // FAILED_PRECONDITION for an appointment in another state, NOT_FOUND.
  virtual absl::StatusOr<StuckRequeueResult> RequeueStuckAppointment(
      const StuckRequeue& r);
};

}  // namespace booking

#endif  // CORE_STORE_APPOINTMENT_STORE_H_
