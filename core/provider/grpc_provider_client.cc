#include "core/provider/grpc_provider_client.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "core/grpc/status_conversion.h"

namespace booking {

struct GrpcProviderClient::Call {
  grpc::ClientContext context;
  std::unique_ptr<google::protobuf::Message> request;
  ProviderBooking response;
  ProviderCallback done;
};

GrpcProviderClient::GrpcProviderClient(const std::string& target)
    : GrpcProviderClient(
          grpc::CreateChannel(target, grpc::InsecureChannelCredentials())) {}

GrpcProviderClient::GrpcProviderClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)),
      stub_(provider::v1::ProviderService::NewStub(channel_)) {}

GrpcProviderClient::~GrpcProviderClient() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* n) { return *n == 0; }, &in_flight_));
}

int GrpcProviderClient::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

std::optional<absl::Duration> ParseRetryAfterMs(absl::string_view value) {
  int64_t ms = 0;
  if (!absl::SimpleAtoi(value, &ms) || ms < 0) return std::nullopt;
  return absl::Milliseconds(ms);
}

template <typename Request, typename Invoke>
void GrpcProviderClient::Start(const Request& request, absl::Duration deadline,
                               ProviderCallback done, Invoke invoke) {
  auto* call = new Call;
  call->done = std::move(done);
  // The request must outlive the call: keep a copy with it.
  auto* owned_request = new Request(request);
  call->request.reset(owned_request);
  // A non-positive budget still makes a call that fails DEADLINE_EXCEEDED at
  // once, so the caller sees one uniform outcome.
  call->context.set_deadline(
      std::chrono::system_clock::now() +
      absl::ToChronoNanoseconds(std::max(deadline, absl::ZeroDuration())));
  {
    absl::MutexLock lock(&mu_);
    ++in_flight_;
    active_.insert(call);
  }
  invoke(&call->context, owned_request, &call->response,
         [this, call](grpc::Status status) {
           ProviderResult result;
           if (status.ok()) {
             result.booking = std::move(call->response);
           } else {
             result.booking = FromGrpcStatus(status);
           }
           const auto& trailers = call->context.GetServerTrailingMetadata();
           auto it = trailers.find("retry-after-ms");
           if (it != trailers.end()) {
             result.retry_after = ParseRetryAfterMs(
                 absl::string_view(it->second.data(), it->second.size()));
           }
           call->done(std::move(result));
           Finish(call);
         });
}

void GrpcProviderClient::Finish(Call* call) {
  {
    absl::MutexLock lock(&mu_);
    active_.erase(call);
  }
  delete call;
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

void GrpcProviderClient::CancelInFlight() {
  // Under the lock so no call is deleted meanwhile; gRPC runs the callbacks
  // on its own threads, never inside TryCancel.
  absl::MutexLock lock(&mu_);
  for (Call* call : active_) call->context.TryCancel();
}

void GrpcProviderClient::Book(const provider::v1::BookRequest& request,
                              absl::Duration deadline, ProviderCallback done) {
  Start(request, deadline, std::move(done),
        [this](grpc::ClientContext* c, const provider::v1::BookRequest* req,
               ProviderBooking* resp, std::function<void(grpc::Status)> cb) {
          stub_->async()->Book(c, req, resp, std::move(cb));
        });
}

void GrpcProviderClient::Cancel(const provider::v1::CancelRequest& request,
                                absl::Duration deadline,
                                ProviderCallback done) {
  Start(request, deadline, std::move(done),
        [this](grpc::ClientContext* c, const provider::v1::CancelRequest* req,
               ProviderBooking* resp, std::function<void(grpc::Status)> cb) {
          stub_->async()->Cancel(c, req, resp, std::move(cb));
        });
}

void GrpcProviderClient::GetBooking(
    const provider::v1::GetBookingRequest& request, absl::Duration deadline,
    ProviderCallback done) {
  Start(
      request, deadline, std::move(done),
      [this](grpc::ClientContext* c, const provider::v1::GetBookingRequest* req,
             ProviderBooking* resp, std::function<void(grpc::Status)> cb) {
        stub_->async()->GetBooking(c, req, resp, std::move(cb));
      });
}

absl::StatusOr<provider::v1::ListBookingsResponse>
GrpcProviderClient::ListBookings(
    const provider::v1::ListBookingsRequest& request, absl::Duration deadline) {
  grpc::ClientContext context;
  context.set_deadline(
      std::chrono::system_clock::now() +
      absl::ToChronoNanoseconds(std::max(deadline, absl::ZeroDuration())));
  provider::v1::ListBookingsResponse response;
  grpc::Status status = stub_->ListBookings(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace booking
