#include "core/store/sqlite_schema.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "core/common/status_macros.h"

namespace booking::sqlite {
namespace {

// Version 1: appointments, the idempotency keys, the outbox, the audit trail
// and the fencing-token counter. Times are INTEGER UTC milliseconds; enums
// are stored by name so the file reads well in the sqlite3 shell.
constexpr char kV1[] = R"sql(
CREATE TABLE appointments (
  id                   TEXT PRIMARY KEY,  -- time-ordered: keyset pagination
  request_id           TEXT NOT NULL,
  customer_id          TEXT NOT NULL,
  provider_id          TEXT NOT NULL,
  location             TEXT NOT NULL,
  start_ms             INTEGER NOT NULL,
  duration_minutes     INTEGER NOT NULL,
  priority             TEXT NOT NULL,
  patient_name         TEXT NOT NULL,
  patient_email        TEXT NOT NULL,
  patient_phone        TEXT NOT NULL,
  notes                TEXT NOT NULL,
  state                TEXT NOT NULL,
  provider_booking_id  TEXT NOT NULL DEFAULT '',
  attempt_count        INTEGER NOT NULL DEFAULT 0,
  failure_reason       TEXT NOT NULL DEFAULT '',
  cancel_reason        TEXT NOT NULL DEFAULT '',
  version              INTEGER NOT NULL,
  create_ms            INTEGER NOT NULL,
  update_ms            INTEGER NOT NULL
);
CREATE INDEX appointments_by_state    ON appointments (state, id);
CREATE INDEX appointments_by_provider ON appointments (provider_id, id);
CREATE INDEX appointments_by_customer ON appointments (customer_id, id);

CREATE TABLE idempotency_keys (
  scope           TEXT NOT NULL CHECK (scope IN ('create', 'cancel')),
  key             TEXT NOT NULL,
  fingerprint     TEXT NOT NULL,
  appointment_id  TEXT NOT NULL REFERENCES appointments (id),
  create_ms       INTEGER NOT NULL,
  expiry_ms       INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_by_expiry ON idempotency_keys (expiry_ms);

CREATE TABLE outbox (
  id               INTEGER PRIMARY KEY,  -- order of commands per appointment
  appointment_id   TEXT NOT NULL REFERENCES appointments (id),
  provider_id      TEXT NOT NULL,
  command          TEXT NOT NULL
                   CHECK (command IN ('BOOK', 'CANCEL', 'COMPENSATE', 'CONFIRM')),
  status           TEXT NOT NULL
                   CHECK (status IN ('PENDING', 'LEASED', 'DONE', 'DEAD')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms  INTEGER NOT NULL,
  deadline_ms      INTEGER NOT NULL,
  lease_owner      TEXT NOT NULL DEFAULT '',
  lease_expiry_ms  INTEGER NOT NULL DEFAULT 0,
  fencing_token    INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT NOT NULL DEFAULT '',
  -- JSON array of {"time_ms", "attempt", "error"}, oldest first.
  error_history    TEXT NOT NULL DEFAULT '[]',
  create_ms        INTEGER NOT NULL,
  update_ms        INTEGER NOT NULL
);
-- Claim: due PENDING rows, and LEASED rows whose lease ran out.
CREATE INDEX outbox_pending_due ON outbox (status, next_attempt_ms);
CREATE INDEX outbox_lease_expiry ON outbox (status, lease_expiry_ms);
-- Per-appointment ordering (BOOK before CANCEL) and ListCommandsFor.
CREATE INDEX outbox_by_appointment ON outbox (appointment_id, id);

CREATE TABLE appointment_events (
  id              INTEGER PRIMARY KEY,
  appointment_id  TEXT NOT NULL REFERENCES appointments (id),
  from_state      TEXT NOT NULL,
  to_state        TEXT NOT NULL,
  actor           TEXT NOT NULL,
  request_id      TEXT NOT NULL,
  time_ms         INTEGER NOT NULL,
  detail          TEXT NOT NULL
);
CREATE INDEX appointment_events_by_appointment
  ON appointment_events (appointment_id, id);

-- Named monotonic counters; 'fencing_token' hands out lease tokens.
CREATE TABLE counters (
  name   TEXT PRIMARY KEY,
  value  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('fencing_token', 0);
)sql";

// Version 2: the reconciler's history (DESIGN §7): one row per run and one
// per finding, so an operator can see what each run found and did. The
// per-run scratch set of provider bookings is not here: it is a TEMP table
// of the reconciler's connection (see SqliteAppointmentStore).
constexpr char kV2[] = R"sql(
CREATE TABLE reconcile_runs (
  id                         INTEGER PRIMARY KEY,
  started_ms                 INTEGER NOT NULL,
  finished_ms                INTEGER,  -- NULL while running (or if it died)
  mode                       TEXT NOT NULL CHECK (mode IN ('dry-run', 'apply')),
  provider_bookings_scanned  INTEGER NOT NULL DEFAULT 0,
  db_rows_scanned            INTEGER NOT NULL DEFAULT 0,
  findings                   INTEGER NOT NULL DEFAULT 0,
  repaired                   INTEGER NOT NULL DEFAULT 0,
  errors                     INTEGER NOT NULL DEFAULT 0,
  exit_code                  INTEGER,  -- NULL while running (or if it died)
  error                      TEXT NOT NULL DEFAULT ''
);

CREATE TABLE reconcile_findings (
  id              INTEGER PRIMARY KEY,
  run_id          INTEGER NOT NULL REFERENCES reconcile_runs (id),
  class           TEXT NOT NULL,
  appointment_id  TEXT NOT NULL,  -- no foreign key: orphans have no row
  provider_id     TEXT NOT NULL,
  booking_ids     TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
  evidence        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(evidence)),
  action          TEXT NOT NULL,
  outcome         TEXT NOT NULL
                  CHECK (outcome IN ('planned', 'repaired', 'skipped', 'failed')),
  detail          TEXT NOT NULL DEFAULT '',
  time_ms         INTEGER NOT NULL
);
CREATE INDEX reconcile_findings_by_run ON reconcile_findings (run_id, id);
CREATE INDEX reconcile_findings_by_appointment
  ON reconcile_findings (appointment_id, id);
)sql";

}  // namespace

const std::vector<Migration>& SchemaMigrations() {
  static const auto* const migrations = new std::vector<Migration>{
      {1, "appointments, idempotency keys, outbox, events", kV1},
      {2, "reconciler runs and findings", kV2},
  };
  return *migrations;
}

absl::StatusOr<int> SchemaVersion(Db& db) {
  ASSIGN_OR_RETURN(Statement stmt, db.Prepare("PRAGMA user_version"));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError("PRAGMA user_version returned no row");
  return static_cast<int>(stmt.Int(0));
}

absl::Status Migrate(Db& db, absl::Span<const Migration> migrations) {
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return absl::InternalError(
          absl::StrCat("migration step ", i, " has version ",
                       migrations[i].version, ", want ", i + 1));
    }
  }
  // Fast path: readers opening a current database take no write lock.
  ASSIGN_OR_RETURN(int version, SchemaVersion(db));
  if (version == latest) return absl::OkStatus();

  ASSIGN_OR_RETURN(Transaction tx, Transaction::BeginImmediate(&db));
  // Re-read under the write lock: another process may have migrated since.
  ASSIGN_OR_RETURN(version, SchemaVersion(db));
  if (version > latest) {
    return absl::FailedPreconditionError(
        absl::StrCat("database schema version ", version,
                     " is newer than this binary's (", latest, ")"));
  }
  for (const Migration& step : migrations) {
    if (step.version <= version) continue;
    absl::Status status = db.Exec(step.sql);
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat("schema migration ", step.version, " (",
                                       step.name, "): ", status.message()));
    }
    // PRAGMA takes no bound parameters; the value is our own integer.
    RETURN_IF_ERROR(
        db.Exec(absl::StrCat("PRAGMA user_version = ", step.version).c_str()));
  }
  return tx.Commit();
}

}  // namespace booking::sqlite
