#ifndef SHARED_RUNNER_CLIENTS_H_
#define SHARED_RUNNER_CLIENTS_H_

// Thin synchronous clients the runner drives the stack with: the
// AppointmentService (path B), the mock provider's MockControl and
// ProviderService.ListBookings (end-state inspection of both paths), and the
// worker's Prometheus page (breaker history).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "proto/appointments/v1/appointment_service.grpc.pb.h"
#include "proto/provider/v1/provider.grpc.pb.h"

namespace booking::scenarios {

using Appointment = appointments::v1::Appointment;

// The answer of one mutating API call as the client saw it.
struct ApiAnswer {
  grpc::Status status;
  Appointment appointment;  // when OK
  bool replay = false;      // trailing metadata `idempotent-replay: true`
  absl::Duration latency;
};

class ApiClient {
 public:
  explicit ApiClient(const std::string& addr);

  ApiAnswer Create(const appointments::v1::CreateAppointmentRequest& request,
                   absl::Duration deadline);
  ApiAnswer Cancel(const appointments::v1::CancelAppointmentRequest& request,
                   absl::Duration deadline);
  // NOT_FOUND for an unknown id.
  absl::StatusOr<Appointment> Get(const std::string& id,
                                  absl::Duration deadline = absl::Seconds(10));

 private:
  std::unique_ptr<appointments::v1::AppointmentService::Stub> stub_;
};

class MockClient {
 public:
  explicit MockClient(const std::string& addr);

  // `spec` in mock_provider's --modes form, e.g. "flaky:fail_first_n=2".
  absl::Status SetMode(const std::string& provider_id, const std::string& spec);
  absl::StatusOr<provider::v1::StatsResponse> Stats(
      const std::string& provider_id, const std::string& key = "");
  // Book calls and live bookings for one key (0/0 if the key is unknown).
  absl::StatusOr<provider::v1::KeyStats> KeyStats(
      const std::string& provider_id, const std::string& key);
  // Every booking of `provider_id` (all providers if empty).
  absl::StatusOr<std::vector<provider::v1::Booking>> ListAll(
      const std::string& provider_id);
  absl::StatusOr<provider::v1::Booking> Inject(
      const provider::v1::Booking& booking);

 private:
  std::unique_ptr<provider::v1::MockControl::Stub> stub_;
};

// GET http://HOST:PORT/metrics.
absl::StatusOr<std::string> ScrapeMetrics(const std::string& host_port);

struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};
// The samples of a Prometheus text page (comments skipped).
std::vector<MetricSample> ParseMetrics(const std::string& page);
// Sum of the samples named `name` whose labels include `match`.
double SumMetric(const std::vector<MetricSample>& samples,
                 const std::string& name,
                 const std::map<std::string, std::string>& match = {});
// The value of the one sample `name` with exactly these labels, if present.
std::optional<double> MetricValue(
    const std::vector<MetricSample>& samples, const std::string& name,
    const std::map<std::string, std::string>& labels);

bool IsLiveStatus(provider::v1::Booking::Status status);

}  // namespace booking::scenarios

#endif  // SHARED_RUNNER_CLIENTS_H_
