// noop_server: the ceiling of this machine for a unary gRPC call: Ping
// (empty messages) and Echo (CreateAppointment's messages), bench/noop.proto.
// Same runtime as api_server (core/grpc/server_runtime: callback API, health,
// reflection), no work.
//
//   noop_server --listen=127.0.0.1:0
//
// Prints `listening on HOST:PORT` first; exits 0 on SIGTERM.

#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/noop.grpc.pb.h"
#include "core/grpc/server_runtime.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "HOST:PORT; port 0 picks one.");

namespace booking::bench {
namespace {

using ::appointments::v1::Appointment;
using ::appointments::v1::CreateAppointmentRequest;

class NoopService final : public ::bench::v1::NoopService::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const CreateAppointmentRequest* request,
                                 Appointment* response) override {
    // The same shape of answer as CreateAppointment: the appointment back
    // with an id and a state.
    *response = request->appointment();
    response->set_id(request->request_id());
    response->set_request_id(request->request_id());
    response->set_state(Appointment::PENDING);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* Ping(
      grpc::CallbackServerContext* context,
      const ::bench::v1::PingRequest* /*request*/,
      ::bench::v1::PingResponse* /*response*/) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

int Main() {
  NoopService service;
  GrpcServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.services = {&service};
  absl::StatusOr<StartedServer> server = StartGrpcServer(options);
  if (!server.ok()) {
    std::fprintf(stderr, "noop_server: %s\n",
                 server.status().ToString().c_str());
    return 1;
  }
  AnnounceListening(server->bound.host, server->bound.port);
  WaitForShutdownSignal();
  DrainAndShutdown(server->server.get(), absl::Seconds(2));
  return 0;
}

}  // namespace
}  // namespace booking::bench

int main(int argc, char** argv) {
  booking::BlockShutdownSignals();
  absl::SetProgramUsageMessage(
      "a no-op unary gRPC server, the ceiling for benchmarks.\n"
      "  noop_server --listen=HOST:PORT");
  absl::ParseCommandLine(argc, argv);
  return booking::bench::Main();
}
