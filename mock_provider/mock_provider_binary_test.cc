// Drives the real mock_provider binary (DESIGN §10): flags, the listening
// line, health, MockControl at run time, JSON logs, and the SIGTERM drain.

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/synchronization/notification.h"
#include "core/testing/status_matchers.h"
#include "core/testing/subprocess.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/provider/v1/provider.grpc.pb.h"

namespace booking::mock {
namespace {

using ::booking::testing::RunfilePath;
using ::booking::testing::Subprocess;
using ::provider::v1::Booking;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TmpPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

::provider::v1::BookRequest MakeBook(const std::string& provider_id,
                                     const std::string& key) {
  ::provider::v1::BookRequest r;
  r.set_provider_id(provider_id);
  r.set_idempotency_key(key);
  r.mutable_start_time()->set_seconds(1'800'000'000);
  r.set_duration_minutes(30);
  return r;
}

grpc::Status Book(::provider::v1::ProviderService::Stub& stub,
                  const std::string& provider_id, const std::string& key,
                  Booking* out) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  return stub.Book(&context, MakeBook(provider_id, key), out);
}

::provider::v1::StatsResponse Stats(::provider::v1::MockControl::Stub& stub) {
  grpc::ClientContext context;
  ::provider::v1::StatsResponse response;
  EXPECT_TRUE(
      stub.Stats(&context, ::provider::v1::StatsRequest(), &response).ok());
  return response;
}

// grpc.health.v1.Health/Check with an empty request, without health.proto.
std::string HealthCheckBytes(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", {}, &request,
                 &response, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return "";
  std::string bytes;
  for (const auto& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return bytes;
}

TEST(MockProviderBinaryTest, ServesModesFromFlagsAndRunTimeAndExitsOnSigterm) {
  const std::string log = TmpPath("mock.log");
  auto proc = Subprocess::Start(
      {RunfilePath("mock_provider/mock_provider"), "--listen=127.0.0.1:0",
       "--modes=clinic-x=reject,clinic-y=flaky:fail_first_n=1", "--seed=3",
       "--log_file=" + log});
  ASSERT_OK(proc);
  auto address = proc->WaitForListening();
  ASSERT_OK(address);
  EXPECT_THAT(proc->stdout_text(), StartsWith("listening on 127.0.0.1:"));

  auto channel =
      grpc::CreateChannel(*address, grpc::InsecureChannelCredentials());
  // Health: SERVING (HealthCheckResponse{status: 1}).
  EXPECT_EQ(HealthCheckBytes(channel), std::string("\x08\x01", 2));

  auto provider = ::provider::v1::ProviderService::NewStub(channel);
  auto control = ::provider::v1::MockControl::NewStub(channel);
  Booking booking;
  EXPECT_EQ(Book(*provider, "clinic-x", "k", &booking).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Book(*provider, "clinic-y", "k", &booking).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Book(*provider, "clinic-y", "k", &booking).ok());
  EXPECT_TRUE(Book(*provider, "anyone-else", "k", &booking).ok());

  ::provider::v1::SetModeRequest set_mode;
  set_mode.set_provider_id("clinic-x");
  set_mode.set_mode(::provider::v1::IMMEDIATE);
  grpc::ClientContext context;
  ::provider::v1::SetModeResponse set_mode_response;
  ASSERT_TRUE(control->SetMode(&context, set_mode, &set_mode_response).ok());
  ASSERT_TRUE(Book(*provider, "clinic-x", "k", &booking).ok());
  EXPECT_EQ(booking.status(), Booking::CONFIRMED);

  ::provider::v1::StatsResponse stats = Stats(*control);
  int64_t book_calls = 0;
  int64_t live = 0;
  for (const auto& t : stats.totals()) {
    book_calls += t.book_calls();
    live += t.live_bookings();
  }
  EXPECT_EQ(book_calls, 5);
  EXPECT_EQ(live, 3);

  provider.reset();
  control.reset();
  channel.reset();
  proc->Signal(SIGTERM);
  auto code = proc->Wait();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 0);

  const std::string lines = ReadFile(log);
  EXPECT_THAT(lines,
              HasSubstr(R"("service":"mock_provider","event":"started")"));
  EXPECT_THAT(lines,
              HasSubstr(R"("event":"mode_set","provider_id":"clinic-x")"));
  EXPECT_THAT(lines, HasSubstr(R"("event":"stopped")"));
}

TEST(MockProviderBinaryTest, SigtermAnswersHeldCallsInsteadOfWaitingThemOut) {
  const std::string modes = TmpPath("modes.json");
  std::ofstream(modes)
      << R"({"slow": {"mode": "delayed", "delay_ms": 600000}})";
  auto proc =
      Subprocess::Start({RunfilePath("mock_provider/mock_provider"),
                         "--listen=127.0.0.1:0", "--modes_file=" + modes});
  ASSERT_OK(proc);
  auto address = proc->WaitForListening();
  ASSERT_OK(address);
  auto channel =
      grpc::CreateChannel(*address, grpc::InsecureChannelCredentials());
  auto provider = ::provider::v1::ProviderService::NewStub(channel);
  auto control = ::provider::v1::MockControl::NewStub(channel);

  grpc::Status held_status;
  Booking held_booking;
  std::thread caller(
      [&] { held_status = Book(*provider, "slow", "k", &held_booking); });
  // Delayed mode books before it holds the answer: once Stats shows the
  // booking, the call is held by the server.
  for (int i = 0; i < 10'000; ++i) {
    if (!Stats(*control).keys().empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_FALSE(Stats(*control).keys().empty());

  proc->Signal(SIGTERM);
  caller.join();
  EXPECT_TRUE(held_status.ok()) << held_status.error_message();
  EXPECT_EQ(held_booking.idempotency_key(), "k");
  // An idle client answers the server's GOAWAY ping only when its backup
  // poller runs (every 5 s); hang up instead, as a finished client would.
  provider.reset();
  control.reset();
  channel.reset();
  // Far below the 600 s delay.
  auto code = proc->Wait(absl::Seconds(20));
  ASSERT_OK(code);
  EXPECT_EQ(*code, 0);
}

TEST(MockProviderBinaryTest, BadFlagsExitTwoAndSayWhich) {
  const std::string err = TmpPath("bad_flags.err");
  auto proc =
      Subprocess::Start({RunfilePath("mock_provider/mock_provider"),
                         "--listen=127.0.0.1:0", "--modes=clinic-a=sometimes"},
                        {}, err);
  ASSERT_OK(proc);
  auto code = proc->Wait();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 2);
  EXPECT_THAT(ReadFile(err),
              HasSubstr("--modes entry 'clinic-a=sometimes': unknown mode"));
}

}  // namespace
}  // namespace booking::mock
