#include "core/domain/validation.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/common/time_util.h"

namespace booking {
namespace {

using appointments::v1::Appointment;
using appointments::v1::CancelAppointmentRequest;
using appointments::v1::CreateAppointmentRequest;

constexpr absl::string_view kIdCharset = "[A-Za-z0-9._:-]";

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

// ASCII only, so byte length == character length for ids.
bool IsIdChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == ':' || c == '-';
}

// Cc: C0 controls (including \t \n \r), DEL and the C1 block.
bool IsControl(uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

// Decodes one code point of well-formed UTF-8 (Unicode Table 3-7: no
// overlong forms, no surrogates, nothing above U+10FFFF) at s[*pos] and
// advances *pos. Returns false, leaving *pos alone, on ill-formed input.
bool DecodeUtf8(absl::string_view s, size_t* pos, uint32_t* cp) {
  const auto byte = [&](size_t i) -> uint8_t {
    return static_cast<uint8_t>(s[i]);
  };
  const size_t i = *pos;
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) {
    *cp = b0;
    *pos = i + 1;
    return true;
  }
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return false;  // continuation byte, C0/C1 overlong lead, or F5..FF
  }
  if (i + len > s.size()) return false;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return false;
  uint32_t value = b0 & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    const uint8_t b = byte(i + k);
    if ((b & 0xC0) != 0x80) return false;
    value = (value << 6) | (b & 0x3F);
  }
  *cp = value;
  *pos = i + len;
  return true;
}

std::string LengthRule(size_t min_chars, size_t max_chars) {
  if (min_chars == 0) return absl::StrCat("must be at most ", max_chars);
  return absl::StrCat("must be ", min_chars, "..", max_chars);
}

