// scenario_runner: the client side of Shared/run_all.sh and Shared/chaos.sh.
//
//   scenario_runner modes|providers --data=test_data.json
//       the mock_provider --modes / api_server --providers values
//   scenario_runner play  --data --expected --api --mock --legacy_mock
//       [--worker_metrics] --state=PATH
//       plays every case through A (legacy) and B (service)
//   scenario_runner check --data --expected --state --api --mock
//       --legacy_mock [--worker_metrics] [--reconciler_report] [--logs_dir]
//       --out_dir --report
//       judges the end states (after the reconciler), writes the results and
//       the report, prints the table; exit 1 if any case fails
//   scenario_runner chaos_modes|chaos_providers
//   scenario_runner chaos_create --api --count --seed --intents=PATH
//   scenario_runner chaos_settle --api --settle_timeout
//   scenario_runner chaos_check --api --mock --intents=PATH --out=PATH
//
// See Shared/README.md.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "Shared/runner/chaos.h"
#include "Shared/runner/clients.h"
#include "Shared/runner/evaluate.h"
#include "Shared/runner/player.h"
#include "Shared/runner/records.h"
#include "Shared/runner/report.h"
#include "Shared/runner/scenario_data.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "core/observability/logging.h"

ABSL_FLAG(std::string, data, "Shared/test_data.json", "The canonical cases.");
ABSL_FLAG(std::string, expected, "Shared/expected_postchange.json",
          "What each case must end with.");
ABSL_FLAG(std::string, api, "", "api_server HOST:PORT (path B).");
ABSL_FLAG(std::string, mock, "",
          "mock_provider HOST:PORT behind the worker (path B).");
ABSL_FLAG(std::string, legacy_mock, "",
          "mock_provider HOST:PORT the legacy client books with (path A).");
ABSL_FLAG(std::string, worker_metrics, "",
          "outbox_worker /metrics HOST:PORT (breaker checks).");
ABSL_FLAG(std::string, state, "", "play writes, check reads: the play record.");
ABSL_FLAG(std::string, reconciler_report, "",
          "check: the reconciler's --report JSON, quoted in the report.");
ABSL_FLAG(std::string, logs_dir, "",
          "check: scan every file here for patient data in clear.");
ABSL_FLAG(std::string, out_dir, "Shared/results",
          "check: where results_pre/post.json and aggregated_metrics.json go.");
ABSL_FLAG(std::string, report, "Shared/compare_report.md",
          "check: the Markdown report.");
ABSL_FLAG(absl::Duration, legacy_timeout, absl::Seconds(2),
          "Deadline of each legacy provider call.");
ABSL_FLAG(absl::Duration, wait_timeout, absl::Seconds(30),
          "Bound of each wait step (a broken stack, not a timing check).");
ABSL_FLAG(uint64_t, seed, 1, "Seed (legacy keys; chaos plan).");
ABSL_FLAG(std::string, only, "", "play: comma-separated case ids to play.");
ABSL_FLAG(int, count, 1000, "chaos_create: intents.");
ABSL_FLAG(int, concurrency, 8, "chaos_create: client threads.");
ABSL_FLAG(double, rate, 150,
          "chaos_create: creates per second (0: no pacing).");
ABSL_FLAG(std::string, intents, "", "chaos_*: the intents file.");
ABSL_FLAG(std::string, out, "", "chaos_check: the results JSON.");
ABSL_FLAG(absl::Duration, settle_timeout, absl::Seconds(180),
          "chaos_settle: how long to wait for in-flight work.");
ABSL_FLAG(int, worker_kills, 0, "chaos_check: worker kills (for the record).");
ABSL_FLAG(int, api_restarts, 0,
          "chaos_check: api_server restarts (for the record).");
ABSL_FLAG(std::string, log_file, "", "JSON log file; default stderr.");

namespace booking::scenarios {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "scenario_runner: %s\n", message.c_str());
  return 2;
}

std::string Required(const absl::Flag<std::string>& flag, const char* name,
                     std::string* missing) {
  std::string v = absl::GetFlag(flag);
  if (v.empty() && missing->empty()) *missing = std::string("--") + name;
  return v;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::UnavailableError("cannot write " + path);
  out << text;
  out.close();
  if (!out) return absl::UnavailableError("cannot write " + path);
  return absl::OkStatus();
}

