#ifndef CORE_STORE_STORE_TEST_FIXTURE_H_
#define CORE_STORE_STORE_TEST_FIXTURE_H_

// gtest pieces shared by the SqliteAppointmentStore suites: a raw second
// connection and a fixture with one store on a fresh file per test plus the
// steps most tests start from (create, claim, complete). Builders without gtest
// are in store_test_util.h.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/common/clock.h"
#include "core/store/appointment_store.h"
#include "core/store/sqlite_store.h"
#include "core/store/store_test_util.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::testing {

// A raw connection to the file, as an operator's sqlite3 shell or a second
// writer would have: it sees only what was committed.
class RawDb {
 public:
  explicit RawDb(const std::string& path);
  ~RawDb();
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // sqlite3_exec's result code (SQLITE_OK, SQLITE_BUSY, ...).
  int Exec(const std::string& sql);
  // The first column of the first row, as text ("" if no row); a statement
  // that does not prepare fails the test.
  std::string Text(const std::string& sql);
  int64_t Int(const std::string& sql) { return std::stoll("0" + Text(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

// Opens a store on `path`; `clock` null means the real clock.
absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> OpenSqliteStore(
    const std::string& path, absl::Duration busy_timeout = absl::Seconds(5),
    Clock* clock = nullptr);

// One store on "$TEST_TMPDIR/<test name>.db", fresh for each test.
class SqliteStoreFixture : public ::testing::Test {
 protected:
  void SetUp() override;

  // Another store on the same file (with `clock_`), or null after a failed
  // expectation.
  std::unique_ptr<SqliteAppointmentStore> OpenStore(
      absl::Duration busy_timeout = absl::Seconds(5));

  // A new appointment (MakeCreateIntent at now_; request id "req-<id>"
  // unless given); a replay fails the test.
  Appointment Create(const std::string& id, const std::string& request_id = "",
                     const std::string& provider = "prov-a",
                     const std::string& customer = "cust-1");
  Appointment Get(const std::string& id);

  // Claims up to `max_rows` due commands as `worker`.
  std::vector<ClaimedCommand> Claim(absl::Time now,
                                    const std::string& worker = "w1",
                                    std::vector<std::string> skip = {},
                                    int max_rows = 32,
                                    absl::Duration lease = absl::Seconds(30));
  // Claims what is due at `now`, which must be exactly one command.
  ClaimedCommand ClaimOne(absl::Time now);
  // Claims the oldest due command (others may be due too) with `lease`.
  ClaimedCommand ClaimNext(absl::Time now,
                           absl::Duration lease = absl::Seconds(30));

  // An outcome of worker "w1" for `c`, at `now` (default now_), that changes
  // nothing until the caller fills it in.
  CommandOutcome Outcome(const ClaimedCommand& c, absl::Time now);
  CommandOutcome Outcome(const ClaimedCommand& c) { return Outcome(c, now_); }
  // A retryable failure of `c` at `now`: rescheduled to `next` with `error`,
  // and the row back to PENDING where the state machine allows it.
  CommandOutcome RetryOutcome(const ClaimedCommand& c, absl::Time now,
                              absl::Time next, const std::string& error);

  std::vector<OutboxCommand> Commands(const std::string& id);
  std::vector<AppointmentEvent> Events(const std::string& id);

  // A fresh appointment driven through the worker path at now_: its BOOK
  // answered CONFIRMED with booking "bk-<id>".
  Appointment Confirmed(const std::string& id);
  // The same, answered PENDING: AWAITING_CONFIRMATION with a CONFIRM queued
  // at now_+1m (deadline now_+10m).
  Appointment Awaiting(const std::string& id);

  // Only ReleaseCommand reads the store's clock.
  SimulatedClock clock_{TestNow() + absl::Minutes(5)};
  const absl::Time now_ = TestNow();
  std::string path_;
  std::unique_ptr<SqliteAppointmentStore> store_;

 private:
  // Creates `id`, claims the oldest due command (which must be its BOOK) and
  // completes it moving the row to `to` with booking "bk-<id>".
  Appointment BookAnswered(const std::string& id, Appointment::State to);
};

}  // namespace booking::testing

#endif  // CORE_STORE_STORE_TEST_FIXTURE_H_
