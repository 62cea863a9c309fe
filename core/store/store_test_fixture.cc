#include "core/store/store_test_fixture.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/testing/status_matchers.h"

namespace booking::testing {

RawDb::RawDb(const std::string& path) {
  sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr);
}

RawDb::~RawDb() { sqlite3_close(db_); }

int RawDb::Exec(const std::string& sql) {
  return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
}

std::string RawDb::Text(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sqlite3_errmsg(db_) << " in " << sql;
    return out;
  }
  if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0)) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  return out;
}

absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> OpenSqliteStore(
    const std::string& path, absl::Duration busy_timeout, Clock* clock) {
  SqliteOptions opts;
  opts.path = path;
  opts.busy_timeout = busy_timeout;
  opts.clock = clock;
  return SqliteAppointmentStore::Open(opts);
}

void SqliteStoreFixture::SetUp() {
  path_ = FreshDbPath(absl::StrCat(
      ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".db"));
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
}

std::unique_ptr<SqliteAppointmentStore> SqliteStoreFixture::OpenStore(
    absl::Duration busy_timeout) {
  absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> store =
      OpenSqliteStore(path_, busy_timeout, &clock_);
  EXPECT_OK(store);
  return store.ok() ? std::move(*store) : nullptr;
}

Appointment SqliteStoreFixture::Create(const std::string& id,
                                       const std::string& request_id,
                                       const std::string& provider,
                                       const std::string& customer) {
  absl::StatusOr<CreateResult> r = store_->CreateAppointment(
      MakeCreateIntent(id, request_id.empty() ? "req-" + id : request_id, now_,
                       provider, customer));
  EXPECT_OK(r);
  if (!r.ok()) return Appointment();
  EXPECT_FALSE(r->replayed);
  return r->appointment;
}

Appointment SqliteStoreFixture::Get(const std::string& id) {
  absl::StatusOr<Appointment> a = store_->GetAppointment(id);
  EXPECT_OK(a);
  return a.ok() ? *a : Appointment();
}

std::vector<ClaimedCommand> SqliteStoreFixture::Claim(
    absl::Time now, const std::string& worker, std::vector<std::string> skip,
    int max_rows, absl::Duration lease) {
  ClaimRequest req;
  req.worker_id = worker;
  req.now = now;
  req.lease = lease;
  req.max_rows = max_rows;
  req.skip_providers = std::move(skip);
  absl::StatusOr<std::vector<ClaimedCommand>> claimed =
      store_->ClaimDueCommands(req);
  EXPECT_OK(claimed);
  return claimed.ok() ? *claimed : std::vector<ClaimedCommand>();
}

ClaimedCommand SqliteStoreFixture::ClaimOne(absl::Time now) {
  std::vector<ClaimedCommand> claimed = Claim(now);
  EXPECT_THAT(claimed, ::testing::SizeIs(1));
  return claimed.empty() ? ClaimedCommand() : claimed[0];
}

ClaimedCommand SqliteStoreFixture::ClaimNext(absl::Time now,
                                             absl::Duration lease) {
  std::vector<ClaimedCommand> claimed =
      Claim(now, "w1", {}, /*max_rows=*/1, lease);
  EXPECT_THAT(claimed, ::testing::SizeIs(1));
  return claimed.empty() ? ClaimedCommand() : claimed[0];
}

CommandOutcome SqliteStoreFixture::Outcome(const ClaimedCommand& c,
                                           absl::Time now) {
  CommandOutcome o;
  o.command_id = c.command.id;
  o.fencing_token = c.command.fencing_token;
  o.now = now;
  o.actor = "worker:w1";
  return o;
}

CommandOutcome SqliteStoreFixture::RetryOutcome(const ClaimedCommand& c,
                                                absl::Time now, absl::Time next,
                                                const std::string& error) {
  CommandOutcome o = Outcome(c, now);
  o.disposition = CommandOutcome::Disposition::kReschedule;
  o.next_attempt_time = next;
  o.error = error;
  o.to_state = Appointment::PENDING;
  return o;
}

std::vector<OutboxCommand> SqliteStoreFixture::Commands(const std::string& id) {
  absl::StatusOr<std::vector<OutboxCommand>> c = store_->ListCommandsFor(id);
  EXPECT_OK(c);
  return c.ok() ? *c : std::vector<OutboxCommand>();
}

std::vector<AppointmentEvent> SqliteStoreFixture::Events(
    const std::string& id) {
  absl::StatusOr<std::vector<AppointmentEvent>> e = store_->ListEvents(id);
  EXPECT_OK(e);
  return e.ok() ? *e : std::vector<AppointmentEvent>();
}

Appointment SqliteStoreFixture::BookAnswered(const std::string& id,
                                             Appointment::State to) {
  Create(id);
  const ClaimedCommand book = ClaimNext(now_);
  EXPECT_EQ(book.command.appointment_id, id)
      << "another row's command was due first";
  CommandOutcome o = Outcome(book);
  o.to_state = to;
  o.provider_booking_id = "bk-" + id;
  if (to == Appointment::AWAITING_CONFIRMATION) {
    o.enqueue = CommandType::kConfirm;
    o.enqueue_at = now_ + absl::Minutes(1);
    o.enqueue_deadline = now_ + absl::Minutes(10);
  }
  absl::StatusOr<Appointment> a = store_->CompleteCommand(o);
  EXPECT_OK(a);
  return a.ok() ? *a : Appointment();
}

Appointment SqliteStoreFixture::Confirmed(const std::string& id) {
  return BookAnswered(id, Appointment::CONFIRMED);
}

Appointment SqliteStoreFixture::Awaiting(const std::string& id) {
  return BookAnswered(id, Appointment::AWAITING_CONFIRMATION);
}

}  // namespace booking::testing
