#include "bench/outcome_check.h"

#include <memory>
#include <string>

#include "core/store/sqlite_store.h"
#include "core/store/store_test_util.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace booking::bench {
namespace {

using ::booking::testing::FreshDbPath;
using ::booking::testing::MakeCreateIntent;
using ::booking::testing::TestNow;

class OutcomeCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteOptions options;
    options.path = FreshDbPath("outcome.db");
    absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> s =
        SqliteAppointmentStore::Open(options);
    ASSERT_OK(s);
    store_ = std::move(*s);
  }

  void Create(const std::string& id) {
    ASSERT_OK(store_->CreateAppointment(MakeCreateIntent(id, "r-" + id, now_)));
  }

  // Drives every PENDING appointment through the worker path to `to`.
  void FinishAll(Appointment::State to) {
    ClaimRequest req;
    req.worker_id = "w";
    req.now = now_;
    req.lease = absl::Seconds(30);
    req.max_rows = 100;
    absl::StatusOr<std::vector<ClaimedCommand>> claimed =
        store_->ClaimDueCommands(req);
    ASSERT_OK(claimed);
    for (const ClaimedCommand& c : *claimed) {
      CommandOutcome o;
      o.command_id = c.command.id;
      o.fencing_token = c.command.fencing_token;
      o.now = now_;
      o.actor = "worker:w";
      o.to_state = to;
      if (to == Appointment::CONFIRMED) {
        o.provider_booking_id = "bk-" + c.appointment.id();
      } else {
        o.failure_reason = "provider_rejected";
      }
      ASSERT_OK(store_->CompleteCommand(o));
    }
  }

  OutcomeReport Check(const absl::flat_hash_map<std::string, int64_t>& live) {
    absl::StatusOr<OutcomeReport> r = CheckOutcome(*store_, live);
    EXPECT_OK(r);
    return r.ok() ? *r : OutcomeReport();
  }

  const absl::Time now_ = TestNow();
  std::unique_ptr<SqliteAppointmentStore> store_;
};

TEST_F(OutcomeCheckTest, AllConfirmedWithOneBookingEachHolds) {
  Create("a1");
  Create("a2");
  FinishAll(Appointment::CONFIRMED);
  const OutcomeReport r = Check({{"a1", 1}, {"a2", 1}});
  EXPECT_TRUE(r.ok()) << r.ToJson().dump();
  EXPECT_EQ(r.appointments, 2);
  EXPECT_EQ(r.confirmed_one_booking, 2);
  EXPECT_EQ(r.states.at("CONFIRMED"), 2);
}

TEST_F(OutcomeCheckTest, ConfirmedWithoutBookingFails) {
  Create("a1");
  FinishAll(Appointment::CONFIRMED);
  const OutcomeReport r = Check({});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.confirmed_without_booking, 1);
}

TEST_F(OutcomeCheckTest, DuplicateBookingFails) {
  Create("a1");
  FinishAll(Appointment::CONFIRMED);
  const OutcomeReport r = Check({{"a1", 2}});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.duplicates, 1);
}

TEST_F(OutcomeCheckTest, LiveBookingOfAFailedOrUnknownAppointmentIsAnOrphan) {
  Create("a1");
  FinishAll(Appointment::FAILED);
  const OutcomeReport r = Check({{"a1", 1}, {"stranger", 1}});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.orphans, 2);
}

TEST_F(OutcomeCheckTest, FailedWithoutBookingIsFinal) {
  Create("a1");
  FinishAll(Appointment::FAILED);
  const OutcomeReport r = Check({});
  EXPECT_TRUE(r.ok()) << r.ToJson().dump();
}

TEST_F(OutcomeCheckTest, PendingIntentIsNotFinal) {
  Create("a1");
  const OutcomeReport r = Check({});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.not_final, 1);
  EXPECT_EQ(r.unfinished_commands, 1);
}

TEST_F(OutcomeCheckTest, PagesThroughMoreThanOnePage) {
  for (int i = 0; i < 1205; ++i) Create("a" + std::to_string(10000 + i));
  const OutcomeReport r = Check({});
  EXPECT_EQ(r.appointments, 1205);
  EXPECT_EQ(r.not_final, 1205);
}

}  // namespace
}  // namespace booking::bench
