#ifndef CORE_STORE_SQLITE_DB_H_
#define CORE_STORE_SQLITE_DB_H_

// A thin layer over the raw sqlite3 C API: one connection, a cache of
// prepared statements, RAII transactions/savepoints and the mapping of SQLite
// result codes to absl::Status. Not thread-safe: the owner serialises access
// (SqliteAppointmentStore holds a mutex around its Db).

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace booking::sqlite {

// SQLITE_BUSY/LOCKED → UNAVAILABLE "database is locked (busy timeout N ms
// exceeded)"; FULL/IOERR/READONLY/CANTOPEN → UNAVAILABLE with `message`;
// anything else → INTERNAL. Accepts extended result codes.
absl::Status StatusFromSqlite(int rc, absl::string_view message,
                              absl::Duration busy_timeout);

class Db;

// One use of a prepared statement: bind, step, read columns. On destruction
// the statement is reset (releasing its read snapshot) and its bindings are
// cleared, so the cached statement is ready for its next use. Parameter and
// column indexes follow SQLite: parameters from 1, columns from 0.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  // Bind errors are remembered and reported by the next Step()/Run().
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, absl::string_view value);
  Statement& BindNull(int index);

  // True when a row is ready to read, false when the statement is done.
  absl::StatusOr<bool> Step();
  // Steps to the end, ignoring rows (INSERT/UPDATE/DELETE).
  absl::Status Run();

  int64_t Int(int column) const;
  std::string Text(int column) const;  // "" for NULL
  bool IsNull(int column) const;

 private:
  friend class Db;
  Statement(Db* db, sqlite3_stmt* stmt, bool* in_use)
      : db_(db), stmt_(stmt), in_use_(in_use) {}
  void Check(int rc);

  Db* db_;
  sqlite3_stmt* stmt_;
  // The cache slot's busy flag, or null for a one-off statement (its SQL was
  // already in use by an enclosing Statement) that is finalized at the end.
  bool* in_use_;
  int bind_rc_ = SQLITE_OK;
};

class Db {
 public:
  // Opens (creating if needed) the database file. No PRAGMAs are set here.
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path,
                                                  absl::Duration busy_timeout);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // A cached prepared statement for `sql` (prepared once, with
  // SQLITE_PREPARE_PERSISTENT). If that statement is already in use by an
  // enclosing Statement, a one-off statement is prepared instead.
  absl::StatusOr<Statement> Prepare(absl::string_view sql);

  // Runs SQL that takes no parameters (BEGIN, COMMIT, PRAGMA, DDL); may hold
  // several statements.
  absl::Status Exec(const char* sql);

  // The status for a failed call that returned `rc` on this connection.
  absl::Status Error(int rc) const;

  // True while a transaction is open (SQLite may roll one back by itself
  // after SQLITE_FULL, SQLITE_IOERR, ...).
  bool InTransaction() const;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t Changes() const;
  // rowid of the last successful INSERT on this connection.
  int64_t LastInsertRowId() const;
  absl::Duration busy_timeout() const { return busy_timeout_; }
  sqlite3* raw() { return db_; }

 private:
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  Db(sqlite3* db, absl::Duration busy_timeout)
      : db_(db), busy_timeout_(busy_timeout) {}
  // sqlite3_busy_handler callback: waits in short steps until the lock is
  // free or busy_timeout_ has passed since the first try.
  static int OnBusy(void* db, int tries);

  sqlite3* db_;
  absl::Duration busy_timeout_;
  // When the current wait for a lock began (OnBusy with tries == 0).
  absl::Time busy_since_;
  // node_hash_map: Statement keeps a pointer to its slot's in_use flag.
  absl::node_hash_map<std::string, Cached> cache_;
};

// BEGIN IMMEDIATE … COMMIT. Takes the write lock up front (waiting up to the
// busy timeout) so a read never has to be upgraded mid-transaction, which
// SQLite can only refuse with SQLITE_BUSY_SNAPSHOT. Rolls back on destruction
// unless committed. Declare it before any Statement in the same scope so
// statements are reset before the rollback.
class Transaction {
 public:
  static absl::StatusOr<Transaction> BeginImmediate(Db* db);
  // BEGIN DEFERRED: a read-only snapshot for several SELECTs.
  static absl::StatusOr<Transaction> BeginRead(Db* db);
  Transaction(Transaction&& other) noexcept
      : db_(other.db_), open_(other.open_) {
    other.open_ = false;
  }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  absl::Status Commit();

 private:
  explicit Transaction(Db* db) : db_(db), open_(true) {}
  Db* db_;
  bool open_;
};

// SAVEPOINT inside a transaction: one failing step of a batch is undone
// without losing the others. Rolled back to (and released) on destruction
// unless Release() succeeded.
class Savepoint {
 public:
  static absl::StatusOr<Savepoint> Begin(Db* db);
  Savepoint(Savepoint&& other) noexcept : db_(other.db_), open_(other.open_) {
    other.open_ = false;
  }
  Savepoint& operator=(Savepoint&&) = delete;
  ~Savepoint();

  absl::Status Release();

 private:
  explicit Savepoint(Db* db) : db_(db), open_(true) {}
  Db* db_;
  bool open_;
};

}  // namespace booking::sqlite

#endif  // CORE_STORE_SQLITE_DB_H_