std::string NowRfc3339() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(),
                          absl::UTCTimeZone());
}

struct Loaded {
  ScenarioData data;
  Expectations expected;
};

absl::StatusOr<Loaded> LoadAll() {
  Loaded l;
  absl::StatusOr<ScenarioData> data =
      LoadScenarioData(absl::GetFlag(FLAGS_data));
  if (!data.ok()) return data.status();
  absl::StatusOr<Expectations> expected =
      LoadExpectations(absl::GetFlag(FLAGS_expected));
  if (!expected.ok()) return expected.status();
  absl::Status s = CheckConsistent(*data, *expected);
  if (!s.ok()) return s;
  l.data = std::move(*data);
  l.expected = std::move(*expected);
  return l;
}

const Case* FindCase(const ScenarioData& data, const std::string& id) {
  for (const Case& c : data.cases) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

int Play() {
  absl::StatusOr<Loaded> loaded = LoadAll();
  if (!loaded.ok()) return Fail(loaded.status().ToString());
  std::string missing;
  PlayerOptions o;
  o.api_addr = Required(FLAGS_api, "api", &missing);
  o.mock_addr = Required(FLAGS_mock, "mock", &missing);
  o.legacy_mock_addr = Required(FLAGS_legacy_mock, "legacy_mock", &missing);
  const std::string state_path = Required(FLAGS_state, "state", &missing);
  if (!missing.empty()) return Fail(missing + " is required");
  o.worker_metrics = absl::GetFlag(FLAGS_worker_metrics);
  o.legacy_timeout = absl::GetFlag(FLAGS_legacy_timeout);
  o.wait_timeout = absl::GetFlag(FLAGS_wait_timeout);
  o.seed = absl::GetFlag(FLAGS_seed);

  const std::string only = absl::GetFlag(FLAGS_only);
  auto wanted = [&only](const Case& c) {
    if (only.empty()) return true;
    for (absl::string_view id : absl::StrSplit(only, ',')) {
      if (id == c.id) return true;
    }
    return false;
  };

  PlayState state;
  state.started_at = NowRfc3339();
  // Whole minutes, so that the slot prints exactly.
  const absl::Time base = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() +
                          absl::Hours(loaded->data.defaults.start_in_hours)) /
      60 * 60);
  state.base_start_time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", base, absl::UTCTimeZone());
  Player player(loaded->data, o, base);
  for (const Case& c : loaded->data.cases) {
    if (!wanted(c)) continue;
    std::printf("  A legacy  %-26s ...", c.id.c_str());
    std::fflush(stdout);
    CaseRun a = player.PlayLegacy(c);
    std::printf(" %.0f ms\n", a.duration_ms);
    state.runs.push_back(std::move(a));
  }
  for (const Case& c : loaded->data.cases) {
    if (!wanted(c)) continue;
    std::printf("  B service %-26s ...", c.id.c_str());
    std::fflush(stdout);
    CaseRun b = player.PlayService(c);
    std::printf(" %.0f ms%s\n", b.duration_ms,
                b.play_errors.empty() ? "" : " (play errors)");
    state.runs.push_back(std::move(b));
  }
  absl::Status s = WriteFile(state_path, ToJson(state).dump(2) + "\n");
  if (!s.ok()) return Fail(s.ToString());
  return 0;
}

// Lines of the log files under `dir` that show the test patient in clear.
void ScanForPii(const std::string& dir, const Defaults& d, RunInfo& info) {
  std::vector<std::string> needles = {d.patient.display_name, d.patient.email,
                                      d.patient.phone, d.notes};
  needles.erase(std::remove(needles.begin(), needles.end(), std::string()),
                needles.end());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    // Log and console files only: the database holds patient data by design.
    const std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() ||
        (ext != ".log" && ext != ".stderr" && ext != ".stdout")) {
      continue;
    }
    std::ifstream in(entry.path());
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      ++info.pii_lines_scanned;
      for (const std::string& needle : needles) {
        if (absl::StrContains(line, needle)) {
          info.pii_leaks.push_back(absl::StrCat(
              entry.path().filename().string(), ":", n, ": contains \"",
              needle.substr(0, 3), "…\" in clear"));
        }
      }
    }
  }
}

