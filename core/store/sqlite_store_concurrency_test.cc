// Several connections, threads and processes on one SQLite file: exactly-once
// creation under races, a busy database, and SIGKILL in the middle of writes.

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "core/store/sqlite_schema.h"
#include "core/store/sqlite_store.h"
#include "core/store/store_test_fixture.h"
#include "core/store/store_test_util.h"
#include "core/testing/status_matchers.h"
#include "core/testing/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using ::booking::testing::FreshDbPath;
using ::booking::testing::IsOkAndHolds;
using ::booking::testing::MakeCreateIntent;
using ::booking::testing::OpenSqliteStore;
using ::booking::testing::RawDb;
using ::booking::testing::StatusIs;
using ::booking::testing::Subprocess;
using ::booking::testing::TestNow;
using ::testing::HasSubstr;

constexpr char kHelper[] = "core/store/sqlite_store_test_helper";

TEST(SqliteStoreConcurrencyTest, EightThreadsOneRequestIdCreateOneAppointment) {
  // A fresh file: the threads also race to migrate it.
  const std::string path = FreshDbPath("threads.db");
  constexpr int kThreads = 8;
  absl::Notification go;
  std::vector<absl::StatusOr<CreateResult>> results(
      kThreads, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      go.WaitForNotification();
      auto store = OpenSqliteStore(path);
      if (!store.ok()) {
        results[i] = store.status();
        return;
      }
      // Each caller minted its own id; only the key decides.
      results[i] = (*store)->CreateAppointment(
          MakeCreateIntent(absl::StrCat("appt-t", i), "req-shared", TestNow()));
    });
  }
  go.Notify();
  for (std::thread& t : threads) t.join();

  int created = 0;
  std::string id;
  for (const auto& r : results) {
    ASSERT_OK(r);
    if (!r->replayed) ++created;
    if (id.empty()) id = r->appointment.id();
    EXPECT_EQ(r->appointment.id(), id);
  }
  EXPECT_EQ(created, 1);
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM appointments"), 1);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM outbox"), 1);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM idempotency_keys"), 1);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM appointment_events"), 1);
}

TEST(SqliteStoreConcurrencyTest, ProcessesOnAFreshFileCreateOneAppointment) {
  const std::string path = FreshDbPath("processes.db");
  const std::string fifo = FreshDbPath("processes.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // Held open for writing until every helper is ready; closing it is the
  // start signal (EOF for all readers at once).
  int gate = open(fifo.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(gate, 0);

  constexpr int kProcesses = 3;
  std::vector<Subprocess> helpers;
  for (int i = 0; i < kProcesses; ++i) {
    absl::StatusOr<Subprocess> p =
        Subprocess::Start({testing::RunfilePath(kHelper), "create_once", path,
                           fifo, absl::StrCat("appt-p", i), "req-shared"});
    ASSERT_OK(p);
    helpers.push_back(std::move(*p));
  }
  for (Subprocess& p : helpers) {
    ASSERT_OK(p.WaitForLine("ready", absl::Seconds(30)));
  }
  close(gate);

  int created = 0;
  std::string id;
  for (Subprocess& p : helpers) {
    absl::StatusOr<std::string> line = p.WaitForLine("", absl::Seconds(30));
    ASSERT_OK(line);
    std::vector<std::string> parts = absl::StrSplit(*line, ' ');
    ASSERT_EQ(parts.size(), 3u) << *line;
    ASSERT_EQ(parts[0], "result") << *line;
    if (id.empty()) id = parts[1];
    EXPECT_EQ(parts[1], id);
    if (parts[2] == "0") ++created;
    EXPECT_THAT(p.Wait(), IsOkAndHolds(0));
  }
  EXPECT_EQ(created, 1);
  RawDb raw(path);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM appointments"), 1);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM outbox"), 1);
  EXPECT_EQ(raw.Int("PRAGMA user_version"),
            sqlite::SchemaMigrations().back().version);
  unlink(fifo.c_str());
}

