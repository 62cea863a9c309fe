#include "core/store/sqlite_db.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace booking::sqlite {

absl::Status StatusFromSqlite(int rc, absl::string_view message,
                              absl::Duration busy_timeout) {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return absl::OkStatus();
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      // The message callers (and their clients) see: the request may be
      // retried with the same request_id.
      return absl::UnavailableError(absl::StrCat(
          "database is locked (busy timeout ",
          absl::ToInt64Milliseconds(busy_timeout), " ms exceeded)"));
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(
          absl::StrCat("sqlite error ", rc, ": ", message));
  }
}

// ---------------------------------------------------------------- Statement

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(std::exchange(other.in_use_, nullptr)),
      bind_rc_(other.bind_rc_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  if (in_use_ != nullptr) {
    *in_use_ = false;
  } else {
    sqlite3_finalize(stmt_);
  }
}

void Statement::Check(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

Statement& Statement::Bind(int index, int64_t value) {
  Check(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::Bind(int index, absl::string_view value) {
  // SQLITE_TRANSIENT: SQLite copies, so temporaries are safe to pass.
  Check(sqlite3_bind_text(stmt_, index, value.data(),
                          static_cast<int>(value.size()), SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::BindNull(int index) {
  Check(sqlite3_bind_null(stmt_, index));
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) return db_->Error(bind_rc_);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc);
}

absl::Status Statement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

int64_t Statement::Int(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

// ----------------------------------------------------------------------- Db

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path,
                                             absl::Duration busy_timeout) {
  sqlite3* raw = nullptr;
  // NOMUTEX: the owner serialises all use of the connection.
  const int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = StatusFromSqlite(
        rc,
        absl::StrCat("cannot open ", path, ": ",
                     raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)),
        busy_timeout);
    sqlite3_close(raw);
    return status;
  }
  sqlite3_extended_result_codes(raw, 1);
  auto db = std::unique_ptr<Db>(new Db(raw, busy_timeout));
  // Not sqlite3_busy_timeout: its handler sleeps 1, 2, 5, 10, 15, 20, 25,
  // 25, 25, 50, 50, 100 ms between tries, so a writer that finds the lock
  // held for one fsync (~0.5 ms) often sleeps 10-25 ms; profiled between
  // api_server and outbox_worker (ADR 0006).
  sqlite3_busy_handler(raw, &Db::OnBusy, db.get());
  return db;
}

int Db::OnBusy(void* arg, int tries) {
  Db* db = static_cast<Db*>(arg);
  const absl::Time now = absl::Now();
  if (tries == 0) db->busy_since_ = now;
  if (now - db->busy_since_ >= db->busy_timeout_) return 0;  // SQLITE_BUSY
  // 50 us, growing to 1 ms: a commit holds the lock for about one fsync.
  absl::SleepFor(absl::Microseconds(std::min(50 * (tries + 1), 1000)));
  return 1;
}

Db::~Db() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  sqlite3_close(db_);
}

absl::StatusOr<Statement> Db::Prepare(absl::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second.in_use) {
    it->second.in_use = true;
    return Statement(this, it->second.stmt, &it->second.in_use);
  }
  sqlite3_stmt* stmt = nullptr;
  const bool cache = it == cache_.end();
  const int rc =
      sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                         cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(rc);
  }
  if (!cache) return Statement(this, stmt, nullptr);
  Cached& slot = cache_[std::string(sql)];
  slot.stmt = stmt;
  slot.in_use = true;
  return Statement(this, stmt, &slot.in_use);
}

absl::Status Db::Exec(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc);
  return absl::OkStatus();
}

absl::Status Db::Error(int rc) const {
  return StatusFromSqlite(rc, sqlite3_errmsg(db_), busy_timeout_);
}

bool Db::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

int64_t Db::Changes() const { return sqlite3_changes64(db_); }

int64_t Db::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

// -------------------------------------------------------------- Transaction

absl::StatusOr<Transaction> Transaction::BeginImmediate(Db* db) {
  absl::Status status = db->Exec("BEGIN IMMEDIATE");
  if (!status.ok()) return status;
  return Transaction(db);
}

absl::StatusOr<Transaction> Transaction::BeginRead(Db* db) {
  absl::Status status = db->Exec("BEGIN DEFERRED");
  if (!status.ok()) return status;
  return Transaction(db);
}

Transaction::~Transaction() {
  // SQLite may already have rolled the transaction back (e.g. after
  // SQLITE_FULL); a second ROLLBACK would only fail.
  if (open_ && db_->InTransaction()) {
    db_->Exec("ROLLBACK").IgnoreError();
  }
}

absl::Status Transaction::Commit() {
  absl::Status status = db_->Exec("COMMIT");
  if (status.ok()) open_ = false;
  return status;  // on failure the destructor rolls back
}

// ---------------------------------------------------------------- Savepoint

// SAVEPOINT and RELEASE run once per intent of a batch: cached statements,
// where Exec would parse the SQL every time.
absl::StatusOr<Savepoint> Savepoint::Begin(Db* db) {
  absl::StatusOr<Statement> begin = db->Prepare("SAVEPOINT step");
  if (!begin.ok()) return begin.status();
  absl::Status status = begin->Run();
  if (!status.ok()) return status;
  return Savepoint(db);
}

Savepoint::~Savepoint() {
  if (open_ && db_->InTransaction()) {
    db_->Exec("ROLLBACK TO step").IgnoreError();
    db_->Exec("RELEASE step").IgnoreError();
  }
}

absl::Status Savepoint::Release() {
  absl::StatusOr<Statement> release = db_->Prepare("RELEASE step");
  absl::Status status = release.ok() ? release->Run() : release.status();
  if (status.ok()) open_ = false;
  return status;
}

}  // namespace booking::sqlite
