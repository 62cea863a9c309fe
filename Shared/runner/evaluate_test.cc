#include "Shared/runner/evaluate.h"

#include "Shared/runner/report.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::scenarios {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

Case OneCreate() {
  Case c;
  c.id = "happy";
  c.provider_id = "p";
  c.mode = "immediate";
  Step create;
  create.op = Op::kCreate;
  create.intent = "visit";
  create.request_id = "r1";
  c.steps = {create};
  return c;
}

CaseExpectation ExpectConfirmed() {
  CaseExpectation e;
  IntentExpectation i;
  i.state = "CONFIRMED";
  i.live_bookings = Range{1, 1};
  e.service.intents["visit"] = i;
  e.service.calls = {{0, "OK", false}};
  e.legacy.lost = 0;
  e.legacy.duplicate = 0;
  e.legacy.orphan = 0;
  return e;
}

CaseRun ServiceRun(const std::string& id) {
  CaseRun r;
  r.case_id = "happy";
  r.path = kServicePath;
  CallRecord call;
  call.step = 0;
  call.op = "create";
  call.intent = "visit";
  call.appointment_id = id;
  r.calls = {call};
  IntentRecord i;
  i.name = "visit";
  i.appointment_id = id;
  i.keys = {id};
  r.intents = {i};
  return r;
}

BookingView Live(const std::string& id, const std::string& key) {
  return BookingView{id, key, "CONFIRMED", true};
}

CaseInspection Confirmed(const std::string& id) {
  CaseInspection in;
  in.bookings = {Live("b1", id)};
  in.book_calls_by_key[id] = 1;
  in.appointments[id] = AppointmentView{true, "CONFIRMED", "", 1};
  return in;
}

TEST(EvaluateTest, ServiceHappyPathPasses) {
  CaseResult r = Evaluate(OneCreate(), ExpectConfirmed(), ServiceRun("a1"),
                          Confirmed("a1"));
  EXPECT_TRUE(r.pass) << testing::PrintToString(r.failures);
  EXPECT_EQ(r.lost + r.duplicate + r.orphan, 0);
  ASSERT_EQ(r.intents.size(), 1u);
  EXPECT_EQ(r.intents[0].state, "CONFIRMED");
  EXPECT_EQ(r.intents[0].book_calls, 1);
  EXPECT_EQ(r.idempotency_checks, 2);  // the replay flag + one per intent
  EXPECT_EQ(r.idempotency_passed, 2);
}

TEST(EvaluateTest, ServiceDuplicateAndOrphanFailTheCase) {
  CaseInspection in = Confirmed("a1");
  in.bookings.push_back(Live("b2", "a1"));        // a second live booking
  in.bookings.push_back(Live("b3", "stranger"));  // a key no one knows
  CaseResult r = Evaluate(OneCreate(), ExpectConfirmed(), ServiceRun("a1"), in);
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.duplicate, 1);
  EXPECT_EQ(r.orphan, 1);
  EXPECT_EQ(r.provider_live_bookings, 3);
  EXPECT_THAT(r.failures, Contains("duplicate 1, want 0"));
  EXPECT_THAT(r.failures, Contains("orphan 1, want 0"));
  EXPECT_THAT(r.failures, Contains("intent visit: live_bookings 2, want 1"));
}

TEST(EvaluateTest, ServiceConfirmedWithoutBookingIsLost) {
  CaseInspection in = Confirmed("a1");
  in.bookings[0].live = false;
  in.bookings[0].status = "DECLINED";
  CaseResult r = Evaluate(OneCreate(), ExpectConfirmed(), ServiceRun("a1"), in);
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.lost, 1);
  EXPECT_TRUE(r.intents[0].lost);
}

TEST(EvaluateTest, ServiceBookingOfAFailedAppointmentIsAnOrphan) {
  CaseInspection in = Confirmed("a1");
  in.appointments["a1"].state = "FAILED";
  CaseExpectation e = ExpectConfirmed();
  e.service.intents["visit"].state = "FAILED";
  e.service.intents["visit"].live_bookings.reset();
  CaseResult r = Evaluate(OneCreate(), e, ServiceRun("a1"), in);
  EXPECT_EQ(r.orphan, 1);
  EXPECT_EQ(r.lost, 0);  // not expected booked, not believed booked
  EXPECT_FALSE(r.pass);
}

