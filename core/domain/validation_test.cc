#include "core/domain/validation.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/common/time_util.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using appointments::v1::Appointment;
using appointments::v1::CancelAppointmentRequest;
using appointments::v1::CreateAppointmentRequest;
using ::booking::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

// "ü" is 2 bytes, "€" 3 bytes, "😀" 4 bytes in UTF-8: one code point each.
constexpr absl::string_view kTwoByte = "\xC3\xBC";
constexpr absl::string_view kThreeByte = "\xE2\x82\xAC";
constexpr absl::string_view kFourByte = "\xF0\x9F\x98\x80";

std::string Repeat(absl::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) absl::StrAppend(&out, s);
  return out;
}

ValidationOptions Options() {
  ValidationOptions opts;
  opts.provider_ids = {"prov-a", "prov-b"};
  return opts;
}

CreateAppointmentRequest ValidCreate() {
  CreateAppointmentRequest req;
  req.set_request_id("req-1");
  Appointment* a = req.mutable_appointment();
  a->set_customer_id("cust-42");
  a->set_provider_id("prov-a");
  a->set_location("Room 3, Main St. Clinic");
  *a->mutable_start_time() = ToProtoTimestamp(kNow + absl::Hours(48));
  a->set_duration_minutes(30);
  a->set_priority(Appointment::NORMAL);
  a->mutable_patient()->set_display_name("Ada Lovelace");
  a->mutable_patient()->set_email("ada@example.org");
  a->mutable_patient()->set_phone("+14155550100");
  a->set_notes("First visit.");
  return req;
}

absl::Status Validate(const CreateAppointmentRequest& req) {
  return ValidateCreateRequest(req, Options(), kNow);
}

// Refused as INVALID_ARGUMENT with a message naming `field` and `rule`.
::testing::Matcher<absl::Status> Refused(const std::string& field,
                                         const std::string& rule) {
  return StatusIs(absl::StatusCode::kInvalidArgument,
                  AllOf(HasSubstr(field + ": "), HasSubstr(rule)));
}

TEST(ValidateCreateRequestTest, ValidRequestIsAccepted) {
  EXPECT_OK(Validate(ValidCreate()));
}

TEST(ValidateCreateRequestTest, OptionalFieldsMayBeEmpty) {
  CreateAppointmentRequest req = ValidCreate();
  req.mutable_appointment()->mutable_patient()->clear_email();
  req.mutable_appointment()->mutable_patient()->clear_phone();
  req.mutable_appointment()->clear_notes();
  EXPECT_OK(Validate(req));
}

TEST(ValidateCreateRequestTest, OutputOnlyFieldsAreIgnored) {
  CreateAppointmentRequest req = ValidCreate();
  Appointment* a = req.mutable_appointment();
  a->set_id("bogus\n");
  a->set_request_id("other");
  a->set_state(Appointment::FAILED);
  a->set_provider_booking_id("\xFF");
  a->set_attempt_count(-3);
  a->set_failure_reason("x");
  *a->mutable_create_time() = ToProtoTimestamp(kNow - absl::Hours(1000));
  a->set_version(99);
  a->set_cancel_reason("y");
  EXPECT_OK(Validate(req));
}

// --- request_id ---

TEST(ValidateCreateRequestTest, RequestIdRequired) {
  CreateAppointmentRequest req = ValidCreate();
  req.clear_request_id();
  EXPECT_THAT(Validate(req), Refused("request_id", "is required"));
}

TEST(ValidateCreateRequestTest, RequestIdOf64CharsAcceptedAnd65Refused) {
  CreateAppointmentRequest req = ValidCreate();
  req.set_request_id(std::string(64, 'r'));
  EXPECT_OK(Validate(req));
  req.set_request_id(std::string(65, 'r'));
  EXPECT_THAT(Validate(req),
              Refused("request_id", "1..64 characters of [A-Za-z0-9._:-]"));
}

TEST(ValidateCreateRequestTest, RequestIdCharset) {
  CreateAppointmentRequest req = ValidCreate();
  req.set_request_id("Az09.:-");
  EXPECT_OK(Validate(req));
  for (const char* bad : {"a b", "a_b", "a/b", "a\nb", "caf\xC3\xA9", "a+b"}) {
    req.set_request_id(bad);
    EXPECT_THAT(Validate(req),
                Refused("request_id", "1..64 characters of [A-Za-z0-9._:-]"))
        << bad;
  }
}

// --- appointment ---

TEST(ValidateCreateRequestTest, AppointmentRequired) {
  CreateAppointmentRequest req = ValidCreate();
  req.clear_appointment();
  EXPECT_THAT(Validate(req), Refused("appointment", "is required"));
}

