#include "mock_provider/services.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "core/grpc/status_conversion.h"
#include "core/observability/logging.h"

namespace booking::mock {
namespace {

using ::provider::v1::Booking;

grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context,
                                 const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Copies an OK result into the response and answers.
template <typename T>
grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context,
                                 absl::StatusOr<T> result, T* response) {
  if (result.ok()) *response = *std::move(result);
  return Answer(context, result.status());
}

}  // namespace

void ProviderServiceImpl::LogCall(absl::string_view event,
                                  const std::string& provider_id,
                                  const std::string& key,
                                  const absl::Status& status) const {
  if (!log_calls_) return;
  LogEvent(LogLevel::kDebug, event)
      .Field("provider_id", provider_id)
      .Field("idempotency_key", key)
      .Field("code", absl::StatusCodeToString(status.code()))
      .Error(status);
}

grpc::ServerUnaryReactor* ProviderServiceImpl::Book(
    grpc::CallbackServerContext* context,
    const ::provider::v1::BookRequest* request, Booking* response) {
  BookOutcome outcome = book_->Book(*request);
  LogCall("book", request->provider_id(), request->idempotency_key(),
          outcome.status);
  if (outcome.retry_after_ms > 0) {
    context->AddTrailingMetadata("retry-after-ms",
                                 absl::StrCat(outcome.retry_after_ms));
  }
  if (outcome.status.ok()) *response = std::move(outcome.booking);
  if (outcome.reply_after > absl::ZeroDuration()) {
    return scheduler_->Hold(context, outcome.reply_after,
                            ToGrpcStatus(outcome.status));
  }
  return Answer(context, outcome.status);
}

grpc::ServerUnaryReactor* ProviderServiceImpl::Cancel(
    grpc::CallbackServerContext* context,
    const ::provider::v1::CancelRequest* request, Booking* response) {
  auto result = book_->Cancel(*request);
  LogCall("cancel", request->provider_id(), request->idempotency_key(),
          result.status());
  return Answer(context, std::move(result), response);
}

grpc::ServerUnaryReactor* ProviderServiceImpl::GetBooking(
    grpc::CallbackServerContext* context,
    const ::provider::v1::GetBookingRequest* request, Booking* response) {
  auto result = book_->Get(*request);
  LogCall("get_booking", request->provider_id(), request->idempotency_key(),
          result.status());
  return Answer(context, std::move(result), response);
}

grpc::ServerUnaryReactor* ProviderServiceImpl::ListBookings(
    grpc::CallbackServerContext* context,
    const ::provider::v1::ListBookingsRequest* request,
    ::provider::v1::ListBookingsResponse* response) {
  auto result = book_->List(*request);
  LogCall("list_bookings", request->provider_id(), "", result.status());
  return Answer(context, std::move(result), response);
}

grpc::ServerUnaryReactor* MockControlImpl::SetMode(
    grpc::CallbackServerContext* context,
    const ::provider::v1::SetModeRequest* request,
    ::provider::v1::SetModeResponse* /*response*/) {
  const ModeSpec spec = FromProto(request->mode(), request->params());
  absl::Status status = book_->SetMode(request->provider_id(), spec);
  LogEvent(status.ok() ? LogLevel::kInfo : LogLevel::kWarn, "mode_set")
      .Field("provider_id", request->provider_id())
      .Field("mode", FormatModeSpec(spec))
      .Error(status);
  return Answer(context, status);
}

grpc::ServerUnaryReactor* MockControlImpl::Reset(
    grpc::CallbackServerContext* context,
    const ::provider::v1::ResetRequest* request,
    ::provider::v1::ResetResponse* /*response*/) {
  book_->Reset(request->seed());
  LogEvent(LogLevel::kInfo, "reset").Field("seed", request->seed());
  return Answer(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* MockControlImpl::Stats(
    grpc::CallbackServerContext* context,
    const ::provider::v1::StatsRequest* request,
    ::provider::v1::StatsResponse* response) {
  *response = book_->Stats(*request);
  return Answer(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* MockControlImpl::ListAll(
    grpc::CallbackServerContext* context,
    const ::provider::v1::ListAllRequest* /*request*/,
    ::provider::v1::ListAllResponse* response) {
  *response = book_->ListAll();
  return Answer(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* MockControlImpl::InjectBooking(
    grpc::CallbackServerContext* context,
    const ::provider::v1::InjectBookingRequest* request, Booking* response) {
  auto result = book_->Inject(*request);
  LogEvent(result.ok() ? LogLevel::kInfo : LogLevel::kWarn, "booking_injected")
      .Field("provider_id", request->booking().provider_id())
      .Field("idempotency_key", request->booking().idempotency_key())
      .Field("booking_id", result.ok() ? result->booking_id() : "")
      .Error(result.status());
  return Answer(context, std::move(result), response);
}

grpc::ServerUnaryReactor* MockControlImpl::DropBooking(
    grpc::CallbackServerContext* context,
    const ::provider::v1::DropBookingRequest* request, Booking* response) {
  auto result = book_->Drop(*request);
  LogEvent(result.ok() ? LogLevel::kInfo : LogLevel::kWarn, "booking_dropped")
      .Field("provider_id", request->provider_id())
      .Field("booking_id", request->booking_id())
      .Field("idempotency_key", request->idempotency_key())
      .Field("erase", request->erase())
      .Error(result.status());
  return Answer(context, std::move(result), response);
}

}  // namespace booking::mock
