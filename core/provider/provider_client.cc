#include "core/provider/provider_client.h"

namespace booking {

provider::v1::BookRequest BookRequestFor(
    const appointments::v1::Appointment& appointment) {
  provider::v1::BookRequest request;
  request.set_idempotency_key(appointment.id());
  request.set_provider_id(appointment.provider_id());
  *request.mutable_start_time() = appointment.start_time();
  request.set_duration_minutes(appointment.duration_minutes());
  request.set_location(appointment.location());
  request.set_customer_ref(appointment.customer_id());
  return request;
}

provider::v1::CancelRequest CancelRequestFor(
    const appointments::v1::Appointment& appointment) {
  provider::v1::CancelRequest request;
  request.set_provider_id(appointment.provider_id());
  request.set_idempotency_key(appointment.id());
  return request;
}

provider::v1::GetBookingRequest GetBookingRequestFor(
    const appointments::v1::Appointment& appointment) {
  provider::v1::GetBookingRequest request;
  request.set_provider_id(appointment.provider_id());
  request.set_idempotency_key(appointment.id());
  return request;
}

}  // namespace booking
