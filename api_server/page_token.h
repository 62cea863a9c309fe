#ifndef API_SERVER_PAGE_TOKEN_H_
#define API_SERVER_PAGE_TOKEN_H_

// Opaque page tokens for ListAppointments (keyset pagination, newest first).
// A token is web-safe base64 of a version tag and the last id of the previous
// page; clients must treat it as opaque. Anything we did not issue is
// INVALID_ARGUMENT naming page_token.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace booking {

std::string EncodePageToken(absl::string_view before_id);

// The before_id of a token from EncodePageToken.
absl::StatusOr<std::string> DecodePageToken(absl::string_view token);

}  // namespace booking

#endif  // API_SERVER_PAGE_TOKEN_H_
