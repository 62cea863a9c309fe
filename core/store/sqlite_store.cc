#include "core/store/sqlite_store.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/common/status_macros.h"
#include "core/common/time_util.h"
#include "core/domain/state_machine.h"
#include "core/store/sqlite_schema.h"

namespace booking {
namespace {

using sqlite::Statement;
using sqlite::Transaction;
using A = Appointment;

constexpr char kScopeCreate[] = "create";
constexpr char kScopeCancel[] = "cancel";
constexpr char kSuperseded[] = "superseded by cancel";

// Column lists shared by the SELECTs and the row readers below; the readers
// depend on this order.
#define APPOINTMENT_COLUMNS                                                  \
  "id, request_id, customer_id, provider_id, location, start_ms, "           \
  "duration_minutes, priority, patient_name, patient_email, patient_phone, " \
  "notes, state, provider_booking_id, attempt_count, failure_reason, "       \
  "cancel_reason, version, create_ms, update_ms"

#define COMMAND_COLUMNS                                          \
  "id, appointment_id, provider_id, command, status, attempts, " \
  "next_attempt_ms, deadline_ms, lease_owner, lease_expiry_ms, " \
  "fencing_token, last_error, create_ms"

// True for a command `o` that must wait: an older command of the same
// appointment is still unfinished (BOOK before CANCEL).
#define BLOCKED_BY_OLDER                                          \
  "EXISTS (SELECT 1 FROM outbox AS e WHERE e.appointment_id = "   \
  "o.appointment_id AND e.id < o.id AND e.status IN ('PENDING', " \
  "'LEASED'))"

absl::Status Corrupt(absl::string_view what, absl::string_view value) {
  return absl::InternalError(
      absl::StrCat("corrupt row: unknown ", what, " '", value, "'"));
}

absl::StatusOr<A::State> ParseState(const std::string& s) {
  A::State state;
  if (!A::State_Parse(s, &state)) return Corrupt("state", s);
  return state;
}

absl::StatusOr<CommandType> ParseCommandType(const std::string& s) {
  for (CommandType t : {CommandType::kBook, CommandType::kCancel,
                        CommandType::kCompensate, CommandType::kConfirm}) {
    if (s == CommandTypeName(t)) return t;
  }
  return Corrupt("command", s);
}

const std::vector<CommandStatus>& AllCommandStatuses() {
  static const auto* const all = new std::vector<CommandStatus>{
      CommandStatus::kPending, CommandStatus::kLeased, CommandStatus::kDone,
      CommandStatus::kDead};
  return *all;
}

absl::StatusOr<CommandStatus> ParseCommandStatus(const std::string& s) {
  for (CommandStatus st : AllCommandStatuses()) {
    if (s == CommandStatusName(st)) return st;
  }
  return Corrupt("command status", s);
}

// Reads a row selected with APPOINTMENT_COLUMNS.
absl::StatusOr<A> ReadAppointment(const Statement& s) {
  A a;
  a.set_id(s.Text(0));
  a.set_request_id(s.Text(1));
  a.set_customer_id(s.Text(2));
  a.set_provider_id(s.Text(3));
  a.set_location(s.Text(4));
  *a.mutable_start_time() = ToProtoTimestamp(FromDbMillis(s.Int(5)));
  a.set_duration_minutes(static_cast<int32_t>(s.Int(6)));
  A::Priority priority;
  if (!A::Priority_Parse(s.Text(7), &priority)) {
    return Corrupt("priority", s.Text(7));
  }
  a.set_priority(priority);
  a.mutable_patient()->set_display_name(s.Text(8));
  a.mutable_patient()->set_email(s.Text(9));
  a.mutable_patient()->set_phone(s.Text(10));
  a.set_notes(s.Text(11));
  ASSIGN_OR_RETURN(A::State state, ParseState(s.Text(12)));
  a.set_state(state);
  a.set_provider_booking_id(s.Text(13));
  a.set_attempt_count(static_cast<int32_t>(s.Int(14)));
  a.set_failure_reason(s.Text(15));
  a.set_cancel_reason(s.Text(16));
  a.set_version(s.Int(17));
  *a.mutable_create_time() = ToProtoTimestamp(FromDbMillis(s.Int(18)));
  *a.mutable_update_time() = ToProtoTimestamp(FromDbMillis(s.Int(19)));
  return a;
}

// Reads a row selected with COMMAND_COLUMNS.
absl::StatusOr<OutboxCommand> ReadCommand(const Statement& s) {
  OutboxCommand c;
  c.id = s.Int(0);
  c.appointment_id = s.Text(1);
  c.provider_id = s.Text(2);
  ASSIGN_OR_RETURN(c.type, ParseCommandType(s.Text(3)));
  ASSIGN_OR_RETURN(c.status, ParseCommandStatus(s.Text(4)));
  c.attempts = static_cast<int32_t>(s.Int(5));
  c.next_attempt_time = FromDbMillis(s.Int(6));
  c.deadline = FromDbMillis(s.Int(7));
  c.lease_owner = s.Text(8);
  c.lease_expiry = FromDbMillis(s.Int(9));
  c.fencing_token = s.Int(10);
  c.last_error = s.Text(11);
  c.create_time = FromDbMillis(s.Int(12));
  return c;
}

// Reads every row of `s`, selected with COMMAND_COLUMNS.
absl::StatusOr<std::vector<OutboxCommand>> ReadCommands(Statement& s) {
  std::vector<OutboxCommand> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(OutboxCommand c, ReadCommand(s));
    out.push_back(std::move(c));
  }
  return out;
}

// skip_providers as a JSON array of strings for json_each(): a variable-length
// list bound as one parameter instead of SQL built from values.
std::string JsonStringArray(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (const char c : values[i]) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        out += absl::StrFormat("\\u%04x", c);
      } else {
        out += c;
      }
    }
    out += '"';
  }
  out += ']';
  return out;
}

// A BOOK or CONFIRM that would go back to the queue after its appointment
// was handed to a cancel or an undo (CANCELLING, COMPENSATING, terminal) is
// retired instead: the CANCEL/COMPENSATE behind it cancels by idempotency
// key whatever the BOOK may have done, while a re-queued BOOK would block
// that command and call the provider again for nothing.
bool SupersededByUndo(CommandType type, A::State state) {
  return (type == CommandType::kBook || type == CommandType::kConfirm) &&
         (state == A::CANCELLING || state == A::COMPENSATING ||
          IsTerminal(state));
}

std::string SupersededReason(A::State state) {
  return absl::StrCat("superseded: appointment is ", StateName(state));
}

std::string WorkerActor(const std::string& worker_id) {
  return absl::StrCat("worker:", worker_id);
}

// What is recorded when a row whose lease expired is taken back: its holder
// died or stalled, and the call it made (or was about to make) may have
// reached the provider. Counted as an attempt, so a worker that crashes on
// every attempt still runs out of attempts.
std::string LostLeaseNote(const std::string& lease_owner,
                          int64_t fencing_token) {
  return absl::StrCat(kLeaseExpiredTag, " lease of ", WorkerActor(lease_owner),
                      " (token ", fencing_token,
                      ") expired before an outcome was recorded; the call may"
                      " have reached the provider");
}

bool IsLeaseLive(const OutboxCommand& c, absl::Time now) {
  return c.status == CommandStatus::kLeased && c.lease_expiry > now;
}

// WAL: readers never block the writer; the mode is stored in the file.
// Switching a fresh file to WAL needs an exclusive lock, and SQLite reports a
// competing opener (another process opening the same new file) as
// SQLITE_BUSY at once instead of calling the busy handler. So retry here, on
// the real clock like SQLite's own busy handler, up to the busy timeout.
absl::Status EnableWal(sqlite::Db& db, const SqliteOptions& opts) {
  const absl::Time deadline = absl::Now() + opts.busy_timeout;
  absl::Duration pause = absl::Milliseconds(1);
  while (true) {
    absl::StatusOr<std::string> mode = [&]() -> absl::StatusOr<std::string> {
      ASSIGN_OR_RETURN(Statement s, db.Prepare("PRAGMA journal_mode = WAL"));
      ASSIGN_OR_RETURN(bool row, s.Step());
      return row ? s.Text(0) : "";
    }();
    if (mode.ok()) {
      if (*mode == "wal") return absl::OkStatus();
      return absl::FailedPreconditionError(
          absl::StrCat("cannot use WAL journal mode on ", opts.path, " (got '",
                       *mode, "')"));
    }
    if (!absl::IsUnavailable(mode.status()) || absl::Now() >= deadline) {
      return mode.status();
    }
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(50));
  }
}

