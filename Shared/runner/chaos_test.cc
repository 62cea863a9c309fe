#include "Shared/runner/chaos.h"

#include "gtest/gtest.h"
#include "mock_provider/mode_config.h"

namespace booking::scenarios {
namespace {

// chaos.sh hands these to mock_provider --modes and api_server --providers:
// a typo would only show in a manual chaos run.
TEST(ChaosTest, ModesAreValidForTheMockAndCoverTheMix) {
  auto table = mock::ParseModesFlag(ChaosModesFlag());
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), ChaosProviders().size());
  for (const char* mode :
       {"immediate", "flaky", "pending", "delayed", "timeout", "confirm_fail",
        "rate_limited", "reject", "decline_later"}) {
    auto parsed = mock::ParseModeName(mode);
    ASSERT_TRUE(parsed.ok());
    bool found = false;
    for (const auto& [id, spec] : *table) found |= spec.mode == *parsed;
    EXPECT_TRUE(found) << mode;
  }
  EXPECT_NE(ChaosProvidersFlag().find("chaos-immediate"), std::string::npos);
}

TEST(ChaosTest, IntentsRoundTripThroughJson) {
  std::vector<ChaosIntent> in(2);
  in[0].request_id = "chaos-7-0";
  in[0].provider_id = "chaos-ghost";
  in[0].appointment_id = "apt_1";
  in[0].attempts = 3;
  in[0].replayed = true;
  in[0].cancel = true;
  in[0].cancel_code = "OK";
  in[1].request_id = "chaos-7-1";
  in[1].refused_code = "INVALID_ARGUMENT";
  uint64_t seed = 0;
  auto out = ChaosIntentsFromJson(ChaosIntentsJson(7, in).dump(), &seed);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(seed, 7u);
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].appointment_id, "apt_1");
  EXPECT_EQ((*out)[0].attempts, 3);
  EXPECT_TRUE((*out)[0].replayed);
  EXPECT_TRUE((*out)[0].cancel);
  EXPECT_EQ((*out)[1].refused_code, "INVALID_ARGUMENT");
  EXPECT_FALSE(ChaosIntentsFromJson("{}", &seed).ok());
}

TEST(ChaosTest, SummaryNamesSeedAndVerdict) {
  ChaosOutcome o;
  o.seed = 42;
  o.intents = 10;
  o.accepted = 10;
  o.confirmed = 9;
  o.failed = 1;
  o.failed_by_reason["provider_rejected"] = 1;
  o.orphan = 1;
  o.problems = {"orphan: live booking with key k"};
  const std::string s = ChaosSummary(o);
  EXPECT_NE(s.find("seed 42"), std::string::npos);
  EXPECT_NE(s.find("provider_rejected 1"), std::string::npos);
  EXPECT_NE(s.find("lost 0, duplicate 0, orphan 1"), std::string::npos);
  EXPECT_NE(s.find("CHAOS RESULT: FAIL (seed 42)"), std::string::npos);
  EXPECT_EQ(ToJson(o)["orphan"], 1);
}

}  // namespace
}  // namespace booking::scenarios
