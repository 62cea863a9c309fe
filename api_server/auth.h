#ifndef API_SERVER_AUTH_H_
#define API_SERVER_AUTH_H_

// Optional bearer-token authentication (DESIGN §8): when the server is given
// --auth_tokens_file, every AppointmentService call must carry metadata
// `authorization: Bearer <token>` with one of the file's tokens.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace booking {

class TokenAuthenticator {
 public:
  // The file holds one token per line; blank lines and lines starting with
  // '#' are ignored, surrounding whitespace is trimmed. NOT_FOUND if the file
  // cannot be read, INVALID_ARGUMENT if it holds no token (an empty file must
  // not silently lock everyone out or, worse, let everyone in).
  static absl::StatusOr<TokenAuthenticator> FromFile(const std::string& path);
  // Same rules for the file's contents.
  static absl::StatusOr<TokenAuthenticator> FromText(absl::string_view text);

  // OK if `authorization` (the metadata value, absent if nullopt) is
  // "Bearer <token>" with a known token; otherwise UNAUTHENTICATED with a
  // message that never echoes what was sent. The comparison takes the same
  // time wherever the first differing byte is.
  absl::Status Check(std::optional<absl::string_view> authorization) const;

  size_t token_count() const { return tokens_.size(); }

 private:
  explicit TokenAuthenticator(std::vector<std::string> tokens)
      : tokens_(std::move(tokens)) {}
  std::vector<std::string> tokens_;
};

// Compares without an early exit, so the time taken does not reveal how long
// a matching prefix is. (It does depend on the longer length.)
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace booking

#endif  // API_SERVER_AUTH_H_
