#include "core/observability/text_util.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace booking::observability_internal {

size_t Utf8SequenceLength(absl::string_view s) {
  if (s.empty()) return 0;
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  size_t len;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
  } else {
    return 0;  // Continuation byte, overlong lead (C0, C1) or > U+10FFFF.
  }
  if (s.size() < len) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
  }
  if (c == 0xE0 && b(1) < 0xA0) return 0;  // Overlong.
  if (c == 0xED && b(1) > 0x9F) return 0;  // Surrogate.
  if (c == 0xF0 && b(1) < 0x90) return 0;  // Overlong.
  if (c == 0xF4 && b(1) > 0x8F) return 0;  // Above U+10FFFF.
  return len;
}

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // The shortest round-trip digits, in scientific form, tell the exponent.
  auto sci =
      std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  // buf is not NUL-terminated: parse the exponent within [e + 1, end).
  const char* e = std::find(buf, sci.ptr, 'e');
  const char* exp_begin = e + 1;
  if (exp_begin < sci.ptr && *exp_begin == '+') ++exp_begin;
  int exponent = 0;
  std::from_chars(exp_begin, sci.ptr, exponent);
  if (exponent < -4 || exponent >= 21) return std::string(buf, sci.ptr);
  auto fixed =
      std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

}  // namespace booking::observability_internal