// Group commit: runs `one` for every item in ONE write transaction (one
// fsync), each inside its own savepoint, so a failing item is undone
// completely without touching the others and every result stands alone. If
// SQLite rolls the whole transaction back by itself (disk full, I/O error:
// the batch's earlier items are gone too) or `commit` fails, every result
// carries that error.
template <typename Result, typename Item, typename One, typename CommitFn>
std::vector<absl::StatusOr<Result>> InOneTransaction(
    sqlite::Db* db, absl::Span<const Item> items, One one, CommitFn commit) {
  using Results = std::vector<absl::StatusOr<Result>>;
  if (items.empty()) return {};
  auto fail_all = [&items](const absl::Status& status) {
    return Results(items.size(), status);
  };
  absl::StatusOr<Transaction> tx = Transaction::BeginImmediate(db);
  if (!tx.ok()) return fail_all(tx.status());
  Results results;
  results.reserve(items.size());
  for (const Item& item : items) {
    absl::StatusOr<sqlite::Savepoint> savepoint = sqlite::Savepoint::Begin(db);
    if (!savepoint.ok()) return fail_all(savepoint.status());
    absl::StatusOr<Result> result = one(item);
    if (!result.ok() && !db->InTransaction()) return fail_all(result.status());
    if (result.ok()) {
      absl::Status released = savepoint->Release();
      if (!released.ok()) return fail_all(released);
    }
    results.push_back(std::move(result));
  }
  absl::Status committed = commit(*tx);
  if (!committed.ok()) return fail_all(committed);
  return results;
}

}  // namespace

// ------------------------------------------------------------------- open --

absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>>
SqliteAppointmentStore::Open(const SqliteOptions& opts) {
  if (opts.path.empty()) {
    return absl::InvalidArgumentError("SqliteOptions.path is empty");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Db> db,
                   sqlite::Db::Open(opts.path, opts.busy_timeout));
  RETURN_IF_ERROR(EnableWal(*db, opts));
  // FULL: an OK from a write means the intent survives a power cut.
  RETURN_IF_ERROR(db->Exec("PRAGMA synchronous = FULL"));
  RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys = ON"));
  if (opts.temp_store_in_memory) {
    RETURN_IF_ERROR(db->Exec("PRAGMA temp_store = MEMORY"));
  }
  RETURN_IF_ERROR(sqlite::Migrate(*db, sqlite::SchemaMigrations()));
  Clock* clock = opts.clock != nullptr ? opts.clock : RealClock();
  return std::unique_ptr<SqliteAppointmentStore>(
      new SqliteAppointmentStore(std::move(db), clock));
}

// ---------------------------------------------------------------- helpers --

absl::Status SqliteAppointmentStore::Commit(Transaction& tx) {
  RETURN_IF_ERROR(tx.Commit());
  ++own_commits_;
  return absl::OkStatus();
}

absl::StatusOr<A> SqliteAppointmentStore::LoadAppointment(
    const std::string& id) {
  ASSIGN_OR_RETURN(Statement s,
                   db_->Prepare("SELECT " APPOINTMENT_COLUMNS
                                " FROM appointments WHERE id = ?1"));
  s.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row)
    return absl::NotFoundError(
        absl::StrCat("appointment '", id, "' not found"));
  return ReadAppointment(s);
}

absl::StatusOr<A> SqliteAppointmentStore::LoadAppointmentAtVersion(
    const std::string& id, int64_t expected_version) {
  ASSIGN_OR_RETURN(A current, LoadAppointment(id));
  if (current.version() != expected_version) {
    return absl::AbortedError(absl::StrCat("version mismatch: expected ",
                                           expected_version, ", found ",
                                           current.version()));
  }
  return current;
}

absl::StatusOr<A> SqliteAppointmentStore::LoadUnleasedAtVersion(
    const std::string& id, int64_t expected_version, absl::Time now) {
  ASSIGN_OR_RETURN(A current, LoadAppointmentAtVersion(id, expected_version));
  RETURN_IF_ERROR(CheckNoLiveLease(current.id(), now));
  return current;
}

absl::Status SqliteAppointmentStore::ApplyTransition(const A& current,
                                                     const Transition& t) {
  RETURN_IF_ERROR(ValidateTransition(current.state(), t.to));
  AppointmentUpdate u;
  u.now = t.now;
  u.state = t.to;
  u.provider_booking_id = t.provider_booking_id;
  u.failure_reason = t.failure_reason;
  RETURN_IF_ERROR(UpdateAppointment(current.id(), u));
  return InsertEvent(current.id(), current.state(), t.to, t.actor, t.request_id,
                     t.now, t.detail);
}

absl::StatusOr<A> SqliteAppointmentStore::ReloadAndCommit(
    Transaction& tx, const std::string& id) {
  ASSIGN_OR_RETURN(A after, LoadAppointment(id));
  RETURN_IF_ERROR(Commit(tx));
  return after;
}

absl::Status SqliteAppointmentStore::CheckAppointmentExists(
    const std::string& id) {
  ASSIGN_OR_RETURN(Statement s,
                   db_->Prepare("SELECT 1 FROM appointments WHERE id = ?1"));
  s.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row)
    return absl::NotFoundError(
        absl::StrCat("appointment '", id, "' not found"));
  return absl::OkStatus();
}

absl::StatusOr<OutboxCommand> SqliteAppointmentStore::LoadCommand(int64_t id) {
  ASSIGN_OR_RETURN(Statement s, db_->Prepare("SELECT " COMMAND_COLUMNS
                                             " FROM outbox WHERE id = ?1"));
  s.Bind(1, id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row)
    return absl::NotFoundError(absl::StrCat("command ", id, " not found"));
  return ReadCommand(s);
}

absl::StatusOr<std::vector<OutboxCommand>>
SqliteAppointmentStore::LoadCommandsFor(const std::string& appointment_id) {
  ASSIGN_OR_RETURN(Statement s,
                   db_->Prepare("SELECT " COMMAND_COLUMNS
                                " FROM outbox WHERE appointment_id = ?1"
                                " ORDER BY id"));
  s.Bind(1, appointment_id);
  return ReadCommands(s);
}

absl::StatusOr<std::optional<SqliteAppointmentStore::KeyRow>>
SqliteAppointmentStore::LookupKey(const char* scope, const std::string& key) {
  // Expired keys still count until PurgeExpiredIdempotencyKeys removes them.
  ASSIGN_OR_RETURN(Statement s,
                   db_->Prepare("SELECT fingerprint, appointment_id"
                                " FROM idempotency_keys"
                                " WHERE scope = ?1 AND key = ?2"));
  s.Bind(1, scope).Bind(2, key);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<KeyRow>();
  return std::optional<KeyRow>(KeyRow{s.Text(0), s.Text(1)});
}

absl::StatusOr<std::optional<A>> SqliteAppointmentStore::LoadReplay(
    const char* scope, const std::string& request_id,
    const std::string& fingerprint) {
  ASSIGN_OR_RETURN(std::optional<KeyRow> key, LookupKey(scope, request_id));
  if (!key.has_value()) return std::optional<A>();
  if (key->fingerprint != fingerprint) {
    return absl::AlreadyExistsError(
        absl::StrCat("request_id '", request_id,
                     "' was already used with different parameters"));
  }
  ASSIGN_OR_RETURN(A current, LoadAppointment(key->appointment_id));
  return std::optional<A>(std::move(current));
}

