#include "core/faults/crash_points.h"

#include <stdlib.h>

#include "gtest/gtest.h"

namespace booking {
namespace {

int crashes = 0;
void CountCrash() { ++crashes; }

TEST(CrashPoints, FromEnvironmentReadsPointAndCount) {
  crashes = 0;
  ASSERT_EQ(setenv("BOOKING_CRASH_POINT", "reconciler_after_repair", 1), 0);
  ASSERT_EQ(setenv("BOOKING_CRASH_AFTER_N", "3", 1), 0);
  CrashPoints cp = CrashPoints::FromEnvironment();
  cp.set_on_crash_for_testing(&CountCrash);
  EXPECT_EQ(cp.armed(), "reconciler_after_repair");
  cp.Hit("reconciler_mid_repair");  // another point: ignored
  cp.Hit("reconciler_after_repair");
  cp.Hit("reconciler_after_repair");
  EXPECT_EQ(crashes, 0);
  cp.Hit("reconciler_after_repair");
  EXPECT_EQ(crashes, 1);
  EXPECT_EQ(cp.hits(), 3);
}

TEST(CrashPoints, BadOrMissingCountMeansFirstHit) {
  crashes = 0;
  ASSERT_EQ(setenv("BOOKING_CRASH_POINT", "after_claim", 1), 0);
  ASSERT_EQ(setenv("BOOKING_CRASH_AFTER_N", "many", 1), 0);
  CrashPoints bad = CrashPoints::FromEnvironment();
  bad.set_on_crash_for_testing(&CountCrash);
  bad.Hit("after_claim");
  EXPECT_EQ(crashes, 1);
  ASSERT_EQ(unsetenv("BOOKING_CRASH_AFTER_N"), 0);
  CrashPoints unset = CrashPoints::FromEnvironment();
  unset.set_on_crash_for_testing(&CountCrash);
  unset.Hit("after_claim");
  EXPECT_EQ(crashes, 2);
}

TEST(CrashPoints, UnsetEnvironmentIsDisarmed) {
  crashes = 0;
  ASSERT_EQ(unsetenv("BOOKING_CRASH_POINT"), 0);
  CrashPoints cp = CrashPoints::FromEnvironment();
  cp.set_on_crash_for_testing(&CountCrash);
  EXPECT_EQ(cp.armed(), "");
  cp.Hit("after_claim");
  cp.Hit("");
  EXPECT_EQ(crashes, 0);
}

}  // namespace
}  // namespace booking