TEST(SqliteStoreConcurrencyTest, BusyDatabaseIsUnavailableThenRecovers) {
  const std::string path = FreshDbPath("busy.db");
  ASSERT_OK(OpenSqliteStore(path));  // create the schema
  RawDb holder(path);
  ASSERT_EQ(holder.Exec("BEGIN IMMEDIATE"), SQLITE_OK);

  // Opening a current database needs no write lock.
  auto store = OpenSqliteStore(path, absl::Milliseconds(100));
  ASSERT_OK(store);
  SqliteAppointmentStore& s = **store;
  const auto locked =
      StatusIs(absl::StatusCode::kUnavailable,
               "database is locked (busy timeout 100 ms exceeded)");
  EXPECT_THAT(s.CreateAppointment(MakeCreateIntent("appt-1", "r1", TestNow())),
              locked);
  std::vector<CreateIntent> batch = {
      MakeCreateIntent("appt-2", "r2", TestNow()),
      MakeCreateIntent("appt-3", "r3", TestNow())};
  for (const auto& r : s.CreateAppointments(batch)) EXPECT_THAT(r, locked);
  ClaimRequest claim;
  claim.worker_id = "w1";
  claim.now = TestNow();
  claim.lease = absl::Seconds(30);
  EXPECT_THAT(s.ClaimDueCommands(claim), locked);
  // WAL: reads go on while another connection writes.
  EXPECT_THAT(s.GetAppointment("appt-1"),
              StatusIs(absl::StatusCode::kNotFound));

  ASSERT_EQ(holder.Exec("COMMIT"), SQLITE_OK);
  absl::StatusOr<CreateResult> r =
      s.CreateAppointment(MakeCreateIntent("appt-1", "r1", TestNow()));
  ASSERT_OK(r);
  EXPECT_FALSE(r->replayed);
  EXPECT_THAT(s.ClaimDueCommands(claim), IsOkAndHolds(::testing::SizeIs(1)));
}

TEST(SqliteStoreConcurrencyTest, SigkillMidWriteLeavesNoHalfWrittenIntent) {
  const std::string path = FreshDbPath("crash.db");
  ASSERT_OK(OpenSqliteStore(path));
  // Several rounds on one file: each writer dies at a different point.
  for (int round = 0; round < 3; ++round) {
    absl::StatusOr<Subprocess> writer =
        Subprocess::Start({testing::RunfilePath(kHelper), "write_loop", path,
                           absl::StrCat("r", round)});
    ASSERT_OK(writer);
    // Kill only once it has demonstrably been writing for a while.
    ASSERT_OK(writer->WaitForLine(absl::StrCat("progress ", 10 + 7 * round),
                                  absl::Seconds(60)));
    writer->Signal(SIGKILL);
    EXPECT_THAT(writer->Wait(), IsOkAndHolds(128 + SIGKILL));
  }

  // Recovery happens on open; then the file must be whole and consistent.
  auto store = OpenSqliteStore(path);
  ASSERT_OK(store);
  RawDb raw(path);
  EXPECT_EQ(raw.Text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.Text("PRAGMA foreign_key_check"), "");
  const int64_t appointments = raw.Int("SELECT COUNT(*) FROM appointments");
  EXPECT_GE(appointments, 4 * (11 + 18 + 25));
  // Batches are atomic: whole groups of 4 only.
  EXPECT_EQ(appointments % 4, 0);
  // Every appointment has exactly its BOOK row, its event and its key, and
  // nothing exists without its appointment.
  EXPECT_EQ(
      raw.Int("SELECT COUNT(*) FROM appointments AS a WHERE"
              " (SELECT COUNT(*) FROM outbox AS o WHERE"
              "  o.appointment_id = a.id AND o.command = 'BOOK') != 1"
              " OR (SELECT COUNT(*) FROM appointment_events AS e WHERE"
              "  e.appointment_id = a.id) != 1"
              " OR (SELECT COUNT(*) FROM idempotency_keys AS k WHERE"
              "  k.appointment_id = a.id AND k.key = 'req-' || a.id) != 1"),
      0);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM outbox"), appointments);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM appointment_events"), appointments);
  EXPECT_EQ(raw.Int("SELECT COUNT(*) FROM idempotency_keys"), appointments);
  // And the store carries on.
  EXPECT_OK((*store)->CreateAppointment(
      MakeCreateIntent("after-crash", "req-after-crash", TestNow())));
}

}  // namespace
}  // namespace booking
