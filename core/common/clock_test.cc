#include "core/common/clock.h"

#include "core/common/time_util.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

TEST(SimulatedClockTest, MovesOnlyWhenTold) {
  SimulatedClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.Advance(absl::Milliseconds(250));
  EXPECT_EQ(clock.Now(), absl::FromUnixMillis(100'250));
  clock.SetTime(absl::FromUnixSeconds(7));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(7));
}

TEST(RealClockTest, IsCloseToAbslNow) {
  EXPECT_LT(absl::AbsDuration(RealClock()->Now() - absl::Now()),
            absl::Seconds(5));
}

TEST(TimeUtilTest, ProtoTimestampRoundTripsIncludingBeforeEpoch) {
  for (absl::Time t : {absl::FromUnixMillis(1'700'000'123'456),
                       absl::FromUnixMillis(-1'500), absl::UnixEpoch()}) {
    EXPECT_EQ(FromProtoTimestamp(ToProtoTimestamp(t)), t);
    EXPECT_GE(ToProtoTimestamp(t).nanos(), 0);
  }
  EXPECT_EQ(FromDbMillis(ToDbMillis(absl::FromUnixMillis(42))),
            absl::FromUnixMillis(42));
}

}  // namespace
}  // namespace booking
