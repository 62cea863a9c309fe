#ifndef CORE_PROVIDER_GRPC_PROVIDER_CLIENT_H_
#define CORE_PROVIDER_GRPC_PROVIDER_CLIENT_H_

// ProviderClient over gRPC: one channel, the callback API (no thread per
// call), a deadline per call, and the `retry-after-ms` trailing metadata read
// into ProviderResult::retry_after.

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "core/provider/provider_client.h"
#include "grpcpp/grpcpp.h"
#include "proto/provider/v1/provider.grpc.pb.h"

namespace booking {

class GrpcProviderClient final : public ProviderClient {
 public:
  // `target` is "HOST:PORT"; insecure credentials (loopback / private net).
  explicit GrpcProviderClient(const std::string& target);
  explicit GrpcProviderClient(std::shared_ptr<grpc::Channel> channel);
  // Waits until every callback has returned: callbacks may refer to objects
  // the caller destroys after the client.
  ~GrpcProviderClient() override;

  void Book(const provider::v1::BookRequest& request, absl::Duration deadline,
            ProviderCallback done) override;
  void Cancel(const provider::v1::CancelRequest& request,
              absl::Duration deadline, ProviderCallback done) override;
  void GetBooking(const provider::v1::GetBookingRequest& request,
                  absl::Duration deadline, ProviderCallback done) override;
  absl::StatusOr<provider::v1::ListBookingsResponse> ListBookings(
      const provider::v1::ListBookingsRequest& request,
      absl::Duration deadline) override;

  void CancelInFlight() override;

  // Calls started and not yet completed.
  int in_flight() const;

 private:
  struct Call;
  // Starts `call` with the given async method and accounts for it.
  template <typename Request, typename Invoke>
  void Start(const Request& request, absl::Duration deadline,
             ProviderCallback done, Invoke invoke);
  void Finish(Call* call);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<provider::v1::ProviderService::Stub> stub_;
  mutable absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  // Calls started and not finished (for CancelInFlight).
  absl::flat_hash_set<Call*> active_ ABSL_GUARDED_BY(mu_);
};

// Parses a `retry-after-ms` value; nullopt when absent or malformed.
std::optional<absl::Duration> ParseRetryAfterMs(absl::string_view value);

}  // namespace booking

#endif  // CORE_PROVIDER_GRPC_PROVIDER_CLIENT_H_
