#include "core/observability/logging.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/common/clock.h"
#include "core/observability/pii.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace booking {
namespace {

using ::booking::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using json = nlohmann::ordered_json;

json Parse(const std::string& line) {
  // Throws (failing the test) if the line is not valid JSON.
  return json::parse(line);
}

std::vector<std::string> Keys(const json& j) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  return keys;
}

TEST(LogEventTest, EmitsOneJsonLineWithHeaderThenFieldsInOrder) {
  SimulatedClock clock(absl::FromUnixMillis(1'767'323'045'678));
  ScopedLogCapture capture(LogLevel::kDebug, &clock);
  LogEvent(LogLevel::kWarn, "provider_call_failed")
      .Field("request_id", "req-1")
      .Field("appointment_id", std::string("appt-9"))
      .Field("provider_id", absl::string_view("prov-a"))
      .Field("attempt", 3)
      .Field("latency_ms", 1.5)
      .Field("retryable", true)
      .Error(absl::UnavailableError("provider down"));

  ASSERT_THAT(capture.Lines(), SizeIs(1));
  const json j = Parse(capture.Lines()[0]);
  EXPECT_THAT(Keys(j),
              ElementsAre("ts", "level", "service", "event", "request_id",
                          "appointment_id", "provider_id", "attempt",
                          "latency_ms", "retryable", "error"));
  EXPECT_EQ(j["ts"], "2026-01-02T03:04:05.678Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["service"], "test");
  EXPECT_EQ(j["event"], "provider_call_failed");
  EXPECT_EQ(j["request_id"], "req-1");
  EXPECT_EQ(j["appointment_id"], "appt-9");
  EXPECT_EQ(j["attempt"], 3);
  EXPECT_EQ(j["latency_ms"], 1.5);
  EXPECT_EQ(j["retryable"], true);
  EXPECT_EQ(j["error"], "UNAVAILABLE: provider down");
}

TEST(LogEventTest, EmitIsExplicitAndOnlyOnce) {
  ScopedLogCapture capture;
  {
    LogEvent event(LogLevel::kInfo, "state_transition");
    event.Field("from_state", "PENDING").Field("to_state", "IN_PROGRESS");
    event.Emit();
    EXPECT_THAT(capture.Lines(), SizeIs(1));
    event.Emit();
  }
  EXPECT_THAT(capture.Lines(), SizeIs(1));
  const json j = Parse(capture.Lines()[0]);
  EXPECT_EQ(j["from_state"], "PENDING");
  EXPECT_EQ(j["to_state"], "IN_PROGRESS");
}

TEST(LogEventTest, NumbersKeepTheirValue) {
  ScopedLogCapture capture;
  LogEvent(LogLevel::kInfo, "n")
      .Field("i64", int64_t{-9'000'000'000})
      .Field("u64", uint64_t{18'446'744'073'709'551'615u})
      .Field("small", 0.1)
      .Field("big", 1e20)
      .Field("nan", std::nan(""))
      .Field("ok_status_is_no_error", 0)
      .Error(absl::OkStatus());
  const json j = Parse(capture.Lines().at(0));
  EXPECT_EQ(j["i64"], -9'000'000'000);
  EXPECT_EQ(j["u64"], 18'446'744'073'709'551'615u);
  EXPECT_EQ(j["small"], 0.1);
  EXPECT_EQ(j["big"], 1e20);
  EXPECT_TRUE(j["nan"].is_null());
  EXPECT_FALSE(j.contains("error"));
}

TEST(LogEventTest, EscapesStringsSoTheLineAlwaysParses) {
  ScopedLogCapture capture;
  const std::string nasty =
      std::string("quote\" backslash\\ newline\n tab\t nul") + '\0' +
      "\x1f end";
  LogEvent(LogLevel::kInfo, "ev\"ent")
      .Field("nasty", nasty)
      .Field("utf8", "Élodie 张三 😀")
      .Field("invalid_utf8",
             "a\xFF"
             "b\xC3")
      .Field("we\"ird\nkey", "v");
  const std::vector<std::string> lines = capture.Lines();
  ASSERT_THAT(lines, SizeIs(1));
  // One physical line: the newline inside a value is escaped.
  EXPECT_EQ(lines[0].find('\n'), std::string::npos);
  EXPECT_THAT(lines[0], HasSubstr("\\u000a"));
  EXPECT_THAT(lines[0], HasSubstr("\\u0000"));
  EXPECT_THAT(lines[0], HasSubstr("Élodie 张三 😀"));  // Not \u-escaped.
  const json j = Parse(lines[0]);
  EXPECT_EQ(j["event"], "ev\"ent");
  EXPECT_EQ(j["nasty"], nasty);
  EXPECT_EQ(j["utf8"], "Élodie 张三 😀");
  EXPECT_EQ(j["invalid_utf8"],
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");  // U+FFFD.
  EXPECT_EQ(j["we\"ird\nkey"], "v");
}

TEST(LogEventTest, HeaderKeysCannotBeShadowed) {
  ScopedLogCapture capture;
  LogEvent(LogLevel::kInfo, "real").Field("event", "fake").Field("ts", 1);
  const json j = Parse(capture.Lines().at(0));
  EXPECT_EQ(j["event"], "real");
  EXPECT_EQ(j["_event"], "fake");
  EXPECT_EQ(j["_ts"], 1);
  EXPECT_TRUE(j["ts"].is_string());
}

TEST(LogEventTest, LinesBelowTheLevelAreDropped) {
  ScopedLogCapture capture(LogLevel::kWarn);
  LogEvent(LogLevel::kDebug, "d").Field("x", 1);
  LogEvent(LogLevel::kInfo, "i");
  LogEvent(LogLevel::kWarn, "w");
  LogEvent(LogLevel::kError, "e");
  const std::vector<std::string> lines = capture.Lines();
  ASSERT_THAT(lines, SizeIs(2));
  EXPECT_EQ(Parse(lines[0])["event"], "w");
  EXPECT_EQ(Parse(lines[0])["level"], "warn");
  EXPECT_EQ(Parse(lines[1])["event"], "e");
  EXPECT_EQ(Parse(lines[1])["level"], "error");
}

TEST(LoggingTest, ParseLogLevel) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("INFO"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_THAT(ParseLogLevel("loud"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("loud")));
}

TEST(LoggingTest, WritesToTheLogFileWithServiceName) {
  const std::string path =
      std::string(getenv("TEST_TMPDIR")) + "/logging_test.log";
  {
    ScopedLogCapture restore;  // Puts the previous setup back afterwards.
    LoggingOptions options;
    options.service = "outbox_worker";
    options.level = LogLevel::kInfo;
    options.log_file = path;
    ASSERT_OK(InitLogging(options));
    LogEvent(LogLevel::kInfo, "started").Field("attempt", 1);
    LogEvent(LogLevel::kDebug, "hidden");
  }
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_THAT(lines, SizeIs(1));
  const json j = Parse(lines[0]);
  EXPECT_EQ(j["service"], "outbox_worker");
  EXPECT_EQ(j["event"], "started");
}

TEST(LoggingTest, UnopenableLogFileIsAnErrorAndKeepsTheOldSetup) {
  ScopedLogCapture capture;
  LoggingOptions options;
  options.log_file = "/nonexistent-dir/x/y.log";
  EXPECT_THAT(InitLogging(options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("/nonexistent-dir/x/y.log")));
  LogEvent(LogLevel::kInfo, "still_captured");
  EXPECT_THAT(capture.Lines(), SizeIs(1));
}

TEST(LoggingTest, PatientDataNeverAppearsInClear) {
  ScopedLogCapture capture;
  const std::string name = "Alice Example";
  const std::string email = "alice@example.com";
  const std::string phone = "+14155550123";
  const std::string notes = "secret note";
  // The pattern callers follow: mask patient fields, leave notes out.
  LogEvent(LogLevel::kInfo, "appointment_created")
      .Field("appointment_id", "appt-1")
      .Field("patient_name", MaskName(name))
      .Field("patient_email", MaskEmail(email))
      .Field("patient_phone", MaskPhone(phone))
      .Field("has_notes", !notes.empty());
  const std::string text = capture.Text();
  ASSERT_FALSE(text.empty());
  for (const std::string& secret :
       {name, email, phone, notes, std::string("Alice"), std::string("alice@"),
        std::string("4155550"), std::string("secret")}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
  const json j = Parse(capture.Lines().at(0));
  EXPECT_EQ(j["patient_name"], "A***");
  EXPECT_EQ(j["patient_email"], "***@example.com");
  EXPECT_EQ(j["patient_phone"], "***23");
}

}  // namespace
}  // namespace booking