TEST(EvaluateTest, WrongAnswerAndReplayFlagAreReported) {
  CaseRun run = ServiceRun("a1");
  run.calls[0].code = "UNAVAILABLE";
  run.calls[0].message = "db busy";
  run.calls[0].replay = true;
  CaseResult r = Evaluate(OneCreate(), ExpectConfirmed(), run, Confirmed("a1"));
  EXPECT_FALSE(r.pass);
  EXPECT_THAT(r.failures,
              Contains(HasSubstr("step 0 (create ): answered UNAVAILABLE, "
                                 "want OK — db busy")));
  EXPECT_THAT(r.failures,
              Contains("step 0: idempotent-replay true, want false"));
  EXPECT_EQ(r.errors, 1);
  EXPECT_EQ(r.idempotency_passed, 1);  // only the per-intent check
}

TEST(EvaluateTest, PlayErrorsFailTheCase) {
  CaseRun run = ServiceRun("a1");
  run.play_errors = {"wait_state visit: still PENDING after 30s"};
  CaseResult r = Evaluate(OneCreate(), ExpectConfirmed(), run, Confirmed("a1"));
  EXPECT_FALSE(r.pass);
  EXPECT_THAT(r.failures,
              Contains("play: wait_state visit: still PENDING after 30s"));
}

TEST(EvaluateTest, BreakerExpectation) {
  CaseExpectation e = ExpectConfirmed();
  e.service.breaker_opened = true;
  CaseInspection in = Confirmed("a1");
  CaseResult unread = Evaluate(OneCreate(), e, ServiceRun("a1"), in);
  EXPECT_THAT(unread.failures, Contains(HasSubstr("could not be read")));
  in.breaker.scraped = true;
  CaseResult never = Evaluate(OneCreate(), e, ServiceRun("a1"), in);
  EXPECT_THAT(never.failures, Contains("breaker never opened"));
  in.breaker.openings = 1;
  in.breaker.state = 1;
  CaseResult stuck = Evaluate(OneCreate(), e, ServiceRun("a1"), in);
  EXPECT_THAT(stuck.failures, Contains("breaker did not close (state 1)"));
  in.breaker.state = 0;
  EXPECT_TRUE(Evaluate(OneCreate(), e, ServiceRun("a1"), in).pass);
}

// The legacy client booked twice for one intent (a replay) and a third
// booking was made behind a timeout it never learned of.
TEST(EvaluateTest, LegacyDuplicatesAndUnknownBookings) {
  Case c = OneCreate();
  c.steps.push_back(c.steps[0]);
  c.steps.push_back(c.steps[0]);
  CaseRun run;
  run.case_id = c.id;
  run.path = kLegacyPath;
  for (int i = 0; i < 3; ++i) {
    CallRecord call;
    call.step = i;
    call.op = "create";
    call.intent = "visit";
    call.code = i < 2 ? "OK" : "DEADLINE_EXCEEDED";
    call.key = "k" + std::to_string(i);
    run.calls.push_back(call);
  }
  IntentRecord i;
  i.name = "visit";
  i.keys = {"k0", "k1", "k2"};
  i.held_booking_ids = {"b0", "b1"};
  run.intents = {i};
  CaseInspection in;
  in.bookings = {Live("b0", "k0"), Live("b1", "k1"), Live("b2", "k2")};
  CaseExpectation e = ExpectConfirmed();
  e.legacy.duplicate = 2;
  e.legacy.orphan = 1;
  CaseResult r = Evaluate(c, e, run, in);
  EXPECT_EQ(r.duplicate, 2);
  EXPECT_EQ(r.orphan, 1);  // b2: the client never saw its id
  EXPECT_EQ(r.lost, 0);
  EXPECT_EQ(r.retries, 0);
  EXPECT_EQ(r.errors, 1);
  EXPECT_TRUE(r.pass) << testing::PrintToString(r.failures);
  EXPECT_EQ(r.intents[0].state, "booked");
  EXPECT_EQ(r.intents[0].live_bookings, 3);
}

TEST(EvaluateTest, LegacyBelievesBookedButProviderDroppedIt) {
  CaseRun run;
  run.case_id = "happy";
  run.path = kLegacyPath;
  CallRecord call;
  call.op = "create";
  call.intent = "visit";
  run.calls = {call};
  IntentRecord i;
  i.name = "visit";
  i.keys = {"k0"};
  i.held_booking_ids = {"b0"};
  run.intents = {i};
  CaseInspection in;
  in.bookings = {BookingView{"b0", "k0", "DECLINED", false}};
  CaseResult r = Evaluate(OneCreate(), ExpectConfirmed(), run, in);
  EXPECT_EQ(r.lost, 1);
  EXPECT_FALSE(r.pass);  // the expectation said lost 0
  EXPECT_THAT(r.failures, Contains("lost 1, want 0"));
}

