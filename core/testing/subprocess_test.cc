#include "core/testing/subprocess.h"

#include <signal.h>

#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace booking::testing {
namespace {

TEST(SubprocessTest, ReadsTheListeningLineAndExitCode) {
  auto p = Subprocess::Start(
      {"/bin/sh", "-c",
       "echo noise; echo 'listening on 127.0.0.1:4242'; exit 3"});
  ASSERT_OK(p);
  auto addr = p->WaitForListening(absl::Seconds(10));
  ASSERT_OK(addr);
  EXPECT_EQ(*addr, "127.0.0.1:4242");
  auto code = p->Wait();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 3);
}

TEST(SubprocessTest, SigkillIsReportedAs128PlusSignal) {
  auto p = Subprocess::Start({"/bin/sh", "-c", "echo ready; exec sleep 1000"});
  ASSERT_OK(p);
  ASSERT_OK(p->WaitForLine("ready", absl::Seconds(10)));
  p->Signal(SIGKILL);
  auto code = p->Wait();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 128 + SIGKILL);
}

TEST(SubprocessTest, ClosedStdoutIsNotFound) {
  auto p = Subprocess::Start({"/bin/true"});
  ASSERT_OK(p);
  EXPECT_THAT(p->WaitForListening(absl::Seconds(10)),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace booking::testing