absl::Status SqliteAppointmentStore::InsertKey(
    const char* scope, const std::string& key, const std::string& fingerprint,
    const std::string& appointment_id, absl::Time now, absl::Time expiry) {
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("INSERT INTO idempotency_keys (scope, key, fingerprint,"
                   " appointment_id, create_ms, expiry_ms)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  s.Bind(1, scope)
      .Bind(2, key)
      .Bind(3, fingerprint)
      .Bind(4, appointment_id)
      .Bind(5, ToDbMillis(now))
      .Bind(6, ToDbMillis(expiry));
  return s.Run();
}

absl::StatusOr<int64_t> SqliteAppointmentStore::InsertCommand(
    const std::string& appointment_id, const std::string& provider_id,
    CommandType type, absl::Time due, absl::Time deadline, absl::Time now) {
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare(
          "INSERT INTO outbox (appointment_id, provider_id, command,"
          " status, next_attempt_ms, deadline_ms, create_ms,"
          " update_ms) VALUES (?1, ?2, ?3, 'PENDING', ?4, ?5, ?6, ?6)"));
  s.Bind(1, appointment_id)
      .Bind(2, provider_id)
      .Bind(3, CommandTypeName(type))
      .Bind(4, ToDbMillis(due))
      .Bind(5, ToDbMillis(deadline))
      .Bind(6, ToDbMillis(now));
  // Not RETURNING: SQLite materialises RETURNING rows in an ephemeral table
  // opened and freed per execution (profiled: ~40% of the create writer's
  // CPU, ADR 0006).
  RETURN_IF_ERROR(s.Run());
  return db_->LastInsertRowId();
}

absl::Status SqliteAppointmentStore::InsertEvent(
    const std::string& appointment_id, A::State from, A::State to,
    const std::string& actor, const std::string& request_id, absl::Time time,
    const std::string& detail) {
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("INSERT INTO appointment_events (appointment_id,"
                   " from_state, to_state, actor, request_id, time_ms, detail)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  s.Bind(1, appointment_id)
      .Bind(2, StateName(from))
      .Bind(3, StateName(to))
      .Bind(4, actor)
      .Bind(5, request_id)
      .Bind(6, ToDbMillis(time))
      .Bind(7, detail);
  return s.Run();
}

absl::Status SqliteAppointmentStore::UpdateAppointment(
    const std::string& id, const AppointmentUpdate& u) {
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("UPDATE appointments SET"
                   " state = COALESCE(?1, state),"
                   " provider_booking_id = COALESCE(?2, provider_booking_id),"
                   " failure_reason = COALESCE(?3, failure_reason),"
                   " cancel_reason = COALESCE(?4, cancel_reason),"
                   " attempt_count = attempt_count + ?5,"
                   " version = version + 1, update_ms = ?6"
                   " WHERE id = ?7"));
  auto bind_opt = [&s](int index, const std::optional<std::string>& v) {
    if (v.has_value()) {
      s.Bind(index, *v);
    } else {
      s.BindNull(index);
    }
  };
  if (u.state.has_value()) {
    s.Bind(1, StateName(*u.state));
  } else {
    s.BindNull(1);
  }
  bind_opt(2, u.provider_booking_id);
  bind_opt(3, u.failure_reason);
  bind_opt(4, u.cancel_reason);
  s.Bind(5, static_cast<int64_t>(u.attempts))
      .Bind(6, ToDbMillis(u.now))
      .Bind(7, id);
  RETURN_IF_ERROR(s.Run());
  if (db_->Changes() != 1) {
    return absl::NotFoundError(
        absl::StrCat("appointment '", id, "' not found"));
  }
  return absl::OkStatus();
}

absl::Status SqliteAppointmentStore::RetireCommand(int64_t id, absl::Time now,
                                                   const std::string& reason) {
  ASSIGN_OR_RETURN(Statement s,
                   db_->Prepare("UPDATE outbox SET status = 'DONE',"
                                " last_error = ?1, update_ms = ?2"
                                " WHERE id = ?3"));
  s.Bind(1, reason).Bind(2, ToDbMillis(now)).Bind(3, id);
  return s.Run();
}

absl::Status SqliteAppointmentStore::RetireQueuedCommands(
    const std::vector<OutboxCommand>& commands,
    absl::Span<const CommandType> types, absl::Time now,
    bool expired_leases_too, const std::string& reason) {
  for (const OutboxCommand& c : commands) {
    if (std::find(types.begin(), types.end(), c.type) == types.end()) continue;
    const bool queued =
        c.status == CommandStatus::kPending || c.status == CommandStatus::kDead;
    const bool expired = expired_leases_too &&
                         c.status == CommandStatus::kLeased &&
                         !IsLeaseLive(c, now);
    if (queued || expired) RETURN_IF_ERROR(RetireCommand(c.id, now, reason));
  }
  return absl::OkStatus();
}

absl::Status SqliteAppointmentStore::RequeueCommandNow(int64_t id,
                                                       absl::Time now) {
  ASSIGN_OR_RETURN(Statement s,
                   db_->Prepare("UPDATE outbox SET status = 'PENDING',"
                                " next_attempt_ms = ?1, lease_owner = '',"
                                " lease_expiry_ms = 0, update_ms = ?1"
                                " WHERE id = ?2"));
  s.Bind(1, ToDbMillis(now)).Bind(2, id);
  return s.Run();
}

absl::Status SqliteAppointmentStore::CountLostLeaseCall(
    int64_t id, const std::string& lease_owner, int64_t fencing_token,
    absl::Time now) {
  // The SET expressions see the old row: attempts + 1 is the new count.
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("UPDATE outbox SET attempts = attempts + 1,"
                   " last_error = ?1, error_history = json_insert("
                   "error_history, '$[#]', json_object('time_ms', ?2,"
                   " 'attempt', attempts + 1, 'error', ?1)),"
                   " update_ms = ?2 WHERE id = ?3"));
  s.Bind(1, LostLeaseNote(lease_owner, fencing_token))
      .Bind(2, ToDbMillis(now))
      .Bind(3, id);
  return s.Run();
}

absl::StatusOr<int64_t> SqliteAppointmentStore::ReserveFencingTokens(
    int64_t count) {
  {  // UPDATE then SELECT rather than RETURNING (see InsertCommand).
    ASSIGN_OR_RETURN(Statement bump,
                     db_->Prepare("UPDATE counters SET value = value + ?1"
                                  " WHERE name = 'fencing_token'"));
    bump.Bind(1, count);
    RETURN_IF_ERROR(bump.Run());
  }
  ASSIGN_OR_RETURN(Statement s, db_->Prepare("SELECT value FROM counters"
                                             " WHERE name = 'fencing_token'"));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::InternalError("fencing_token counter is missing");
  const int64_t last = s.Int(0);
  RETURN_IF_ERROR(s.Run());
  return last - count + 1;
}

absl::Status SqliteAppointmentStore::CheckLease(const OutboxCommand& cmd,
                                                int64_t fencing_token) {
  if (cmd.status == CommandStatus::kLeased &&
      cmd.fencing_token == fencing_token) {
    return absl::OkStatus();
  }
  return absl::AbortedError(absl::StrCat("stale fencing token ", fencing_token,
                                         " for command ", cmd.id, ": it is ",
                                         CommandStatusName(cmd.status),
                                         " with token ", cmd.fencing_token));
}

// ----------------------------------------------------------------- create --

absl::StatusOr<CreateResult> SqliteAppointmentStore::CreateOne(
    const CreateIntent& in) {
  ASSIGN_OR_RETURN(std::optional<A> replayed,
                   LoadReplay(kScopeCreate, in.request_id, in.fingerprint));
  if (replayed.has_value()) {
    return CreateResult{*std::move(replayed), /*replayed=*/true};
  }
  const A& a = in.appointment;
  if (a.id().empty()) {
    return absl::InternalError("CreateIntent.appointment has no id");
  }
  {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("INSERT INTO appointments (" APPOINTMENT_COLUMNS
                     ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                     " ?12, 'PENDING', '', 0, '', '', 1, ?13, ?13)"));
    s.Bind(1, a.id())
        .Bind(2, in.request_id)
        .Bind(3, a.customer_id())
        .Bind(4, a.provider_id())
        .Bind(5, a.location())
        .Bind(6, ToDbMillis(FromProtoTimestamp(a.start_time())))
        .Bind(7, static_cast<int64_t>(a.duration_minutes()))
        .Bind(8, A::Priority_Name(a.priority()))
        .Bind(9, a.patient().display_name())
        .Bind(10, a.patient().email())
        .Bind(11, a.patient().phone())
        .Bind(12, a.notes())
        .Bind(13, ToDbMillis(in.now));
    RETURN_IF_ERROR(s.Run());
  }
  RETURN_IF_ERROR(InsertCommand(a.id(), a.provider_id(), CommandType::kBook,
                                in.now, in.book_deadline, in.now)
                      .status());
  RETURN_IF_ERROR(InsertEvent(a.id(), A::STATE_UNSPECIFIED, A::PENDING,
                              in.actor, in.request_id, in.now, "created"));
  RETURN_IF_ERROR(InsertKey(kScopeCreate, in.request_id, in.fingerprint, a.id(),
                            in.now, in.key_expiry));
  ASSIGN_OR_RETURN(A stored, LoadAppointment(a.id()));
  return CreateResult{std::move(stored), /*replayed=*/false};
}

