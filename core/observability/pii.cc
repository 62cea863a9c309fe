#include "core/observability/pii.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/observability/text_util.h"

namespace booking {
namespace {

using observability_internal::Utf8SequenceLength;

constexpr absl::string_view kMask = "***";

}  // namespace

std::string MaskName(absl::string_view name) {
  name = absl::StripLeadingAsciiWhitespace(name);
  if (name.empty()) return "";
  const size_t len = Utf8SequenceLength(name);
  // A control character as "first letter" would be as unhelpful as a stray
  // byte.
  if (len == 0 || (len == 1 && absl::ascii_iscntrl(name[0]))) {
    return std::string(kMask);
  }
  return absl::StrCat(name.substr(0, len), kMask);
}

std::string MaskEmail(absl::string_view email) {
  const size_t at = email.rfind('@');
  if (at == absl::string_view::npos || at + 1 == email.size()) {
    return std::string(kMask);
  }
  return absl::StrCat(kMask, email.substr(at));
}

std::string MaskPhone(absl::string_view phone) {
  char last[2] = {0, 0};
  int digits = 0;
  for (char c : phone) {
    if (!absl::ascii_isdigit(c)) continue;
    last[0] = last[1];
    last[1] = c;
    ++digits;
  }
  if (digits < 2) return std::string(kMask);
  return absl::StrCat(kMask, absl::string_view(last, 2));
}

}  // namespace booking
