#include "Shared/runner/scenario_data.h"

#include <set>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mock_provider/mode_config.h"

namespace booking::scenarios {
namespace {

using ::booking::testing::StatusIs;
using ::testing::HasSubstr;

// The shipped data: at least ten cases, every one with an expectation,
// modes the mock accepts, and the issue's canonical situations covered.
TEST(ShippedDataTest, ParsesAndIsConsistent) {
  auto data = LoadScenarioData("Shared/test_data.json");
  ASSERT_OK(data);
  auto expected = LoadExpectations("Shared/expected_postchange.json");
  ASSERT_OK(expected);
  EXPECT_OK(CheckConsistent(*data, *expected));
  EXPECT_GE(data->cases.size(), 10u);
  EXPECT_OK(mock::ParseModesFlag(ModesFlag(*data)).status());

  std::set<std::string> ops;
  std::set<std::string> modes;
  for (const Case& c : data->cases) {
    modes.insert(c.mode.substr(0, c.mode.find(':')));
    for (const Step& s : c.steps) ops.insert(std::string(OpName(s.op)));
    // The service must always end without a wrong booking.
    const PathExpectation& svc = expected->at(c.id).service;
    EXPECT_FALSE(svc.lost.has_value() && *svc.lost != 0) << c.id;
    EXPECT_FALSE(svc.intents.empty()) << c.id;
  }
  for (const char* mode :
       {"immediate", "flaky", "delayed", "always_fail", "confirm_fail",
        "pending", "reject", "decline_later"}) {
    EXPECT_TRUE(modes.count(mode)) << mode;
  }
  for (const char* op : {"create", "create_burst", "cancel", "set_mode",
                         "inject_orphan", "wait_breaker"}) {
    EXPECT_TRUE(ops.count(op)) << op;
  }
}

constexpr char kMinimal[] = R"({
  "schema": "s",
  "defaults": {"customer_id": "c", "location": "L", "start_in_hours": 2,
               "duration_minutes": 30, "priority": "NORMAL",
               "patient": {"display_name": "P"}},
  "cases": [CASES]
})";

std::string WithCases(const std::string& cases) {
  std::string s = kMinimal;
  s.replace(s.find("CASES"), 5, cases);
  return s;
}

constexpr char kCase[] = R"({"id": "a", "purpose": "p", "provider_id": "pa",
  "mode": "immediate", "must": "m", "steps": [
    {"op": "create", "intent": "visit", "request_id": "r1"},
    {"op": "create_burst", "intent": "slot", "request_id": "b", "count": 3},
    {"op": "wait_state", "intent": "visit", "states": ["CONFIRMED"]}]})";

TEST(ParseScenarioDataTest, ReadsStepsAndFlags) {
  auto data = ParseScenarioData(WithCases(kCase));
  ASSERT_OK(data);
  ASSERT_EQ(data->cases.size(), 1u);
  const Case& c = data->cases[0];
  ASSERT_EQ(c.steps.size(), 3u);
  EXPECT_EQ(c.steps[1].op, Op::kCreateBurst);
  EXPECT_EQ(c.steps[1].count, 3);
  EXPECT_EQ(c.steps[2].states, std::vector<std::string>{"CONFIRMED"});
  EXPECT_EQ(ModesFlag(*data), "pa=immediate");
  EXPECT_EQ(ProvidersFlag(*data), "pa");
  EXPECT_EQ(data->defaults.patient.display_name, "P");
}

TEST(ParseScenarioDataTest, RefusesTyposNamingTheSpot) {
  std::string unknown_op = kCase;
  unknown_op.replace(unknown_op.find("\"create\""), 8, "\"crate\"");
  EXPECT_THAT(ParseScenarioData(WithCases(unknown_op)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("case a.steps[0]: unknown op crate")));

  std::string unknown_key = kCase;
  unknown_key.replace(unknown_key.find("\"count\""), 7, "\"cuont\"");
  EXPECT_THAT(ParseScenarioData(WithCases(unknown_key)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown key cuont")));

  std::string bad_state = kCase;
  bad_state.replace(bad_state.find("\"CONFIRMED\""), 11, "\"DONE\"");
  EXPECT_THAT(
      ParseScenarioData(WithCases(bad_state)).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown state")));

  EXPECT_THAT(
      ParseScenarioData(WithCases(std::string(kCase) + "," + kCase)).status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("duplicate case id")));
  EXPECT_THAT(ParseScenarioData("{not json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseExpectationsTest, RangesPatternsAndConsistency) {
  auto e = ParseExpectations(R"({"schema": "s", "cases": {"a": {
    "service": {"calls": [{"step": 0, "code": "OK", "replay": false}],
                "intents": {"visit": {"state": "CONFIRMED", "attempts": 1},
                            "slot-*": {"attempts": {"min": 1, "max": 4}}},
                "breaker_opened": true},
    "legacy": {"lost": 1, "provider_live_bookings": {"min": 0, "max": 2}}}}})");
  ASSERT_OK(e);
  const PathExpectation& svc = e->at("a").service;
  ASSERT_EQ(svc.calls.size(), 1u);
  EXPECT_EQ(svc.calls[0].replay, false);
  const IntentExpectation* slot = FindIntentExpectation(svc, "slot-2");
  ASSERT_NE(slot, nullptr);
  EXPECT_TRUE(slot->attempts->Contains(4));
  EXPECT_FALSE(slot->attempts->Contains(5));
  EXPECT_EQ(slot->attempts->ToString(), "1..4");
  EXPECT_EQ(FindIntentExpectation(svc, "other"), nullptr);
  EXPECT_EQ(*svc.breaker_opened, true);
  EXPECT_EQ(*e->at("a").legacy.lost, 1);

  auto data = ParseScenarioData(WithCases(kCase));
  ASSERT_OK(data);
  EXPECT_OK(CheckConsistent(*data, *e));

  // Step 2 (wait_state) makes no call.
  auto wrong_step = ParseExpectations(R"({"schema": "s", "cases": {"a": {
    "service": {"calls": [{"step": 2, "code": "OK"}]}, "legacy": {}}}})");
  ASSERT_OK(wrong_step);
  EXPECT_THAT(CheckConsistent(*data, *wrong_step),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a calling step")));
  auto missing = ParseExpectations(R"({"schema": "s", "cases": {}})");
  ASSERT_OK(missing);
  EXPECT_THAT(CheckConsistent(*data, *missing),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no expectation for case a")));
  EXPECT_THAT(
      ParseExpectations(R"({"schema": "s", "cases": {"a": {
    "service": {"intents": {"v": {"attempts": {"min": 3, "max": 1}}}},
    "legacy": {}}}})")
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min > max")));
}

}  // namespace
}  // namespace booking::scenarios
