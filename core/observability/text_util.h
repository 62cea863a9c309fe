#ifndef CORE_OBSERVABILITY_TEXT_UTIL_H_
#define CORE_OBSERVABILITY_TEXT_UTIL_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

// Small text helpers shared by pii, logging and metrics.
namespace booking::observability_internal {

// Length in bytes (1..4) of the well-formed UTF-8 sequence at the start of
// `s`, or 0 if `s` is empty or does not start with one (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(absl::string_view s);

// The shortest text that reads back as exactly `v`, in plain notation unless
// the exponent is below -4 or at least 21 ("0.0005", "1500000", "1e+21",
// "1e-05"). Valid in JSON and in the Prometheus text format. Non-finite
// values give "NaN", "+Inf", "-Inf" (callers map them where needed).
std::string FormatDouble(double v);

}  // namespace booking::observability_internal

#endif  // CORE_OBSERVABILITY_TEXT_UTIL_H_
