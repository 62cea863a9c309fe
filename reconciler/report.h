#ifndef RECONCILER_REPORT_H_
#define RECONCILER_REPORT_H_

// What a run tells its operator: the JSON report file (streamed, so a run
// with many findings does not hold them in memory) and the one-screen human
// summary printed on stdout.
//
// Report schema (README.md, "Reading the report"):
//   {"run_id", "mode", "started_at", "findings": [{"class", "appointment_id",
//    "provider_id", "booking_ids", "evidence", "action", "outcome",
//    "detail"}, ...], "finished_at", "provider_bookings_scanned",
//    "db_rows_scanned", "left_alone": {"in_grace", "leased"},
//    "max_repairs": {"limit", "left_unrepaired"},
//    "summary": {"<class>": {"found", "repaired", "planned", "skipped",
//    "failed"}, ...}, "errors", "error", "exit_code"}

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "reconciler/drift.h"

namespace booking::reconciler {

// Exit codes (DESIGN §7, §10).
inline constexpr int kExitClean = 0;
inline constexpr int kExitDrift = 1;  // found (dry-run) or left unrepaired
inline constexpr int kExitError = 2;  // the run could not be completed

// How one run went.
struct RunSummary {
  int64_t run_id = 0;
  bool apply = false;
  absl::Time started;
  absl::Time finished;
  int64_t provider_bookings_scanned = 0;
  int64_t db_rows_scanned = 0;
  // Would-be findings left alone this run: changed within --grace, or under
  // a live lease. They are not drift (yet); a later run looks again.
  int64_t left_in_grace = 0;
  int64_t left_leased = 0;
  // --max_repairs of the run (0 = unlimited) and the findings it left
  // unrepaired (reported as "skipped").
  int64_t max_repairs = 0;
  int64_t left_by_max_repairs = 0;
  // Indexed like AllDriftClasses().
  std::array<ClassCounts, kDriftClassCount> by_class;
  // The first findings, for the human summary.
  std::vector<Finding> examples;
  // Repairs that failed (provider or store errors on one finding).
  int64_t errors = 0;
  // Why the run could not be completed (exit code 2), else OK.
  absl::Status error;
  int exit_code = kExitClean;
  // The report file written, if any.
  std::string report_path;

  ClassCounts& counts(DriftClass c) { return by_class[static_cast<int>(c)]; }
  const ClassCounts& counts(DriftClass c) const {
    return by_class[static_cast<int>(c)];
  }
  int64_t findings() const;
  int64_t repaired() const;
  // Findings not repaired (planned, skipped or failed).
  int64_t unrepaired() const;
};

// 0 if nothing was found (or everything found was repaired), 1 if drift is
// left (dry-run, report-only, skipped or failed), 2 if `error` is set.
int ExitCodeFor(const RunSummary& s);

// RFC 3339 UTC with milliseconds: "2023-11-14T22:13:20.000Z".
std::string FormatUtc(absl::Time t);

// Streams the report to PATH.tmp and renames it to PATH when finished, so a
// reader never sees half a report.
class ReportWriter {
 public:
  // "{run_id}" in `path` is replaced by the run id (one file per run for a
  // daemon). UNAVAILABLE if the file cannot be created.
  static absl::StatusOr<std::unique_ptr<ReportWriter>> Open(
      const std::string& path, int64_t run_id, bool apply, absl::Time started);
  ~ReportWriter();
  ReportWriter(const ReportWriter&) = delete;
  ReportWriter& operator=(const ReportWriter&) = delete;

  absl::Status Add(const Finding& finding);
  // Writes the rest of the report, flushes and renames it into place.
  absl::Status Finish(const RunSummary& summary);

  const std::string& path() const { return path_; }

 private:
  ReportWriter(std::string path, std::FILE* file)
      : path_(std::move(path)), file_(file) {}
  absl::Status Write(const std::string& text);

  std::string path_;
  std::FILE* file_;
  bool first_ = true;
  bool finished_ = false;
};

// The report's tail fields as JSON (everything after "findings"); used by
// ReportWriter and handy in tests.
nlohmann::ordered_json SummaryToJson(const RunSummary& s);

// The one-screen summary for stdout: a header line, what was scanned, a
// table per class, the first findings, and what to do next.
std::string FormatHumanSummary(const RunSummary& s);

}  // namespace booking::reconciler

#endif  // RECONCILER_REPORT_H_
