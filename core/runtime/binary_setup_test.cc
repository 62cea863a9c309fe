// The shared start-up steps, each as a binary's operator or test script
// would see it: the log file, the `metrics on` line, the warning, the
// signal callback.

#include "core/runtime/binary_setup.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/grpc/server_runtime.h"
#include "core/observability/logging.h"
#include "core/observability/metrics.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using ::booking::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(StartupError, PrintsProgramAndMessageAndReturnsTwo) {
  ::testing::internal::CaptureStderr();
  const int code = StartupError("outbox_worker", "--db is required");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "outbox_worker: --db is required\n");
  EXPECT_EQ(code, 2);
}

TEST(OpenStoreFromFlags, OpensTheFileOrLogsWhyNot) {
  const std::string path =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/binary_setup.db");
  absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> store =
      OpenStoreFromFlags(path, absl::Seconds(1));
  ASSERT_OK(store);
  EXPECT_OK((*store)->ChangeCounter());

  ScopedLogCapture logs;
  EXPECT_FALSE(
      OpenStoreFromFlags("/nonexistent-dir/app.db", absl::Seconds(1)).ok());
  EXPECT_THAT(logs.Text(), HasSubstr(R"("event":"db_open_failed")"));
}

TEST(InitLoggingFromFlags, WritesJsonLinesOfTheServiceToTheFile) {
  const std::string path =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/binary_setup.log");
  ASSERT_OK(InitLoggingFromFlags("svc-under-test", "warn", path));
  LogEvent(LogLevel::kInfo, "below_level");
  LogEvent(LogLevel::kWarn, "at_level");
  const std::string text = ReadFile(path);
  EXPECT_THAT(text,
              HasSubstr(R"("service":"svc-under-test","event":"at_level")"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("below_level")));
}

TEST(InitLoggingFromFlags, UnknownLevelIsInvalidArgument) {
  EXPECT_THAT(InitLoggingFromFlags("svc", "loud", ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(StartMetricsIfRequested, NegativePortIsDisabled) {
  MetricsRegistry registry;
  ::testing::internal::CaptureStdout();
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      StartMetricsIfRequested("127.0.0.1", -1, &registry);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  ASSERT_OK(server);
  EXPECT_EQ(*server, nullptr);
}

TEST(StartMetricsIfRequested, PortZeroPrintsTheBoundAddress) {
  MetricsRegistry registry;
  ScopedLogCapture logs;
  ::testing::internal::CaptureStdout();
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      StartMetricsIfRequested("127.0.0.1", 0, &registry);
  const std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_OK(server);
  ASSERT_NE(*server, nullptr);
  EXPECT_GT((*server)->port(), 0);
  const std::string where = absl::StrCat("127.0.0.1:", (*server)->port());
  EXPECT_EQ(out, absl::StrCat("metrics on ", where, "\n"));
  EXPECT_THAT(logs.Text(), HasSubstr(absl::StrCat(
                               R"("event":"metrics_listening","address":")",
                               where, R"(")")));
}

TEST(StartMetricsIfRequested, PortInUseSaysMetrics) {
  MetricsRegistry registry;
  ::testing::internal::CaptureStdout();
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> first =
      StartMetricsIfRequested("127.0.0.1", 0, &registry);
  ASSERT_OK(first);
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> second =
      StartMetricsIfRequested("127.0.0.1", (*first)->port(), &registry);
  ::testing::internal::GetCapturedStdout();
  EXPECT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), StartsWith("metrics: "));
}

TEST(KeepFreedMemoryForReuse, GlibcTakesTheThresholds) {
  EXPECT_OK(KeepFreedMemoryForReuse());
}

TEST(WarnIfCrashPointArmed, WarnsOnlyWhenArmed) {
  ScopedLogCapture logs;
  WarnIfCrashPointArmed(CrashPoints());
  EXPECT_EQ(logs.Text(), "");
  WarnIfCrashPointArmed(CrashPoints("after_claim", 1));
  EXPECT_THAT(
      logs.Text(),
      HasSubstr(R"("event":"crash_point_armed","point":"after_claim")"));
}

TEST(OnShutdownSignal, SigtermCallsTheCallbackOnce) {
  // Static: the signal thread may still be leaving Notify() when the wait
  // returns.
  static absl::Notification* const stopped = new absl::Notification;
  static int calls = 0;
  OnShutdownSignal([] {
    ++calls;
    stopped->Notify();
  });
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  ASSERT_TRUE(stopped->WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace booking

int main(int argc, char** argv) {
  // As in the binaries: before any thread exists, so SIGTERM reaches only
  // the thread OnShutdownSignal starts (and never kills the test).
  booking::BlockShutdownSignals();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
