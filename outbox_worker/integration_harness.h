#ifndef OUTBOX_WORKER_INTEGRATION_HARNESS_H_
#define OUTBOX_WORKER_INTEGRATION_HARNESS_H_

// Real processes on loopback for the worker's integration tests:
// mock_provider, api_server and outbox_worker binaries, started with
// core/testing/subprocess.h, plus typed clients for the API and the mock's
// control service. Waits poll with a bounded deadline (no fixed sleeps).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/store/sqlite_store.h"
#include "core/testing/subprocess.h"
#include "proto/appointments/v1/appointment_service.grpc.pb.h"
#include "proto/provider/v1/provider.grpc.pb.h"

namespace booking::testing {

using Appt = appointments::v1::Appointment;

class Stack {
 public:
  // Starts mock_provider (--modes) and api_server (--providers) on a fresh
  // database "$TEST_TMPDIR/<name>.db".
  static absl::StatusOr<std::unique_ptr<Stack>> Start(
      const std::string& name, const std::string& modes,
      const std::vector<std::string>& providers);

  // Starts a worker with the test's fast defaults, overridden/extended by
  // `flags` ("--name=value"), and `env` ("NAME=value"). Its stderr (JSON
  // log) goes to "$TEST_TMPDIR/<name>.<label>.log".
  absl::StatusOr<Subprocess> StartWorker(const std::string& label,
                                         std::vector<std::string> flags = {},
                                         std::vector<std::string> env = {});
  // Runs the worker binary to completion (e.g. --requeue_dead); returns
  // (exit code, stdout).
  absl::StatusOr<std::pair<int, std::string>> RunWorkerCommand(
      std::vector<std::string> flags);

  // Creates an appointment through the API; returns its id.
  absl::StatusOr<std::string> Create(const std::string& provider_id,
                                     const std::string& request_id);
  absl::StatusOr<Appt> Get(const std::string& id);
  absl::StatusOr<Appt> Cancel(const std::string& id,
                              const std::string& request_id);
  // Polls until `done(appointment)` or `timeout`; returns the last state.
  absl::StatusOr<Appt> WaitUntil(const std::string& id,
                                 const std::function<bool(const Appt&)>& done,
                                 absl::Duration timeout = absl::Seconds(20));
  absl::StatusOr<Appt> WaitForTerminalOr(
      Appt::State state, const std::string& id,
      absl::Duration timeout = absl::Seconds(20));

  // MockControl.
  absl::Status SetMode(const std::string& provider_id, provider::v1::Mode mode,
                       const provider::v1::ModeParams& params = {});
  absl::StatusOr<provider::v1::KeyStats> KeyStats(const std::string& key);
  absl::StatusOr<provider::v1::ProviderTotals> Totals(
      const std::string& provider_id);
  // Live provider bookings whose appointment is not CONFIRMED (orphans),
  // and keys with more than one live booking (duplicates).
  absl::StatusOr<int> CountOrphans();
  absl::StatusOr<int> CountDuplicates();

  // A direct store connection to the database (events, commands).
  SqliteAppointmentStore* store() { return store_.get(); }
  const std::string& db_path() const { return db_path_; }
  const std::string& provider_addr() const { return mock_addr_; }

 private:
  Stack() = default;

  std::string name_;
  std::string db_path_;
  std::string mock_addr_;
  std::string api_addr_;
  std::optional<Subprocess> mock_;
  std::optional<Subprocess> api_;
  std::unique_ptr<appointments::v1::AppointmentService::Stub> api_stub_;
  std::unique_ptr<provider::v1::MockControl::Stub> control_;
  std::unique_ptr<SqliteAppointmentStore> store_;
};

// GET http://HOST:PORT/metrics, for breaker state checks.
absl::StatusOr<std::string> ScrapeMetrics(const std::string& host_port);
// The value of one series line (e.g. `outbox_breaker_state{provider="p"}`)
// in a Prometheus text page, if present.
std::optional<double> MetricValue(const std::string& page,
                                  const std::string& series);

}  // namespace booking::testing

#endif  // OUTBOX_WORKER_INTEGRATION_HARNESS_H_
