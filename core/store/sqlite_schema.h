#ifndef CORE_STORE_SQLITE_SCHEMA_H_
#define CORE_STORE_SQLITE_SCHEMA_H_

// The SQLite schema as an ordered list of migration steps, keyed by
// PRAGMA user_version. A database at version N has had steps 1..N applied.
// To change the schema, append a step; never edit a released one.

#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/store/sqlite_db.h"

namespace booking::sqlite {

struct Migration {
  int version;       // 1, 2, 3, ...: the user_version after this step
  const char* name;  // for error messages
  const char* sql;   // DDL without parameters; may hold several statements
};

// The production schema, oldest step first.
const std::vector<Migration>& SchemaMigrations();

// Applies the steps of `migrations` newer than the database's user_version,
// all in one BEGIN IMMEDIATE transaction: two processes opening a fresh file
// at once never both migrate (the second sees the new user_version once it
// gets the write lock). A no-op, without taking the write lock, when the
// database is current. FAILED_PRECONDITION if the database is newer than
// `migrations` (an older binary on a newer file).
absl::Status Migrate(Db& db, absl::Span<const Migration> migrations);

// PRAGMA user_version.
absl::StatusOr<int> SchemaVersion(Db& db);

}  // namespace booking::sqlite

#endif  // CORE_STORE_SQLITE_SCHEMA_H_