int Check() {
  absl::StatusOr<Loaded> loaded = LoadAll();
  if (!loaded.ok()) return Fail(loaded.status().ToString());
  std::string missing;
  const std::string api_addr = Required(FLAGS_api, "api", &missing);
  const std::string mock_addr = Required(FLAGS_mock, "mock", &missing);
  const std::string legacy_addr =
      Required(FLAGS_legacy_mock, "legacy_mock", &missing);
  const std::string state_path = Required(FLAGS_state, "state", &missing);
  if (!missing.empty()) return Fail(missing + " is required");
  absl::StatusOr<std::string> state_text = ReadFile(state_path);
  if (!state_text.ok()) return Fail(state_text.status().ToString());
  absl::StatusOr<PlayState> state = PlayStateFromJson(*state_text);
  if (!state.ok()) return Fail(state.status().ToString());

  RunInfo info;
  info.started_at = state->started_at;
  info.base_start_time = state->base_start_time;
  info.modes_flag = ModesFlag(loaded->data);

  std::vector<MetricSample> metrics;
  bool have_metrics = false;
  if (const std::string m = absl::GetFlag(FLAGS_worker_metrics); !m.empty()) {
    absl::StatusOr<std::string> page = ScrapeMetrics(m);
    if (page.ok()) {
      metrics = ParseMetrics(*page);
      have_metrics = true;
      for (const char* name :
           {"outbox_retries_total", "outbox_attempts_total",
            "outbox_breaker_deferrals_total", "outbox_stale_outcomes_total",
            "outbox_commit_errors_total"}) {
        info.worker_metrics[name] = SumMetric(metrics, name);
      }
    } else {
      std::fprintf(stderr, "scenario_runner: %s\n",
                   page.status().ToString().c_str());
    }
  }
  if (const std::string r = absl::GetFlag(FLAGS_reconciler_report);
      !r.empty()) {
    absl::StatusOr<std::string> text = ReadFile(r);
    if (text.ok()) {
      info.reconciler_report =
          nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (info.reconciler_report.is_discarded()) {
        info.reconciler_report = nlohmann::json{{"unparsed", *text}};
      }
    }
  }
  if (const std::string dir = absl::GetFlag(FLAGS_logs_dir); !dir.empty()) {
    ScanForPii(dir, loaded->data.defaults, info);
  }

  ApiClient api(api_addr);
  MockClient mock(mock_addr);
  MockClient legacy_mock(legacy_addr);
  std::vector<CaseResult> legacy, service;
  for (const CaseRun& run : state->runs) {
    const Case* c = FindCase(loaded->data, run.case_id);
    if (c == nullptr)
      return Fail("play state names unknown case " + run.case_id);
    const CaseExpectation& expected = loaded->expected.at(c->id);
    absl::StatusOr<CaseInspection> inspection =
        run.path == kServicePath
            ? InspectService(*c, run, api, mock,
                             have_metrics ? &metrics : nullptr)
            : InspectLegacy(*c, run, legacy_mock);
    if (!inspection.ok()) {
      return Fail("inspecting " + run.path + " " + c->id + ": " +
                  inspection.status().ToString());
    }
    CaseResult r = Evaluate(*c, expected, run, *inspection);
    (run.path == kServicePath ? service : legacy).push_back(std::move(r));
  }
  info.finished_at = NowRfc3339();

  const PathSummary ls = Summarize(kLegacyPath, legacy, loaded->expected);
  const PathSummary ss = Summarize(kServicePath, service, loaded->expected);
  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  for (const auto& [name, text] :
       std::vector<std::pair<std::string, std::string>>{
           {"results_pre.json", PathResultsJson(ls, legacy, info).dump(2)},
           {"results_post.json", PathResultsJson(ss, service, info).dump(2)},
           {"aggregated_metrics.json",
            AggregatedMetricsJson(ls, ss, info).dump(2)}}) {
    absl::Status s = WriteFile(out_dir + "/" + name, text + "\n");
    if (!s.ok()) return Fail(s.ToString());
  }
  absl::Status s = WriteFile(
      absl::GetFlag(FLAGS_report),
      CompareReportMarkdown(loaded->data, legacy, service, ls, ss, info));
  if (!s.ok()) return Fail(s.ToString());
  std::printf("%s", ConsoleSummary(legacy, service, ls, ss, info).c_str());
  return RunPasses(ls, ss, info) ? 0 : 1;
}