TEST(ValidateCreateRequestTest, CustomerIdRules) {
  CreateAppointmentRequest req = ValidCreate();
  Appointment* a = req.mutable_appointment();
  a->set_customer_id(std::string(64, 'c'));
  EXPECT_OK(Validate(req));
  a->set_customer_id(std::string(65, 'c'));
  EXPECT_THAT(Validate(req), Refused("appointment.customer_id",
                                     "1..64 characters of [A-Za-z0-9._:-]"));
  a->clear_customer_id();
  EXPECT_THAT(Validate(req), Refused("appointment.customer_id", "is required"));
  a->set_customer_id("cust#1");
  EXPECT_THAT(Validate(req), Refused("appointment.customer_id",
                                     "1..64 characters of [A-Za-z0-9._:-]"));
}

TEST(ValidateCreateRequestTest, UnconfiguredProviderRefused) {
  CreateAppointmentRequest req = ValidCreate();
  req.mutable_appointment()->set_provider_id("prov-b");
  EXPECT_OK(Validate(req));
  req.mutable_appointment()->set_provider_id("prov-c");
  EXPECT_THAT(Validate(req), Refused("appointment.provider_id",
                                     "must be a configured provider"));
  req.mutable_appointment()->clear_provider_id();
  EXPECT_THAT(Validate(req), Refused("appointment.provider_id",
                                     "must be a configured provider"));
  // With no providers configured, nothing can be booked.
  EXPECT_THAT(
      ValidateCreateRequest(ValidCreate(), ValidationOptions(), kNow),
      Refused("appointment.provider_id", "must be a configured provider"));
}

TEST(ValidateCreateRequestTest, LocationLength) {
  CreateAppointmentRequest req = ValidCreate();
  Appointment* a = req.mutable_appointment();
  a->clear_location();
  EXPECT_THAT(Validate(req), Refused("appointment.location", "is required"));
  a->set_location(std::string(129, 'l'));
  EXPECT_THAT(Validate(req),
              Refused("appointment.location", "must be 1..128 characters"));
}

TEST(ValidateCreateRequestTest, LengthsCountCodePointsNotBytes) {
  CreateAppointmentRequest req = ValidCreate();
  Appointment* a = req.mutable_appointment();
  // 128 code points, 4 * 128 = 512 bytes.
  a->set_location(Repeat(kFourByte, 128));
  a->mutable_patient()->set_display_name(
      Repeat(absl::StrCat(kTwoByte, kThreeByte), 64));
  a->set_notes(Repeat(kThreeByte, 1024));
  EXPECT_OK(Validate(req));

  a->set_location(Repeat(kFourByte, 129));
  EXPECT_THAT(Validate(req), Refused("appointment.location", "(got 129)"));
}

TEST(ValidateCreateRequestTest, StartTimeRequired) {
  CreateAppointmentRequest req = ValidCreate();
  req.mutable_appointment()->clear_start_time();
  EXPECT_THAT(Validate(req), Refused("appointment.start_time", "is required"));
}

TEST(ValidateCreateRequestTest, StartTimeMustBeInTheFuture) {
  CreateAppointmentRequest req = ValidCreate();
  Appointment* a = req.mutable_appointment();
  *a->mutable_start_time() = ToProtoTimestamp(kNow);
  EXPECT_THAT(Validate(req),
              Refused("appointment.start_time", "must be in the future"));
  *a->mutable_start_time() = ToProtoTimestamp(kNow - absl::Hours(1));
  EXPECT_THAT(Validate(req),
              Refused("appointment.start_time", "must be in the future"));
  *a->mutable_start_time() = ToProtoTimestamp(kNow + absl::Nanoseconds(1));
  EXPECT_OK(Validate(req));
}

TEST(ValidateCreateRequestTest, StartTimeAtMost365DaysAhead) {
  CreateAppointmentRequest req = ValidCreate();
  Appointment* a = req.mutable_appointment();
  *a->mutable_start_time() = ToProtoTimestamp(kNow + absl::Hours(365 * 24));
  EXPECT_OK(Validate(req));
  *a->mutable_start_time() =
      ToProtoTimestamp(kNow + absl::Hours(365 * 24) + absl::Seconds(1));
  EXPECT_THAT(Validate(req), Refused("appointment.start_time",
                                     "must be at most 365 days ahead"));
}

