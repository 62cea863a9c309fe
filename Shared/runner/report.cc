#include "Shared/runner/report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace booking::scenarios {
namespace {

bool ExpectBooked(const Expectations& expectations, const std::string& case_id,
                  const std::string& intent) {
  auto it = expectations.find(case_id);
  if (it == expectations.end()) return false;
  const IntentExpectation* e =
      FindIntentExpectation(it->second.service, intent);
  return e != nullptr && e->state.has_value() && *e->state == "CONFIRMED";
}

bool CorrectOutcome(const CaseResult& r, const Expectations& expectations) {
  if (r.lost != 0 || r.duplicate != 0 || r.orphan != 0) return false;
  for (const IntentResult& i : r.intents) {
    if (!ExpectBooked(expectations, r.case_id, i.name)) continue;
    const bool believed = i.state == "CONFIRMED" || i.state == "booked";
    if (!believed || i.live_bookings != 1) return false;
  }
  return true;
}

std::string Ms(double v) { return absl::StrFormat("%.1f", v); }

std::string Rate(int64_t num, int64_t den) {
  if (den == 0) return "n/a";
  return absl::StrFormat("%.0f%% (%d/%d)", 100.0 * num / den, num, den);
}

const CaseResult* Find(const std::vector<CaseResult>& results,
                       const std::string& id) {
  for (const CaseResult& r : results) {
    if (r.case_id == id) return &r;
  }
  return nullptr;
}

// "CONFIRMED", or "CONFIRMED ×5" when every intent of a burst agrees, or a
// list.
std::string EndStates(const CaseResult& r) {
  std::map<std::string, int> counts;
  std::vector<std::string> order;
  for (const IntentResult& i : r.intents) {
    std::string s = i.state;
    if (!i.failure_reason.empty()) s += " `" + i.failure_reason + "`";
    if (counts[s]++ == 0) order.push_back(s);
  }
  std::vector<std::string> parts;
  for (const std::string& s : order) {
    parts.push_back(counts[s] > 1 ? absl::StrCat(s, " ×", counts[s]) : s);
  }
  return absl::StrJoin(parts, ", ");
}

std::string Ldo(const CaseResult& r) {
  return absl::StrCat(r.lost, "/", r.duplicate, "/", r.orphan);
}

std::string Escape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"|", "\\|"}, {"\n", " "}});
}

OrderedJson SummaryJson(const PathSummary& s) {
  OrderedJson j;
  j["cases"] = s.cases;
  j["cases_passed"] = s.cases_passed;
  j["correct_outcomes"] = s.correct_outcomes;
  j["success_rate"] = s.cases == 0 ? 0.0 : 1.0 * s.correct_outcomes / s.cases;
  j["intents"] = s.intents;
  j["lost"] = s.lost;
  j["duplicate"] = s.duplicate;
  j["orphan"] = s.orphan;
  j["retries"] = s.retries;
  j["calls"] = s.calls;
  j["errors"] = s.errors;
  j["errors_by_code"] = s.errors_by_code;
  j["idempotency_checks"] = s.idempotency_checks;
  j["idempotency_passed"] = s.idempotency_passed;
  j["breaker_openings"] = s.breaker_openings;
  j["call_latency_ms"] = {{"n", s.call_latency_ms.size()},
                          {"p50", Percentile(s.call_latency_ms, 50)},
                          {"p95", Percentile(s.call_latency_ms, 95)},
                          {"max", Percentile(s.call_latency_ms, 100)}};
  if (!s.settle_ms.empty()) {
    j["settle_ms"] = {{"n", s.settle_ms.size()},
                      {"p50", Percentile(s.settle_ms, 50)},
                      {"p95", Percentile(s.settle_ms, 95)},
                      {"max", Percentile(s.settle_ms, 100)}};
  }
  return j;
}

