#ifndef MOCK_PROVIDER_SERVICES_H_
#define MOCK_PROVIDER_SERVICES_H_

// The two gRPC services of the mock provider, as thin callback-API shells
// around BookingBook: provider.v1.ProviderService (what the worker and the
// reconciler call) and provider.v1.MockControl (what tests call).

#include "mock_provider/booking_book.h"
#include "mock_provider/reply_scheduler.h"
#include "proto/provider/v1/provider.grpc.pb.h"

namespace booking::mock {

class ProviderServiceImpl final
    : public ::provider::v1::ProviderService::CallbackService {
 public:
  // Neither is owned; both must outlive the server. `log_calls`: one debug
  // line per call (checked here first so that the hot path takes no lock).
  ProviderServiceImpl(BookingBook* book, ReplyScheduler* scheduler,
                      bool log_calls)
      : book_(book), scheduler_(scheduler), log_calls_(log_calls) {}

  grpc::ServerUnaryReactor* Book(grpc::CallbackServerContext* context,
                                 const ::provider::v1::BookRequest* request,
                                 ::provider::v1::Booking* response) override;
  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context,
                                   const ::provider::v1::CancelRequest* request,
                                   ::provider::v1::Booking* response) override;
  grpc::ServerUnaryReactor* GetBooking(
      grpc::CallbackServerContext* context,
      const ::provider::v1::GetBookingRequest* request,
      ::provider::v1::Booking* response) override;
  grpc::ServerUnaryReactor* ListBookings(
      grpc::CallbackServerContext* context,
      const ::provider::v1::ListBookingsRequest* request,
      ::provider::v1::ListBookingsResponse* response) override;

 private:
  void LogCall(absl::string_view event, const std::string& provider_id,
               const std::string& key, const absl::Status& status) const;

  BookingBook* const book_;
  ReplyScheduler* const scheduler_;
  const bool log_calls_;
};

class MockControlImpl final
    : public ::provider::v1::MockControl::CallbackService {
 public:
  explicit MockControlImpl(BookingBook* book) : book_(book) {}

  grpc::ServerUnaryReactor* SetMode(
      grpc::CallbackServerContext* context,
      const ::provider::v1::SetModeRequest* request,
      ::provider::v1::SetModeResponse* response) override;
  grpc::ServerUnaryReactor* Reset(
      grpc::CallbackServerContext* context,
      const ::provider::v1::ResetRequest* request,
      ::provider::v1::ResetResponse* response) override;
  grpc::ServerUnaryReactor* Stats(
      grpc::CallbackServerContext* context,
      const ::provider::v1::StatsRequest* request,
      ::provider::v1::StatsResponse* response) override;
  grpc::ServerUnaryReactor* ListAll(
      grpc::CallbackServerContext* context,
      const ::provider::v1::ListAllRequest* request,
      ::provider::v1::ListAllResponse* response) override;
  grpc::ServerUnaryReactor* InjectBooking(
      grpc::CallbackServerContext* context,
      const ::provider::v1::InjectBookingRequest* request,
      ::provider::v1::Booking* response) override;
  grpc::ServerUnaryReactor* DropBooking(
      grpc::CallbackServerContext* context,
      const ::provider::v1::DropBookingRequest* request,
      ::provider::v1::Booking* response) override;

 private:
  BookingBook* const book_;
};

}  // namespace booking::mock

#endif  // MOCK_PROVIDER_SERVICES_H_
