// Crash and concurrency behaviour with the real binaries: kill -9 at each
// named crash point and restart (every appointment reaches its correct final
// state, zero duplicate and zero orphan bookings), two workers on one
// database (no command delivered twice), graceful SIGTERM, and the
// operator's requeue of DEAD rows.
#include <csignal>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "outbox_worker/integration_harness.h"

namespace booking::testing {
namespace {

void ExpectNoDuplicatesOrOrphans(Stack& s) {
  auto dups = s.CountDuplicates();
  ASSERT_OK(dups);
  EXPECT_EQ(*dups, 0);
  auto orphans = s.CountOrphans();
  ASSERT_OK(orphans);
  EXPECT_EQ(*orphans, 0);
}

struct CrashCase {
  std::string point;
  std::string mode;  // the provider's mock mode
  Appt::State final_state;
  std::string reason;
  int live;  // live bookings per key at the end
};

class CrashTest : public ::testing::TestWithParam<CrashCase> {};

TEST_P(CrashTest, KilledAtTheCrashPointThenRestartedEndsCorrectly) {
  const CrashCase& c = GetParam();
  auto stack = Stack::Start("crash_" + c.point, "p1=" + c.mode, {"p1"});
  ASSERT_OK(stack);
  Stack& s = **stack;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto id = s.Create("p1", absl::StrCat("crash-", i));
    ASSERT_OK(id);
    ids.push_back(*id);
  }
  // Short lease: recovery is by lease expiry, never by "resend on boot".
  auto doomed = s.StartWorker("doomed", {"--lease=1s"},
                              {"BOOKING_CRASH_POINT=" + c.point});
  ASSERT_OK(doomed);
  auto code = doomed->Wait(absl::Seconds(30));
  ASSERT_OK(code);
  EXPECT_EQ(*code, 128 + SIGKILL);

  auto survivor = s.StartWorker("survivor", {"--lease=1s"});
  ASSERT_OK(survivor);
  for (const std::string& id : ids) {
    auto a = s.WaitForTerminalOr(c.final_state, id);
    ASSERT_OK(a);
    EXPECT_EQ(Appt::State_Name(a->state()), Appt::State_Name(c.final_state))
        << id;
    EXPECT_EQ(a->failure_reason(), c.reason);
    auto k = s.KeyStats(id);
    ASSERT_OK(k);
    EXPECT_EQ(k->live_bookings(), c.live) << id;
  }
  ExpectNoDuplicatesOrOrphans(s);
}

INSTANTIATE_TEST_SUITE_P(
    Points, CrashTest,
    ::testing::Values(
        CrashCase{"after_claim", "immediate", Appt::CONFIRMED, "", 1},
        // The provider booked; the retry after the restart finds that
        // booking by key instead of making a second one.
        CrashCase{"after_provider_answer", "immediate", Appt::CONFIRMED, "", 1},
        // Ghost bookings are compensated; the cancel is answered, the
        // process dies before FAILED is committed, the restart cancels
        // again (idempotent) and commits.
        CrashCase{"during_compensation", "confirm_fail", Appt::FAILED,
                  "book_outcome_unknown", 0}),
    [](const ::testing::TestParamInfo<CrashCase>& info) {
      return info.param.point;
    });

TEST(TwoWorkers, ShareOneDatabaseWithoutDeliveringAnyCommandTwice) {
  auto stack = Stack::Start("two_workers", "p1=immediate", {"p1"});
  ASSERT_OK(stack);
  Stack& s = **stack;
  auto w1 = s.StartWorker("w1");
  ASSERT_OK(w1);
  auto w2 = s.StartWorker("w2");
  ASSERT_OK(w2);
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) {
    auto id = s.Create("p1", absl::StrCat("two-", i));
    ASSERT_OK(id);
    ids.push_back(*id);
  }
  for (const std::string& id : ids) {
    auto a = s.WaitForTerminalOr(Appt::CONFIRMED, id);
    ASSERT_OK(a);
    EXPECT_EQ(a->state(), Appt::CONFIRMED);
    EXPECT_EQ(a->attempt_count(), 1);
    auto k = s.KeyStats(id);
    ASSERT_OK(k);
    EXPECT_EQ(k->book_calls(), 1) << id;  // delivered exactly once
    EXPECT_EQ(k->live_bookings(), 1);
  }
  ExpectNoDuplicatesOrOrphans(s);
  for (Subprocess* w : {&*w1, &*w2}) {
    w->Signal(SIGTERM);
    auto code = w->Wait();
    ASSERT_OK(code);
    EXPECT_EQ(*code, 0);
  }
}

