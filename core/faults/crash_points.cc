#include "core/faults/crash_points.h"

#include <signal.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/numbers.h"

namespace booking {

CrashPoints::CrashPoints(std::string point, int after_n)
    : point_(std::move(point)), after_n_(after_n < 1 ? 1 : after_n) {}

CrashPoints CrashPoints::FromEnvironment() {
  const char* point = std::getenv("BOOKING_CRASH_POINT");
  const char* n = std::getenv("BOOKING_CRASH_AFTER_N");
  int after_n = 1;
  if (n != nullptr && !absl::SimpleAtoi(n, &after_n)) after_n = 1;
  return CrashPoints(point == nullptr ? "" : point, after_n);
}

void CrashPoints::Hit(absl::string_view point) {
  if (point_.empty() || point != point_) return;
  if (hits_.fetch_add(1) + 1 != after_n_) return;
  if (on_crash_ != nullptr) {
    on_crash_();
    return;
  }
  raise(SIGKILL);
}

}  // namespace booking
