#include "core/domain/ids.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "core/common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using ::testing::MatchesRegex;

// The format of ids.h, written out independently of the implementation.
constexpr char kIdRegex[] = "apt_[0-7][0-9A-HJKMNP-TV-Z]{25}";

TEST(IdGeneratorTest, Format) {
  SimulatedClock clock;
  IdGenerator gen(&clock, /*seed=*/0);
  for (int i = 0; i < 1000; ++i) {
    const std::string id = gen.NewAppointmentId();
    EXPECT_THAT(id, MatchesRegex(kIdRegex));
    EXPECT_TRUE(IsWellFormedAppointmentId(id)) << id;
    clock.Advance(absl::Milliseconds(7));
  }
}

TEST(IdGeneratorTest, TimestampIsTheUlidSpecEncoding) {
  // The example of the reference implementation's README
  // (github.com/ulid/javascript): ulid(1469918176385) is
  // "01ARYZ6S41TSV4RRFFQ69G5FAV".
  SimulatedClock clock(absl::FromUnixMillis(1469918176385));
  IdGenerator gen(&clock, /*seed=*/1);
  const std::string id = gen.NewAppointmentId();
  EXPECT_EQ(id.substr(0, 14), "apt_01ARYZ6S41");
  EXPECT_EQ(AppointmentIdTime(id), absl::FromUnixMillis(1469918176385));
}

TEST(IdGeneratorTest, MonotonicWithinOneMillisecond) {
  SimulatedClock clock;
  IdGenerator gen(&clock, /*seed=*/7);
  std::string prev = gen.NewAppointmentId();
  for (int i = 0; i < 100'000; ++i) {
    const std::string id = gen.NewAppointmentId();
    ASSERT_LT(prev, id) << "at " << i;
    prev = id;
  }
  // The clock never moved, so neither did the timestamp.
  EXPECT_EQ(AppointmentIdTime(prev), clock.Now());
}

TEST(IdGeneratorTest, MonotonicAcrossTimeEvenIfTheClockStepsBack) {
  SimulatedClock clock;
  IdGenerator gen(&clock, /*seed=*/7);
  std::string prev = gen.NewAppointmentId();
  const absl::Duration steps[] = {absl::Milliseconds(1), absl::ZeroDuration(),
                                  absl::Seconds(3),      absl::Microseconds(10),
                                  -absl::Seconds(2),  // NTP step backwards
                                  absl::Milliseconds(1), absl::Hours(24 * 400)};
  for (int round = 0; round < 100; ++round) {
    for (absl::Duration d : steps) {
      clock.Advance(d);
      const std::string id = gen.NewAppointmentId();
      ASSERT_LT(prev, id) << "round " << round;
      prev = id;
    }
  }
}

TEST(IdGeneratorTest, LaterMillisecondSortsAfterEvenAfterManyIncrements) {
  SimulatedClock clock;
  IdGenerator gen(&clock, /*seed=*/3);
  std::string last_of_first_ms;
  for (int i = 0; i < 1000; ++i) last_of_first_ms = gen.NewAppointmentId();
  clock.Advance(absl::Milliseconds(1));
  const std::string next = gen.NewAppointmentId();
  EXPECT_LT(last_of_first_ms, next);
  EXPECT_EQ(AppointmentIdTime(next), clock.Now());
}

TEST(IdGeneratorTest, UniqueAndOrderedPerThreadAcrossEightThreads) {
  SimulatedClock clock;  // frozen: every id competes for one millisecond
  IdGenerator gen(&clock, /*seed=*/0);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 10'000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&gen, &ids, &clock, t] {
      ids[t].reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) {
        ids[t].push_back(gen.NewAppointmentId());
        if (t == 0 && i % 1000 == 0) clock.Advance(absl::Milliseconds(1));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  absl::flat_hash_set<std::string> all;
  for (const auto& v : ids) {
    for (size_t i = 1; i < v.size(); ++i) ASSERT_LT(v[i - 1], v[i]);
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(IdGeneratorTest, SeededGeneratorIsDeterministic) {
  SimulatedClock clock_a;
  SimulatedClock clock_b;
  IdGenerator a(&clock_a, /*seed=*/42);
  IdGenerator b(&clock_b, /*seed=*/42);
  IdGenerator c(&clock_a, /*seed=*/43);
  for (int i = 0; i < 100; ++i) {
    const std::string id_a = a.NewAppointmentId();
    EXPECT_EQ(id_a, b.NewAppointmentId());
    EXPECT_NE(id_a, c.NewAppointmentId());
    clock_a.Advance(absl::Milliseconds(i % 3));
    clock_b.Advance(absl::Milliseconds(i % 3));
  }
}

TEST(IdGeneratorTest, UnseededGeneratorsDiffer) {
  SimulatedClock clock;
  IdGenerator a(&clock, /*seed=*/0);
  IdGenerator b(&clock, /*seed=*/0);
  // Same millisecond: only the 80 random bits tell them apart.
  EXPECT_NE(a.NewAppointmentId(), b.NewAppointmentId());
}

TEST(IdGeneratorTest, TimesOutsideTheUlidRangeAreClamped) {
  SimulatedClock clock(absl::FromUnixSeconds(-100));
  IdGenerator gen(&clock, /*seed=*/5);
  const std::string before_epoch = gen.NewAppointmentId();
  EXPECT_THAT(before_epoch, MatchesRegex(kIdRegex));
  EXPECT_EQ(before_epoch.substr(0, 14), "apt_0000000000");
}

TEST(IsWellFormedAppointmentIdTest, RejectsOtherShapes) {
  EXPECT_TRUE(IsWellFormedAppointmentId("apt_01ARZ3NDEKTSV4RRFFQ69G5FAV"));
  EXPECT_FALSE(IsWellFormedAppointmentId("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
  EXPECT_FALSE(IsWellFormedAppointmentId("apt_01ARZ3NDEKTSV4RRFFQ69G5FA"));
  EXPECT_FALSE(IsWellFormedAppointmentId("apt_01ARZ3NDEKTSV4RRFFQ69G5FAVV"));
  EXPECT_FALSE(IsWellFormedAppointmentId("apt_01arz3ndektsv4rrffq69g5fav"));
  EXPECT_FALSE(IsWellFormedAppointmentId("apt_01ARZ3NDEKTSV4RRFFQ69G5FAU"));
  EXPECT_FALSE(IsWellFormedAppointmentId("apt_81ARZ3NDEKTSV4RRFFQ69G5FAV"));
  EXPECT_EQ(AppointmentIdTime("apt_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            absl::FromUnixMillis(1469922850259));  // decoded by hand
  EXPECT_EQ(AppointmentIdTime("nope"), absl::InfinitePast());
}

}  // namespace
}  // namespace booking