// The reconciler's findings as a table, and its per-class counts; the raw
// report is in results/reconciler_report.json.
void AppendReconciler(const nlohmann::json& report, std::string& md) {
  if (report.is_null()) {
    absl::StrAppend(&md, "No reconciler report was given.\n");
    return;
  }
  absl::StrAppend(&md,
                  "`reconciler --apply --once` ran after the service path "
                  "(full report: `results/reconciler_report.json`).\n\n");
  auto str = [](const nlohmann::json& j, const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string()
               ? j[key].get<std::string>()
               : std::string();
  };
  if (report.contains("findings") && report["findings"].is_array() &&
      !report["findings"].empty()) {
    absl::StrAppend(&md,
                    "| class | appointment | action | outcome | detail |\n"
                    "|---|---|---|---|---|\n");
    for (const nlohmann::json& f : report["findings"]) {
      absl::StrAppend(&md, "| ", str(f, "class"), " | `",
                      str(f, "appointment_id"), "` | ", str(f, "action"), " | ",
                      str(f, "outcome"), " | ", Escape(str(f, "detail")),
                      " |\n");
    }
  } else {
    absl::StrAppend(&md, "No findings.\n");
  }
  if (report.contains("summary") && report["summary"].is_object()) {
    std::vector<std::string> parts;
    for (auto it = report["summary"].begin(); it != report["summary"].end();
         ++it) {
      const nlohmann::json& c = it.value();
      if (c.is_object() && c.value("found", 0) > 0) {
        parts.push_back(absl::StrCat(it.key(), " ", c.value("found", 0),
                                     " found / ", c.value("repaired", 0),
                                     " repaired"));
      }
    }
    absl::StrAppend(&md, "\nBy class: ",
                    parts.empty() ? std::string("nothing found")
                                  : absl::StrJoin(parts, "; "),
                    ". Exit code ", report.value("exit_code", -1), ".\n");
  }
}

}  // namespace

double Percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const size_t rank = static_cast<size_t>(
      std::ceil(p / 100.0 * static_cast<double>(samples.size())));
  const size_t index = rank == 0 ? 0 : rank - 1;
  return samples[std::min(index, samples.size() - 1)];
}

PathSummary Summarize(const std::string& path,
                      const std::vector<CaseResult>& results,
                      const Expectations& expectations) {
  PathSummary s;
  s.path = path;
  for (const CaseResult& r : results) {
    ++s.cases;
    if (r.pass) ++s.cases_passed;
    if (CorrectOutcome(r, expectations)) ++s.correct_outcomes;
    s.intents += static_cast<int64_t>(r.intents.size());
    s.lost += r.lost;
    s.duplicate += r.duplicate;
    s.orphan += r.orphan;
    s.retries += r.retries;
    s.errors += r.errors;
    s.idempotency_checks += r.idempotency_checks;
    s.idempotency_passed += r.idempotency_passed;
    s.breaker_openings += r.breaker.openings;
    for (const CallRecord& c : r.calls) {
      ++s.calls;
      if (c.code != "OK") ++s.errors_by_code[c.code];
      if (c.op != "cancel" && c.code != "NOTHING_TO_CANCEL") {
        s.call_latency_ms.push_back(c.latency_ms);
      }
    }
    for (const IntentResult& i : r.intents) {
      if (i.settle_ms.has_value()) s.settle_ms.push_back(*i.settle_ms);
    }
  }
  return s;
}

OrderedJson PathResultsJson(const PathSummary& summary,
                            const std::vector<CaseResult>& results,
                            const RunInfo& info) {
  OrderedJson j;
  j["path"] = summary.path;
  j["description"] =
      summary.path == kLegacyPath
          ? "Path A: the legacy direct-booking client (one provider call per "
            "request, fresh key, no retries), against its own mock provider."
          : "Path B: the service (api_server + outbox_worker, then "
            "reconciler --apply), against its own mock provider.";
  j["started_at"] = info.started_at;
  j["finished_at"] = info.finished_at;
  j["summary"] = SummaryJson(summary);
  j["cases"] = OrderedJson::array();
  for (const CaseResult& r : results) j["cases"].push_back(ToJson(r));
  return j;
}

OrderedJson AggregatedMetricsJson(const PathSummary& legacy,
                                  const PathSummary& service,
                                  const RunInfo& info) {
  OrderedJson j;
  j["started_at"] = info.started_at;
  j["finished_at"] = info.finished_at;
  j["pass"] = RunPasses(legacy, service, info);
  j["legacy"] = SummaryJson(legacy);
  j["service"] = SummaryJson(service);
  j["difference"] = {
      {"lost", legacy.lost - service.lost},
      {"duplicate", legacy.duplicate - service.duplicate},
      {"orphan", legacy.orphan - service.orphan},
      {"correct_outcomes", service.correct_outcomes - legacy.correct_outcomes}};
  j["worker_metrics"] = info.worker_metrics;
  if (!info.reconciler_report.is_null()) {
    j["reconciler_report"] = info.reconciler_report;
  }
  j["pii"] = {{"lines_scanned", info.pii_lines_scanned},
              {"leaks", info.pii_leaks}};
  return j;
}