TEST(ReportTest, PercentileIsNearestRank) {
  EXPECT_EQ(Percentile({}, 50), 0);
  EXPECT_EQ(Percentile({5}, 95), 5);
  EXPECT_EQ(Percentile({4, 1, 3, 2}, 50), 2);
  EXPECT_EQ(Percentile({4, 1, 3, 2}, 95), 4);
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  EXPECT_EQ(Percentile(hundred, 95), 95);
  EXPECT_EQ(Percentile(hundred, 100), 100);
}

TEST(ReportTest, SummariesTablesAndVerdict) {
  ScenarioData data;
  data.cases = {OneCreate()};
  Expectations expected{{"happy", ExpectConfirmed()}};
  CaseResult good = Evaluate(OneCreate(), ExpectConfirmed(), ServiceRun("a1"),
                             Confirmed("a1"));
  CaseInspection dup = Confirmed("a1");
  dup.bookings.push_back(Live("b2", "a1"));
  CaseRun legacy_run = ServiceRun("a1");
  legacy_run.path = kLegacyPath;
  legacy_run.intents[0].held_booking_ids = {"b1", "b2"};
  CaseResult legacy = Evaluate(OneCreate(), ExpectConfirmed(), legacy_run, dup);

  PathSummary ss = Summarize(kServicePath, {good}, expected);
  PathSummary ls = Summarize(kLegacyPath, {legacy}, expected);
  EXPECT_EQ(ss.correct_outcomes, 1);
  EXPECT_EQ(ls.correct_outcomes, 0);
  EXPECT_EQ(ls.duplicate, 1);
  RunInfo info;
  EXPECT_FALSE(RunPasses(ls, ss, info));  // legacy not as predicted
  legacy.pass = true;
  ls = Summarize(kLegacyPath, {legacy}, expected);
  EXPECT_TRUE(RunPasses(ls, ss, info));
  info.pii_leaks = {"api.log:3: contains \"Ada…\" in clear"};
  EXPECT_FALSE(RunPasses(ls, ss, info));
  info.pii_leaks.clear();

  const std::string table = ConsoleSummary({legacy}, {good}, ls, ss, info);
  EXPECT_THAT(table, HasSubstr("happy"));
  EXPECT_THAT(table, HasSubstr("PASS"));
  EXPECT_THAT(table, HasSubstr("service 0 / 0 / 0, legacy 0 / 1 / 0"));
  EXPECT_THAT(table, HasSubstr("RESULT: PASS"));

  const std::string md =
      CompareReportMarkdown(data, {legacy}, {good}, ls, ss, info);
  for (const char* section :
       {"## Per case", "## Correctness: A vs. B", "## Metrics",
        "## Rollout guidance", "**Shadow.**", "**Dual-run", "**Cut-over.**",
        "**Rollback.**", "## Limits", "**Verdict: PASS**"}) {
    EXPECT_THAT(md, HasSubstr(section));
  }
  EXPECT_THAT(md, HasSubstr("| `happy` | 0 | 1 | 0 | 0 | 0 | 0 |"));

  info.reconciler_report = nlohmann::json::parse(R"({"exit_code": 0,
    "findings": [{"class": "orphan", "appointment_id": "x", "action":
      "cancel_bookings", "outcome": "repaired", "detail": "cancelled b|1"}],
    "summary": {"orphan": {"found": 1, "repaired": 1}, "stuck": {"found": 0}}})");
  const std::string with_reconciler =
      CompareReportMarkdown(data, {legacy}, {good}, ls, ss, info);
  EXPECT_THAT(with_reconciler,
              HasSubstr("| orphan | `x` | cancel_bookings | repaired | "
                        "cancelled b\\|1 |"));
  EXPECT_THAT(with_reconciler,
              HasSubstr("By class: orphan 1 found / 1 repaired. Exit code 0."));

  OrderedJson agg = AggregatedMetricsJson(ls, ss, info);
  EXPECT_EQ(agg["difference"]["duplicate"], 1);
  EXPECT_EQ(agg["service"]["success_rate"], 1.0);
  EXPECT_EQ(agg["pass"], true);
  OrderedJson post = PathResultsJson(ss, {good}, info);
  EXPECT_EQ(post["cases"][0]["case_id"], "happy");
  EXPECT_THAT(post["cases"][0]["failures"], IsEmpty());
}

}  // namespace
}  // namespace booking::scenarios
