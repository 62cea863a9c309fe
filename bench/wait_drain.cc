// wait_drain: watches the outbox of a database until no command is PENDING
// or LEASED, and reports how long the drain took (scripts/bench.sh phase 4).
// Start it before the worker: the clock starts at the last poll that saw the
// backlog untouched, so the figure is the worker's drain time to within one
// poll interval, startup included.
//
//   wait_drain --db=PATH [--poll=20ms] [--timeout=600s]
//
// Prints {"seconds", "drained", "counts": {status: n}, "timed_out"}.
// Exit 0 when drained, 1 on timeout or error.

#include <cstdio>
#include <map>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/store/sqlite_store.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, db, "", "SQLite database file.");
ABSL_FLAG(absl::Duration, poll, absl::Milliseconds(20), "Poll interval.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(600), "Give up after this.");

namespace booking::bench {
namespace {

using Counts = std::map<std::string, int64_t>;

absl::StatusOr<Counts> Read(AppointmentStore* store) {
  absl::StatusOr<std::vector<std::pair<CommandStatus, int64_t>>> rows =
      store->CountCommandsByStatus();
  if (!rows.ok()) return rows.status();
  Counts counts;
  for (const auto& [status, n] : *rows) counts[CommandStatusName(status)] = n;
  return counts;
}

int64_t Unfinished(const Counts& c) {
  int64_t n = 0;
  for (const char* s : {"PENDING", "LEASED"}) {
    if (auto it = c.find(s); it != c.end()) n += it->second;
  }
  return n;
}

int64_t Get(const Counts& c, const char* status) {
  auto it = c.find(status);
  return it == c.end() ? 0 : it->second;
}

int Main() {
  SqliteOptions options;
  options.path = absl::GetFlag(FLAGS_db);
  if (options.path.empty()) {
    std::fprintf(stderr, "wait_drain: --db is required\n");
    return 2;
  }
  absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> store =
      SqliteAppointmentStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "wait_drain: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const absl::Duration poll = absl::GetFlag(FLAGS_poll);
  const absl::Time give_up = absl::Now() + absl::GetFlag(FLAGS_timeout);

  absl::StatusOr<Counts> initial = Read(store->get());
  if (!initial.ok()) {
    std::fprintf(stderr, "wait_drain: %s\n",
                 initial.status().ToString().c_str());
    return 1;
  }
  absl::Time untouched_at = absl::Now();
  absl::Time done_at = untouched_at;
  Counts last = *initial;
  bool timed_out = false;
  while (Unfinished(last) > 0) {
    if (absl::Now() >= give_up) {
      timed_out = true;
      break;
    }
    absl::SleepFor(poll);
    const absl::Time at = absl::Now();
    absl::StatusOr<Counts> now = Read(store->get());
    if (!now.ok()) continue;  // busy: try again at the next poll
    if (*now == *initial) untouched_at = at;
    last = *now;
    done_at = at;
  }
  nlohmann::json out = {
      {"seconds", absl::ToDoubleSeconds(done_at - untouched_at)},
      {"drained", Get(last, "DONE") - Get(*initial, "DONE")},
      {"initial_counts", *initial},
      {"counts", last},
      {"timed_out", timed_out},
  };
  std::printf("%s\n", out.dump().c_str());
  return timed_out ? 1 : 0;
}

}  // namespace
}  // namespace booking::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "waits until the outbox has no PENDING/LEASED command; prints the "
      "drain time.\n  wait_drain --db=PATH [--poll=20ms] [--timeout=600s]");
  absl::ParseCommandLine(argc, argv);
  return booking::bench::Main();
}
