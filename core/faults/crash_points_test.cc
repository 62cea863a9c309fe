#include "core/faults/crash_points.h"

#include <stdlib.h>

#include <memory>
#include <utility>

#include "gtest/gtest.h"

namespace booking {
namespace {

int crashes = 0;

// CrashPoints::FromEnvironment() with BOOKING_CRASH_POINT and
// BOOKING_CRASH_AFTER_N set as given (null: unset), counting its fatal hit
// in `crashes` instead of dying.
std::unique_ptr<CrashPoints> FromEnvironment(const char* point,
                                             const char* after_n) {
  for (const auto& [name, value] :
       {std::pair{"BOOKING_CRASH_POINT", point},
        std::pair{"BOOKING_CRASH_AFTER_N", after_n}}) {
    EXPECT_EQ(value == nullptr ? unsetenv(name) : setenv(name, value, 1), 0);
  }
  // Not movable (an atomic counter): built in place from the prvalue.
  std::unique_ptr<CrashPoints> cp(
      new CrashPoints(CrashPoints::FromEnvironment()));
  cp->set_on_crash_for_testing(+[] { ++crashes; });
  return cp;
}

TEST(CrashPoints, FromEnvironmentReadsPointAndCount) {
  crashes = 0;
  auto cp = FromEnvironment("reconciler_after_repair", "3");
  EXPECT_EQ(cp->armed(), "reconciler_after_repair");
  cp->Hit("reconciler_mid_repair");  // another point: ignored
  cp->Hit("reconciler_after_repair");
  cp->Hit("reconciler_after_repair");
  EXPECT_EQ(crashes, 0);
  cp->Hit("reconciler_after_repair");
  EXPECT_EQ(crashes, 1);
  EXPECT_EQ(cp->hits(), 3);
}

TEST(CrashPoints, BadOrMissingCountMeansFirstHit) {
  crashes = 0;
  FromEnvironment("after_claim", "many")->Hit("after_claim");
  EXPECT_EQ(crashes, 1);
  FromEnvironment("after_claim", nullptr)->Hit("after_claim");
  EXPECT_EQ(crashes, 2);
}

TEST(CrashPoints, UnsetEnvironmentIsDisarmed) {
  crashes = 0;
  auto cp = FromEnvironment(nullptr, "1");
  EXPECT_EQ(cp->armed(), "");
  cp->Hit("after_claim");
  cp->Hit("");
  EXPECT_EQ(crashes, 0);
}

}  // namespace
}  // namespace booking
