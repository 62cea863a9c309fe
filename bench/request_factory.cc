#include "bench/request_factory.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace booking::bench {

using ::appointments::v1::Appointment;
using ::appointments::v1::CreateAppointmentRequest;

RequestFactory::RequestFactory(std::string request_id_prefix,
                               std::vector<std::string> providers,
                               absl::Time now)
    : prefix_(std::move(request_id_prefix)),
      providers_(std::move(providers)),
      // Tomorrow, on a whole minute: valid (future, < 365 days) all run.
      start_seconds_(absl::ToUnixSeconds(now + absl::Hours(24)) / 60 * 60) {}

void RequestFactory::Fill(int64_t seq,
                          CreateAppointmentRequest* request) const {
  request->set_request_id(absl::StrCat(prefix_, "-", seq));
  Appointment* a = request->mutable_appointment();
  a->set_customer_id(absl::StrCat("bench-customer-", seq % 1000));
  a->set_provider_id(providers_[seq % providers_.size()]);
  a->set_location("Room 1, Bench Clinic");
  a->mutable_start_time()->set_seconds(start_seconds_ + (seq % 480) * 60);
  a->set_duration_minutes(30);
  a->set_priority(Appointment::NORMAL);
  a->mutable_patient()->set_display_name("Bench Patient");
  a->mutable_patient()->set_email("patient@example.com");
  a->mutable_patient()->set_phone("+14155550100");
}

}  // namespace booking::bench
