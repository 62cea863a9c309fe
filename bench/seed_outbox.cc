// seed_outbox: writes N create intents (appointment PENDING + BOOK outbox
// row + event + idempotency key, exactly what CreateAppointment records)
// straight through the store, in large group-commit batches, so the worker
// has a backlog to drain (scripts/bench.sh phase 4).
//
//   seed_outbox --db=PATH --count=50000 --providers=clinic-a,clinic-b
//
// Prints one JSON object: {"seeded", "failed", "seconds", "first_error"}.
// Exit 0 if every intent was written.

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/request_factory.h"
#include "core/common/clock.h"
#include "core/common/time_util.h"
#include "core/domain/fingerprint.h"
#include "core/domain/ids.h"
#include "core/store/sqlite_store.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::string, db, "", "SQLite database file (created if missing).");
ABSL_FLAG(int64_t, count, 50000, "Intents to write.");
ABSL_FLAG(int, batch, 1000, "Intents per transaction.");
ABSL_FLAG(std::string, providers, "clinic-a,clinic-b", "provider_ids in turn.");
ABSL_FLAG(std::string, request_id_prefix, "",
          "request_ids are <prefix>-<n>; empty: seed-<hex time>.");

namespace booking::bench {
namespace {

int Main() {
  const std::string path = absl::GetFlag(FLAGS_db);
  const int64_t count = absl::GetFlag(FLAGS_count);
  const int batch = absl::GetFlag(FLAGS_batch);
  std::vector<std::string> providers =
      absl::StrSplit(absl::GetFlag(FLAGS_providers), ',', absl::SkipEmpty());
  if (path.empty() || count < 0 || batch < 1 || providers.empty()) {
    std::fprintf(stderr,
                 "seed_outbox: --db, --count >= 0, --batch >= 1, --providers "
                 "are required\n");
    return 2;
  }
  std::string prefix = absl::GetFlag(FLAGS_request_id_prefix);
  if (prefix.empty()) {
    prefix = absl::StrCat("seed-", absl::Hex(absl::ToUnixNanos(absl::Now())));
  }

  SqliteOptions options;
  options.path = path;
  absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> store =
      SqliteAppointmentStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "seed_outbox: %s\n",
                 store.status().ToString().c_str());
    return 1;
  }

  const absl::Time started = absl::Now();
  RequestFactory requests(prefix, providers, started);
  IdGenerator ids(RealClock(), /*seed=*/0);
  int64_t seeded = 0;
  int64_t failed = 0;
  std::string first_error;
  appointments::v1::CreateAppointmentRequest request;
  for (int64_t next = 0; next < count;) {
    const int64_t n = std::min<int64_t>(batch, count - next);
    const absl::Time now = absl::Now();
    std::vector<CreateIntent> intents(n);
    for (int64_t i = 0; i < n; ++i, ++next) {
      requests.Fill(next, &request);
      CreateIntent& intent = intents[i];
      intent.request_id = request.request_id();
      intent.fingerprint = CreateRequestFingerprint(request);
      intent.appointment = request.appointment();
      intent.appointment.set_id(ids.NewAppointmentId());
      intent.appointment.set_request_id(request.request_id());
      intent.now = now;
      intent.key_expiry = now + absl::Hours(24);
      intent.book_deadline =
          std::min(FromProtoTimestamp(request.appointment().start_time()),
                   now + absl::Hours(24));
      intent.actor = "bench-seed";
    }
    for (const absl::StatusOr<CreateResult>& r :
         (*store)->CreateAppointments(intents)) {
      if (r.ok()) {
        ++seeded;
      } else {
        ++failed;
        if (first_error.empty()) first_error = r.status().ToString();
      }
    }
  }
  nlohmann::json out = {
      {"seeded", seeded},
      {"failed", failed},
      {"seconds", absl::ToDoubleSeconds(absl::Now() - started)},
      {"first_error", first_error},
  };
  std::printf("%s\n", out.dump().c_str());
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace booking::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "writes N create intents (a backlog for the worker) through the "
      "store.\n  seed_outbox --db=PATH --count=N [--providers=A,B]");
  absl::ParseCommandLine(argc, argv);
  return booking::bench::Main();
}