TEST(GracefulStop, SigtermReleasesLeasesOfCallsInFlightAndExitsZero) {
  // The provider never answers in time; the attempt timeout is long, so the
  // call is still in flight when SIGTERM arrives.
  auto stack = Stack::Start("sigterm", "p1=timeout:delay_ms=30000", {"p1"});
  ASSERT_OK(stack);
  Stack& s = **stack;
  auto id = s.Create("p1", "stop-1");
  ASSERT_OK(id);
  auto w = s.StartWorker(
      "w1", {"--attempt_timeout=20s", "--lease=30s", "--shutdown_grace=0s"});
  ASSERT_OK(w);
  ASSERT_OK(s.WaitUntil(
      *id, [](const Appt& a) { return a.state() == Appt::IN_PROGRESS; }));
  // The claim is committed before the call starts; wait for the call too.
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (absl::Now() < give_up) {
    auto t = s.Totals("p1");
    ASSERT_OK(t);
    if (t->book_calls() == 1) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  w->Signal(SIGTERM);
  auto code = w->Wait();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 0);
  auto a = s.Get(*id);
  ASSERT_OK(a);
  EXPECT_EQ(a->state(), Appt::PENDING);  // queued again, due now
  auto cmds = s.store()->ListCommandsFor(*id);
  ASSERT_OK(cmds);
  ASSERT_EQ(cmds->size(), 1u);
  EXPECT_EQ((*cmds)[0].status, CommandStatus::kPending);
  EXPECT_EQ((*cmds)[0].attempts, 0);
}

TEST(Requeue, OperatorRequeuesADeadCancelWhichThenCompletes) {
  auto stack = Stack::Start("requeue", "p1=immediate", {"p1"});
  ASSERT_OK(stack);
  Stack& s = **stack;
  auto w = s.StartWorker("w1", {"--max_cancel_attempts=1"});
  ASSERT_OK(w);
  auto id = s.Create("p1", "rq-1");
  ASSERT_OK(id);
  ASSERT_OK(s.WaitForTerminalOr(Appt::CONFIRMED, *id));
  // The provider goes down; the user's cancel cannot be delivered and its
  // single allowed attempt fails: the row goes DEAD with its error.
  ASSERT_OK(s.SetMode("p1", provider::v1::ALWAYS_FAIL));
  ASSERT_OK(s.Cancel(*id, "rq-cancel-1"));
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  OutboxCommand dead;
  while (absl::Now() < give_up && dead.id == 0) {
    auto cmds = s.store()->ListCommandsFor(*id);
    ASSERT_OK(cmds);
    for (const auto& c : *cmds) {
      if (c.status == CommandStatus::kDead) dead = c;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_NE(dead.id, 0);
  EXPECT_EQ(dead.type, CommandType::kCancel);
  EXPECT_TRUE(absl::StrContains(dead.last_error, "UNAVAILABLE"));
  EXPECT_EQ(s.Get(*id)->state(), Appt::CANCELLING);

  ASSERT_OK(s.SetMode("p1", provider::v1::IMMEDIATE));
  auto run = s.RunWorkerCommand({"--requeue_dead=all"});
  ASSERT_OK(run);
  EXPECT_EQ(run->first, 0);
  EXPECT_TRUE(absl::StrContains(run->second, "requeued 1 command(s)"))
      << run->second;
  auto a = s.WaitForTerminalOr(Appt::CANCELLED, *id);
  ASSERT_OK(a);
  EXPECT_EQ(a->state(), Appt::CANCELLED);
  auto k = s.KeyStats(*id);
  ASSERT_OK(k);
  EXPECT_EQ(k->live_bookings(), 0);
}

}  // namespace
}  // namespace booking::testing