TEST(ValidateCreateRequestTest, StartTimeWithInvalidNanosRefused) {
  CreateAppointmentRequest req = ValidCreate();
  req.mutable_appointment()->mutable_start_time()->set_nanos(-1);
  EXPECT_THAT(Validate(req),
              Refused("appointment.start_time", "must be a valid timestamp"));
  req.mutable_appointment()->mutable_start_time()->set_nanos(1'000'000'000);
  EXPECT_THAT(Validate(req),
              Refused("appointment.start_time", "must be a valid timestamp"));
}

TEST(ValidateCreateRequestTest, DurationBounds) {
  CreateAppointmentRequest req = ValidCreate();
  Appointment* a = req.mutable_appointment();
  for (int ok : {5, 480}) {
    a->set_duration_minutes(ok);
    EXPECT_OK(Validate(req)) << ok;
  }
  for (int bad : {4, 481, 0, -30}) {
    a->set_duration_minutes(bad);
    EXPECT_THAT(
        Validate(req),
        Refused("appointment.duration_minutes",
                absl::StrCat("must be between 5 and 480 (got ", bad, ")")));
  }
}

TEST(ValidateCreateRequestTest, PriorityRequiredAndKnown) {
  CreateAppointmentRequest req = ValidCreate();
  Appointment* a = req.mutable_appointment();
  for (Appointment::Priority p :
       {Appointment::LOW, Appointment::NORMAL, Appointment::HIGH}) {
    a->set_priority(p);
    EXPECT_OK(Validate(req));
  }
  a->set_priority(Appointment::PRIORITY_UNSPECIFIED);
  EXPECT_THAT(Validate(req), Refused("appointment.priority", "is required"));
  a->set_priority(static_cast<Appointment::Priority>(17));
  EXPECT_THAT(Validate(req), Refused("appointment.priority",
                                     "must be LOW, NORMAL or HIGH (got 17)"));
}

TEST(ValidateCreateRequestTest, PatientRequired) {
  CreateAppointmentRequest req = ValidCreate();
  req.mutable_appointment()->clear_patient();
  EXPECT_THAT(Validate(req), Refused("appointment.patient", "is required"));
}

TEST(ValidateCreateRequestTest, DisplayNameLength) {
  CreateAppointmentRequest req = ValidCreate();
  Appointment::Patient* p = req.mutable_appointment()->mutable_patient();
  p->clear_display_name();
  EXPECT_THAT(Validate(req),
              Refused("appointment.patient.display_name", "is required"));
  p->set_display_name(std::string(128, 'n'));
  EXPECT_OK(Validate(req));
  p->set_display_name(std::string(129, 'n'));
  EXPECT_THAT(Validate(req), Refused("appointment.patient.display_name",
                                     "must be 1..128 characters (got 129)"));
}

TEST(ValidateCreateRequestTest, ValidEmailsAccepted) {
  CreateAppointmentRequest req = ValidCreate();
  Appointment::Patient* p = req.mutable_appointment()->mutable_patient();
  for (const std::string& ok :
       {std::string("a@b.co"), std::string("first.last+tag@sub.example.org"),
        absl::StrCat("j", kTwoByte, "rg@example.de"),
        // 254 characters exactly.
        absl::StrCat(std::string(64, 'l'), "@", std::string(185, 'd'),
                     ".com")}) {
    p->set_email(ok);
    EXPECT_OK(Validate(req)) << ok;
  }
}

TEST(ValidateCreateRequestTest, InvalidEmailsRefused) {
  CreateAppointmentRequest req = ValidCreate();
  Appointment::Patient* p = req.mutable_appointment()->mutable_patient();
  for (const char* bad :
       {"plainaddress", "@example.org", "a@b@example.org", "a@localhost",
        "a b@example.org", "ab@exam ple.org", "a@.example.org", "a@example.",
        "a@example..org", "a@"}) {
    p->set_email(bad);
    EXPECT_THAT(Validate(req), Refused("appointment.patient.email",
                                       "must be a plausible e-mail address"))
        << bad;
  }
  p->set_email(
      absl::StrCat(std::string(64, 'l'), "@", std::string(186, 'd'), ".com"));
  EXPECT_THAT(Validate(req), Refused("appointment.patient.email",
                                     "must be at most 254 characters"));
  p->set_email("a\t@example.org");
  EXPECT_THAT(Validate(req), Refused("appointment.patient.email",
                                     "must not contain control characters"));
}

TEST(ValidateCreateRequestTest, ValidPhonesAccepted) {
  CreateAppointmentRequest req = ValidCreate();
  Appointment::Patient* p = req.mutable_appointment()->mutable_patient();
  for (const char* ok : {"+14155550100", "+12", "+123456789012345"}) {
    p->set_phone(ok);
    EXPECT_OK(Validate(req)) << ok;
  }
}

TEST(ValidateCreateRequestTest, InvalidPhonesRefused) {
  CreateAppointmentRequest req = ValidCreate();
  Appointment::Patient* p = req.mutable_appointment()->mutable_patient();
  for (const char* bad :
       {"14155550100", "+04155550100", "+1", "+1234567890123456",
        "+1 415 555 0100", "+1-415-555-0100", "+", "+1415555010a"}) {
    p->set_phone(bad);
    EXPECT_THAT(Validate(req),
                Refused("appointment.patient.phone", "must be an E.164 number"))
        << bad;
  }
}

TEST(ValidateCreateRequestTest, NotesLength) {
  CreateAppointmentRequest req = ValidCreate();
  req.mutable_appointment()->set_notes(std::string(1024, 'n'));
  EXPECT_OK(Validate(req));
  req.mutable_appointment()->set_notes(std::string(1025, 'n'));
  EXPECT_THAT(Validate(req),
              Refused("appointment.notes", "must be at most 1024 characters"));
}

TEST(ValidateCreateRequestTest, InvalidUtf8Refused) {
  // Lone continuation byte, truncated sequence, overlong '/', a UTF-16
  // surrogate, above U+10FFFF, and a byte that never occurs in UTF-8.
  for (const char* bad : {"ab\x80", "ab\xE2\x82", "\xC0\xAF", "\xED\xA0\x80",
                          "\xF4\x90\x80\x80", "\xFF"}) {
    CreateAppointmentRequest req = ValidCreate();
    req.mutable_appointment()->set_location(bad);
    EXPECT_THAT(Validate(req),
                Refused("appointment.location", "must be valid UTF-8"));
    req = ValidCreate();
    req.mutable_appointment()->set_notes(bad);
    EXPECT_THAT(Validate(req),
                Refused("appointment.notes", "must be valid UTF-8"));
    req = ValidCreate();
    req.mutable_appointment()->mutable_patient()->set_display_name(bad);
    EXPECT_THAT(Validate(req), Refused("appointment.patient.display_name",
                                       "must be valid UTF-8"));
  }
}

TEST(ValidateCreateRequestTest, ControlCharactersRefused) {
  // C0 (NUL, tab, newline, CR, ESC), DEL and C1 (U+0085 NEL, U+009F).
  for (const std::string& bad :
       {std::string("a\0b", 3), std::string("a\tb"), std::string("a\nb"),
        std::string("a\rb"), std::string("a\x1B"), std::string("a\x7F"),
        std::string("a\xC2\x85"), std::string("a\xC2\x9F")}) {
    CreateAppointmentRequest req = ValidCreate();
    req.mutable_appointment()->set_notes(bad);
    EXPECT_THAT(Validate(req), Refused("appointment.notes",
                                       "must not contain control characters"));
    req = ValidCreate();
    req.mutable_appointment()->set_location(bad);
    EXPECT_THAT(Validate(req), Refused("appointment.location",
                                       "must not contain control characters"));
  }
  // U+00A0 (no-break space) is printable, not a control character.
  CreateAppointmentRequest req = ValidCreate();
  req.mutable_appointment()->set_notes("a\xC2\xA0z");
  EXPECT_OK(Validate(req));
}

TEST(ValidateCreateRequestTest, RequestOver16KiBRefused) {
  CreateAppointmentRequest req = ValidCreate();
  // An ignored output-only field still counts towards the size limit.
  req.mutable_appointment()->set_failure_reason(std::string(16 * 1024, 'x'));
  EXPECT_THAT(Validate(req),
              Refused("request", "must be at most 16384 bytes serialized"));
}

TEST(ValidateCreateRequestTest, RequestOfExactly16KiBAccepted) {
  CreateAppointmentRequest req = ValidCreate();
  req.mutable_appointment()->set_failure_reason(std::string(16000, 'x'));
  const size_t size = req.ByteSizeLong();
  ASSERT_LT(size, kMaxRequestBytes);
  req.mutable_appointment()->set_failure_reason(
      std::string(16000 + (kMaxRequestBytes - size), 'x'));
  ASSERT_EQ(req.ByteSizeLong(), kMaxRequestBytes);
  EXPECT_OK(Validate(req));
}

TEST(ValidateCreateRequestTest, MessagesDoNotEchoPatientData) {
  CreateAppointmentRequest req = ValidCreate();
  req.mutable_appointment()->mutable_patient()->set_email(
      "secret.person@nowhere");
  const absl::Status s = Validate(req);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              ::testing::Not(HasSubstr("secret.person")));
}

