// The real reconciler binary against the real mock_provider binary
// (DESIGN §7, §10): drift made with MockControl (InjectBooking, DropBooking)
// and the store; exit codes, the report file, the stdout summary, the run
// history, usage errors and the daemon mode.

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/common/time_util.h"
#include "core/store/sqlite_store.h"
#include "core/store/store_test_util.h"
#include "core/testing/status_matchers.h"
#include "core/testing/subprocess.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "proto/provider/v1/provider.grpc.pb.h"
#include "reconciler/test_rows.h"

namespace booking::reconciler {
namespace {

using ::booking::testing::RunfilePath;
using ::booking::testing::Subprocess;
using ::provider::v1::Booking;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using A = Appointment;

constexpr char kProvider[] = "clinic-a";

std::string TmpPath(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Finished {
  int exit_code = -1;
  std::string out;
};

// Runs the reconciler binary to its end.
Finished RunReconciler(std::vector<std::string> args,
                       const std::string& stderr_path,
                       std::vector<std::string> env = {}) {
  args.insert(args.begin(), RunfilePath("reconciler/reconciler"));
  absl::StatusOr<Subprocess> proc =
      Subprocess::Start(std::move(args), std::move(env), stderr_path);
  EXPECT_OK(proc);
  Finished f;
  if (!proc.ok()) return f;
  // Read stdout until the process closes it (no such line exists).
  absl::StatusOr<std::string> none =
      proc->WaitForLine("\x01 never printed", absl::Seconds(60));
  EXPECT_TRUE(absl::IsNotFound(none.status())) << none.status();
  absl::StatusOr<int> code = proc->Wait(absl::Seconds(30));
  EXPECT_OK(code);
  f.exit_code = code.ok() ? *code : -1;
  f.out = proc->stdout_text();
  return f;
}

class ReconcilerBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = booking::testing::FreshDbPath("binary.db");
    absl::StatusOr<Subprocess> mock =
        Subprocess::Start({RunfilePath("mock_provider/mock_provider"),
                           "--listen=127.0.0.1:0", "--log_level=warn"});
    ASSERT_OK(mock);
    mock_ = std::make_unique<Subprocess>(std::move(*mock));
    absl::StatusOr<std::string> address = mock_->WaitForListening();
    ASSERT_OK(address);
    address_ = *address;
    channel_ =
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    provider_ = ::provider::v1::ProviderService::NewStub(channel_);
    control_ = ::provider::v1::MockControl::NewStub(channel_);
    SqliteOptions opts;
    opts.path = db_;
    absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> store =
        SqliteAppointmentStore::Open(opts);
    ASSERT_OK(store);
    store_ = std::move(*store);
  }

  void TearDown() override {
    provider_.reset();
    control_.reset();
    channel_.reset();
    if (mock_ != nullptr) {
      mock_->Signal(SIGTERM);
      EXPECT_THAT(mock_->Wait(), booking::testing::IsOk());
    }
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(30));
    return context;
  }

  // A booking at the mock matching a MakeCreateIntent row made at `at`.
  std::string Book(const std::string& key, absl::Time at) {
    ::provider::v1::BookRequest request;
    request.set_idempotency_key(key);
    request.set_provider_id(kProvider);
    *request.mutable_start_time() = ToProtoTimestamp(at + absl::Hours(48));
    request.set_duration_minutes(30);
    request.set_location("Room 1");
    Booking booking;
    grpc::Status s = provider_->Book(Context().get(), request, &booking);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return booking.booking_id();
  }

  std::string Inject(const std::string& key) {
    ::provider::v1::InjectBookingRequest request;
    request.mutable_booking()->set_idempotency_key(key);
    request.mutable_booking()->set_provider_id(kProvider);
    Booking booking;
    grpc::Status s =
        control_->InjectBooking(Context().get(), request, &booking);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return booking.booking_id();
  }

