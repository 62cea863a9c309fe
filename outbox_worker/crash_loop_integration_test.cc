// A BOOK whose worker dies on it every time, with the real binaries: each
// expired lease counts as an attempt that may have reached the provider, so
// the crash loop ends (attempts exhausted → COMPENSATING) instead of going
// on forever, and a healthy worker then cancels by key → FAILED with no
// booking left.
#include <csignal>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/store/appointment_store.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "outbox_worker/integration_harness.h"

namespace booking::testing {
namespace {

struct LoopCase {
  std::string point;
  // Book calls the provider saw: none when the worker dies before the call,
  // one per run when it dies after the answer (the provider dedups by key).
  int book_calls;
};

class CrashLoopTest : public ::testing::TestWithParam<LoopCase> {};

TEST_P(CrashLoopTest, BookThatKillsEveryWorkerRunsOutOfAttemptsAndIsUndone) {
  const LoopCase& c = GetParam();
  auto stack = Stack::Start("loop_" + c.point, "p1=immediate", {"p1"});
  ASSERT_OK(stack);
  Stack& s = **stack;
  auto id = s.Create("p1", "loop-1");
  ASSERT_OK(id);
  // Short lease (> the harness's 300 ms attempt timeout): recovery is by
  // lease expiry, so each restart waits one lease.
  const std::vector<std::string> flags = {"--max_attempts=2", "--lease=700ms"};

  // Restart the crashing worker while the BOOK is still in its loop.
  int runs = 0;
  while (runs < 6) {
    auto a = s.Get(*id);
    ASSERT_OK(a);
    if (a->state() != Appt::PENDING && a->state() != Appt::IN_PROGRESS) break;
    auto doomed = s.StartWorker(absl::StrCat("doomed", runs), flags,
                                {"BOOKING_CRASH_POINT=" + c.point});
    ASSERT_OK(doomed);
    auto code = doomed->Wait(absl::Seconds(30));
    ASSERT_OK(code);
    EXPECT_EQ(*code, 128 + SIGKILL);
    ++runs;
  }
  // Two runs spend the two attempts; the third finds none left and starts
  // the compensation (and dies on the cancel).
  EXPECT_EQ(runs, 3);
  auto a = s.Get(*id);
  ASSERT_OK(a);
  EXPECT_EQ(Appt::State_Name(a->state()), "COMPENSATING");
  EXPECT_EQ(a->failure_reason(), "book_outcome_unknown");
  auto cmds = s.store()->ListCommandsFor(*id);
  ASSERT_OK(cmds);
  ASSERT_EQ(cmds->size(), 2u);
  const OutboxCommand& book = (*cmds)[0];
  EXPECT_EQ(book.type, CommandType::kBook);
  EXPECT_EQ(book.status, CommandStatus::kDone);
  EXPECT_EQ(book.attempts, 2);
  EXPECT_EQ((*cmds)[1].type, CommandType::kCompensate);

  // A healthy worker finishes the compensation.
  auto survivor = s.StartWorker("survivor", {"--lease=700ms"});
  ASSERT_OK(survivor);
  auto final = s.WaitForTerminalOr(Appt::CONFIRMED, *id);
  ASSERT_OK(final);
  EXPECT_EQ(Appt::State_Name(final->state()), "FAILED");
  EXPECT_EQ(final->failure_reason(), "book_outcome_unknown");
  auto k = s.KeyStats(*id);
  ASSERT_OK(k);
  EXPECT_EQ(k->book_calls(), c.book_calls);
  EXPECT_EQ(k->live_bookings(), 0);
  auto orphans = s.CountOrphans();
  ASSERT_OK(orphans);
  EXPECT_EQ(*orphans, 0);
  survivor->Signal(SIGTERM);
  auto code = survivor->Wait();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Points, CrashLoopTest,
    ::testing::Values(LoopCase{"after_claim", 0},
                      // The provider booked on both runs (one booking, by
                      // key); the compensation cancels it.
                      LoopCase{"after_provider_answer", 2}),
    [](const ::testing::TestParamInfo<LoopCase>& info) {
      return info.param.point;
    });

}  // namespace
}  // namespace booking::testing
