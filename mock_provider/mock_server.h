#ifndef MOCK_PROVIDER_MOCK_SERVER_H_
#define MOCK_PROVIDER_MOCK_SERVER_H_

// A running mock provider: state, both services, the reply scheduler and the
// gRPC server (health + reflection), in the order they must be built and torn
// down. Used by main.cc and, in-process, by the tests and the benchmark.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/common/clock.h"
#include "core/grpc/server_runtime.h"
#include "mock_provider/booking_book.h"
#include "mock_provider/mode_config.h"
#include "mock_provider/reply_scheduler.h"
#include "mock_provider/services.h"

namespace booking::mock {

struct MockServerOptions {
  std::string listen_address = "127.0.0.1:0";
  ModeTable modes;
  uint64_t seed = 1;
  const Clock* clock = RealClock();  // not owned
  bool log_calls = false;            // a debug log line per provider call
};

class MockProviderServer {
 public:
  static absl::StatusOr<std::unique_ptr<MockProviderServer>> Start(
      const MockServerOptions& options);
  // Shutdown(zero grace) if still serving.
  ~MockProviderServer();

  // The bound address, e.g. "127.0.0.1:41233".
  std::string address() const;
  const HostPort& bound() const { return bound_; }
  BookingBook& book() { return book_; }
  ReplyScheduler& scheduler() { return scheduler_; }

  // Answers held (delayed/timeout) calls now, marks health NOT_SERVING and
  // drains in-flight calls for up to `grace`. Idempotent.
  void Shutdown(absl::Duration grace);

 private:
  explicit MockProviderServer(const MockServerOptions& options);

  BookingBook book_;
  ReplyScheduler scheduler_;
  ProviderServiceImpl provider_service_;
  MockControlImpl control_service_;
  std::unique_ptr<grpc::Server> server_;
  HostPort bound_;
  bool shut_down_ = false;
};

}  // namespace booking::mock

#endif  // MOCK_PROVIDER_MOCK_SERVER_H_
