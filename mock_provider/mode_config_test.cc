#include "mock_provider/mode_config.h"

#include <cstdlib>
#include <fstream>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking::mock {
namespace {

using ::booking::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParseModeNameTest, KnowsEveryModeOfTheDesign) {
  const std::pair<const char*, Mode> expected[] = {
      {"immediate", ::provider::v1::IMMEDIATE},
      {"pending", ::provider::v1::PENDING_CONFIRM},
      {"delayed", ::provider::v1::DELAYED},
      {"flaky", ::provider::v1::FLAKY},
      {"timeout", ::provider::v1::TIMEOUT},
      {"always_fail", ::provider::v1::ALWAYS_FAIL},
      {"confirm_fail", ::provider::v1::CONFIRM_FAIL},
      {"reject", ::provider::v1::REJECT},
      {"rate_limited", ::provider::v1::RATE_LIMITED},
      {"decline_later", ::provider::v1::DECLINE_LATER},
  };
  for (const auto& [name, mode] : expected) {
    auto parsed = ParseModeName(name);
    ASSERT_OK(parsed) << name;
    EXPECT_EQ(*parsed, mode);
    EXPECT_EQ(ModeName(mode), name);
  }
  EXPECT_THAT(ParseModeName("Flaky"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown mode 'Flaky'")));
}

TEST(ParseModesFlagTest, ParsesTheDocumentedExamples) {
  auto table = ParseModesFlag(
      "clinic-b=flaky:fail_first_n=2,x=delayed:delay_ms=3000,"
      "y=flaky:fail_fraction=0.3,z=rate_limited:retry_after_ms=500,"
      "w=timeout:delay_ms=100:fail_first_n=1,*=pending");
  ASSERT_OK(table);
  ASSERT_EQ(table->size(), 6u);
  EXPECT_EQ(table->at("clinic-b").mode, ::provider::v1::FLAKY);
  EXPECT_EQ(table->at("clinic-b").fail_first_n, 2);
  EXPECT_EQ(table->at("x").mode, ::provider::v1::DELAYED);
  EXPECT_EQ(table->at("x").delay_ms, 3000);
  EXPECT_DOUBLE_EQ(table->at("y").fail_fraction, 0.3);
  EXPECT_EQ(table->at("z").retry_after_ms, 500);
  EXPECT_EQ(table->at("w").delay_ms, 100);
  EXPECT_EQ(table->at("w").fail_first_n, 1);
  EXPECT_EQ(table->at(kDefaultProvider).mode, ::provider::v1::PENDING_CONFIRM);
  EXPECT_EQ(FormatModeSpec(table->at("w")),
            "timeout:delay_ms=100:fail_first_n=1");
}

TEST(ParseModesFlagTest, EmptyFlagMeansNoEntries) {
  auto table = ParseModesFlag("");
  ASSERT_OK(table);
  EXPECT_TRUE(table->empty());
}

TEST(ParseModesFlagTest, BadEntriesAreNamed) {
  EXPECT_THAT(ParseModesFlag("a=immediate,b"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--modes entry 'b': expected")));
  EXPECT_THAT(ParseModesFlag("a=sometimes"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--modes entry 'a=sometimes': unknown mode")));
  EXPECT_THAT(ParseModesFlag("a=delayed:delay=5"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown parameter 'delay'")));
  EXPECT_THAT(ParseModesFlag("a=delayed:delay_ms=soon"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("delay_ms='soon' is not an integer")));
  EXPECT_THAT(ParseModesFlag("a=delayed:delay_ms"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must be NAME=VALUE")));
  EXPECT_THAT(ParseModesFlag("a=immediate:delay_ms=5"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("delay_ms does not apply to mode immediate")));
  EXPECT_THAT(ParseModesFlag("a=flaky:fail_fraction=1.5"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("fail_fraction must be in [0, 1]")));
  EXPECT_THAT(
      ParseModesFlag("a=flaky:fail_first_n=1:fail_fraction=0.5"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not both")));
  EXPECT_THAT(ParseModesFlag("a=delayed:delay_ms=-1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must not be negative")));
  EXPECT_THAT(ParseModesFlag("a=immediate,a=reject"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("provider 'a' is given twice")));
  EXPECT_THAT(ParseModesFlag("=immediate"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("provider id is empty")));
}

TEST(WithDefaultsTest, FillsEachModesDefaults) {
  auto with = [](Mode m) {
    ModeSpec s;
    s.mode = m;
    return WithDefaults(s);
  };
  EXPECT_EQ(with(::provider::v1::DELAYED).delay_ms, 2000);
  EXPECT_EQ(with(::provider::v1::TIMEOUT).delay_ms, 60000);
  EXPECT_EQ(with(::provider::v1::FLAKY).fail_first_n, 2);
  EXPECT_EQ(with(::provider::v1::RATE_LIMITED).retry_after_ms, 1000);
  EXPECT_EQ(with(::provider::v1::PENDING_CONFIRM).confirm_after_ms, 500);
  EXPECT_EQ(with(::provider::v1::DECLINE_LATER).decline_after_ms, 1000);
  // Where fail_first_n limits a failure mode, 0 keeps meaning "every call".
  EXPECT_EQ(with(::provider::v1::CONFIRM_FAIL).fail_first_n, 0);
  // A fraction replaces the first-n default.
  ModeSpec fraction;
  fraction.mode = ::provider::v1::FLAKY;
  fraction.fail_fraction = 0.25;
  EXPECT_EQ(WithDefaults(fraction).fail_first_n, 0);
}

TEST(ParseModesJsonTest, ParsesObjectsOfModes) {
  auto table = ParseModesJson(R"({
    "clinic-a": {"mode": "flaky", "fail_first_n": 2},
    "clinic-b": {"mode": "flaky", "fail_fraction": 0.5},
    "*": {"mode": "decline_later", "decline_after_ms": 250}
  })");
  ASSERT_OK(table);
  EXPECT_EQ(table->at("clinic-a").fail_first_n, 2);
  EXPECT_DOUBLE_EQ(table->at("clinic-b").fail_fraction, 0.5);
  EXPECT_EQ(table->at("*").mode, ::provider::v1::DECLINE_LATER);
  EXPECT_EQ(table->at("*").decline_after_ms, 250);
}

TEST(ParseModesJsonTest, BadEntriesAreNamed) {
  EXPECT_THAT(ParseModesJson("{"), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("not valid JSON")));
  EXPECT_THAT(ParseModesJson("[]"), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("must be an object")));
  EXPECT_THAT(
      ParseModesJson(R"({"a": {"fail_first_n": 2}})"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("entry 'a': \"mode\" (a string) is required")));
  EXPECT_THAT(ParseModesJson(R"({"a": {"mode": "flaky", "n": 2}})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("entry 'a': unknown parameter 'n'")));
  EXPECT_THAT(
      ParseModesJson(R"({"a": {"mode": "flaky", "fail_first_n": "2"}})"),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("fail_first_n must be a number")));
  EXPECT_THAT(ParseModesJson(R"({"a": {"mode": "reject", "delay_ms": 10}})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("delay_ms does not apply to mode reject")));
}

TEST(LoadModesFileTest, ReadsAFileAndNamesItInErrors) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  const std::string good = dir + "/modes.json";
  std::ofstream(good) << R"({"x": {"mode": "reject"}})";
  auto table = LoadModesFile(good);
  ASSERT_OK(table);
  EXPECT_EQ(table->at("x").mode, ::provider::v1::REJECT);

  const std::string bad = dir + "/bad.json";
  std::ofstream(bad) << R"({"x": {"mode": "nope"}})";
  EXPECT_THAT(LoadModesFile(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("bad.json: modes file entry 'x'")));
  EXPECT_THAT(LoadModesFile(dir + "/missing.json"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(ValidateModeSpecTest, RefusesUnspecifiedMode) {
  ModeSpec spec;
  spec.mode = ::provider::v1::MODE_UNSPECIFIED;
  EXPECT_THAT(ValidateModeSpec(spec, "SetMode"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("SetMode: mode 0 is not a mode")));
}

}  // namespace
}  // namespace booking::mock
