// The report file and the human summary, without a database: exit codes,
// the JSON schema operators parse, and what the summary shows.

#include "reconciler/report.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace booking::reconciler {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

std::string TmpPath(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Finding Orphan(const std::string& id, Outcome outcome) {
  Finding f;
  f.drift_class = DriftClass::kOrphan;
  f.appointment_id = id;
  f.provider_id = "clinic-a";
  f.booking_ids = {"bk-1", "bk-2"};
  f.evidence["db"] = "absent";
  f.action = "cancel_bookings";
  f.outcome = outcome;
  return f;
}

RunSummary Summary(bool apply) {
  RunSummary s;
  s.run_id = 7;
  s.apply = apply;
  s.started = absl::FromUnixMillis(1'700'000'000'123);
  s.finished = s.started + absl::Seconds(2);
  s.provider_bookings_scanned = 1200;
  s.db_rows_scanned = 1000;
  s.left_in_grace = 2;
  s.left_leased = 1;
  return s;
}

TEST(ReportTest, ExitCodes) {
  RunSummary s = Summary(false);
  EXPECT_EQ(ExitCodeFor(s), kExitClean);
  s.counts(DriftClass::kStuck).Add(Outcome::kRepaired);
  EXPECT_EQ(ExitCodeFor(s), kExitClean);  // everything found was repaired
  s.counts(DriftClass::kOrphan).Add(Outcome::kPlanned);
  EXPECT_EQ(ExitCodeFor(s), kExitDrift);
  RunSummary skipped = Summary(true);
  skipped.counts(DriftClass::kFieldMismatch).Add(Outcome::kSkipped);
  EXPECT_EQ(ExitCodeFor(skipped), kExitDrift);
  RunSummary failed = Summary(true);
  failed.counts(DriftClass::kDuplicate).Add(Outcome::kFailed);
  EXPECT_EQ(ExitCodeFor(failed), kExitDrift);
  s.error = absl::UnavailableError("provider down");
  EXPECT_EQ(ExitCodeFor(s), kExitError);
}

TEST(ReportTest, StreamedReportIsOneJsonDocumentRenamedIntoPlace) {
  const std::string path = TmpPath("report-{run_id}.json");
  absl::StatusOr<std::unique_ptr<ReportWriter>> w =
      ReportWriter::Open(path, 7, false, Summary(false).started);
  ASSERT_OK(w);
  EXPECT_EQ((*w)->path(), TmpPath("report-7.json"));
  ASSERT_OK((*w)->Add(Orphan("a1", Outcome::kPlanned)));
  ASSERT_OK((*w)->Add(Orphan("a2", Outcome::kPlanned)));
  // Not visible under its final name until finished.
  EXPECT_FALSE(std::ifstream(TmpPath("report-7.json")).good());
  RunSummary s = Summary(false);
  s.counts(DriftClass::kOrphan).Add(Outcome::kPlanned);
  s.counts(DriftClass::kOrphan).Add(Outcome::kPlanned);
  s.exit_code = ExitCodeFor(s);
  ASSERT_OK((*w)->Finish(s));
  EXPECT_FALSE(std::ifstream(TmpPath("report-7.json.tmp")).good());

  const nlohmann::json r = nlohmann::json::parse(ReadFile((*w)->path()));
  EXPECT_EQ(r["run_id"], 7);
  EXPECT_EQ(r["mode"], "dry-run");
  EXPECT_EQ(r["started_at"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(r["finished_at"], "2023-11-14T22:13:22.123Z");
  EXPECT_EQ(r["provider_bookings_scanned"], 1200);
  EXPECT_EQ(r["db_rows_scanned"], 1000);
  EXPECT_EQ(r["left_alone"]["in_grace"], 2);
  EXPECT_EQ(r["left_alone"]["leased"], 1);
  ASSERT_EQ(r["findings"].size(), 2u);
  const nlohmann::json& f = r["findings"][1];
  EXPECT_EQ(f["class"], "orphan");
  EXPECT_EQ(f["appointment_id"], "a2");
  EXPECT_EQ(f["provider_id"], "clinic-a");
  EXPECT_EQ(f["booking_ids"], nlohmann::json({"bk-1", "bk-2"}));
  EXPECT_EQ(f["evidence"]["db"], "absent");
  EXPECT_EQ(f["action"], "cancel_bookings");
  EXPECT_EQ(f["outcome"], "planned");
  EXPECT_EQ(f["detail"], "");
  for (DriftClass c : AllDriftClasses()) {
    EXPECT_TRUE(r["summary"].contains(std::string(DriftClassName(c))));
  }
  EXPECT_EQ(r["summary"]["orphan"]["found"], 2);
  EXPECT_EQ(r["summary"]["orphan"]["planned"], 2);
  EXPECT_EQ(r["exit_code"], 1);
  EXPECT_EQ(r["error"], "");
}

TEST(ReportTest, EmptyReportIsValidJson) {
  absl::StatusOr<std::unique_ptr<ReportWriter>> w =
      ReportWriter::Open(TmpPath("empty.json"), 1, true, Summary(true).started);
  ASSERT_OK(w);
  ASSERT_OK((*w)->Finish(Summary(true)));
  const nlohmann::json r =
      nlohmann::json::parse(ReadFile(TmpPath("empty.json")));
  EXPECT_EQ(r["mode"], "apply");
  EXPECT_TRUE(r["findings"].empty());
  EXPECT_EQ(r["exit_code"], 0);
}

TEST(ReportTest, AbandonedReportLeavesNoFileBehind) {
  {
    absl::StatusOr<std::unique_ptr<ReportWriter>> w = ReportWriter::Open(
        TmpPath("abandoned.json"), 1, true, Summary(true).started);
    ASSERT_OK(w);
    ASSERT_OK((*w)->Add(Orphan("a1", Outcome::kRepaired)));
  }
  EXPECT_FALSE(std::ifstream(TmpPath("abandoned.json")).good());
  EXPECT_FALSE(std::ifstream(TmpPath("abandoned.json.tmp")).good());
}

TEST(ReportTest, HumanSummaryFitsOneScreen) {
  RunSummary s = Summary(false);
  for (int i = 0; i < 12; ++i) {
    s.counts(DriftClass::kOrphan).Add(Outcome::kPlanned);
    if (i < 10)
      s.examples.push_back(Orphan(absl::StrCat("a", i), Outcome::kPlanned));
  }
  s.counts(DriftClass::kProviderLost).Add(Outcome::kPlanned);
  s.exit_code = ExitCodeFor(s);
  s.report_path = "/var/log/reconciler/7.json";
  const std::string text = FormatHumanSummary(s);
  std::printf("%s", text.c_str());  // for eyes, in the test log

  EXPECT_THAT(text, HasSubstr("reconciler run 7 (dry-run) at "
                              "2023-11-14T22:13:20.123Z: 13 finding(s), "
                              "exit 1 (drift found)"));
  EXPECT_THAT(text, HasSubstr("scanned 1200 provider booking(s), 1000 "
                              "database row(s); left alone: 2 in grace, 1 "
                              "leased"));
  EXPECT_THAT(text, ContainsRegex("orphan +12 +0 +12 +0 +0"));
  EXPECT_THAT(text, ContainsRegex("provider_lost +1 +0 +1 +0 +0"));
  EXPECT_THAT(text, ContainsRegex("late_confirmation +0 +0 +0 +0 +0"));
  EXPECT_THAT(text, ContainsRegex("total +13 +0 +13 +0 +0"));
  EXPECT_THAT(text, HasSubstr("orphan            a0 booking=bk-1+1 -> "
                              "cancel_bookings: planned"));
  EXPECT_THAT(text, HasSubstr("... and 3 more (see the report)"));
  EXPECT_THAT(text, HasSubstr("dry-run: nothing was changed"));
  EXPECT_THAT(text, HasSubstr("report: /var/log/reconciler/7.json"));
  int lines = 0;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  EXPECT_LE(lines, 25);

  RunSummary clean = Summary(true);
  const std::string quiet = FormatHumanSummary(clean);
  EXPECT_THAT(quiet, HasSubstr("0 finding(s), exit 0 (clean)"));
  EXPECT_THAT(quiet, Not(HasSubstr("first findings")));
  EXPECT_THAT(quiet, Not(HasSubstr("dry-run:")));
}

}  // namespace
}  // namespace booking::reconciler
