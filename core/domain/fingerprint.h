#ifndef CORE_DOMAIN_FINGERPRINT_H_
#define CORE_DOMAIN_FINGERPRINT_H_

// Idempotency fingerprints (DESIGN §4): a replay with the same request_id is
// answered from the stored appointment only if its fingerprint matches;
// otherwise the key was reused with different parameters (ALREADY_EXISTS).
//
// The fingerprint is SHA-256, as 64 lowercase hex digits, of an explicit
// canonical string of the request's parameters. It does not depend on
// protobuf serialization (field order, unknown fields, default-vs-absent
// encoding), so it is stable across protobuf versions and can be persisted.
// Excluded: request_id (it is the key) and the output-only fields of
// Appointment (the server overwrites them).
//
// The canonical form is versioned ("create/v1", "cancel/v1"). Changing it
// changes every fingerprint, which would turn legitimate retries of requests
// stored before the change into ALREADY_EXISTS: bump the version and keep
// the old form around for the key retention window if that ever happens.

#include <string>

#include "absl/strings/string_view.h"
#include "proto/appointments/v1/appointment_service.pb.h"

namespace booking {

std::string CreateRequestFingerprint(
    const appointments::v1::CreateAppointmentRequest& req);

std::string CancelRequestFingerprint(
    const appointments::v1::CancelAppointmentRequest& req);

// The canonical strings hashed above: a version tag, then each field as
// "<name>=<byte length>:<bytes>;" in a fixed order (length prefixes make
// concatenations unambiguous). Exposed for tests and debugging.
std::string CanonicalCreateRequest(
    const appointments::v1::CreateAppointmentRequest& req);
std::string CanonicalCancelRequest(
    const appointments::v1::CancelAppointmentRequest& req);

// SHA-256 of `data` as 64 lowercase hex digits.
std::string Sha256Hex(absl::string_view data);

}  // namespace booking

#endif  // CORE_DOMAIN_FINGERPRINT_H_
