#ifndef OUTBOX_WORKER_CRASH_POINTS_H_
#define OUTBOX_WORKER_CRASH_POINTS_H_

// Named crash points for kill -9 tests (DESIGN §3, after FoundationDB's
// BUGGIFY and leveldb's fault injection): when armed, the process sends
// itself SIGKILL at the named point, so recovery is tested exactly as a
// power cut would leave things (no destructors, no flush, leases held).
//
// Armed by environment variables (tests set them on the real binary):
//   BOOKING_CRASH_POINT=after_claim|after_provider_answer|during_compensation
//   BOOKING_CRASH_AFTER_N=k   die on the k-th hit (default 1)

#include <atomic>
#include <string>

#include "absl/strings/string_view.h"

namespace booking {

namespace crash_points {
// A claim committed and a provider call about to start (rows that finish
// without a call are committed before it); that call not made yet.
inline constexpr char kAfterClaim[] = "after_claim";
// The provider answered; the outcome is not committed yet.
inline constexpr char kAfterProviderAnswer[] = "after_provider_answer";
// A compensating cancel was answered; FAILED is not committed yet.
inline constexpr char kDuringCompensation[] = "during_compensation";
}  // namespace crash_points

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

#endif  // OUTBOX_WORKER_CRASH_POINTS_H_