// --- CancelAppointment ---

CancelAppointmentRequest ValidCancel() {
  CancelAppointmentRequest req;
  req.set_id("apt_01HF0000000000000000000000");
  req.set_request_id("cancel-1");
  req.set_reason("Patient is unwell.");
  return req;
}

TEST(ValidateCancelRequestTest, ValidRequestIsAccepted) {
  EXPECT_OK(ValidateCancelRequest(ValidCancel()));
  CancelAppointmentRequest req = ValidCancel();
  req.clear_reason();
  EXPECT_OK(ValidateCancelRequest(req));
}

TEST(ValidateCancelRequestTest, IdRequired) {
  CancelAppointmentRequest req = ValidCancel();
  req.clear_id();
  EXPECT_THAT(ValidateCancelRequest(req), Refused("id", "is required"));
  req.set_id(std::string(65, 'i'));
  EXPECT_THAT(ValidateCancelRequest(req),
              Refused("id", "must be 1..64 characters"));
  req.set_id("apt\n1");
  EXPECT_THAT(ValidateCancelRequest(req),
              Refused("id", "must not contain control characters"));
}

TEST(ValidateCancelRequestTest, RequestIdRules) {
  CancelAppointmentRequest req = ValidCancel();
  req.clear_request_id();
  EXPECT_THAT(ValidateCancelRequest(req), Refused("request_id", "is required"));
  req.set_request_id(std::string(64, 'r'));
  EXPECT_OK(ValidateCancelRequest(req));
  req.set_request_id(std::string(65, 'r'));
  EXPECT_THAT(ValidateCancelRequest(req),
              Refused("request_id", "1..64 characters of [A-Za-z0-9._:-]"));
  req.set_request_id("a b");
  EXPECT_THAT(ValidateCancelRequest(req),
              Refused("request_id", "1..64 characters of [A-Za-z0-9._:-]"));
}

