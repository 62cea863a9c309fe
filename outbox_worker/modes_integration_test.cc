// One appointment per mock_provider mode, through the real api_server,
// mock_provider and outbox_worker binaries: the exact outcome of each (final
// state, attempt count, provider book calls and live bookings for the key,
// failure reason). One stack serves every mode, one provider id per mode.
#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/store/appointment_store.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "outbox_worker/integration_harness.h"

namespace booking::testing {
namespace {

struct ModeCase {
  std::string provider;  // also the test name
  Appt::State state;
  int attempts;  // provider calls for the appointment; -1: "at least 2"
  int book_calls;
  int live_bookings;  // always 0 or 1
  std::string reason;
};

const char kModes[] =
    "m_immediate=immediate,"
    "m_pending=pending:confirm_after_ms=150,"
    "m_delayed_once=delayed:delay_ms=1000:fail_first_n=1,"
    "m_delayed=delayed:delay_ms=1000,"
    "m_flaky=flaky:fail_first_n=2,"
    "m_timeout=timeout:delay_ms=3000,"
    "m_always_fail=always_fail,"
    "m_confirm_fail=confirm_fail,"
    "m_reject=reject,"
    "m_rate_limited=rate_limited:retry_after_ms=200:fail_first_n=1,"
    "m_decline_later=decline_later:decline_after_ms=600000";

class ModesTest : public ::testing::TestWithParam<ModeCase> {
 protected:
  static void SetUpTestSuite() {
    auto stack =
        Stack::Start("modes", kModes,
                     {"m_immediate", "m_pending", "m_delayed_once", "m_delayed",
                      "m_flaky", "m_timeout", "m_always_fail", "m_confirm_fail",
                      "m_reject", "m_rate_limited", "m_decline_later"});
    ASSERT_OK(stack);
    stack_ = stack->release();
    // Cancels must outlast a provider outage the test ends by hand
    // (AlwaysFail...): at most 50 ms apart, 1000 attempts last well over the
    // test's own bound.
    auto worker = stack_->StartWorker("w1", {"--max_cancel_attempts=1000"});
    ASSERT_OK(worker);
    worker_ = new Subprocess(std::move(*worker));
  }
  static void TearDownTestSuite() {
    delete worker_;
    delete stack_;
  }

