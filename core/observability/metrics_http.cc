#include "core/observability/metrics_http.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace booking {
namespace {

constexpr char kExpositionContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<httplib::Server> server,
                                     int port)
    : server_(std::move(server)), port_(port) {}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& host, int port, MetricsRegistry* registry) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics port must be in 0..65535, got ", port));
  }
  auto server = std::make_unique<httplib::Server>();
  // httplib's default sets SO_REUSEPORT, which on Linux lets a second
  // process bind the same port silently and steal half the scrapes. Plain
  // SO_REUSEADDR (fast restarts) is what we want: a taken port is an error.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Scrapes are rare and cheap: two threads, not one per core.
  server->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server->set_keep_alive_timeout(1);
  server->Get("/metrics", [registry](const httplib::Request&,
                                     httplib::Response& res) {
    res.set_content(registry->RenderPrometheusText(), kExpositionContentType);
  });
  server->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  // Unmatched paths get httplib's 404; give it a body.
  server->set_error_handler(
      [](const httplib::Request&, httplib::Response& res) {
        if (res.status == 404) res.set_content("not found\n", "text/plain");
      });

  errno = 0;
  int bound_port = port;
  bool ok;
  if (port == 0) {
    bound_port = server->bind_to_any_port(host);
    ok = bound_port > 0;
  } else {
    ok = server->bind_to_port(host, port);
  }
  if (!ok) {
    const int err = errno;
    return absl::UnavailableError(absl::StrCat(
        "metrics server cannot bind ", host, ":", port,
        err != 0 ? absl::StrCat(": ", std::strerror(err)) : std::string()));
  }

  // The socket is bound and listening: connections queue in the backlog
  // until the accept loop below runs, so callers may scrape right away.
  std::unique_ptr<MetricsHttpServer> out(
      new MetricsHttpServer(std::move(server), bound_port));
  MetricsHttpServer* self = out.get();
  out->thread_ = std::thread([self] {
    self->server_->listen_after_bind();
    self->listen_done_.Notify();
  });
  return out;
}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::Stop() {
  absl::MutexLock lock(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  // httplib's stop() does nothing until the accept loop has started, so a
  // Stop() right after Start() could miss it; keep asking until the loop
  // has exited.
  do {
    server_->stop();
  } while (
      !listen_done_.WaitForNotificationWithTimeout(absl::Milliseconds(10)));
  thread_.join();
}

}  // namespace booking