absl::StatusOr<CreateResult> SqliteAppointmentStore::CreateAppointment(
    const CreateIntent& intent) {
  return std::move(CreateAppointments(absl::MakeConstSpan(&intent, 1))[0]);
}

std::vector<absl::StatusOr<CreateResult>>
SqliteAppointmentStore::CreateAppointments(
    absl::Span<const CreateIntent> intents) {
  absl::MutexLock lock(&mu_);
  return InOneTransaction<CreateResult>(
      db_.get(), intents,
      [this](const CreateIntent& in)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return CreateOne(in); },
      [this](Transaction& tx)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return Commit(tx); });
}

// --------------------------------------------------------------- get/list --

absl::StatusOr<A> SqliteAppointmentStore::GetAppointment(
    const std::string& id) {
  absl::MutexLock lock(&mu_);
  return LoadAppointment(id);
}

absl::StatusOr<ListPage> SqliteAppointmentStore::ListAppointments(
    const ListQuery& q) {
  const int page_size = std::clamp(q.page_size, 1, 1000);
  // The SQL text varies only in which filters are present (at most 16
  // shapes, each prepared once); every value is bound.
  std::vector<std::string> where;
  std::vector<std::string> args;
  if (q.state.has_value()) {
    where.push_back("state = ?");
    args.emplace_back(StateName(*q.state));
  }
  if (q.provider_id.has_value()) {
    where.push_back("provider_id = ?");
    args.push_back(*q.provider_id);
  }
  if (q.customer_id.has_value()) {
    where.push_back("customer_id = ?");
    args.push_back(*q.customer_id);
  }
  if (q.before_id.has_value()) {
    where.push_back("id < ?");
    args.push_back(*q.before_id);
  }
  std::string sql = "SELECT " APPOINTMENT_COLUMNS " FROM appointments";
  if (!where.empty())
    absl::StrAppend(&sql, " WHERE ", absl::StrJoin(where, " AND "));
  absl::StrAppend(&sql, " ORDER BY id DESC LIMIT ?");

  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s, db_->Prepare(sql));
  int index = 1;
  for (const std::string& arg : args) s.Bind(index++, arg);
  // One row more than the page tells whether another page follows.
  s.Bind(index, static_cast<int64_t>(page_size) + 1);
  ListPage page;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    if (static_cast<int>(page.appointments.size()) == page_size) {
      page.next_before_id = page.appointments.back().id();
      break;
    }
    ASSIGN_OR_RETURN(A a, ReadAppointment(s));
    page.appointments.push_back(std::move(a));
  }
  return page;
}

// ------------------------------------------------------------- transition --

absl::StatusOr<A> SqliteAppointmentStore::TransitionAppointment(
    const Transition& t) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_.get()));
  ASSIGN_OR_RETURN(A current, LoadAppointmentAtVersion(t.appointment_id,
                                                       t.expected_version));
  RETURN_IF_ERROR(ApplyTransition(current, t));
  return ReloadAndCommit(tx, current.id());
}

// ----------------------------------------------------------------- cancel --

absl::StatusOr<CancelResult> SqliteAppointmentStore::CancelAppointment(
    const CancelIntent& in) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_.get()));
  ASSIGN_OR_RETURN(std::optional<A> replayed,
                   LoadReplay(kScopeCancel, in.request_id, in.fingerprint));
  if (replayed.has_value()) {
    return CancelResult{*std::move(replayed), /*replayed=*/true};
  }
  ASSIGN_OR_RETURN(A current, LoadAppointment(in.appointment_id));
  switch (current.state()) {
    case A::CANCELLED:
    case A::FAILED:
      return absl::FailedPreconditionError(
          absl::StrCat("appointment ", current.id(), " is already ",
                       StateName(current.state())));
    case A::COMPENSATING:
      return absl::FailedPreconditionError(
          absl::StrCat("appointment ", current.id(),
                       " is COMPENSATING: the system is already undoing it"));
    case A::CANCELLING:
      // Already on its way to CANCELLED; remember the key so a retry
      // replays.
      RETURN_IF_ERROR(InsertKey(kScopeCancel, in.request_id, in.fingerprint,
                                current.id(), in.now, in.key_expiry));
      RETURN_IF_ERROR(Commit(tx));
      return CancelResult{std::move(current), /*replayed=*/false};
    default:
      break;
  }

  // Could the provider have seen a BOOK? Then only a CANCEL by idempotency
  // key makes sure no booking survives. Conservative: any leased command,
  // any counted attempt, or a state past PENDING.
  ASSIGN_OR_RETURN(std::vector<OutboxCommand> commands,
                   LoadCommandsFor(current.id()));
  bool maybe_sent =
      current.state() != A::PENDING || current.attempt_count() > 0;
  for (const OutboxCommand& c : commands) {
    if (c.status == CommandStatus::kLeased || c.attempts > 0) {
      maybe_sent = true;
    }
  }
  // Queued BOOK/CONFIRM work the cancel makes pointless is retired; a leased
  // one stays (its worker is calling the provider) and the CANCEL waits for
  // it through per-appointment ordering.
  RETURN_IF_ERROR(RetireQueuedCommands(
      commands, {CommandType::kBook, CommandType::kConfirm}, in.now,
      /*expired_leases_too=*/false, kSuperseded));
  const A::State to = maybe_sent ? A::CANCELLING : A::CANCELLED;
  RETURN_IF_ERROR(ValidateTransition(current.state(), to));
  std::string detail = "cancelled before any provider call";
  if (maybe_sent) {
    ASSIGN_OR_RETURN(
        int64_t cancel_id,
        InsertCommand(current.id(), current.provider_id(), CommandType::kCancel,
                      in.now, in.cancel_deadline, in.now));
    detail = absl::StrCat("cancel queued as command ", cancel_id);
  }
  AppointmentUpdate u;
  u.now = in.now;
  u.state = to;
  u.cancel_reason = in.reason;
  RETURN_IF_ERROR(UpdateAppointment(current.id(), u));
  RETURN_IF_ERROR(InsertEvent(current.id(), current.state(), to, "api",
                              in.request_id, in.now, detail));
  RETURN_IF_ERROR(InsertKey(kScopeCancel, in.request_id, in.fingerprint,
                            current.id(), in.now, in.key_expiry));
  ASSIGN_OR_RETURN(A after, ReloadAndCommit(tx, current.id()));
  return CancelResult{std::move(after), /*replayed=*/false};
}

// ----------------------------------------------------------------- outbox --

