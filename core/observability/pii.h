#ifndef CORE_OBSERVABILITY_PII_H_
#define CORE_OBSERVABILITY_PII_H_

#include <string>

#include "absl/strings/string_view.h"

namespace booking {

// Masking for patient data before it reaches a log line (DESIGN §8). Logs
// are shipped to places with wider access than the database, so clear-text
// PII must never appear there. Notes are free text and are never logged at
// all — there is deliberately no helper for them: leave them out.

// First character (a whole UTF-8 code point) + "***": "Élodie" -> "É***".
// Leading spaces are skipped; "" (or only spaces) -> ""; invalid UTF-8 in
// the first character -> "***" (a stray byte is not worth leaking).
std::string MaskName(absl::string_view name);

// "***@" + the domain after the last '@': "alice@example.com" ->
// "***@example.com". No '@' or nothing after it -> "***".
std::string MaskEmail(absl::string_view email);

// "***" + the last two digits: "+14155550123" -> "***23". Fewer than two
// digits -> "***".
std::string MaskPhone(absl::string_view phone);

}  // namespace booking

#endif  // CORE_OBSERVABILITY_PII_H_
