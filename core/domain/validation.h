#ifndef CORE_DOMAIN_VALIDATION_H_
#define CORE_DOMAIN_VALIDATION_H_

// Request validation of DESIGN §4 "Validation": pure functions, no I/O.
//
// Every refusal is INVALID_ARGUMENT with a message of the form
//   "<field path>: <rule> (<what was found>)"
// e.g. "appointment.duration_minutes: must be between 5 and 480 (got 4)".
// Only the first broken rule is reported, in a fixed order (size, request_id,
// then the appointment's fields in proto order), so a client fixing one error
// at a time converges.
//
// Messages never echo free-text or patient values (they end up in logs and
// must not carry PII or raw invalid bytes); they give lengths, positions and
// code points instead.
//
// Output-only fields of Appointment (id, state, provider_booking_id,
// attempt_count, failure_reason, create_time, update_time, version,
// cancel_reason; request_id inside the appointment) are NOT validated: the
// server overwrites them (AIP-203 "output only" semantics). They still count
// towards the whole-request size limit.

#include <cstddef>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/appointments/v1/appointment_service.pb.h"

namespace booking {

// Limits of DESIGN §4. Character counts are Unicode code points.
inline constexpr size_t kMaxIdChars = 64;  // request_id, customer_id
inline constexpr size_t kMaxLocationChars = 128;
inline constexpr size_t kMaxDisplayNameChars = 128;
inline constexpr size_t kMaxEmailChars = 254;
inline constexpr size_t kMaxNotesChars = 1024;
inline constexpr size_t kMaxCancelReasonChars = 1024;
inline constexpr size_t kMaxAppointmentIdChars = 64;
inline constexpr int kMinDurationMinutes = 5;
inline constexpr int kMaxDurationMinutes = 480;
inline constexpr size_t kMaxRequestBytes = 16 * 1024;  // serialized
inline constexpr absl::Duration kMaxBookingHorizon = absl::Hours(365 * 24);

struct ValidationOptions {
  // The providers the server is configured with (--providers). A request for
  // any other provider_id is refused.
  absl::flat_hash_set<std::string> provider_ids;
};

// CreateAppointment. `now` comes from the injected Clock: start_time must be
// in (now, now + 365 days].
absl::Status ValidateCreateRequest(
    const appointments::v1::CreateAppointmentRequest& req,
    const ValidationOptions& opts, absl::Time now);

// CancelAppointment: id required, request_id as for Create, reason optional
// and at most 1024 characters.
absl::Status ValidateCancelRequest(
    const appointments::v1::CancelAppointmentRequest& req);

// An appointment id as sent by a client (Get/Watch/Cancel): required, at most
// 64 characters, valid UTF-8 without control characters. Deliberately loose
// about the format: an id we never issued is simply NOT_FOUND.
absl::Status ValidateAppointmentId(absl::string_view field,
                                   absl::string_view id);

// True if `s` is 1..64 characters of [A-Za-z0-9._:-] (the request_id and
// customer_id rule).
bool IsValidRequestId(absl::string_view s);

// OK if `value` is valid UTF-8 without control characters (C0 including
// \t \n \r, DEL, C1) and has min_chars..max_chars code points. Otherwise
// INVALID_ARGUMENT naming `field`.
absl::Status ValidateUtf8Text(absl::string_view field, absl::string_view value,
                              size_t min_chars, size_t max_chars);

// The e-mail rule alone: a plausible address (exactly one '@', non-empty
// local part, a domain of dot-separated non-empty labels with at least one
// dot, no spaces). Length and UTF-8 are checked by ValidateCreateRequest.
bool IsPlausibleEmail(absl::string_view email);

// The phone rule alone: E.164, ^\+[1-9][0-9]{1,14}$.
bool IsE164Phone(absl::string_view phone);

}  // namespace booking

#endif  // CORE_DOMAIN_VALIDATION_H_