absl::StatusOr<std::vector<ClaimedCommand>>
SqliteAppointmentStore::ClaimDueCommands(const ClaimRequest& req) {
  std::vector<ClaimedCommand> claimed;
  if (req.max_rows <= 0) return claimed;
  const int64_t now_ms = ToDbMillis(req.now);
  const std::string actor = WorkerActor(req.worker_id);
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_.get()));
  // A due row, and for an expired lease who held it.
  struct Due {
    int64_t id;
    bool lost_lease;  // false: a PENDING row
    std::string lease_owner;
    int64_t fencing_token;
  };
  std::vector<Due> due;
  {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare(
            // Two scans, each walking its index (outbox_pending_due,
            // outbox_lease_expiry) in order and stopping after ?3 rows,
            // then merged. One WHERE with an OR of both would collect,
            // check and sort every due row on each claim: O(backlog) per
            // claim, 66% of the worker's CPU in a drain (ADR 0006).
            "SELECT id, status, lease_owner, fencing_token FROM ("
            " SELECT * FROM (SELECT o.id, o.status, o.lease_owner,"
            "   o.fencing_token, o.next_attempt_ms AS due FROM outbox AS o"
            "  WHERE o.status = 'PENDING' AND o.next_attempt_ms <= ?1"
            "   AND o.provider_id NOT IN (SELECT value FROM json_each(?2))"
            "   AND NOT " BLOCKED_BY_OLDER
            "  ORDER BY o.next_attempt_ms, o.id LIMIT ?3)"
            " UNION ALL"
            " SELECT * FROM (SELECT o.id, o.status, o.lease_owner,"
            "   o.fencing_token, o.lease_expiry_ms AS due FROM outbox AS o"
            "  WHERE o.status = 'LEASED' AND o.lease_expiry_ms <= ?1"
            "   AND o.provider_id NOT IN (SELECT value FROM json_each(?2))"
            "   AND NOT " BLOCKED_BY_OLDER
            "  ORDER BY o.lease_expiry_ms, o.id LIMIT ?3))"
            " ORDER BY due, id LIMIT ?3"));
    s.Bind(1, now_ms)
        .Bind(2, JsonStringArray(req.skip_providers))
        .Bind(3, static_cast<int64_t>(req.max_rows));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      due.push_back(Due{s.Int(0), s.Text(1) == "LEASED", s.Text(2), s.Int(3)});
    }
  }
  if (due.empty()) return claimed;  // nothing written: tx rolls back
  // One new token per row, reserved for the whole claim at once.
  ASSIGN_OR_RETURN(int64_t next_token,
                   ReserveFencingTokens(static_cast<int64_t>(due.size())));
  for (const Due& d : due) {
    const int64_t id = d.id;
    const int lost = d.lost_lease ? 1 : 0;
    if (d.lost_lease) {
      RETURN_IF_ERROR(
          CountLostLeaseCall(id, d.lease_owner, d.fencing_token, req.now));
    }
    const int64_t token = next_token++;
    {
      ASSIGN_OR_RETURN(
          Statement s,
          db_->Prepare("UPDATE outbox SET status = 'LEASED', lease_owner = ?1,"
                       " lease_expiry_ms = ?2, fencing_token = ?3,"
                       " update_ms = ?4 WHERE id = ?5"));
      s.Bind(1, req.worker_id)
          .Bind(2, ToDbMillis(req.now + req.lease))
          .Bind(3, token)
          .Bind(4, now_ms)
          .Bind(5, id);
      RETURN_IF_ERROR(s.Run());
    }
    ClaimedCommand c;
    ASSIGN_OR_RETURN(c.command, LoadCommand(id));
    ASSIGN_OR_RETURN(c.appointment, LoadAppointment(c.command.appointment_id));
    const bool start_book = c.command.type == CommandType::kBook &&
                            c.appointment.state() == A::PENDING;
    if (start_book || lost > 0) {
      AppointmentUpdate u;
      u.now = req.now;
      u.attempts = lost;
      if (start_book) u.state = A::IN_PROGRESS;
      RETURN_IF_ERROR(UpdateAppointment(c.appointment.id(), u));
      if (start_book) {
        RETURN_IF_ERROR(InsertEvent(
            c.appointment.id(), A::PENDING, A::IN_PROGRESS, actor, "", req.now,
            absl::StrCat("BOOK command ", id, " claimed, token ", token)));
      }
      ASSIGN_OR_RETURN(c.appointment, LoadAppointment(c.appointment.id()));
    }
    claimed.push_back(std::move(c));
  }
  RETURN_IF_ERROR(Commit(tx));
  return claimed;
}

absl::StatusOr<A> SqliteAppointmentStore::CompleteCommand(
    const CommandOutcome& o) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_.get()));
  ASSIGN_OR_RETURN(A after, CompleteOne(o));
  RETURN_IF_ERROR(Commit(tx));
  return after;
}

std::vector<absl::StatusOr<A>> SqliteAppointmentStore::CompleteCommands(
    absl::Span<const CommandOutcome> outcomes) {
  absl::MutexLock lock(&mu_);
  return InOneTransaction<A>(
      db_.get(), outcomes,
      [this](const CommandOutcome& o)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return CompleteOne(o); },
      [this](Transaction& tx)
          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return Commit(tx); });
}

absl::StatusOr<A> SqliteAppointmentStore::CompleteOne(const CommandOutcome& o) {
  ASSIGN_OR_RETURN(OutboxCommand cmd, LoadCommand(o.command_id));
  RETURN_IF_ERROR(CheckLease(cmd, o.fencing_token));
  ASSIGN_OR_RETURN(A current, LoadAppointment(cmd.appointment_id));

  const int counted = o.count_attempt ? 1 : 0;
  const char* status = "DONE";
  absl::Time next_attempt = cmd.next_attempt_time;
  bool superseded = false;
  switch (o.disposition) {
    case CommandOutcome::Disposition::kDone:
      break;
    case CommandOutcome::Disposition::kReschedule:
      superseded = SupersededByUndo(cmd.type, current.state());
      if (!superseded) {
        status = "PENDING";
        next_attempt = o.next_attempt_time;
      }
      break;
    case CommandOutcome::Disposition::kDead:
      status = "DEAD";
      break;
  }
  {
    // The SET expressions see the old row: attempts + ?2 is the new count.
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare(
            "UPDATE outbox SET status = ?1, attempts = attempts + ?2,"
            " next_attempt_ms = ?3,"
            " lease_owner = CASE WHEN ?1 = 'PENDING' THEN '' ELSE lease_owner"
            " END,"
            " lease_expiry_ms = CASE WHEN ?1 = 'PENDING' THEN 0"
            " ELSE lease_expiry_ms END,"
            " last_error = CASE WHEN ?4 = '' THEN last_error ELSE ?4 END,"
            " error_history = CASE WHEN ?4 = '' THEN error_history"
            " ELSE json_insert(error_history, '$[#]', json_object('time_ms',"
            " ?5, 'attempt', attempts + ?2, 'error', ?4)) END,"
            " update_ms = ?5 WHERE id = ?6"));
    s.Bind(1, status)
        .Bind(2, static_cast<int64_t>(counted))
        .Bind(3, ToDbMillis(next_attempt))
        .Bind(4, o.error)
        .Bind(5, ToDbMillis(o.now))
        .Bind(6, cmd.id);
    RETURN_IF_ERROR(s.Run());
  }
  if (superseded) {
    RETURN_IF_ERROR(
        RetireCommand(cmd.id, o.now, SupersededReason(current.state())));
  }

  // The state machine decides from the state as it is now, not as the
  // worker saw it at claim time (a cancel may have come in between).
  const bool transition = o.to_state.has_value() &&
                          IsTransitionAllowed(current.state(), *o.to_state);
  AppointmentUpdate u;
  u.now = o.now;
  u.attempts = counted;
  if (transition) {
    u.state = *o.to_state;
    u.failure_reason = o.failure_reason;
  }
  // The booking id is worth keeping even when the state is left alone: the
  // CANCEL that follows, and the reconciler, can use it.
  if (o.provider_booking_id.has_value() &&
      *o.provider_booking_id != current.provider_booking_id()) {
    u.provider_booking_id = o.provider_booking_id;
  }
  if (counted > 0 || transition || u.provider_booking_id.has_value()) {
    RETURN_IF_ERROR(UpdateAppointment(current.id(), u));
  }
  if (transition) {
    RETURN_IF_ERROR(InsertEvent(current.id(), current.state(), *o.to_state,
                                o.actor, "", o.now, o.detail));
  }
  if (o.enqueue.has_value()) {
    RETURN_IF_ERROR(InsertCommand(current.id(), cmd.provider_id, *o.enqueue,
                                  o.enqueue_at, o.enqueue_deadline, o.now)
                        .status());
  }
  return LoadAppointment(current.id());
}