TEST(ValidateCancelRequestTest, ReasonRules) {
  CancelAppointmentRequest req = ValidCancel();
  req.set_reason(Repeat(kFourByte, 1024));
  EXPECT_OK(ValidateCancelRequest(req));
  req.set_reason(std::string(1025, 'r'));
  EXPECT_THAT(ValidateCancelRequest(req),
              Refused("reason", "must be at most 1024 characters"));
  req.set_reason("bad\xFF");
  EXPECT_THAT(ValidateCancelRequest(req),
              Refused("reason", "must be valid UTF-8"));
  req.set_reason("line\nbreak");
  EXPECT_THAT(ValidateCancelRequest(req),
              Refused("reason", "must not contain control characters"));
}

// --- exported predicates ---

TEST(IsValidRequestIdTest, Rules) {
  EXPECT_TRUE(IsValidRequestId("a"));
  EXPECT_TRUE(IsValidRequestId(std::string(64, 'a')));
  EXPECT_TRUE(IsValidRequestId("2024-01-01T10:00:00.123-abc"));
  EXPECT_FALSE(IsValidRequestId(""));
  EXPECT_FALSE(IsValidRequestId(std::string(65, 'a')));
  EXPECT_FALSE(IsValidRequestId("a_b"));
  EXPECT_FALSE(IsValidRequestId("a/b"));
}

TEST(ValidateUtf8TextTest, NamesTheFieldAndCountsCodePoints) {
  EXPECT_OK(ValidateUtf8Text("f", "", 0, 3));
  EXPECT_OK(ValidateUtf8Text("f", Repeat(kFourByte, 3), 1, 3));
  EXPECT_THAT(ValidateUtf8Text("my.field", Repeat(kFourByte, 4), 1, 3),
              Refused("my.field", "must be 1..3 characters (got 4)"));
  EXPECT_THAT(ValidateUtf8Text("my.field", "", 1, 3),
              Refused("my.field", "is required (1..3 characters)"));
  EXPECT_THAT(ValidateUtf8Text("my.field", "ab", 3, 5),
              Refused("my.field", "must be 3..5 characters (got 2)"));
  EXPECT_THAT(ValidateUtf8Text("my.field", "a\x01", 0, 5),
              Refused("my.field",
                      "control characters (U+0001 at character "
                      "1)"));
  EXPECT_THAT(ValidateUtf8Text("my.field", "ab\xC3", 0, 5),
              Refused("my.field",
                      "must be valid UTF-8 (invalid byte at "
                      "offset 2)"));
}

}  // namespace
}  // namespace booking
