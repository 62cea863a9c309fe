#include "core/grpc/server_runtime.h"

#include <signal.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace booking {
namespace {

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockShutdownSignals() {
  sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForShutdownSignal() {
  sigset_t set = ShutdownSignals();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

absl::StatusOr<HostPort> ParseHostPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", address, "' must be HOST:PORT"));
  }
  HostPort hp;
  hp.host = std::string(address.substr(0, colon));
  if (!absl::SimpleAtoi(address.substr(colon + 1), &hp.port) || hp.port < 0 ||
      hp.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", address, "': port must be 0..65535"));
  }
  return hp;
}

void AnnounceListening(const std::string& host, int port) {
  std::printf("listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);
}

absl::StatusOr<StartedServer> StartGrpcServer(
    const GrpcServerOptions& options) {
  auto hp = ParseHostPort(options.listen_address);
  if (!hp.ok()) return hp.status();

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(options.listen_address,
                           grpc::InsecureServerCredentials(), &bound_port);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // gRPC sets SO_REUSEPORT by default: a second server on the same port would
  // silently share it. We want "address in use" instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (grpc::Service* service : options.services) {
    builder.RegisterService(service);
  }
  StartedServer started;
  started.server = builder.BuildAndStart();
  if (started.server == nullptr || bound_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address,
                     " (address in use or not permitted)"));
  }
  started.bound = {hp->host, bound_port};
  return started;
}

void DrainAndShutdown(grpc::Server* server, absl::Duration grace) {
  if (auto* health = server->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  server->Shutdown(std::chrono::system_clock::now() +
                   absl::ToChronoMilliseconds(grace));
  server->Wait();
}

}  // namespace booking