absl::Status SqliteAppointmentStore::ReleaseCommand(int64_t command_id,
                                                    int64_t fencing_token) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_.get()));
  ASSIGN_OR_RETURN(OutboxCommand cmd, LoadCommand(command_id));
  RETURN_IF_ERROR(CheckLease(cmd, fencing_token));
  ASSIGN_OR_RETURN(A current, LoadAppointment(cmd.appointment_id));
  if (SupersededByUndo(cmd.type, current.state())) {
    RETURN_IF_ERROR(
        RetireCommand(command_id, now, SupersededReason(current.state())));
    return Commit(tx);
  }
  RETURN_IF_ERROR(RequeueCommandNow(command_id, now));
  // The claim moved the appointment to IN_PROGRESS; nothing was sent under
  // this lease, so it is queued again.
  if (cmd.type == CommandType::kBook && current.state() == A::IN_PROGRESS) {
    AppointmentUpdate u;
    u.now = now;
    u.state = A::PENDING;
    RETURN_IF_ERROR(UpdateAppointment(current.id(), u));
    RETURN_IF_ERROR(InsertEvent(
        current.id(), A::IN_PROGRESS, A::PENDING, WorkerActor(cmd.lease_owner),
        "", now, absl::StrCat("BOOK command ", command_id, " released")));
  }
  return Commit(tx);
}

absl::Status SqliteAppointmentStore::RequeueDeadCommand(int64_t command_id,
                                                        absl::Time now) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_.get()));
  ASSIGN_OR_RETURN(OutboxCommand cmd, LoadCommand(command_id));
  if (cmd.status != CommandStatus::kDead) {
    return absl::FailedPreconditionError(
        absl::StrCat("command ", command_id, " is ",
                     CommandStatusName(cmd.status), ", not DEAD"));
  }
  RETURN_IF_ERROR(RequeueCommandNow(command_id, now));
  return Commit(tx);
}

absl::StatusOr<OutboxCommand> SqliteAppointmentStore::GetCommand(
    int64_t command_id) {
  absl::MutexLock lock(&mu_);
  return LoadCommand(command_id);
}

absl::StatusOr<std::vector<OutboxCommand>>
SqliteAppointmentStore::ListCommandsFor(const std::string& appointment_id) {
  absl::MutexLock lock(&mu_);
  // A read transaction: the existence check and the list see one snapshot.
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginRead(db_.get()));
  RETURN_IF_ERROR(CheckAppointmentExists(appointment_id));
  ASSIGN_OR_RETURN(std::vector<OutboxCommand> commands,
                   LoadCommandsFor(appointment_id));
  RETURN_IF_ERROR(tx.Commit());
  return commands;
}

absl::StatusOr<std::vector<OutboxCommand>>
SqliteAppointmentStore::ListCommandsByStatus(CommandStatus status,
                                             int64_t after_id, int limit) {
  limit = std::clamp(limit, 1, 1000);
  absl::MutexLock lock(&mu_);
  // Primary-key order from after_id: pages stay stable while the caller
  // changes the rows it has seen (e.g. requeues them).
  ASSIGN_OR_RETURN(Statement s,
                   db_->Prepare("SELECT " COMMAND_COLUMNS
                                " FROM outbox WHERE id > ?1 AND status = ?2"
                                " ORDER BY id LIMIT ?3"));
  s.Bind(1, after_id)
      .Bind(2, CommandStatusName(status))
      .Bind(3, static_cast<int64_t>(limit));
  return ReadCommands(s);
}

absl::StatusOr<std::optional<absl::Time>>
SqliteAppointmentStore::NextDueTime() {
  absl::MutexLock lock(&mu_);
  // Commands waiting behind an older one of their appointment are not due:
  // counting them would wake a worker that then claims nothing.
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("SELECT MIN(due) FROM ("
                   " SELECT * FROM (SELECT o.next_attempt_ms AS due"
                   "   FROM outbox AS o WHERE o.status = 'PENDING'"
                   "   AND NOT " BLOCKED_BY_OLDER
                   "   ORDER BY o.next_attempt_ms LIMIT 1)"
                   " UNION ALL"
                   " SELECT * FROM (SELECT o.lease_expiry_ms AS due"
                   "   FROM outbox AS o WHERE o.status = 'LEASED'"
                   "   ORDER BY o.lease_expiry_ms LIMIT 1))"));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row || s.IsNull(0)) return std::optional<absl::Time>();
  return std::optional<absl::Time>(FromDbMillis(s.Int(0)));
}

absl::StatusOr<std::vector<std::pair<CommandStatus, int64_t>>>
SqliteAppointmentStore::CountCommandsByStatus() {
  std::vector<std::pair<CommandStatus, int64_t>> counts;
  for (CommandStatus st : AllCommandStatuses()) counts.emplace_back(st, 0);
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s, db_->Prepare("SELECT status, COUNT(*) FROM"
                                             " outbox GROUP BY status"));
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(CommandStatus st, ParseCommandStatus(s.Text(0)));
    for (auto& [status, count] : counts) {
      if (status == st) count = s.Int(1);
    }
  }
  return counts;
}

// ----------------------------------------------------------------- events --

absl::StatusOr<std::vector<AppointmentEvent>>
SqliteAppointmentStore::ListEvents(const std::string& appointment_id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginRead(db_.get()));
  RETURN_IF_ERROR(CheckAppointmentExists(appointment_id));
  std::vector<AppointmentEvent> events;
  {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("SELECT id, from_state, to_state, actor, request_id,"
                     " time_ms, detail FROM appointment_events"
                     " WHERE appointment_id = ?1 ORDER BY id"));
    s.Bind(1, appointment_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      AppointmentEvent e;
      e.id = s.Int(0);
      e.appointment_id = appointment_id;
      ASSIGN_OR_RETURN(e.from_state, ParseState(s.Text(1)));
      ASSIGN_OR_RETURN(e.to_state, ParseState(s.Text(2)));
      e.actor = s.Text(3);
      e.request_id = s.Text(4);
      e.time = FromDbMillis(s.Int(5));
      e.detail = s.Text(6);
      events.push_back(std::move(e));
    }
  }
  RETURN_IF_ERROR(tx.Commit());
  return events;
}

// ------------------------------------------------------------ maintenance --

absl::StatusOr<int64_t> SqliteAppointmentStore::PurgeExpiredIdempotencyKeys(
    absl::Time now) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_.get()));
  int64_t purged = 0;
  {
    ASSIGN_OR_RETURN(Statement s, db_->Prepare("DELETE FROM idempotency_keys"
                                               " WHERE expiry_ms <= ?1"));
    s.Bind(1, ToDbMillis(now));
    RETURN_IF_ERROR(s.Run());
    purged = db_->Changes();
  }
  RETURN_IF_ERROR(Commit(tx));
  return purged;
}

absl::StatusOr<int64_t> SqliteAppointmentStore::ChangeCounter() {
  absl::MutexLock lock(&mu_);
  // data_version moves when another connection commits; own_commits_ when
  // this one does. Both only grow, so their sum does too.
  ASSIGN_OR_RETURN(Statement s, db_->Prepare("PRAGMA data_version"));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::InternalError("PRAGMA data_version returned no row");
  return s.Int(0) + own_commits_;
}

// ------------------------------------------------------------- reconciler --

namespace {

constexpr char kSeenTableDdl[] = R"sql(
CREATE TEMP TABLE IF NOT EXISTS reconcile_seen (
  run_id            INTEGER NOT NULL,
  provider_id       TEXT NOT NULL,
  booking_id        TEXT NOT NULL,
  idempotency_key   TEXT NOT NULL,
  status            TEXT NOT NULL,
  live              INTEGER NOT NULL,
  start_ms          INTEGER NOT NULL,
  duration_minutes  INTEGER NOT NULL,
  location          TEXT NOT NULL,
  create_ms         INTEGER NOT NULL,
  PRIMARY KEY (run_id, provider_id, booking_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS temp.reconcile_seen_by_key
  ON reconcile_seen (run_id, idempotency_key, create_ms, booking_id);
)sql";

#define RUN_COLUMNS                                                \
  "id, mode, started_ms, finished_ms, provider_bookings_scanned, " \
  "db_rows_scanned, findings, repaired, errors, exit_code, error"

ReconcileRun ReadRun(const Statement& s) {
  ReconcileRun r;
  r.id = s.Int(0);
  r.mode = s.Text(1);
  r.started = FromDbMillis(s.Int(2));
  r.finished = s.IsNull(3) ? absl::InfinitePast() : FromDbMillis(s.Int(3));
  r.provider_bookings_scanned = s.Int(4);
  r.db_rows_scanned = s.Int(5);
  r.findings = s.Int(6);
  r.repaired = s.Int(7);
  r.errors = s.Int(8);
  if (!s.IsNull(9)) r.exit_code = static_cast<int>(s.Int(9));
  r.error = s.Text(10);
  return r;
}

}  // namespace

absl::Status SqliteAppointmentStore::EnsureSeenTable() {
  if (seen_table_ready_) return absl::OkStatus();
  RETURN_IF_ERROR(db_->Exec(kSeenTableDdl));
  seen_table_ready_ = true;
  return absl::OkStatus();
}

absl::Status SqliteAppointmentStore::CheckNoLiveLease(
    const std::string& appointment_id, absl::Time now) {
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("SELECT id, lease_owner, lease_expiry_ms"
                   " FROM outbox WHERE appointment_id = ?1"
                   " AND status = 'LEASED' AND lease_expiry_ms > ?2"
                   " ORDER BY id LIMIT 1"));
  s.Bind(1, appointment_id).Bind(2, ToDbMillis(now));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::OkStatus();
  return absl::AbortedError(absl::StrCat(
      "appointment ", appointment_id, " is leased: command ", s.Int(0),
      " held by '", s.Text(1), "' until ",
      absl::FormatTime(FromDbMillis(s.Int(2)), absl::UTCTimeZone())));
}

