#ifndef CORE_FAULTS_CRASH_POINTS_H_
#define CORE_FAULTS_CRASH_POINTS_H_

// Named crash points for kill -9 tests (DESIGN §3, after FoundationDB's
// BUGGIFY and leveldb's fault injection): when armed, the process sends
// itself SIGKILL at the named point, so recovery is tested exactly as a
// power cut would leave things (no destructors, no flush, leases held).
//
// Armed by environment variables (tests set them on the real binary):
//   BOOKING_CRASH_POINT=<name>   e.g. after_claim, reconciler_after_repair
//   BOOKING_CRASH_AFTER_N=k      die on the k-th hit (default 1)
// Each binary names its own points beside the code that hits them
// (outbox_worker/worker.h, reconciler/reconciler.h); one process arms at
// most one point.

#include <atomic>
#include <string>

#include "absl/strings/string_view.h"

namespace booking {

class CrashPoints {
 public:
  // Disarmed.
  CrashPoints() = default;
  // Armed at `point` on its `after_n`-th hit (empty point: disarmed).
  CrashPoints(std::string point, int after_n);
  // From BOOKING_CRASH_POINT / BOOKING_CRASH_AFTER_N.
  static CrashPoints FromEnvironment();

  // Kills the process (SIGKILL) if `point` is armed and this is its n-th hit.
  void Hit(absl::string_view point);
  // The number of hits of the armed point so far (tests).
  int hits() const { return hits_.load(); }
  const std::string& armed() const { return point_; }

  // For unit tests: what Hit() does at the fatal hit (default: SIGKILL).
  void set_on_crash_for_testing(void (*fn)()) { on_crash_ = fn; }

 private:
  std::string point_;
  int after_n_ = 1;
  std::atomic<int> hits_{0};
  void (*on_crash_)() = nullptr;
};

}  // namespace booking

#endif  // CORE_FAULTS_CRASH_POINTS_H_
