#ifndef BENCH_OPERATIONS_H_
#define BENCH_OPERATIONS_H_

// The calls the load generator can make (see README.md):
//   ping    bench.v1.NoopService/Ping (empty messages) on the ceiling server;
//   noop    bench.v1.NoopService/Echo (CreateAppointment's messages);
//   create  appointments.v1 CreateAppointment, a new request_id per call;
//   e2e     CreateAppointment, then WatchAppointment until CONFIRMED.
// All use the callback API on a few shared channels.

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "bench/latency_histogram.h"
#include "bench/load_driver.h"
#include "bench/noop.grpc.pb.h"
#include "bench/request_factory.h"
#include "grpcpp/grpcpp.h"
#include "proto/appointments/v1/appointment_service.grpc.pb.h"

namespace booking::bench {

// `count` channels to `target`, each its own TCP connection.
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& target, int count);

struct OperationOptions {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  const RequestFactory* requests = nullptr;
  const Window* window = nullptr;  // for the operation's own histograms
  absl::Duration call_timeout = absl::Seconds(30);
  // e2e: how long a watch may wait for CONFIRMED.
  absl::Duration confirm_timeout = absl::Seconds(120);
};

std::unique_ptr<Operation> MakeNoopOperation(const OperationOptions& o);
std::unique_ptr<Operation> MakePingOperation(const OperationOptions& o);
std::unique_ptr<Operation> MakeCreateOperation(const OperationOptions& o);
// Reports "create_ms" (call to OK), "confirm_ms" (OK to the CONFIRMED
// commit, from the appointment's update_time), "confirm_observed_ms" (OK to
// the watch delivering CONFIRMED), and "final_states" of the watched calls.
std::unique_ptr<Operation> MakeE2eOperation(const OperationOptions& o);

}  // namespace booking::bench

#endif  // BENCH_OPERATIONS_H_