absl::StatusOr<int64_t> SqliteAppointmentStore::StartReconcileRun(
    const std::string& mode, absl::Time started) {
  if (mode != "dry-run" && mode != "apply") {
    return absl::InvalidArgumentError(
        absl::StrCat("reconcile mode '", mode, "' is not dry-run or apply"));
  }
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_.get()));
  int64_t id = 0;
  {
    ASSIGN_OR_RETURN(Statement s,
                     db_->Prepare("INSERT INTO reconcile_runs (started_ms,"
                                  " mode) VALUES (?1, ?2) RETURNING id"));
    s.Bind(1, ToDbMillis(started)).Bind(2, mode);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::InternalError("INSERT INTO reconcile_runs: no id");
    id = s.Int(0);
    RETURN_IF_ERROR(s.Run());
  }
  RETURN_IF_ERROR(Commit(tx));
  return id;
}

absl::Status SqliteAppointmentStore::FinishReconcileRun(
    const ReconcileRun& run) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_.get()));
  {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("UPDATE reconcile_runs SET finished_ms = ?1,"
                     " provider_bookings_scanned = ?2, db_rows_scanned = ?3,"
                     " findings = ?4, repaired = ?5, errors = ?6,"
                     " exit_code = ?7, error = ?8 WHERE id = ?9"));
    if (run.finished == absl::InfinitePast()) {
      s.BindNull(1);
    } else {
      s.Bind(1, ToDbMillis(run.finished));
    }
    s.Bind(2, run.provider_bookings_scanned)
        .Bind(3, run.db_rows_scanned)
        .Bind(4, run.findings)
        .Bind(5, run.repaired)
        .Bind(6, run.errors);
    if (run.exit_code.has_value()) {
      s.Bind(7, static_cast<int64_t>(*run.exit_code));
    } else {
      s.BindNull(7);
    }
    s.Bind(8, run.error).Bind(9, run.id);
    RETURN_IF_ERROR(s.Run());
    if (db_->Changes() != 1) {
      return absl::NotFoundError(
          absl::StrCat("reconcile run ", run.id, " not found"));
    }
  }
  return Commit(tx);
}

absl::Status SqliteAppointmentStore::RecordReconcileFindings(
    absl::Span<const ReconcileFindingRecord> findings) {
  if (findings.empty()) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_.get()));
  for (const ReconcileFindingRecord& f : findings) {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("INSERT INTO reconcile_findings (run_id, class,"
                     " appointment_id, provider_id, booking_ids, evidence,"
                     " action, outcome, detail, time_ms)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
    s.Bind(1, f.run_id)
        .Bind(2, f.drift_class)
        .Bind(3, f.appointment_id)
        .Bind(4, f.provider_id)
        .Bind(5, JsonStringArray(f.booking_ids))
        .Bind(6, f.evidence_json.empty() ? std::string("{}") : f.evidence_json)
        .Bind(7, f.action)
        .Bind(8, f.outcome)
        .Bind(9, f.detail)
        .Bind(10, ToDbMillis(f.time));
    RETURN_IF_ERROR(s.Run());
  }
  return Commit(tx);
}

absl::StatusOr<std::vector<ReconcileRun>>
SqliteAppointmentStore::ListReconcileRuns(int limit) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement s,
                   db_->Prepare("SELECT " RUN_COLUMNS " FROM reconcile_runs"
                                " ORDER BY id DESC LIMIT ?1"));
  s.Bind(1, static_cast<int64_t>(std::max(limit, 0)));
  std::vector<ReconcileRun> runs;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    runs.push_back(ReadRun(s));
  }
  return runs;
}

absl::StatusOr<std::vector<ReconcileFindingRecord>>
SqliteAppointmentStore::ListReconcileFindings(int64_t run_id, int64_t after_id,
                                              int limit) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginRead(db_.get()));
  std::vector<ReconcileFindingRecord> out;
  {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("SELECT id, class, appointment_id, provider_id,"
                     " booking_ids, evidence, action, outcome, detail,"
                     " time_ms FROM reconcile_findings"
                     " WHERE run_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"));
    s.Bind(1, run_id)
        .Bind(2, after_id)
        .Bind(3, static_cast<int64_t>(std::max(limit, 0)));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ReconcileFindingRecord f;
      f.id = s.Int(0);
      f.run_id = run_id;
      f.drift_class = s.Text(1);
      f.appointment_id = s.Text(2);
      f.provider_id = s.Text(3);
      f.evidence_json = s.Text(5);
      f.action = s.Text(6);
      f.outcome = s.Text(7);
      f.detail = s.Text(8);
      f.time = FromDbMillis(s.Int(9));
      // The booking ids are a JSON array; SQLite parses it.
      ASSIGN_OR_RETURN(Statement ids,
                       db_->Prepare("SELECT value FROM json_each(?1)"));
      ids.Bind(1, s.Text(4));
      while (true) {
        ASSIGN_OR_RETURN(bool id_row, ids.Step());
        if (!id_row) break;
        f.booking_ids.push_back(ids.Text(0));
      }
      out.push_back(std::move(f));
    }
  }
  RETURN_IF_ERROR(tx.Commit());
  return out;
}

absl::Status SqliteAppointmentStore::AddSeenBookings(
    int64_t run_id, absl::Span<const SeenBooking> bookings) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureSeenTable());
  if (bookings.empty()) return absl::OkStatus();
  // Deferred, and only the temp database is written: the shared file's
  // write lock is never taken, so api_server and workers are not blocked.
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginRead(db_.get()));
  for (const SeenBooking& b : bookings) {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("INSERT OR REPLACE INTO temp.reconcile_seen (run_id,"
                     " provider_id, booking_id, idempotency_key, status, live,"
                     " start_ms, duration_minutes, location, create_ms)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
    s.Bind(1, run_id)
        .Bind(2, b.provider_id)
        .Bind(3, b.booking_id)
        .Bind(4, b.idempotency_key)
        .Bind(5, b.status)
        .Bind(6, static_cast<int64_t>(b.live ? 1 : 0))
        .Bind(7, ToDbMillis(b.start_time))
        .Bind(8, static_cast<int64_t>(b.duration_minutes))
        .Bind(9, b.location)
        .Bind(10, ToDbMillis(b.create_time));
    RETURN_IF_ERROR(s.Run());
  }
  return tx.Commit();
}

absl::Status SqliteAppointmentStore::ClearSeenBookings(int64_t run_id) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureSeenTable());
  ASSIGN_OR_RETURN(Statement s, db_->Prepare("DELETE FROM temp.reconcile_seen"
                                             " WHERE run_id = ?1"));
  s.Bind(1, run_id);
  return s.Run();
}

