#ifndef SHARED_RUNNER_REPORT_H_
#define SHARED_RUNNER_REPORT_H_

// Turns the evaluated cases of both paths into the run's outputs:
// results_pre.json (legacy), results_post.json (service),
// aggregated_metrics.json, compare_report.md and the table printed on the
// console. Pure functions of their inputs, so the report is unit-tested.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "Shared/runner/evaluate.h"
#include "Shared/runner/records.h"
#include "Shared/runner/scenario_data.h"

namespace booking::scenarios {

// Nearest-rank percentile (p in (0, 100]); 0 for no samples.
double Percentile(std::vector<double> samples, double p);

struct PathSummary {
  std::string path;
  int cases = 0;
  int cases_passed = 0;  // against this path's expectation
  // Cases with lost = duplicate = orphan = 0 in which every intent the case
  // expects booked is booked exactly once and the client knows it.
  int correct_outcomes = 0;
  int64_t intents = 0;
  int64_t lost = 0;
  int64_t duplicate = 0;
  int64_t orphan = 0;
  int64_t retries = 0;
  int64_t calls = 0;
  int64_t errors = 0;
  std::map<std::string, int64_t> errors_by_code;
  int64_t idempotency_checks = 0;
  int64_t idempotency_passed = 0;
  int64_t breaker_openings = 0;
  // Legacy: provider call; service: CreateAppointment (the answer the user
  // waits for).
  std::vector<double> call_latency_ms;
  // Service: from the first create to the awaited state.
  std::vector<double> settle_ms;
};

PathSummary Summarize(const std::string& path,
                      const std::vector<CaseResult>& results,
                      const Expectations& expectations);

// What the run knows besides the cases.
struct RunInfo {
  std::string started_at;
  std::string finished_at;
  std::string base_start_time;
  std::string modes_flag;
  // Worker /metrics totals (outbox_retries_total, ...); empty if unread.
  std::map<std::string, double> worker_metrics;
  // The reconciler's JSON report, if one was given.
  nlohmann::json reconciler_report;
  int64_t pii_lines_scanned = 0;
  std::vector<std::string> pii_leaks;  // "file:line: what"
};

// results_pre.json / results_post.json.
OrderedJson PathResultsJson(const PathSummary& summary,
                            const std::vector<CaseResult>& results,
                            const RunInfo& info);

OrderedJson AggregatedMetricsJson(const PathSummary& legacy,
                                  const PathSummary& service,
                                  const RunInfo& info);

std::string CompareReportMarkdown(const ScenarioData& data,
                                  const std::vector<CaseResult>& legacy,
                                  const std::vector<CaseResult>& service,
                                  const PathSummary& legacy_summary,
                                  const PathSummary& service_summary,
                                  const RunInfo& info);

// The pass/fail table and key metrics for the terminal.
std::string ConsoleSummary(const std::vector<CaseResult>& legacy,
                           const std::vector<CaseResult>& service,
                           const PathSummary& legacy_summary,
                           const PathSummary& service_summary,
                           const RunInfo& info);

// True if the run passes: every service case passes, the legacy client
// behaved as predicted, and no PII leaked into the logs.
bool RunPasses(const PathSummary& legacy, const PathSummary& service,
               const RunInfo& info);

}  // namespace booking::scenarios

#endif  // SHARED_RUNNER_REPORT_H_
