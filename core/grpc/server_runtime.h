#ifndef CORE_GRPC_SERVER_RUNTIME_H_
#define CORE_GRPC_SERVER_RUNTIME_H_

// What every server binary does the same way (DESIGN §10): parse the listen
// address, bind (port 0 picks a free one), print `listening on HOST:PORT` as
// the first stdout line, serve health + reflection, and drain on SIGTERM.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace booking {

// Blocks SIGTERM and SIGINT in the calling thread and every thread created
// after it, so that WaitForShutdownSignal() is the only place they arrive.
// Call it first thing in main().
void BlockShutdownSignals();

// Waits for SIGTERM or SIGINT; returns the signal number.
int WaitForShutdownSignal();

struct HostPort {
  std::string host;
  int port = 0;
};
// "127.0.0.1:50051", "[::1]:0", "localhost:8080". INVALID_ARGUMENT otherwise.
absl::StatusOr<HostPort> ParseHostPort(absl::string_view address);

// Prints "listening on HOST:PORT" and flushes stdout.
void AnnounceListening(const std::string& host, int port);

struct GrpcServerOptions {
  std::string listen_address = "127.0.0.1:0";
  std::vector<grpc::Service*> services;  // not owned
  int max_receive_message_bytes = 4 * 1024 * 1024;
};

struct StartedServer {
  std::unique_ptr<grpc::Server> server;
  HostPort bound;  // the actual port when 0 was asked for
};

// Builds and starts a server with the standard health service and server
// reflection enabled. UNAVAILABLE if the address cannot be bound.
absl::StatusOr<StartedServer> StartGrpcServer(const GrpcServerOptions& options);

// Marks every service NOT_SERVING, then shuts the server down, letting
// in-flight calls finish for up to `grace` before cancelling them.
void DrainAndShutdown(grpc::Server* server, absl::Duration grace);

}  // namespace booking

#endif  // CORE_GRPC_SERVER_RUNTIME_H_