absl::StatusOr<std::vector<ReconcileItem>>
SqliteAppointmentStore::LoadReconcileItems(
    int64_t run_id, const std::vector<std::string>& keys) {
  std::vector<ReconcileItem> items(keys.size());
  absl::flat_hash_map<std::string, size_t> index;
  for (size_t i = 0; i < keys.size(); ++i) {
    items[i].key = keys[i];
    index[keys[i]] = i;
  }
  // The variable-length key list is bound as one JSON array.
  const std::string json_keys = JsonStringArray(keys);
  {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("SELECT " APPOINTMENT_COLUMNS
                     ", (SELECT MAX(o.lease_expiry_ms) FROM outbox AS o"
                     "   WHERE o.appointment_id = a.id"
                     "   AND o.status = 'LEASED')"
                     " FROM appointments AS a"
                     " WHERE a.id IN (SELECT value FROM json_each(?1))"));
    s.Bind(1, json_keys);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(A a, ReadAppointment(s));
      auto it = index.find(a.id());
      if (it == index.end()) continue;
      ReconcileItem& item = items[it->second];
      if (!s.IsNull(20)) item.lease_expiry = FromDbMillis(s.Int(20));
      item.appointment = std::move(a);
    }
  }
  {
    ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare("SELECT booking_id, idempotency_key, provider_id, status,"
                     " live, start_ms, duration_minutes, location, create_ms"
                     " FROM temp.reconcile_seen WHERE run_id = ?1"
                     " AND idempotency_key IN (SELECT value FROM json_each(?2))"
                     " ORDER BY idempotency_key, create_ms, booking_id"));
    s.Bind(1, run_id).Bind(2, json_keys);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      SeenBooking b;
      b.booking_id = s.Text(0);
      b.idempotency_key = s.Text(1);
      b.provider_id = s.Text(2);
      b.status = s.Text(3);
      b.live = s.Int(4) != 0;
      b.start_time = FromDbMillis(s.Int(5));
      b.duration_minutes = static_cast<int32_t>(s.Int(6));
      b.location = s.Text(7);
      b.create_time = FromDbMillis(s.Int(8));
      auto it = index.find(b.idempotency_key);
      if (it == index.end()) continue;
      items[it->second].bookings.push_back(std::move(b));
    }
  }
  return items;
}

absl::StatusOr<ReconcileItemPage> SqliteAppointmentStore::LoadReconcilePage(
    int64_t run_id, Statement& keys_query, int page_size) {
  std::vector<std::string> keys;
  ReconcileItemPage page;
  while (true) {
    ASSIGN_OR_RETURN(bool row, keys_query.Step());
    if (!row) break;
    if (static_cast<int>(keys.size()) == page_size) {
      page.next_after = keys.back();
      break;
    }
    keys.push_back(keys_query.Text(0));
  }
  ASSIGN_OR_RETURN(page.items, LoadReconcileItems(run_id, keys));
  return page;
}

absl::StatusOr<ReconcileItemPage> SqliteAppointmentStore::ListSeenKeys(
    int64_t run_id, const std::string& after, int limit) {
  const int page_size = std::clamp(limit, 1, 10000);
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureSeenTable());
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginRead(db_.get()));
  ASSIGN_OR_RETURN(
      Statement s,
      db_->Prepare("SELECT DISTINCT idempotency_key FROM temp.reconcile_seen"
                   " WHERE run_id = ?1 AND idempotency_key > ?2"
                   " ORDER BY idempotency_key LIMIT ?3"));
  s.Bind(1, run_id).Bind(2, after).Bind(3, static_cast<int64_t>(page_size) + 1);
  ASSIGN_OR_RETURN(ReconcileItemPage page,
                   LoadReconcilePage(run_id, s, page_size));
  RETURN_IF_ERROR(tx.Commit());
  return page;
}

absl::StatusOr<ReconcileItemPage>
SqliteAppointmentStore::ListAppointmentsForReconcile(int64_t run_id,
                                                     A::State state,
                                                     const std::string& after,
                                                     int limit) {
  const int page_size = std::clamp(limit, 1, 10000);
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(EnsureSeenTable());
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginRead(db_.get()));
  ASSIGN_OR_RETURN(Statement s, db_->Prepare("SELECT id FROM appointments"
                                             " WHERE state = ?1 AND id > ?2"
                                             " ORDER BY id LIMIT ?3"));
  s.Bind(1, StateName(state))
      .Bind(2, after)
      .Bind(3, static_cast<int64_t>(page_size) + 1);
  ASSIGN_OR_RETURN(ReconcileItemPage page,
                   LoadReconcilePage(run_id, s, page_size));
  RETURN_IF_ERROR(tx.Commit());
  return page;
}

absl::StatusOr<A> SqliteAppointmentStore::ReconcileTransitionAppointment(
    const ReconcileTransition& rt) {
  const Transition& t = rt.transition;
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_.get()));
  ASSIGN_OR_RETURN(A current, LoadUnleasedAtVersion(t.appointment_id,
                                                    t.expected_version, t.now));
  RETURN_IF_ERROR(ApplyTransition(current, t));
  if (!rt.retire.empty()) {
    ASSIGN_OR_RETURN(std::vector<OutboxCommand> commands,
                     LoadCommandsFor(current.id()));
    // A live lease was refused above; a LEASED row here has expired.
    RETURN_IF_ERROR(RetireQueuedCommands(commands, rt.retire, t.now,
                                         /*expired_leases_too=*/true,
                                         rt.retire_reason));
  }
  return ReloadAndCommit(tx, current.id());
}

absl::StatusOr<StuckRequeueResult>
SqliteAppointmentStore::RequeueStuckAppointment(const StuckRequeue& r) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(db_.get()));
  ASSIGN_OR_RETURN(A current, LoadUnleasedAtVersion(r.appointment_id,
                                                    r.expected_version, r.now));
  StuckRequeueResult result;
  switch (current.state()) {
    case A::PENDING:
    case A::IN_PROGRESS:
      result.type = CommandType::kBook;
      break;
    case A::AWAITING_CONFIRMATION:
      result.type = CommandType::kConfirm;
      break;
    default:
      return absl::FailedPreconditionError(absl::StrCat(
          "appointment ", current.id(), " is ", StateName(current.state()),
          ": only PENDING, IN_PROGRESS and AWAITING_CONFIRMATION"
          " can be requeued"));
  }
  ASSIGN_OR_RETURN(std::vector<OutboxCommand> commands,
                   LoadCommandsFor(current.id()));
  const OutboxCommand* existing = nullptr;
  for (const OutboxCommand& c : commands) {
    if (c.type == result.type && c.status != CommandStatus::kDone) {
      existing = &c;
      break;
    }
  }
  // A LEASED one here has an expired lease (checked above): its call is
  // counted and noted as in ClaimDueCommands. Attempts are kept either way:
  // they are the evidence that the provider may have seen the command (see
  // CancelAppointment).
  int lost = 0;
  if (existing != nullptr) {
    if (existing->status == CommandStatus::kLeased) {
      lost = 1;
      RETURN_IF_ERROR(CountLostLeaseCall(existing->id, existing->lease_owner,
                                         existing->fencing_token, r.now));
    }
    RETURN_IF_ERROR(RequeueCommandNow(existing->id, r.now));
    result.command_id = existing->id;
    result.previous_status = existing->status;
  } else {
    ASSIGN_OR_RETURN(
        result.command_id,
        InsertCommand(current.id(), current.provider_id(), result.type, r.now,
                      r.new_command_deadline, r.now));
    result.created = true;
  }
  // The state stays; the version moves (a concurrent writer's CAS sees the
  // change) and the audit trail says what was done.
  AppointmentUpdate u;
  u.now = r.now;
  u.attempts = lost;
  RETURN_IF_ERROR(UpdateAppointment(current.id(), u));
  std::string what =
      result.created
          ? absl::StrCat("enqueued ", CommandTypeName(result.type), " command ",
                         result.command_id)
          : absl::StrCat("requeued ", CommandTypeName(result.type), " command ",
                         result.command_id, " (was ",
                         CommandStatusName(result.previous_status), ")");
  RETURN_IF_ERROR(InsertEvent(
      current.id(), current.state(), current.state(), r.actor, "", r.now,
      r.detail.empty() ? what : absl::StrCat(r.detail, ": ", what)));
  ASSIGN_OR_RETURN(result.appointment, ReloadAndCommit(tx, current.id()));
  return result;
}

#undef RUN_COLUMNS

#undef APPOINTMENT_COLUMNS
#undef COMMAND_COLUMNS
#undef BLOCKED_BY_OLDER

}  // namespace booking
