#include "reconciler/report.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace booking::reconciler {

int64_t RunSummary::findings() const {
  int64_t n = 0;
  for (const ClassCounts& c : by_class) n += c.found;
  return n;
}

int64_t RunSummary::repaired() const {
  int64_t n = 0;
  for (const ClassCounts& c : by_class) n += c.repaired;
  return n;
}

int64_t RunSummary::unrepaired() const { return findings() - repaired(); }

int ExitCodeFor(const RunSummary& s) {
  if (!s.error.ok()) return kExitError;
  return s.unrepaired() > 0 ? kExitDrift : kExitClean;
}

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<std::unique_ptr<ReportWriter>> ReportWriter::Open(
    const std::string& path, int64_t run_id, bool apply, absl::Time started) {
  std::string final_path =
      absl::StrReplaceAll(path, {{"{run_id}", absl::StrCat(run_id)}});
  const std::string tmp = final_path + ".tmp";
  std::FILE* file = std::fopen(tmp.c_str(), "w");
  if (file == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot write report ", tmp, ": ", std::strerror(errno)));
  }
  auto writer = std::unique_ptr<ReportWriter>(
      new ReportWriter(std::move(final_path), file));
  // The head is written now; findings follow as they are made.
  nlohmann::ordered_json head;
  head["run_id"] = run_id;
  head["mode"] = apply ? "apply" : "dry-run";
  head["started_at"] = FormatUtc(started);
  std::string text = head.dump();
  text.pop_back();  // the closing brace: the object continues
  absl::StrAppend(&text, ",\"findings\":[");
  absl::Status s = writer->Write(text);
  if (!s.ok()) return s;
  return writer;
}

ReportWriter::~ReportWriter() {
  if (file_ != nullptr) std::fclose(file_);
  if (!finished_) std::remove((path_ + ".tmp").c_str());
}

absl::Status ReportWriter::Write(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size()) {
    return absl::UnavailableError(absl::StrCat("cannot write report ", path_,
                                               ".tmp: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status ReportWriter::Add(const Finding& finding) {
  std::string text = first_ ? "\n" : ",\n";
  first_ = false;
  absl::StrAppend(&text, FindingToJson(finding).dump());
  return Write(text);
}

nlohmann::ordered_json SummaryToJson(const RunSummary& s) {
  nlohmann::ordered_json j;
  j["finished_at"] = FormatUtc(s.finished);
  j["provider_bookings_scanned"] = s.provider_bookings_scanned;
  j["db_rows_scanned"] = s.db_rows_scanned;
  j["left_alone"] = {{"in_grace", s.left_in_grace}, {"leased", s.left_leased}};
  j["max_repairs"] = {{"limit", s.max_repairs},
                      {"left_unrepaired", s.left_by_max_repairs}};
  nlohmann::ordered_json summary = nlohmann::ordered_json::object();
  for (DriftClass c : AllDriftClasses()) {
    const ClassCounts& n = s.counts(c);
    summary[std::string(DriftClassName(c))] = {{"found", n.found},
                                               {"repaired", n.repaired},
                                               {"planned", n.planned},
                                               {"skipped", n.skipped},
                                               {"failed", n.failed}};
  }
  j["summary"] = summary;
  j["errors"] = s.errors;
  j["error"] = s.error.ok() ? "" : s.error.ToString();
  j["exit_code"] = s.exit_code;
  return j;
}

absl::Status ReportWriter::Finish(const RunSummary& summary) {
  std::string tail = SummaryToJson(summary).dump();
  tail[0] = ',';  // continue the object opened in Open()
  absl::Status s = Write(absl::StrCat(first_ ? "]" : "\n]", tail, "\n"));
  if (!s.ok()) return s;
  std::FILE* file = file_;
  file_ = nullptr;
  if (std::fclose(file) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot write report ", path_,
                                               ".tmp: ", std::strerror(errno)));
  }
  if (std::rename((path_ + ".tmp").c_str(), path_.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot rename report to ", path_, ": ", std::strerror(errno)));
  }
  finished_ = true;
  return absl::OkStatus();
}

std::string FormatHumanSummary(const RunSummary& s) {
  const char* mode = s.apply ? "apply" : "dry-run";
  std::string verdict;
  switch (s.exit_code) {
    case kExitClean:
      verdict = s.findings() == 0 ? "clean" : "all repaired";
      break;
    case kExitDrift:
      verdict = s.apply ? "drift left unrepaired" : "drift found";
      break;
    default:
      verdict = "error";
  }
  std::string out = absl::StrFormat(
      "reconciler run %d (%s) at %s: %d finding(s), exit %d (%s)\n", s.run_id,
      mode, FormatUtc(s.started), s.findings(), s.exit_code, verdict);
  absl::StrAppendFormat(
      &out,
      "scanned %d provider booking(s), %d database row(s); left alone: %d in "
      "grace, %d leased\n",
      s.provider_bookings_scanned, s.db_rows_scanned, s.left_in_grace,
      s.left_leased);
  if (!s.error.ok()) {
    absl::StrAppend(&out, "ERROR: ", s.error.ToString(), "\n");
  }
  absl::StrAppendFormat(&out, "%-18s %6s %8s %7s %7s %6s\n", "class", "found",
                        "repaired", "planned", "skipped", "failed");
  ClassCounts total;
  for (DriftClass c : AllDriftClasses()) {
    const ClassCounts& n = s.counts(c);
    absl::StrAppendFormat(&out, "%-18s %6d %8d %7d %7d %6d\n",
                          DriftClassName(c), n.found, n.repaired, n.planned,
                          n.skipped, n.failed);
    total.found += n.found;
    total.repaired += n.repaired;
    total.planned += n.planned;
    total.skipped += n.skipped;
    total.failed += n.failed;
  }
  absl::StrAppendFormat(&out, "%-18s %6d %8d %7d %7d %6d\n", "total",
                        total.found, total.repaired, total.planned,
                        total.skipped, total.failed);
  if (!s.examples.empty()) {
    absl::StrAppend(&out, "first findings:\n");
    for (const Finding& f : s.examples) {
      std::string bookings;
      if (!f.booking_ids.empty()) {
        bookings =
            absl::StrCat(" booking=", f.booking_ids[0],
                         f.booking_ids.size() > 1
                             ? absl::StrCat("+", f.booking_ids.size() - 1)
                             : "");
      }
      absl::StrAppendFormat(&out, "  %-17s %s%s -> %s: %s\n",
                            DriftClassName(f.drift_class), f.appointment_id,
                            bookings, f.action, OutcomeName(f.outcome));
    }
    if (s.findings() > static_cast<int64_t>(s.examples.size())) {
      absl::StrAppendFormat(&out, "  ... and %d more (see the report)\n",
                            s.findings() - s.examples.size());
    }
  }
  if (s.left_by_max_repairs > 0) {
    absl::StrAppendFormat(&out,
                          "max_repairs (%d) reached: %d finding(s) left "
                          "unrepaired; check the report, then rerun with a "
                          "higher --max_repairs.\n",
                          s.max_repairs, s.left_by_max_repairs);
  }
  if (!s.apply && s.findings() > 0) {
    absl::StrAppend(&out,
                    "dry-run: nothing was changed; run with --apply to "
                    "repair.\n");
  }
  if (!s.report_path.empty()) {
    absl::StrAppend(&out, "report: ", s.report_path, "\n");
  }
  return out;
}

}  // namespace booking::reconciler
