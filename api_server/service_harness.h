#ifndef API_SERVER_SERVICE_HARNESS_H_
#define API_SERVER_SERVICE_HARNESS_H_

// Test-only: the api_server's pieces wired as main.cc wires them, on a
// database under $TEST_TMPDIR, served on 127.0.0.1:0 with a real channel.
// Also a few helpers shared by the service, binary and CLI tests.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api_server/appointment_service.h"
#include "api_server/auth.h"
#include "api_server/group_commit_writer.h"
#include "api_server/key_purger.h"
#include "api_server/rate_limiter.h"
#include "api_server/watch_hub.h"
#include "core/common/clock.h"
#include "core/domain/ids.h"
#include "core/observability/metrics.h"
#include "core/store/sqlite_store.h"
#include "grpcpp/grpcpp.h"
#include "proto/appointments/v1/appointment_service.grpc.pb.h"

namespace booking::testing {

struct HarnessOptions {
  std::vector<std::string> providers = {"clinic-a", "clinic-b"};
  absl::Duration idempotency_ttl = absl::Hours(24);
  absl::Duration busy_timeout = absl::Seconds(5);
  RateLimiterOptions rate_limit;  // qps 0: off
  // Rate-limiter time; null means RealClock().
  Clock* rate_limit_clock = nullptr;
  // Bearer tokens file contents; empty: no authentication.
  std::string auth_tokens;
  // Domain clock of the service (and ids, and purges); null: RealClock().
  Clock* clock = nullptr;
  // What deadlines are compared against; null: RealClock().
  const Clock* deadline_clock = nullptr;
  int max_batch = 256;
  std::string db_name = "service.db";
};

class ServiceHarness {
 public:
  static absl::StatusOr<std::unique_ptr<ServiceHarness>> Start(
      HarnessOptions options = {});
  // Stops like main.cc does on SIGTERM.
  ~ServiceHarness();

  appointments::v1::AppointmentService::Stub& stub() { return *stub_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  // A connection of the test's own, to inspect rows and drive states as the
  // outbox_worker would.
  AppointmentStore& store() { return *inspect_; }
  KeyPurger& purger() { return *purger_; }
  WatchHub& hub() { return *hub_; }
  MetricsRegistry& metrics() { return metrics_; }
  const std::string& db_path() const { return db_path_; }
  const std::string& address() const { return address_; }
  Clock* clock() const { return clock_; }

 private:
  ServiceHarness() = default;

  Clock* clock_ = nullptr;
  std::string db_path_;
  std::string address_;
  MetricsRegistry metrics_;
  std::unique_ptr<SqliteAppointmentStore> write_store_;
  std::unique_ptr<SqliteAppointmentStore> read_store_;
  std::unique_ptr<SqliteAppointmentStore> watch_store_;
  std::unique_ptr<SqliteAppointmentStore> inspect_;
  std::unique_ptr<GroupCommitWriter> writer_;
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<KeyPurger> purger_;
  std::unique_ptr<RateLimiter> limiter_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::unique_ptr<IdGenerator> ids_;
  std::unique_ptr<AppointmentService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<appointments::v1::AppointmentService::Stub> stub_;
};

// A request that passes every validation rule at `now`: provider clinic-a,
// start two days ahead, a patient with name, e-mail and phone.
appointments::v1::CreateAppointmentRequest ValidCreateRequest(
    const std::string& request_id, absl::Time now,
    const std::string& customer_id = "cust-1",
    const std::string& provider_id = "clinic-a");

// grpc.health.v1.Health/Check for the whole server (service ""), without a
// health.proto of our own: 1 = SERVING, 2 = NOT_SERVING.
absl::StatusOr<int> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                absl::Duration timeout = absl::Seconds(5));

// Value of a trailing metadata key ("" if absent).
std::string Trailer(const grpc::ClientContext& context, const std::string& key);

// "$TEST_TMPDIR/<name>" with any old database files removed.
std::string TempPath(const std::string& name);

}  // namespace booking::testing

#endif  // API_SERVER_SERVICE_HARNESS_H_