  void Drop(const std::string& booking_id) {
    ::provider::v1::DropBookingRequest request;
    request.set_provider_id(kProvider);
    request.set_booking_id(booking_id);
    Booking booking;
    grpc::Status s = control_->DropBooking(Context().get(), request, &booking);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  int64_t LiveBookings(const std::string& key) {
    ::provider::v1::StatsRequest request;
    request.set_idempotency_key(key);
    ::provider::v1::StatsResponse stats;
    grpc::Status s = control_->Stats(Context().get(), request, &stats);
    EXPECT_TRUE(s.ok()) << s.error_message();
    int64_t live = 0;
    for (const auto& k : stats.keys()) live += k.live_bookings();
    return live;
  }

  A Get(const std::string& id) {
    absl::StatusOr<A> a = store_->GetAppointment(id);
    EXPECT_OK(a);
    return a.ok() ? *a : A();
  }

  std::vector<std::string> Args(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"--db=" + db_,
                                     "--provider_addr=" + address_,
                                     "--log_file=" + TmpPath("rec.log")};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::string db_;
  std::string address_;
  std::unique_ptr<Subprocess> mock_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::provider::v1::ProviderService::Stub> provider_;
  std::unique_ptr<::provider::v1::MockControl::Stub> control_;
  std::unique_ptr<SqliteAppointmentStore> store_;
};

TEST_F(ReconcilerBinaryTest, DryRunThenApplyThenClean) {
  // Rows last changed an hour ago (outside the default 5 min grace).
  const absl::Time old = absl::Now() - absl::Hours(1);
  testing::RowMaker rows(store_.get());
  // provider_lost: CONFIRMED here, dropped by the provider.
  const std::string lost = Book("a-lost", old);
  rows.Confirmed("a-lost", lost, old, kProvider);
  Drop(lost);
  // Healthy.
  rows.Confirmed("a-ok", Book("a-ok", old), old, kProvider);
  // orphan: the provider holds a booking for a FAILED appointment.
  rows.Failed("a-failed", old, "provider_rejected", kProvider);
  const std::string orphan = Inject("a-failed");
  // Drift on a row changed just now: left alone (grace).
  const absl::Time now = absl::Now();
  const std::string fresh_lost = Book("a-fresh", now);
  rows.Confirmed("a-fresh", fresh_lost, now, kProvider);
  Drop(fresh_lost);

  // 1. Dry-run: drift found, exit 1, nothing changed.
  const std::string report1 = TmpPath("report-dry.json");
  Finished dry = RunReconciler(Args({"--once", "--report=" + report1}),
                               TmpPath("dry.err"));
  EXPECT_EQ(dry.exit_code, 1) << dry.out << ReadFile(TmpPath("dry.err"));
  EXPECT_THAT(dry.out, StartsWith("reconciler run 1 (dry-run)"));
  EXPECT_THAT(dry.out, HasSubstr("2 finding(s), exit 1 (drift found)"));
  EXPECT_THAT(dry.out, HasSubstr("left alone: 1 in grace"));
  EXPECT_THAT(dry.out, ContainsRegex("provider_lost +1 +0 +1 +0 +0"));
  EXPECT_THAT(dry.out, ContainsRegex("orphan +1 +0 +1 +0 +0"));
  EXPECT_THAT(dry.out, HasSubstr("dry-run: nothing was changed"));
  EXPECT_THAT(dry.out, HasSubstr("report: " + report1));
  EXPECT_EQ(Get("a-lost").state(), A::CONFIRMED);
  EXPECT_EQ(LiveBookings("a-failed"), 1);

  const nlohmann::json r1 = nlohmann::json::parse(ReadFile(report1));
  EXPECT_EQ(r1["mode"], "dry-run");
  EXPECT_EQ(r1["exit_code"], 1);
  EXPECT_EQ(r1["provider_bookings_scanned"], 4);
  EXPECT_EQ(r1["left_alone"]["in_grace"], 1);
  ASSERT_EQ(r1["findings"].size(), 2u);
  std::map<std::string, nlohmann::json> by_class;
  for (const auto& f : r1["findings"]) by_class[f["class"]] = f;
  EXPECT_EQ(by_class["orphan"]["appointment_id"], "a-failed");
  EXPECT_EQ(by_class["orphan"]["booking_ids"][0], orphan);
  EXPECT_EQ(by_class["orphan"]["action"], "cancel_bookings");
  EXPECT_EQ(by_class["orphan"]["outcome"], "planned");
  EXPECT_EQ(by_class["provider_lost"]["appointment_id"], "a-lost");
  EXPECT_EQ(by_class["provider_lost"]["evidence"]["provider"][0]["status"],
            "CANCELLED");
  EXPECT_EQ(by_class["provider_lost"]["action"], "mark_failed");

  // 2. Apply: repaired, exit 0.
  const std::string report2 = TmpPath("report-{run_id}.json");
  Finished applied = RunReconciler(
      Args({"--once", "--apply", "--report=" + report2}), TmpPath("apply.err"));
  EXPECT_EQ(applied.exit_code, 0) << applied.out;
  EXPECT_THAT(applied.out, HasSubstr("(apply)"));
  EXPECT_THAT(applied.out, HasSubstr("exit 0 (all repaired)"));
  EXPECT_THAT(applied.out, ContainsRegex("orphan +1 +1 +0 +0 +0"));
  EXPECT_EQ(LiveBookings("a-failed"), 0);
  EXPECT_EQ(Get("a-lost").state(), A::FAILED);
  EXPECT_EQ(Get("a-lost").failure_reason(), "provider_lost");
  EXPECT_EQ(Get("a-ok").state(), A::CONFIRMED);
  EXPECT_EQ(Get("a-fresh").state(), A::CONFIRMED);  // still in grace
  const nlohmann::json r2 =
      nlohmann::json::parse(ReadFile(TmpPath("report-2.json")));
  EXPECT_EQ(r2["summary"]["orphan"]["repaired"], 1);
  EXPECT_EQ(r2["summary"]["provider_lost"]["repaired"], 1);

  // 3. Again: clean.
  Finished again =
      RunReconciler(Args({"--once", "--apply"}), TmpPath("again.err"));
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_THAT(again.out, HasSubstr("0 finding(s), exit 0 (clean)"));

  // The history, as an operator sees it.
  Finished history =
      RunReconciler({"--db=" + db_, "--history=5"}, TmpPath("history.err"));
  EXPECT_EQ(history.exit_code, 0);
  EXPECT_THAT(history.out, ContainsRegex("dry-run +1 "));
  EXPECT_THAT(history.out, ContainsRegex("apply +0 "));
  absl::StatusOr<std::vector<ReconcileRun>> runs = store_->ListReconcileRuns(5);
  ASSERT_OK(runs);
  ASSERT_EQ(runs->size(), 3u);
  EXPECT_EQ((*runs)[2].exit_code, 1);
  EXPECT_EQ((*runs)[1].exit_code, 0);
  EXPECT_EQ((*runs)[1].repaired, 2);
  EXPECT_EQ((*runs)[0].findings, 0);

  // JSON logs.
  const std::string log = ReadFile(TmpPath("rec.log"));
  EXPECT_THAT(log,
              HasSubstr(R"("service":"reconciler","event":"drift_found")"));
  EXPECT_THAT(log, HasSubstr(R"("class":"orphan")"));
}

// DESIGN §3: a kill -9 during a reconciler fix. Each repair is one
// transaction (or one idempotent provider cancel), and runs are
// level-triggered: the next run finishes what the dead one left.
TEST_F(ReconcilerBinaryTest, KilledAfterARepairTheNextRunFinishesTheRest) {
  const absl::Time old = absl::Now() - absl::Hours(1);
  testing::RowMaker rows(store_.get());
  rows.Failed("a-failed", old, "provider_rejected", kProvider);
  Inject("a-failed");  // orphan: repaired first (provider side)
  const std::string lost = Book("a-lost", old);
  rows.Confirmed("a-lost", lost, old, kProvider);
  Drop(lost);  // provider_lost: repaired second (database side)

  Finished killed =
      RunReconciler(Args({"--once", "--apply"}), TmpPath("killed.err"),
                    {"BOOKING_CRASH_POINT=reconciler_after_repair"});
  EXPECT_EQ(killed.exit_code, 128 + SIGKILL);
  EXPECT_EQ(LiveBookings("a-failed"), 0);          // done before the kill
  EXPECT_EQ(Get("a-lost").state(), A::CONFIRMED);  // not reached
  absl::StatusOr<std::vector<ReconcileRun>> runs = store_->ListReconcileRuns(5);
  ASSERT_OK(runs);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_FALSE((*runs)[0].exit_code.has_value());  // the run died

  Finished next =
      RunReconciler(Args({"--once", "--apply"}), TmpPath("next.err"));
  EXPECT_EQ(next.exit_code, 0) << next.out;
  EXPECT_THAT(next.out, HasSubstr("1 finding(s)"));
  EXPECT_THAT(next.out, ContainsRegex("provider_lost +1 +1 "));
  EXPECT_EQ(Get("a-lost").state(), A::FAILED);
  Finished clean =
      RunReconciler(Args({"--once", "--apply"}), TmpPath("clean.err"));
  EXPECT_EQ(clean.exit_code, 0) << clean.out;
  EXPECT_THAT(clean.out, HasSubstr("0 finding(s)"));
}

TEST_F(ReconcilerBinaryTest, KilledMidRepairLeavesAnOrphanTheNextRunCancels) {
  // The provider holds a2 in another room than the database says.
  const absl::Time old = absl::Now() - absl::Hours(1);
  ::provider::v1::BookRequest request;
  request.set_idempotency_key("a-moved");
  request.set_provider_id(kProvider);
  *request.mutable_start_time() = ToProtoTimestamp(old + absl::Hours(48));
  request.set_duration_minutes(30);
  request.set_location("Room 9");
  Booking booking;
  ASSERT_TRUE(provider_->Book(Context().get(), request, &booking).ok());
  testing::RowMaker rows(store_.get());
  rows.Confirmed("a-moved", booking.booking_id(), old, kProvider);

  Finished killed = RunReconciler(
      Args({"--once", "--apply", "--repair_mismatch"}), TmpPath("killed.err"),
      {"BOOKING_CRASH_POINT=reconciler_mid_repair"});
  EXPECT_EQ(killed.exit_code, 128 + SIGKILL);
  // Half-way: the row is FAILED, the provider still holds the booking.
  EXPECT_EQ(Get("a-moved").state(), A::FAILED);
  EXPECT_EQ(Get("a-moved").failure_reason(), "field_mismatch");
  EXPECT_EQ(LiveBookings("a-moved"), 1);

  // The row changed just now: within the default grace it is left alone.
  Finished soon =
      RunReconciler(Args({"--once", "--apply"}), TmpPath("soon.err"));
  EXPECT_EQ(soon.exit_code, 0) << soon.out;
  EXPECT_THAT(soon.out, HasSubstr("left alone: 1 in grace"));
  // A run after the grace window (here: without one) finishes the repair.
  Finished next = RunReconciler(Args({"--once", "--apply", "--grace=0s"}),
                                TmpPath("next.err"));
  EXPECT_EQ(next.exit_code, 0) << next.out;
  EXPECT_THAT(next.out, ContainsRegex("orphan +1 +1 "));
  EXPECT_EQ(LiveBookings("a-moved"), 0);
  Finished clean =
      RunReconciler(Args({"--once", "--apply"}), TmpPath("clean.err"));
  EXPECT_EQ(clean.exit_code, 0) << clean.out;
}

TEST_F(ReconcilerBinaryTest, UsageErrorsExitTwo) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {Args({}), "exactly one of --once or --interval"},
      {Args({"--once", "--interval=1m"}), "exactly one of --once or"},
      {{"--provider_addr=" + address_, "--once"}, "--db is required"},
      {{"--db=" + db_, "--once"}, "--provider_addr is required"},
      {Args({"--once", "--page_size=0"}), "--page_size"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string err = TmpPath(absl::StrCat("usage", i, ".err"));
    Finished f = RunReconciler(cases[i].args, err);
    EXPECT_EQ(f.exit_code, 2) << cases[i].message;
    EXPECT_THAT(ReadFile(err), HasSubstr(cases[i].message));
  }
  // An unreachable provider is an error too (exit 2), not "clean".
  Finished f = RunReconciler({"--db=" + db_, "--provider_addr=127.0.0.1:1",
                              "--once", "--provider_deadline=2s"},
                             TmpPath("unreachable.err"));
  EXPECT_EQ(f.exit_code, 2);
  EXPECT_THAT(f.out, HasSubstr("ERROR: UNAVAILABLE"));
}

