#include "api_server/page_token.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace booking {
namespace {

constexpr absl::string_view kPrefix = "appt-page/v1:";
// Appointment ids are short; anything longer is not ours.
constexpr size_t kMaxTokenChars = 256;

absl::Status Invalid() {
  return absl::InvalidArgumentError(
      "page_token: not a token returned by a previous ListAppointments call");
}

}  // namespace

std::string EncodePageToken(absl::string_view before_id) {
  return absl::WebSafeBase64Escape(absl::StrCat(kPrefix, before_id));
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token) {
  if (token.size() > kMaxTokenChars) return Invalid();
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return Invalid();
  if (!absl::StartsWith(raw, kPrefix) || raw.size() == kPrefix.size()) {
    return Invalid();
  }
  return raw.substr(kPrefix.size());
}

}  // namespace booking
