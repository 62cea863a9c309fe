#ifndef API_SERVER_APPOINTMENT_SERVICE_H_
#define API_SERVER_APPOINTMENT_SERVICE_H_

// appointments.v1.AppointmentService (DESIGN §4) on the gRPC callback API.
//
// The class is thin: every dependency comes in through the constructor.
// Each call is admitted in a fixed order — bearer token (if configured), rate
// limit, deadline, size — then validated, then served:
//   Create / Cancel  → the group-commit writer (answered after the commit
//                      that holds the intent; never blocks a gRPC thread);
//   Get / List       → a read connection (WAL: never waits for the writer);
//   Watch            → a server-write reactor driven by the WatchHub.
// Replays carry trailing metadata `idempotent-replay: true`; refusals by the
// rate limiter carry `retry-after-ms`.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "api_server/auth.h"
#include "api_server/group_commit_writer.h"
#include "api_server/rate_limiter.h"
#include "api_server/watch_hub.h"
#include "core/common/clock.h"
#include "core/domain/ids.h"
#include "core/domain/validation.h"
#include "core/observability/metrics.h"
#include "core/store/appointment_store.h"
#include "grpcpp/grpcpp.h"
#include "proto/appointments/v1/appointment_service.grpc.pb.h"

namespace booking {

struct AppointmentServiceOptions {
  // The configured providers (--providers) and other validation settings.
  ValidationOptions validation;
  // Idempotency keys are kept at least this long (DESIGN §4: >= 24 h).
  absl::Duration idempotency_ttl = absl::Hours(24);
  // Overall deadline of a BOOK command: this long after the request, and
  // never after the appointment's start (DESIGN §6).
  absl::Duration book_timeout = absl::Hours(24);
  // Overall deadline of a CANCEL command queued by CancelAppointment.
  absl::Duration cancel_timeout = absl::Hours(24);
  // Larger requests are refused with INVALID_ARGUMENT (DESIGN §4: 16 KiB).
  size_t max_request_bytes = kMaxRequestBytes;
};

struct AppointmentServiceDeps {
  // Required. Not owned; all must outlive the service.
  GroupCommitWriter* writer = nullptr;
  // Read connections, used round-robin by Get and List. At least one.
  std::vector<AppointmentStore*> readers;
  WatchHub* watch_hub = nullptr;
  // Domain time: request "now", key expiry, start_time validation.
  Clock* clock = nullptr;
  IdGenerator* ids = nullptr;
  MetricsRegistry* metrics = nullptr;
  // Optional.
  RateLimiter* rate_limiter = nullptr;       // null: no limit
  const TokenAuthenticator* auth = nullptr;  // null: no authentication
  // What gRPC deadlines are compared with. Wall-clock by default; tests may
  // move it to make every deadline appear passed.
  const Clock* deadline_clock = RealClock();
};

class AppointmentService final
    : public appointments::v1::AppointmentService::CallbackService {
 public:
  AppointmentService(AppointmentServiceOptions options,
                     AppointmentServiceDeps deps);
  ~AppointmentService() override;

  grpc::ServerUnaryReactor* CreateAppointment(
      grpc::CallbackServerContext* context,
      const appointments::v1::CreateAppointmentRequest* request,
      appointments::v1::Appointment* response) override;

  grpc::ServerUnaryReactor* GetAppointment(
      grpc::CallbackServerContext* context,
      const appointments::v1::GetAppointmentRequest* request,
      appointments::v1::Appointment* response) override;

  grpc::ServerUnaryReactor* ListAppointments(
      grpc::CallbackServerContext* context,
      const appointments::v1::ListAppointmentsRequest* request,
      appointments::v1::ListAppointmentsResponse* response) override;

  grpc::ServerUnaryReactor* CancelAppointment(
      grpc::CallbackServerContext* context,
      const appointments::v1::CancelAppointmentRequest* request,
      appointments::v1::Appointment* response) override;

  grpc::ServerWriteReactor<appointments::v1::Appointment>* WatchAppointment(
      grpc::CallbackServerContext* context,
      const appointments::v1::WatchAppointmentRequest* request) override;

  // Implementation details shared with the .cc's helper classes.
  enum Method { kCreate, kGet, kList, kCancel, kWatch, kNumMethods };
  struct CallInfo;
  void RecordAndLog(const CallInfo& info, const absl::Status& status);

 private:
  absl::Status Admit(grpc::CallbackServerContext* context,
                     const google::protobuf::Message& request, CallInfo* info);
  void FinishUnary(grpc::ServerUnaryReactor* reactor, const CallInfo& info,
                   const absl::Status& status);
  // Answers a Create or Cancel once the writer has committed (or refused)
  // it: the appointment, and `idempotent-replay: true` on a replay.
  template <typename WriteResult>
  void FinishWrite(grpc::CallbackServerContext* context,
                   grpc::ServerUnaryReactor* reactor,
                   appointments::v1::Appointment* response, CallInfo& info,
                   absl::StatusOr<WriteResult> result);
  AppointmentStore* NextReader();
  absl::Time DeadlineOf(const grpc::CallbackServerContext* context) const;

  struct MethodMetrics {
    Histogram* latency = nullptr;
    Counter* replays = nullptr;
    // Created on first use of each code, so unused codes are not exported.
    std::atomic<Counter*> by_code[17] = {};
  };
  Counter* RequestCounter(Method method, absl::StatusCode code);

  const AppointmentServiceOptions options_;
  const AppointmentServiceDeps deps_;
  std::atomic<size_t> next_reader_{0};
  MethodMetrics metrics_[kNumMethods];
};

}  // namespace booking

#endif  // API_SERVER_APPOINTMENT_SERVICE_H_