int ChaosCreateCmd() {
  std::string missing;
  ChaosCreateOptions o;
  o.api_addr = Required(FLAGS_api, "api", &missing);
  const std::string path = Required(FLAGS_intents, "intents", &missing);
  if (!missing.empty()) return Fail(missing + " is required");
  o.count = absl::GetFlag(FLAGS_count);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.concurrency = absl::GetFlag(FLAGS_concurrency);
  o.rate_per_second = absl::GetFlag(FLAGS_rate);
  std::vector<ChaosIntent> intents = ChaosCreate(o);
  int accepted = 0;
  for (const ChaosIntent& i : intents) accepted += !i.appointment_id.empty();
  std::printf("chaos_create: %d of %d intents accepted (seed %llu)\n", accepted,
              o.count, static_cast<unsigned long long>(o.seed));
  absl::Status s = WriteFile(path, ChaosIntentsJson(o.seed, intents).dump(1));
  if (!s.ok()) return Fail(s.ToString());
  return 0;
}

int ChaosSettleCmd() {
  std::string missing;
  const std::string api = Required(FLAGS_api, "api", &missing);
  if (!missing.empty()) return Fail(missing + " is required");
  const int64_t left = ChaosSettle(api, absl::GetFlag(FLAGS_settle_timeout));
  std::printf("chaos_settle: %lld appointment(s) still in flight\n",
              static_cast<long long>(left));
  return left == 0 ? 0 : 1;
}

int ChaosCheckCmd() {
  std::string missing;
  const std::string api_addr = Required(FLAGS_api, "api", &missing);
  const std::string mock_addr = Required(FLAGS_mock, "mock", &missing);
  const std::string path = Required(FLAGS_intents, "intents", &missing);
  const std::string out = Required(FLAGS_out, "out", &missing);
  if (!missing.empty()) return Fail(missing + " is required");
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return Fail(text.status().ToString());
  uint64_t seed = 0;
  absl::StatusOr<std::vector<ChaosIntent>> intents =
      ChaosIntentsFromJson(*text, &seed);
  if (!intents.ok()) return Fail(intents.status().ToString());
  ApiClient api(api_addr);
  MockClient mock(mock_addr);
  absl::StatusOr<ChaosOutcome> outcome = ChaosCheck(api, mock, seed, *intents);
  if (!outcome.ok()) return Fail(outcome.status().ToString());
  outcome->worker_kills = absl::GetFlag(FLAGS_worker_kills);
  outcome->api_restarts = absl::GetFlag(FLAGS_api_restarts);
  absl::Status s = WriteFile(out, ToJson(*outcome).dump(2) + "\n");
  if (!s.ok()) return Fail(s.ToString());
  std::printf("%s", ChaosSummary(*outcome).c_str());
  return outcome->pass ? 0 : 1;
}

int Main(const std::vector<char*>& args) {
  if (args.size() != 2) {
    return Fail(
        "give one command: modes, providers, play, check, chaos_modes, "
        "chaos_providers, chaos_create, chaos_settle, chaos_check");
  }
  const std::string command = args[1];
  LoggingOptions logging;
  logging.service = "scenario_runner";
  logging.log_file = absl::GetFlag(FLAGS_log_file);
  if (absl::Status s = InitLogging(logging); !s.ok()) return Fail(s.ToString());

  if (command == "modes" || command == "providers") {
    absl::StatusOr<ScenarioData> data =
        LoadScenarioData(absl::GetFlag(FLAGS_data));
    if (!data.ok()) return Fail(data.status().ToString());
    std::printf(
        "%s\n",
        (command == "modes" ? ModesFlag(*data) : ProvidersFlag(*data)).c_str());
    return 0;
  }
  if (command == "chaos_modes") {
    std::printf("%s\n", ChaosModesFlag().c_str());
    return 0;
  }
  if (command == "chaos_providers") {
    std::printf("%s\n", ChaosProvidersFlag().c_str());
    return 0;
  }
  if (command == "play") return Play();
  if (command == "check") return Check();
  if (command == "chaos_create") return ChaosCreateCmd();
  if (command == "chaos_settle") return ChaosSettleCmd();
  if (command == "chaos_check") return ChaosCheckCmd();
  return Fail("unknown command " + command);
}

}  // namespace
}  // namespace booking::scenarios

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Plays the canonical scenarios through the legacy client and the "
      "service and judges them; drives the chaos run. See Shared/README.md.");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  return booking::scenarios::Main(args);
}
