// check_outcome: after a benchmark, checks that every intent in the database
// reached a final state with exactly one provider booking (bench/
// outcome_check.h), asking mock_provider's MockControl.Stats for the
// provider side.
//
//   check_outcome --db=PATH --provider_addr=HOST:PORT
//
// Prints the report as one JSON object; exit 0 if it holds, 1 if not, 2 if
// the check itself failed.

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "bench/outcome_check.h"
#include "core/store/sqlite_store.h"
#include "grpcpp/grpcpp.h"
#include "proto/provider/v1/provider.grpc.pb.h"

ABSL_FLAG(std::string, db, "", "SQLite database file.");
ABSL_FLAG(std::string, provider_addr, "", "HOST:PORT of mock_provider.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(60), "Deadline of Stats.");

namespace booking::bench {
namespace {

int Fail(const std::string& what) {
  std::printf("%s\n",
              nlohmann::json{{"ok", false}, {"error", what}}.dump().c_str());
  return 2;
}

int Main() {
  SqliteOptions options;
  options.path = absl::GetFlag(FLAGS_db);
  const std::string provider = absl::GetFlag(FLAGS_provider_addr);
  if (options.path.empty() || provider.empty()) {
    std::fprintf(stderr, "check_outcome: --db and --provider_addr needed\n");
    return 2;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // Stats of 100k keys is ~10 MB
  auto stub = provider::v1::MockControl::NewStub(grpc::CreateCustomChannel(
      provider, grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_timeout)));
  provider::v1::StatsRequest request;
  provider::v1::StatsResponse stats;
  if (grpc::Status s = stub->Stats(&context, request, &stats); !s.ok()) {
    return Fail("MockControl.Stats: " + s.error_message());
  }
  absl::flat_hash_map<std::string, int64_t> live_by_key;
  live_by_key.reserve(stats.keys_size());
  for (const provider::v1::KeyStats& k : stats.keys()) {
    live_by_key[k.idempotency_key()] += k.live_bookings();
  }

  absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> store =
      SqliteAppointmentStore::Open(options);
  if (!store.ok()) return Fail(store.status().ToString());
  absl::StatusOr<OutcomeReport> report = CheckOutcome(**store, live_by_key);
  if (!report.ok()) return Fail(report.status().ToString());
  nlohmann::json out = report->ToJson();
  out["provider_keys"] = stats.keys_size();
  std::printf("%s\n", out.dump().c_str());
  return report->ok() ? 0 : 1;
}

}  // namespace
}  // namespace booking::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "checks every intent reached a final state with one provider "
      "booking.\n  check_outcome --db=PATH --provider_addr=HOST:PORT");
  absl::ParseCommandLine(argc, argv);
  return booking::bench::Main();
}
