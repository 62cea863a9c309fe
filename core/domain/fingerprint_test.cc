#include "core/domain/fingerprint.h"

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/common/time_util.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using appointments::v1::Appointment;
using appointments::v1::CancelAppointmentRequest;
using appointments::v1::CreateAppointmentRequest;
using ::testing::MatchesRegex;
using ::testing::UnorderedElementsAreArray;

// sha256 of the canonical strings in the KnownValue tests, computed
// independently (Python hashlib).
constexpr char kCreateKnownValue[] =
    "db453f805e0e4ed3264c2ff5e34984384054bf9a3d260033fd70de6abe8045fc";
constexpr char kCancelKnownValue[] =
    "62e339cdd0c8c6567fe40a1c6a05f6e4d48ecdf8925e8515a73230b61e12ff28";

CreateAppointmentRequest BaseCreate() {
  CreateAppointmentRequest req;
  req.set_request_id("req-1");
  Appointment* a = req.mutable_appointment();
  a->set_customer_id("cust-42");
  a->set_provider_id("prov-a");
  a->set_location("Room 3");
  *a->mutable_start_time() =
      ToProtoTimestamp(absl::FromUnixSeconds(1'700'000'000));
  a->set_duration_minutes(30);
  a->set_priority(Appointment::NORMAL);
  a->mutable_patient()->set_display_name("Ada Lovelace");
  a->mutable_patient()->set_email("ada@example.org");
  a->mutable_patient()->set_phone("+14155550100");
  a->set_notes("First visit.");
  return req;
}

CancelAppointmentRequest BaseCancel() {
  CancelAppointmentRequest req;
  req.set_id("apt_01HF0000000000000000000000");
  req.set_request_id("cancel-1");
  req.set_reason("unwell");
  return req;
}

TEST(Sha256HexTest, KnownVectors) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CreateRequestFingerprintTest, IsLowercaseHexSha256) {
  EXPECT_THAT(CreateRequestFingerprint(BaseCreate()),
              MatchesRegex("[0-9a-f]{64}"));
}

TEST(CreateRequestFingerprintTest, IgnoresRequestId) {
  CreateAppointmentRequest other = BaseCreate();
  other.set_request_id("a-completely-different-key");
  EXPECT_EQ(CreateRequestFingerprint(BaseCreate()),
            CreateRequestFingerprint(other));
}

// Each parameter, changed alone, changes the fingerprint.
TEST(CreateRequestFingerprintTest, EveryParameterChangesIt) {
  const std::vector<std::pair<std::string, std::function<void(Appointment*)>>>
      changes = {
          {"customer_id",
           [](Appointment* a) { a->set_customer_id("cust-43"); }},
          {"provider_id", [](Appointment* a) { a->set_provider_id("prov-b"); }},
          {"location", [](Appointment* a) { a->set_location("Room 4"); }},
          {"start_time.seconds",
           [](Appointment* a) {
             a->mutable_start_time()->set_seconds(1'700'000'060);
           }},
          {"start_time.nanos",
           [](Appointment* a) { a->mutable_start_time()->set_nanos(1); }},
          {"duration_minutes",
           [](Appointment* a) { a->set_duration_minutes(31); }},
          {"priority",
           [](Appointment* a) { a->set_priority(Appointment::HIGH); }},
          {"patient.display_name",
           [](Appointment* a) {
             a->mutable_patient()->set_display_name("Ada King");
           }},
          {"patient.email",
           [](Appointment* a) {
             a->mutable_patient()->set_email("ada@example.com");
           }},
          {"patient.email cleared",
           [](Appointment* a) { a->mutable_patient()->clear_email(); }},
          {"patient.phone",
           [](Appointment* a) {
             a->mutable_patient()->set_phone("+14155550101");
           }},
          {"notes", [](Appointment* a) { a->set_notes("Second visit."); }},
          {"notes cleared", [](Appointment* a) { a->clear_notes(); }},
      };
  const std::string base = CreateRequestFingerprint(BaseCreate());
  std::set<std::string> seen = {base};
  for (const auto& [name, change] : changes) {
    CreateAppointmentRequest req = BaseCreate();
    change(req.mutable_appointment());
    const std::string fp = CreateRequestFingerprint(req);
    EXPECT_NE(fp, base) << name;
    EXPECT_TRUE(seen.insert(fp).second) << name << " collides";
  }
}

TEST(CreateRequestFingerprintTest, FieldBoundariesAreUnambiguous) {
  // Same concatenated bytes, split differently between fields.
  CreateAppointmentRequest a = BaseCreate();
  a.mutable_appointment()->mutable_patient()->set_email("x");
  a.mutable_appointment()->mutable_patient()->set_phone("yz");
  CreateAppointmentRequest b = BaseCreate();
  b.mutable_appointment()->mutable_patient()->set_email("xy");
  b.mutable_appointment()->mutable_patient()->set_phone("z");
  EXPECT_NE(CreateRequestFingerprint(a), CreateRequestFingerprint(b));

  // A value that looks like the encoding of the next field.
  CreateAppointmentRequest c = BaseCreate();
  c.mutable_appointment()->mutable_patient()->set_email("");
  c.mutable_appointment()->mutable_patient()->set_phone("1");
  CreateAppointmentRequest d = BaseCreate();
  d.mutable_appointment()->mutable_patient()->set_email("0:;patient.phone=1:1");
  d.mutable_appointment()->mutable_patient()->set_phone("");
  EXPECT_NE(CreateRequestFingerprint(c), CreateRequestFingerprint(d));
}

TEST(CreateRequestFingerprintTest, IgnoresOutputOnlyFields) {
  CreateAppointmentRequest req = BaseCreate();
  Appointment* a = req.mutable_appointment();
  a->set_id("apt_x");
  a->set_request_id("inner");
  a->set_state(Appointment::CONFIRMED);
  a->set_provider_booking_id("pb-1");
  a->set_attempt_count(3);
  a->set_failure_reason("provider_rejected");
  *a->mutable_create_time() = ToProtoTimestamp(absl::FromUnixSeconds(1));
  *a->mutable_update_time() = ToProtoTimestamp(absl::FromUnixSeconds(2));
  a->set_version(7);
  a->set_cancel_reason("because");
  EXPECT_EQ(CreateRequestFingerprint(req),
            CreateRequestFingerprint(BaseCreate()));
}

TEST(CreateRequestFingerprintTest, IgnoresSerializationDetails) {
  // Unknown fields (from a newer client) and a re-parse do not matter.
  std::string wire = BaseCreate().SerializeAsString();
  wire += std::string("\xF8\x7F\x01", 3);  // field 2047, varint 1
  CreateAppointmentRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  ASSERT_FALSE(parsed.GetReflection()->GetUnknownFields(parsed).empty());
  EXPECT_EQ(CreateRequestFingerprint(parsed),
            CreateRequestFingerprint(BaseCreate()));

  // Absent and empty optional sub-messages are the same parameters.
  CreateAppointmentRequest absent = BaseCreate();
  absent.mutable_appointment()->clear_patient();
  CreateAppointmentRequest empty = BaseCreate();
  empty.mutable_appointment()->mutable_patient()->Clear();
  EXPECT_EQ(CreateRequestFingerprint(absent), CreateRequestFingerprint(empty));
}

// Guards the canonical form: if this changes, every stored fingerprint stops
// matching its retries (see fingerprint.h before updating the constants).
TEST(CreateRequestFingerprintTest, KnownValue) {
  EXPECT_EQ(CanonicalCreateRequest(BaseCreate()),
            "create/v1;customer_id=7:cust-42;provider_id=6:prov-a;"
            "location=6:Room 3;start_time.seconds=10:1700000000;"
            "start_time.nanos=1:0;duration_minutes=2:30;priority=1:2;"
            "patient.display_name=12:Ada Lovelace;"
            "patient.email=15:ada@example.org;patient.phone=12:+14155550100;"
            "notes=12:First visit.;");
  EXPECT_EQ(CreateRequestFingerprint(BaseCreate()), kCreateKnownValue);
}

// Every Appointment field is either fingerprinted or output-only. A field
// added to the proto fails here until it is put on one side (and, if it is a
// parameter, into CanonicalCreateRequest).
TEST(CreateRequestFingerprintTest, EveryProtoFieldIsClassified) {
  const std::vector<std::string> parameters = {
      "customer_id",      "provider_id", "location", "start_time",
      "duration_minutes", "priority",    "patient",  "notes"};
  const std::vector<std::string> output_only = {"id",
                                                "request_id",
                                                "state",
                                                "provider_booking_id",
                                                "attempt_count",
                                                "failure_reason",
                                                "create_time",
                                                "update_time",
                                                "version",
                                                "cancel_reason"};
  std::vector<std::string> all;
  const google::protobuf::Descriptor* d = Appointment::descriptor();
  for (int i = 0; i < d->field_count(); ++i) all.push_back(d->field(i)->name());
  std::vector<std::string> expected = parameters;
  expected.insert(expected.end(), output_only.begin(), output_only.end());
  EXPECT_THAT(all, UnorderedElementsAreArray(expected));

  std::vector<std::string> patient;
  const google::protobuf::Descriptor* p = Appointment::Patient::descriptor();
  for (int i = 0; i < p->field_count(); ++i) {
    patient.push_back(p->field(i)->name());
  }
  EXPECT_THAT(patient,
              UnorderedElementsAreArray({"display_name", "email", "phone"}));

  std::vector<std::string> request;
  const google::protobuf::Descriptor* r =
      CreateAppointmentRequest::descriptor();
  for (int i = 0; i < r->field_count(); ++i) {
    request.push_back(r->field(i)->name());
  }
  EXPECT_THAT(request,
              UnorderedElementsAreArray({"request_id", "appointment"}));
}

TEST(CancelRequestFingerprintTest, IgnoresRequestId) {
  CancelAppointmentRequest other = BaseCancel();
  other.set_request_id("cancel-2");
  EXPECT_EQ(CancelRequestFingerprint(BaseCancel()),
            CancelRequestFingerprint(other));
}

TEST(CancelRequestFingerprintTest, EveryParameterChangesIt) {
  const std::string base = CancelRequestFingerprint(BaseCancel());
  CancelAppointmentRequest other_id = BaseCancel();
  other_id.set_id("apt_01HF0000000000000000000001");
  EXPECT_NE(CancelRequestFingerprint(other_id), base);
  CancelAppointmentRequest other_reason = BaseCancel();
  other_reason.set_reason("moved away");
  EXPECT_NE(CancelRequestFingerprint(other_reason), base);
  other_reason.clear_reason();
  EXPECT_NE(CancelRequestFingerprint(other_reason), base);
}

TEST(CancelRequestFingerprintTest, KnownValueAndFieldsClassified) {
  EXPECT_EQ(CanonicalCancelRequest(BaseCancel()),
            "cancel/v1;id=30:apt_01HF0000000000000000000000;reason=6:unwell;");
  EXPECT_EQ(CancelRequestFingerprint(BaseCancel()), kCancelKnownValue);
  std::vector<std::string> request;
  const google::protobuf::Descriptor* r =
      CancelAppointmentRequest::descriptor();
  for (int i = 0; i < r->field_count(); ++i) {
    request.push_back(r->field(i)->name());
  }
  EXPECT_THAT(request,
              UnorderedElementsAreArray({"id", "request_id", "reason"}));
}

TEST(FingerprintTest, CreateAndCancelNeverCollide) {
  // Domain separation by the version tag, even for crafted values.
  CancelAppointmentRequest cancel;
  CreateAppointmentRequest create;
  create.mutable_appointment()->set_customer_id("x");
  EXPECT_NE(CreateRequestFingerprint(create), CancelRequestFingerprint(cancel));
  EXPECT_NE(CanonicalCreateRequest(CreateAppointmentRequest()),
            CanonicalCancelRequest(cancel));
}

}  // namespace
}  // namespace booking