  static Stack* stack_;
  static Subprocess* worker_;
};

Stack* ModesTest::stack_ = nullptr;
Subprocess* ModesTest::worker_ = nullptr;

TEST_P(ModesTest, ReachesItsExactOutcome) {
  ASSERT_NE(stack_, nullptr);
  const ModeCase& c = GetParam();
  std::string request_id = "req-" + c.provider;
  std::replace(request_id.begin(), request_id.end(), '_', '.');
  auto id = stack_->Create(c.provider, request_id);
  ASSERT_OK(id);
  auto final = stack_->WaitForTerminalOr(Appt::CONFIRMED, *id);
  ASSERT_OK(final);
  EXPECT_EQ(Appt::State_Name(final->state()), Appt::State_Name(c.state));
  if (c.attempts < 0) {
    EXPECT_GE(final->attempt_count(), 2);
  } else {
    EXPECT_EQ(final->attempt_count(), c.attempts);
  }
  EXPECT_EQ(final->failure_reason(), c.reason);
  auto stats = stack_->KeyStats(*id);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->book_calls(), c.book_calls);
  EXPECT_EQ(stats->live_bookings(), c.live_bookings);
  if (c.state == Appt::CONFIRMED) {
    EXPECT_FALSE(final->provider_booking_id().empty());
  }
  // Across everything run so far: no key with two live bookings, and no
  // live booking whose appointment is not CONFIRMED.
  auto dups = stack_->CountDuplicates();
  ASSERT_OK(dups);
  EXPECT_EQ(*dups, 0);
  auto orphans = stack_->CountOrphans();
  ASSERT_OK(orphans);
  EXPECT_EQ(*orphans, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Modes, ModesTest,
    ::testing::Values(
        ModeCase{"m_immediate", Appt::CONFIRMED, 1, 1, 1, ""},
        // BOOK answered PENDING, then GetBooking polls until CONFIRMED.
        ModeCase{"m_pending", Appt::CONFIRMED, -1, 1, 1, ""},
        // First attempt times out but books; the retry returns that booking.
        ModeCase{"m_delayed_once", Appt::CONFIRMED, 2, 2, 1, ""},
        // Every attempt times out (booked, outcome unknown): compensated.
        ModeCase{"m_delayed", Appt::FAILED, 4, 3, 0, "book_outcome_unknown"},
        ModeCase{"m_flaky", Appt::CONFIRMED, 3, 3, 1, ""},
        // Nothing ever answers: outcome unknown, so compensated anyway.
        ModeCase{"m_timeout", Appt::FAILED, 4, 3, 0, "book_outcome_unknown"},
        // m_always_fail: see AlwaysFailIsCompensatedOnceTheProviderIsBack.
        // Ghost booking on every attempt: compensated by key.
        ModeCase{"m_confirm_fail", Appt::FAILED, 4, 3, 0,
                 "book_outcome_unknown"},
        ModeCase{"m_reject", Appt::FAILED, 1, 1, 0, "provider_rejected"},
        ModeCase{"m_rate_limited", Appt::CONFIRMED, 2, 2, 1, ""},
        // The provider drops it later; only the reconciler can notice.
        ModeCase{"m_decline_later", Appt::CONFIRMED, 1, 1, 1, ""}),
    [](const ::testing::TestParamInfo<ModeCase>& info) {
      return info.param.provider;
    });

// UNAVAILABLE may hide a booking made before the connection broke, so a
// BOOK that only ever saw it is compensated: COMPENSATING while the provider
// stays down (the cancel by key keeps retrying), FAILED once it is back.
TEST_F(ModesTest, AlwaysFailIsCompensatedOnceTheProviderIsBack) {
  ASSERT_NE(stack_, nullptr);
  auto id = stack_->Create("m_always_fail", "req-m.always.fail");
  ASSERT_OK(id);
  auto compensating = stack_->WaitUntil(*id, [](const Appt& a) {
    return a.state() == Appt::COMPENSATING || a.state() == Appt::FAILED ||
           a.state() == Appt::CANCELLED || a.state() == Appt::CONFIRMED;
  });
  ASSERT_OK(compensating);
  ASSERT_EQ(Appt::State_Name(compensating->state()), "COMPENSATING");
  EXPECT_EQ(compensating->failure_reason(), "provider_unavailable");

  // The compensating cancel fails against the down provider and is retried
  // (not given up): wait until it has failed twice and is still queued.
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  OutboxCommand compensate;
  while (absl::Now() < give_up) {
    auto cmds = stack_->store()->ListCommandsFor(*id);
    ASSERT_OK(cmds);
    ASSERT_EQ(cmds->size(), 2u);
    compensate = cmds->back();
    if (compensate.attempts >= 2) break;
    absl::SleepFor(absl::Milliseconds(5));  // poll interval, not a sync
  }
  EXPECT_EQ(compensate.type, CommandType::kCompensate);
  EXPECT_GE(compensate.attempts, 2);
  EXPECT_NE(compensate.status, CommandStatus::kDead);
  auto still = stack_->Get(*id);
  ASSERT_OK(still);
  EXPECT_EQ(Appt::State_Name(still->state()), "COMPENSATING");

  ASSERT_OK(stack_->SetMode("m_always_fail", provider::v1::IMMEDIATE));
  auto final = stack_->WaitForTerminalOr(Appt::CONFIRMED, *id);
  ASSERT_OK(final);
  EXPECT_EQ(Appt::State_Name(final->state()), "FAILED");
  EXPECT_EQ(final->failure_reason(), "provider_unavailable");
  // Three BOOKs, at least two failed cancels and the one that worked.
  EXPECT_GE(final->attempt_count(), 6);
  auto stats = stack_->KeyStats(*id);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->book_calls(), 3);
  EXPECT_EQ(stats->live_bookings(), 0);
  auto orphans = stack_->CountOrphans();
  ASSERT_OK(orphans);
  EXPECT_EQ(*orphans, 0);
}

// The retry after RESOURCE_EXHAUSTED waited at least the provider's hint
// (200 ms), although our own backoff is at most 50 ms.
TEST_F(ModesTest, RateLimitedRetryHonoursTheRetryAfterHint) {
  ASSERT_NE(stack_, nullptr);
  auto id = stack_->Create("m_rate_limited", "req-hint");
  ASSERT_OK(id);
  ASSERT_OK(stack_->WaitForTerminalOr(Appt::CONFIRMED, *id));
  auto events = stack_->store()->ListEvents(*id);
  ASSERT_OK(events);
  absl::Time retry_scheduled = absl::InfinitePast();
  absl::Time reclaimed = absl::InfinitePast();
  for (const auto& e : *events) {
    if (e.from_state == Appt::IN_PROGRESS && e.to_state == Appt::PENDING) {
      retry_scheduled = e.time;
    }
    if (e.from_state == Appt::PENDING && e.to_state == Appt::IN_PROGRESS &&
        retry_scheduled != absl::InfinitePast()) {
      reclaimed = e.time;
    }
  }
  ASSERT_NE(retry_scheduled, absl::InfinitePast());
  ASSERT_NE(reclaimed, absl::InfinitePast());
  EXPECT_GE(reclaimed - retry_scheduled, absl::Milliseconds(200));
}

}  // namespace
}  // namespace booking::testing