absl::Status ValidateId(absl::string_view field, absl::string_view value) {
  const std::string rule =
      absl::StrCat("1..", kMaxIdChars, " characters of ", kIdCharset);
  if (value.empty())
    return Invalid(field, absl::StrCat("is required (", rule, ")"));
  if (value.size() > kMaxIdChars) {
    return Invalid(field, absl::StrCat("must be ", rule, " (got ", value.size(),
                                       " characters)"));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    if (!IsIdChar(value[i])) {
      return Invalid(field,
                     absl::StrCat("must be ", rule,
                                  " (invalid character at position ", i, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateProvider(absl::string_view value,
                              const ValidationOptions& opts) {
  constexpr absl::string_view kField = "appointment.provider_id";
  if (value.empty()) {
    return Invalid(kField, "is required (must be a configured provider)");
  }
  if (opts.provider_ids.contains(value)) return absl::OkStatus();
  // Echo the value only when it is a harmless id; never raw bytes.
  if (IsValidRequestId(value)) {
    return Invalid(kField, absl::StrCat("must be a configured provider (got \"",
                                        value, "\")"));
  }
  return Invalid(kField, "must be a configured provider");
}

absl::Status ValidateStartTime(const Appointment& a, absl::Time now) {
  constexpr absl::string_view kField = "appointment.start_time";
  if (!a.has_start_time()) return Invalid(kField, "is required");
  const google::protobuf::Timestamp& ts = a.start_time();
  if (ts.nanos() < 0 || ts.nanos() > 999'999'999) {
    return Invalid(kField, absl::StrCat("must be a valid timestamp (nanos ",
                                        ts.nanos(), " out of range)"));
  }
  const absl::Time start = FromProtoTimestamp(ts);
  if (start <= now) {
    return Invalid(
        kField,
        absl::StrCat("must be in the future (got ",
                     absl::FormatTime(start, absl::UTCTimeZone()), ", now ",
                     absl::FormatTime(now, absl::UTCTimeZone()), ")"));
  }
  if (start > now + kMaxBookingHorizon) {
    return Invalid(
        kField,
        absl::StrCat("must be at most 365 days ahead (got ",
                     absl::FormatTime(start, absl::UTCTimeZone()), ")"));
  }
  return absl::OkStatus();
}

absl::Status ValidateDuration(int32_t minutes) {
  if (minutes < kMinDurationMinutes || minutes > kMaxDurationMinutes) {
    return Invalid(
        "appointment.duration_minutes",
        absl::StrCat("must be between ", kMinDurationMinutes, " and ",
                     kMaxDurationMinutes, " (got ", minutes, ")"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePriority(int priority) {
  constexpr absl::string_view kField = "appointment.priority";
  if (priority == Appointment::PRIORITY_UNSPECIFIED) {
    return Invalid(kField, "is required (LOW, NORMAL or HIGH)");
  }
  // proto3 enums are open: an unknown number survives parsing.
  if (!Appointment::Priority_IsValid(priority)) {
    return Invalid(kField, absl::StrCat("must be LOW, NORMAL or HIGH (got ",
                                        priority, ")"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePatient(const Appointment& a) {
  if (!a.has_patient()) return Invalid("appointment.patient", "is required");
  const Appointment::Patient& p = a.patient();
  if (absl::Status s =
          ValidateUtf8Text("appointment.patient.display_name", p.display_name(),
                           1, kMaxDisplayNameChars);
      !s.ok()) {
    return s;
  }
  if (!p.email().empty()) {
    constexpr absl::string_view kField = "appointment.patient.email";
    if (absl::Status s = ValidateUtf8Text(kField, p.email(), 0, kMaxEmailChars);
        !s.ok()) {
      return s;
    }
    if (!IsPlausibleEmail(p.email())) {
      return Invalid(kField,
                     "must be a plausible e-mail address (one '@', a "
                     "non-empty local part, a domain with a dot, no spaces)");
    }
  }
  if (!p.phone().empty() && !IsE164Phone(p.phone())) {
    return Invalid("appointment.patient.phone",
                   "must be an E.164 number (^\\+[1-9][0-9]{1,14}$, e.g. "
                   "+14155550100)");
  }
  return absl::OkStatus();
}

}  // namespace

bool IsValidRequestId(absl::string_view s) {
  if (s.empty() || s.size() > kMaxIdChars) return false;
  for (char c : s) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

absl::Status ValidateUtf8Text(absl::string_view field, absl::string_view value,
                              size_t min_chars, size_t max_chars) {
  size_t chars = 0;
  size_t pos = 0;
  while (pos < value.size()) {
    uint32_t cp;
    const size_t at = pos;
    if (!DecodeUtf8(value, &pos, &cp)) {
      return Invalid(field, absl::StrCat("must be valid UTF-8 (invalid byte at "
                                         "offset ",
                                         at, ")"));
    }
    if (IsControl(cp)) {
      return Invalid(field, absl::StrFormat("must not contain control "
                                            "characters (U+%04X at character "
                                            "%d)",
                                            cp, chars));
    }
    ++chars;
  }
  if (chars == 0 && min_chars > 0) {
    return Invalid(field, absl::StrCat("is required (", min_chars, "..",
                                       max_chars, " characters)"));
  }
  if (chars < min_chars || chars > max_chars) {
    return Invalid(field, absl::StrCat(LengthRule(min_chars, max_chars),
                                       " characters (got ", chars, ")"));
  }
  return absl::OkStatus();
}

bool IsPlausibleEmail(absl::string_view email) {
  const size_t at = email.find('@');
  if (at == absl::string_view::npos ||
      email.find('@', at + 1) != absl::string_view::npos) {
    return false;
  }
  if (email.find(' ') != absl::string_view::npos) return false;
  const absl::string_view local = email.substr(0, at);
  const absl::string_view domain = email.substr(at + 1);
  if (local.empty() || domain.find('.') == absl::string_view::npos) {
    return false;
  }
  // "a@.com", "a@b.", "a@b..c" are typos, not addresses.
  for (absl::string_view label : absl::StrSplit(domain, '.')) {
    if (label.empty()) return false;
  }
  return true;
}

bool IsE164Phone(absl::string_view phone) {
  // '+', a non-zero country-code digit, then 1..14 more digits: 2..15 digits.
  if (phone.size() < 3 || phone.size() > 16) return false;
  if (phone[0] != '+' || phone[1] < '1' || phone[1] > '9') return false;
  for (size_t i = 2; i < phone.size(); ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(phone[i]))) {
      return false;
    }
  }
  return true;
}

absl::Status ValidateAppointmentId(absl::string_view field,
                                   absl::string_view id) {
  return ValidateUtf8Text(field, id, 1, kMaxAppointmentIdChars);
}

absl::Status ValidateCreateRequest(const CreateAppointmentRequest& req,
                                   const ValidationOptions& opts,
                                   absl::Time now) {
  // First, so an oversized request costs no further work.
  const size_t bytes = req.ByteSizeLong();
  if (bytes > kMaxRequestBytes) {
    return Invalid("request",
                   absl::StrCat("must be at most ", kMaxRequestBytes,
                                " bytes serialized (got ", bytes, ")"));
  }
  if (absl::Status s = ValidateId("request_id", req.request_id()); !s.ok()) {
    return s;
  }
  if (!req.has_appointment()) return Invalid("appointment", "is required");
  const Appointment& a = req.appointment();
  if (absl::Status s = ValidateId("appointment.customer_id", a.customer_id());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateProvider(a.provider_id(), opts); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateUtf8Text("appointment.location", a.location(), 1,
                                        kMaxLocationChars);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateStartTime(a, now); !s.ok()) return s;
  if (absl::Status s = ValidateDuration(a.duration_minutes()); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidatePriority(a.priority()); !s.ok()) return s;
  if (absl::Status s = ValidatePatient(a); !s.ok()) return s;
  return ValidateUtf8Text("appointment.notes", a.notes(), 0, kMaxNotesChars);
}

absl::Status ValidateCancelRequest(const CancelAppointmentRequest& req) {
  if (absl::Status s = ValidateAppointmentId("id", req.id()); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateId("request_id", req.request_id()); !s.ok()) {
    return s;
  }
  return ValidateUtf8Text("reason", req.reason(), 0, kMaxCancelReasonChars);
}

}  // namespace booking
