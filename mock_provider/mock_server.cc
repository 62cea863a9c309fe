#include "mock_provider/mock_server.h"

#include "absl/strings/str_cat.h"

namespace booking::mock {

MockProviderServer::MockProviderServer(const MockServerOptions& options)
    : book_(options.clock, options.modes, options.seed),
      provider_service_(&book_, &scheduler_, options.log_calls),
      control_service_(&book_) {}

absl::StatusOr<std::unique_ptr<MockProviderServer>> MockProviderServer::Start(
    const MockServerOptions& options) {
  std::unique_ptr<MockProviderServer> server(new MockProviderServer(options));
  GrpcServerOptions grpc_options;
  grpc_options.listen_address = options.listen_address;
  grpc_options.services = {&server->provider_service_,
                           &server->control_service_};
  auto started = StartGrpcServer(grpc_options);
  if (!started.ok()) return started.status();
  server->server_ = std::move(started->server);
  server->bound_ = started->bound;
  return server;
}

MockProviderServer::~MockProviderServer() { Shutdown(absl::ZeroDuration()); }

std::string MockProviderServer::address() const {
  return absl::StrCat(bound_.host, ":", bound_.port);
}

void MockProviderServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  scheduler_.Flush();
  DrainAndShutdown(server_.get(), grace);
}

}  // namespace booking::mock