bool RunPasses(const PathSummary& legacy, const PathSummary& service,
               const RunInfo& info) {
  return service.cases > 0 && service.cases_passed == service.cases &&
         legacy.cases_passed == legacy.cases && info.pii_leaks.empty();
}

std::string CompareReportMarkdown(const ScenarioData& data,
                                  const std::vector<CaseResult>& legacy,
                                  const std::vector<CaseResult>& service,
                                  const PathSummary& ls, const PathSummary& ss,
                                  const RunInfo& info) {
  std::string md;
  const bool pass = RunPasses(ls, ss, info);
  absl::StrAppend(&md, "# Scenario run: legacy client vs. service\n\n");
  absl::StrAppend(
      &md, "Generated by `Shared/run_all.sh` (", info.started_at, " → ",
      info.finished_at,
      "). Every case of `Shared/test_data.json` was played through **(A) the "
      "legacy direct-booking client** (one provider call per request, a "
      "fresh key per call, no retries, no outbox) and **(B) the service** "
      "(api_server + outbox_worker, then `reconciler --apply`), each against "
      "its own mock provider in the same modes; end states were read from the "
      "provider (MockControl) and the API, and judged against "
      "`Shared/expected_postchange.json`.\n\n");
  absl::StrAppend(&md, "**Verdict: ", pass ? "PASS" : "FAIL", "** — service ",
                  ss.cases_passed, "/", ss.cases,
                  " cases as expected; legacy behaved as predicted in ",
                  ls.cases_passed, "/", ls.cases,
                  "; correct outcomes: service ", ss.correct_outcomes, "/",
                  ss.cases, ", legacy ", ls.correct_outcomes, "/", ls.cases,
                  "; lost/duplicate/orphan bookings: service ", ss.lost, "/",
                  ss.duplicate, "/", ss.orphan, ", legacy ", ls.lost, "/",
                  ls.duplicate, "/", ls.orphan, ".\n\n");

  absl::StrAppend(&md, "## Per case\n\n");
  absl::StrAppend(
      &md,
      "| case | B: service | B end state | B attempts | A: legacy end state "
      "| A lost/dup/orphan | A as predicted "
      "|\n|---|---|---|---|---|---|---|\n");
  for (const Case& c : data.cases) {
    const CaseResult* b = Find(service, c.id);
    const CaseResult* a = Find(legacy, c.id);
    std::string attempts = "";
    if (b != nullptr) {
      std::vector<std::string> parts;
      for (const IntentResult& i : b->intents) {
        parts.push_back(absl::StrCat(i.attempts));
      }
      attempts = absl::StrJoin(parts, ",");
    }
    absl::StrAppend(
        &md, "| `", c.id, "` | ",
        b == nullptr ? "not run" : (b->pass ? "**PASS**" : "**FAIL**"), " | ",
        b == nullptr ? "" : EndStates(*b), " | ", attempts, " | ",
        a == nullptr ? "not run" : EndStates(*a), " | ",
        a == nullptr ? "" : Ldo(*a), " | ",
        a == nullptr ? "" : (a->pass ? "yes" : "**no**"), " |\n");
  }
  absl::StrAppend(&md, "\nWhat each case checks:\n\n");
  for (const Case& c : data.cases) {
    absl::StrAppend(&md, "- `", c.id, "` (provider `", c.provider_id,
                    "`, mode `", c.mode, "`): ", c.purpose, " ", c.must, "\n");
  }
  bool any_failure = false;
  for (const auto* list : {&service, &legacy}) {
    for (const CaseResult& r : *list) {
      if (r.failures.empty()) continue;
      if (!any_failure) absl::StrAppend(&md, "\n### Failures\n\n");
      any_failure = true;
      for (const std::string& f : r.failures) {
        absl::StrAppend(&md, "- ", r.path, " `", r.case_id, "`: ", Escape(f),
                        "\n");
      }
    }
  }

  absl::StrAppend(&md, "\n## Correctness: A vs. B\n\n");
  absl::StrAppend(
      &md,
      "*lost*: the client believes it booked (or the case expects a booking) "
      "but no live provider booking exists; *duplicate*: live bookings of one "
      "intended appointment beyond the first; *orphan*: a live booking the "
      "client does not hold (unknown to it, or its appointment is not "
      "CONFIRMED).\n\n");
  absl::StrAppend(&md,
                  "| case | A lost | A dup | A orphan | B lost | B dup | B "
                  "orphan |\n|---|---|---|---|---|---|---|\n");
  for (const Case& c : data.cases) {
    const CaseResult* a = Find(legacy, c.id);
    const CaseResult* b = Find(service, c.id);
    if (a == nullptr || b == nullptr) continue;
    if (a->lost + a->duplicate + a->orphan + b->lost + b->duplicate +
            b->orphan ==
        0) {
      continue;
    }
    absl::StrAppend(&md, "| `", c.id, "` | ", a->lost, " | ", a->duplicate,
                    " | ", a->orphan, " | ", b->lost, " | ", b->duplicate,
                    " | ", b->orphan, " |\n");
  }
  absl::StrAppend(&md, "| **total** | **", ls.lost, "** | **", ls.duplicate,
                  "** | **", ls.orphan, "** | **", ss.lost, "** | **",
                  ss.duplicate, "** | **", ss.orphan, "** |\n\n");
  absl::StrAppend(
      &md, "(Cases with no wrong booking on either side are left out.)\n");

  absl::StrAppend(
      &md,
      "\n## Metrics\n\n| metric | A: legacy | B: service |\n|---|---|---|\n");
  absl::StrAppend(&md, "| success rate (correct outcomes) | ",
                  Rate(ls.correct_outcomes, ls.cases), " | ",
                  Rate(ss.correct_outcomes, ss.cases), " |\n");
  absl::StrAppend(&md, "| cases as expected | ",
                  Rate(ls.cases_passed, ls.cases), " | ",
                  Rate(ss.cases_passed, ss.cases), " |\n");
  absl::StrAppend(&md, "| client calls / answered with an error | ", ls.calls,
                  " / ", ls.errors, " | ", ss.calls, " / ", ss.errors, " |\n");
  auto codes = [](const PathSummary& s) {
    std::vector<std::string> parts;
    for (const auto& [code, n] : s.errors_by_code) {
      parts.push_back(absl::StrCat(code, " ", n));
    }
    return parts.empty() ? std::string("—") : absl::StrJoin(parts, ", ");
  };
  absl::StrAppend(&md, "| errors by code | ", codes(ls), " | ", codes(ss),
                  " |\n");
  absl::StrAppend(&md, "| answer latency p50 / p95 / max (ms) | ",
                  Ms(Percentile(ls.call_latency_ms, 50)), " / ",
                  Ms(Percentile(ls.call_latency_ms, 95)), " / ",
                  Ms(Percentile(ls.call_latency_ms, 100)),
                  " (provider call, n=", ls.call_latency_ms.size(), ") | ",
                  Ms(Percentile(ss.call_latency_ms, 50)), " / ",
                  Ms(Percentile(ss.call_latency_ms, 95)), " / ",
                  Ms(Percentile(ss.call_latency_ms, 100)),
                  " (CreateAppointment, n=", ss.call_latency_ms.size(),
                  ") |\n");
  absl::StrAppend(&md,
                  "| time to final state p50 / p95 / max (ms) | = answer "
                  "latency (no background work) | ",
                  Ms(Percentile(ss.settle_ms, 50)), " / ",
                  Ms(Percentile(ss.settle_ms, 95)), " / ",
                  Ms(Percentile(ss.settle_ms, 100)),
                  " (n=", ss.settle_ms.size(), ") |\n");
  absl::StrAppend(&md, "| provider retries (Book calls beyond the first) | ",
                  ls.retries, " (never retries) | ", ss.retries, " |\n");
  auto metric = [&info](const std::string& name) {
    auto it = info.worker_metrics.find(name);
    return it == info.worker_metrics.end() ? std::string("n/a")
                                           : absl::StrCat(it->second);
  };
  absl::StrAppend(&md, "| worker retries (`outbox_retries_total`) | — | ",
                  metric("outbox_retries_total"), " |\n");
  absl::StrAppend(&md, "| breaker openings | — | ", ss.breaker_openings,
                  " (breaker deferrals: ",
                  metric("outbox_breaker_deferrals_total"), ") |\n");
  absl::StrAppend(&md, "| idempotency assertions passed | ",
                  ls.idempotency_passed, "/", ls.idempotency_checks, " | ",
                  ss.idempotency_passed, "/", ss.idempotency_checks, " |\n");
  absl::StrAppend(&md,
                  "\nLatency: A waits for the provider on every request; B "
                  "answers once the intent is durable (one SQLite commit) and "
                  "books in the background, so B's *answer* is fast and its "
                  "*time to final state* includes retries, backoff, breaker "
                  "waits and the scenario's own delays. With this few samples "
                  "p95 is close to the maximum: read it as indicative only.\n");
  absl::StrAppend(
      &md,
      "\nIdempotency assertions: every replayed request answered with the "
      "original appointment and `idempotent-replay: true`, every reused key "
      "with other parameters refused with ALREADY_EXISTS, and one check per "
      "intended appointment that it never held two live bookings.\n");

  absl::StrAppend(&md, "\n## Reconciler\n\n");
  AppendReconciler(info.reconciler_report, md);

  absl::StrAppend(&md, "\n## Logs and PII\n\n");
  absl::StrAppend(
      &md,
      "Every process logs JSON lines under `Shared/logs/` (not committed). ",
      info.pii_lines_scanned,
      " log lines were scanned for the test patient's name, e-mail, phone and "
      "notes in clear: ",
      info.pii_leaks.empty() ? std::string("none found.")
                             : absl::StrCat(info.pii_leaks.size(), " found:"),
      "\n");
  for (const std::string& leak : info.pii_leaks) {
    absl::StrAppend(&md, "- ", Escape(leak), "\n");
  }

  absl::StrAppend(&md, "\n## Rollout guidance\n\n");
  absl::StrAppend(
      &md, "In this run the legacy path left ", ls.lost, " lost, ",
      ls.duplicate, " duplicate and ", ls.orphan, " orphan bookings in ",
      ls.cases, " cases; the service left ", ss.lost, "/", ss.duplicate, "/",
      ss.orphan,
      ". Move traffic in steps, each with a gate and a way back:\n\n");
  absl::StrAppend(
      &md,
      "1. **Shadow.** Send every legacy request also to the service's "
      "CreateAppointment with a fresh request_id, against a throw-away "
      "database with no outbox worker running (or, once it exists, the "
      "no-send shadow mode of DESIGN §9): intents are recorded and "
      "validated, nothing reaches the provider. Never start a worker on that "
      "database. "
      "Compare validation failures and p95 answer latency with the legacy "
      "path. Gate: no request the service refuses that the legacy client "
      "books; API p95 within budget.\n"
      "2. **Dual-run, by provider.** Hand whole providers (clinics) to the "
      "service one at a time — never the same provider to both paths, or the "
      "two will book the same slot twice. Run `reconciler` on a schedule "
      "(dry-run first, then `--apply`) and watch `outbox_depth`, FAILED by "
      "`failure_reason`, breaker openings and reconciler findings. Gate: for "
      "a full week, no duplicate or orphan findings, no DEAD outbox rows "
      "left unexplained, and lost = 0 in this scenario run on the release "
      "build.\n"
      "3. **Cut-over.** Route the remaining providers; keep the legacy client "
      "deployable but unused for one release. Run this scenario run (and "
      "`run_all.sh --chaos`) on every release candidate.\n"
      "4. **Rollback.** Stop new intents at the front-end and point it back "
      "at the legacy client; stop the worker with SIGTERM (it drains and "
      "releases its leases; a pause switch is a DESIGN §9 follow-up). Accepted "
      "intents stay in the database: either let a worker finish them, or "
      "cancel them through the API — the worker cancels by idempotency key, "
      "so nothing it booked is left behind — and run `reconciler --apply` "
      "once to cancel any orphan. Nothing has to be migrated back: the "
      "provider stays the system of record for bookings.\n");

  absl::StrAppend(&md, "\n## Limits\n\n");
  absl::StrAppend(
      &md,
      "- The provider is `mock_provider`: real gRPC and real status codes, "
      "but scripted failures. A real provider fails in ways not listed "
      "here.\n"
      "- One host, one SQLite database, one worker; timeouts are shortened "
      "(see `run_all.sh`) so the run takes about a minute.\n"
      "- The legacy client is a model of direct booking (one call, no "
      "retries); a real legacy front-end may retry or poll and fail "
      "differently.\n"
      "- Latency figures come from a handful of calls on a shared 2-core "
      "machine; they show the shape (B answers before booking), not "
      "capacity. Throughput and crash behaviour under load are covered by "
      "`run_all.sh --chaos` and the benchmarks.\n");
  return md;
}

