#include "core/provider/provider_client.h"

#include "core/common/time_util.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

appointments::v1::Appointment SampleAppointment() {
  appointments::v1::Appointment a;
  a.set_id("apt_123");
  a.set_customer_id("cust-9");
  a.set_provider_id("prov-a");
  a.set_location("Room 4");
  *a.mutable_start_time() = ToProtoTimestamp(absl::FromUnixSeconds(1800000000));
  a.set_duration_minutes(30);
  a.mutable_patient()->set_display_name("Alice Example");
  a.mutable_patient()->set_email("alice@example.com");
  a.mutable_patient()->set_phone("+15551234567");
  a.set_notes("allergic to penicillin");
  return a;
}

TEST(BookRequestFor, KeyIsAppointmentIdAndCustomerRefIsOpaqueId) {
  const auto req = BookRequestFor(SampleAppointment());
  EXPECT_EQ(req.idempotency_key(), "apt_123");
  EXPECT_EQ(req.customer_ref(), "cust-9");
  EXPECT_EQ(req.provider_id(), "prov-a");
  EXPECT_EQ(req.location(), "Room 4");
  EXPECT_EQ(req.duration_minutes(), 30);
  EXPECT_EQ(FromProtoTimestamp(req.start_time()),
            absl::FromUnixSeconds(1800000000));
}

TEST(BookRequestFor, NoPatientDataLeavesTheService) {
  const std::string wire = BookRequestFor(SampleAppointment()).DebugString();
  for (const char* pii :
       {"Alice", "alice@example.com", "+15551234567", "penicillin"}) {
    EXPECT_EQ(wire.find(pii), std::string::npos) << pii;
  }
}

TEST(CancelAndGetRequests, AddressTheBookingByKey) {
  const auto cancel = CancelRequestFor(SampleAppointment());
  EXPECT_EQ(cancel.idempotency_key(), "apt_123");
  EXPECT_EQ(cancel.provider_id(), "prov-a");
  EXPECT_TRUE(cancel.booking_id().empty());
  const auto get = GetBookingRequestFor(SampleAppointment());
  EXPECT_EQ(get.idempotency_key(), "apt_123");
  EXPECT_EQ(get.provider_id(), "prov-a");
}

}  // namespace
}  // namespace booking
