// The SQLite layer under the store: error mapping, statement cache,
// transactions and schema migrations.

#include "core/store/sqlite_db.h"

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/store/sqlite_schema.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::sqlite {
namespace {

using ::booking::testing::IsOk;
using ::booking::testing::StatusIs;
using ::testing::HasSubstr;

std::string FreshPath(const std::string& name) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    unlink(absl::StrCat(path, suffix).c_str());
  }
  return path;
}

std::unique_ptr<Db> OpenDb(const std::string& path) {
  absl::StatusOr<std::unique_ptr<Db>> db = Db::Open(path, absl::Seconds(5));
  EXPECT_OK(db);
  return db.ok() ? std::move(*db) : nullptr;
}

int64_t QueryInt(Db& db, const char* sql) {
  absl::StatusOr<Statement> s = db.Prepare(sql);
  EXPECT_OK(s);
  if (!s.ok()) return -1;
  absl::StatusOr<bool> row = s->Step();
  EXPECT_OK(row);
  return row.ok() && *row ? s->Int(0) : -1;
}

int VersionOf(Db& db) {
  absl::StatusOr<int> v = SchemaVersion(db);
  EXPECT_OK(v);
  return v.ok() ? *v : -1;
}

TEST(StatusFromSqliteTest, MapsEachClassOfError) {
  const absl::Duration timeout = absl::Milliseconds(5000);
  EXPECT_OK(StatusFromSqlite(SQLITE_OK, "", timeout));
  EXPECT_OK(StatusFromSqlite(SQLITE_DONE, "", timeout));
  EXPECT_THAT(StatusFromSqlite(SQLITE_BUSY, "database is locked", timeout),
              StatusIs(absl::StatusCode::kUnavailable,
                       "database is locked (busy timeout 5000 ms exceeded)"));
  EXPECT_THAT(StatusFromSqlite(SQLITE_BUSY_SNAPSHOT, "x", timeout),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(StatusFromSqlite(SQLITE_LOCKED, "x", absl::Milliseconds(100)),
              StatusIs(absl::StatusCode::kUnavailable,
                       "database is locked (busy timeout 100 ms exceeded)"));
  EXPECT_THAT(
      StatusFromSqlite(SQLITE_FULL, "database or disk is full", timeout),
      StatusIs(absl::StatusCode::kUnavailable, "database or disk is full"));
  EXPECT_THAT(StatusFromSqlite(SQLITE_IOERR_FSYNC, "disk I/O error", timeout),
              StatusIs(absl::StatusCode::kUnavailable, "disk I/O error"));
  EXPECT_THAT(StatusFromSqlite(SQLITE_READONLY, "readonly", timeout),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(StatusFromSqlite(SQLITE_CANTOPEN, "cannot open", timeout),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(
      StatusFromSqlite(SQLITE_CONSTRAINT_UNIQUE, "UNIQUE failed", timeout),
      StatusIs(absl::StatusCode::kInternal, HasSubstr("UNIQUE failed")));
  EXPECT_THAT(StatusFromSqlite(SQLITE_CORRUPT, "malformed", timeout),
              StatusIs(absl::StatusCode::kInternal));
}

TEST(DbTest, OpenInMissingDirectoryIsUnavailable) {
  absl::StatusOr<std::unique_ptr<Db>> db =
      Db::Open(absl::StrCat(std::getenv("TEST_TMPDIR"), "/no/such/dir/x.db"),
               absl::Seconds(1));
  EXPECT_THAT(
      db, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot open")));
}

TEST(DbTest, SameSqlCanBeUsedWhileItsCachedStatementIsBusy) {
  std::unique_ptr<Db> db = OpenDb(FreshPath("nested.db"));
  ASSERT_OK(
      db->Exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);"));
  constexpr char kSql[] = "SELECT x FROM t ORDER BY x";
  absl::StatusOr<Statement> outer = db->Prepare(kSql);
  ASSERT_OK(outer);
  ASSERT_THAT(outer->Step(), IsOk());
  {
    // The cached statement is mid-iteration; a second use gets its own.
    absl::StatusOr<Statement> inner = db->Prepare(kSql);
    ASSERT_OK(inner);
    ASSERT_OK(inner->Step());
    EXPECT_EQ(inner->Int(0), 1);
  }
  EXPECT_EQ(outer->Int(0), 1);
  ASSERT_OK(outer->Step());
  EXPECT_EQ(outer->Int(0), 2);
}

TEST(DbTest, BindErrorIsReportedByStep) {
  std::unique_ptr<Db> db = OpenDb(FreshPath("bind.db"));
  absl::StatusOr<Statement> s = db->Prepare("SELECT ?1");
  ASSERT_OK(s);
  s->Bind(7, int64_t{1});  // no such parameter
  EXPECT_THAT(s->Step(), StatusIs(absl::StatusCode::kInternal));
}

TEST(TransactionTest, RollsBackUnlessCommittedAndLeavesConnectionUsable) {
  std::unique_ptr<Db> db = OpenDb(FreshPath("tx.db"));
  ASSERT_OK(db->Exec("CREATE TABLE t (x INTEGER PRIMARY KEY)"));
  {
    absl::StatusOr<Transaction> tx = Transaction::BeginImmediate(db.get());
    ASSERT_OK(tx);
    ASSERT_OK(db->Exec("INSERT INTO t VALUES (1)"));
    // A failing statement inside the transaction...
    EXPECT_THAT(db->Exec("INSERT INTO t VALUES (1)"),
                StatusIs(absl::StatusCode::kInternal, HasSubstr("UNIQUE")));
  }  // ...and no commit: everything is rolled back.
  EXPECT_FALSE(db->InTransaction());
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM t"), 0);

  absl::StatusOr<Transaction> tx = Transaction::BeginImmediate(db.get());
  ASSERT_OK(tx);
  ASSERT_OK(db->Exec("INSERT INTO t VALUES (2)"));
  ASSERT_OK(tx->Commit());
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM t"), 1);
}

TEST(TransactionTest, SavepointUndoesOnlyItsOwnStep) {
  std::unique_ptr<Db> db = OpenDb(FreshPath("savepoint.db"));
  ASSERT_OK(db->Exec("CREATE TABLE t (x INTEGER PRIMARY KEY)"));
  absl::StatusOr<Transaction> tx = Transaction::BeginImmediate(db.get());
  ASSERT_OK(tx);
  ASSERT_OK(db->Exec("INSERT INTO t VALUES (1)"));
  {
    absl::StatusOr<Savepoint> sp = Savepoint::Begin(db.get());
    ASSERT_OK(sp);
    ASSERT_OK(db->Exec("INSERT INTO t VALUES (2)"));
  }  // not released: rolled back to the savepoint
  {
    absl::StatusOr<Savepoint> sp = Savepoint::Begin(db.get());
    ASSERT_OK(sp);
    ASSERT_OK(db->Exec("INSERT INTO t VALUES (3)"));
    ASSERT_OK(sp->Release());
  }
  ASSERT_OK(tx->Commit());
  EXPECT_EQ(QueryInt(*db, "SELECT group_concat(x) = '1,3' FROM t"), 1);
}

// ------------------------------------------------------------ migrations --

constexpr char kStepTwo[] =
    "CREATE TABLE reconciler_runs (id INTEGER PRIMARY KEY)";

TEST(MigrateTest, FreshDatabaseGetsLatestSchemaAndReopenIsANoOp) {
  const std::string path = FreshPath("migrate.db");
  {
    std::unique_ptr<Db> db = OpenDb(path);
    ASSERT_OK(Migrate(*db, SchemaMigrations()));
    EXPECT_EQ(VersionOf(*db), SchemaMigrations().back().version);
    ASSERT_OK(db->Exec("INSERT INTO counters VALUES ('probe', 42)"));
  }
  std::unique_ptr<Db> db = OpenDb(path);
  ASSERT_OK(Migrate(*db, SchemaMigrations()));
  // Data survives; the steps did not run again (they would fail: tables
  // exist).
  EXPECT_EQ(QueryInt(*db, "SELECT value FROM counters WHERE name = 'probe'"),
            42);
}

TEST(MigrateTest, AppendedStepIsAppliedOnceOnTopOfExistingData) {
  const std::string path = FreshPath("migrate_step.db");
  std::vector<Migration> steps = SchemaMigrations();
  {
    std::unique_ptr<Db> db = OpenDb(path);
    ASSERT_OK(Migrate(*db, steps));
    ASSERT_OK(db->Exec("INSERT INTO counters VALUES ('probe', 7)"));
  }
  steps.push_back({static_cast<int>(steps.size()) + 1, "test step", kStepTwo});
  std::unique_ptr<Db> db = OpenDb(path);
  ASSERT_OK(Migrate(*db, steps));
  ASSERT_OK(Migrate(*db, steps));  // idempotent
  EXPECT_EQ(VersionOf(*db), steps.back().version);
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM reconciler_runs"), 0);
  EXPECT_EQ(QueryInt(*db, "SELECT value FROM counters WHERE name = 'probe'"),
            7);
}

TEST(MigrateTest, FailingStepRollsBackTheWholeUpgrade) {
  const std::string path = FreshPath("migrate_fail.db");
  std::vector<Migration> steps = {
      {1, "good", "CREATE TABLE a (x INTEGER)"},
      {2, "bad", "CREATE TABLE b (x INTEGER); CREATE TABLE a (y INTEGER)"},
  };
  std::unique_ptr<Db> db = OpenDb(path);
  EXPECT_THAT(Migrate(*db, steps),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("schema migration 2 (bad)")));
  EXPECT_FALSE(db->InTransaction());
  EXPECT_EQ(VersionOf(*db), 0);
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM sqlite_schema"), 0);
}

TEST(MigrateTest, NewerDatabaseThanBinaryIsRefused) {
  const std::string path = FreshPath("migrate_newer.db");
  std::unique_ptr<Db> db = OpenDb(path);
  ASSERT_OK(db->Exec("PRAGMA user_version = 99"));
  EXPECT_THAT(Migrate(*db, SchemaMigrations()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("schema version 99 is newer")));
}

}  // namespace
}  // namespace booking::sqlite
