#ifndef CORE_OBSERVABILITY_METRICS_HTTP_H_
#define CORE_OBSERVABILITY_METRICS_HTTP_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/observability/metrics.h"

// cpp-httplib stays out of headers: only metrics_http.cc includes it.
namespace httplib {
class Server;
}  // namespace httplib

namespace booking {

// Serves a MetricsRegistry for Prometheus on --metrics_port:
//   GET /metrics -> 200 text/plain; version=0.0.4 (the exposition format)
//   GET /healthz -> 200 "ok"
//   anything else -> 404
// Requests are answered on a small thread pool of its own.
class MetricsHttpServer {
 public:
  // Binds host:port (port 0 picks a free port) and starts serving before
  // returning. UNAVAILABLE if the address cannot be bound (in use, bad
  // host); INVALID_ARGUMENT for a port out of range. `registry` must outlive
  // the server.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& host, int port, MetricsRegistry* registry);

  ~MetricsHttpServer();  // Stops.
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The bound port (useful with port 0).
  int port() const { return port_; }

  // Stops accepting, finishes in-flight requests and joins the threads.
  // Idempotent and safe to call from several threads.
  void Stop();

 private:
  MetricsHttpServer(std::unique_ptr<httplib::Server> server, int port);

  const std::unique_ptr<httplib::Server> server_;
  const int port_;
  std::thread thread_;
  absl::Notification listen_done_;
  absl::Mutex stop_mu_;  // Serialises Stop().
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
};

}  // namespace booking

#endif  // CORE_OBSERVABILITY_METRICS_HTTP_H_