std::string ConsoleSummary(const std::vector<CaseResult>& legacy,
                           const std::vector<CaseResult>& service,
                           const PathSummary& ls, const PathSummary& ss,
                           const RunInfo& info) {
  std::string out;
  absl::StrAppend(
      &out, absl::StrFormat("%-25s %-7s %-34s %-9s %-20s %s\n", "case",
                            "service", "service end state", "attempts",
                            "legacy lost/dup/orph", "legacy as predicted"));
  absl::StrAppend(&out, std::string(110, '-'), "\n");
  for (const CaseResult& b : service) {
    const CaseResult* a = Find(legacy, b.case_id);
    std::vector<std::string> attempts;
    for (const IntentResult& i : b.intents) {
      attempts.push_back(absl::StrCat(i.attempts));
    }
    std::string state =
        absl::StrReplaceAll(EndStates(b), {{"`", ""}, {"×", "x"}});
    absl::StrAppend(
        &out, absl::StrFormat("%-25s %-7s %-34s %-9s %-20s %s\n", b.case_id,
                              b.pass ? "PASS" : "FAIL", state,
                              absl::StrJoin(attempts, ","),
                              a == nullptr ? "-" : Ldo(*a),
                              a == nullptr ? "-" : (a->pass ? "yes" : "NO")));
    for (const std::string& f : b.failures) {
      absl::StrAppend(&out, "    service: ", f, "\n");
    }
    if (a != nullptr) {
      for (const std::string& f : a->failures) {
        absl::StrAppend(&out, "    legacy: ", f, "\n");
      }
    }
  }
  absl::StrAppend(&out, std::string(110, '-'), "\n");
  absl::StrAppend(&out, "success rate (correct outcomes): service ",
                  Rate(ss.correct_outcomes, ss.cases), ", legacy ",
                  Rate(ls.correct_outcomes, ls.cases), "\n");
  absl::StrAppend(&out, "lost / duplicate / orphan:       service ", ss.lost,
                  " / ", ss.duplicate, " / ", ss.orphan, ", legacy ", ls.lost,
                  " / ", ls.duplicate, " / ", ls.orphan, "\n");
  absl::StrAppend(
      &out, "retries:                         service ", ss.retries,
      " provider Book retries", " (worker outbox_retries_total ",
      info.worker_metrics.count("outbox_retries_total")
          ? absl::StrCat(info.worker_metrics.at("outbox_retries_total"))
          : std::string("n/a"),
      "), legacy 0 (never retries)\n");
  absl::StrAppend(&out, "idempotency assertions:          service ",
                  ss.idempotency_passed, "/", ss.idempotency_checks,
                  " passed, legacy ", ls.idempotency_passed, "/",
                  ls.idempotency_checks, "\n");
  absl::StrAppend(
      &out, "breaker openings:                ", ss.breaker_openings, "\n");
  absl::StrAppend(&out, "answer latency p50/p95 ms:       service ",
                  Ms(Percentile(ss.call_latency_ms, 50)), "/",
                  Ms(Percentile(ss.call_latency_ms, 95)), ", legacy ",
                  Ms(Percentile(ls.call_latency_ms, 50)), "/",
                  Ms(Percentile(ls.call_latency_ms, 95)),
                  "; service time to final state ",
                  Ms(Percentile(ss.settle_ms, 50)), "/",
                  Ms(Percentile(ss.settle_ms, 95)), "\n");
  absl::StrAppend(&out, "PII in logs:                     ",
                  info.pii_leaks.empty()
                      ? std::string("none")
                      : absl::StrCat(info.pii_leaks.size(), " leak(s)"),
                  " (", info.pii_lines_scanned, " lines scanned)\n");
  absl::StrAppend(&out, "RESULT: ", RunPasses(ls, ss, info) ? "PASS" : "FAIL",
                  " (service ", ss.cases_passed, "/", ss.cases,
                  " cases, legacy as predicted ", ls.cases_passed, "/",
                  ls.cases, ")\n");
  return out;
}

}  // namespace booking::scenarios