TEST_F(ReconcilerBinaryTest, DaemonRunsEveryIntervalServesMetricsAndStops) {
  absl::StatusOr<Subprocess> proc = Subprocess::Start(
      {RunfilePath("reconciler/reconciler"), "--db=" + db_,
       "--provider_addr=" + address_, "--interval=20ms", "--metrics_port=0",
       "--log_file=" + TmpPath("daemon.log")});
  ASSERT_OK(proc);
  absl::StatusOr<std::string> metrics =
      proc->WaitForLine("metrics on ", absl::Seconds(30));
  ASSERT_OK(metrics);
  ASSERT_OK(proc->WaitForLine("reconciler run 1 ", absl::Seconds(30)));
  ASSERT_OK(proc->WaitForLine("reconciler run 2 ", absl::Seconds(30)));

  const std::string host_port =
      metrics->substr(std::string("metrics on ").size());
  httplib::Client client("http://" + host_port);
  httplib::Result page = client.Get("/metrics");
  ASSERT_TRUE(page) << httplib::to_string(page.error());
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("reconciler_runs_total{exit_code=\"0\","
                                    "mode=\"dry-run\"}"));
  EXPECT_THAT(page->body, HasSubstr("reconciler_last_run_exit_code 0"));

  proc->Signal(SIGTERM);
  absl::StatusOr<int> code = proc->Wait();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace booking::reconciler
