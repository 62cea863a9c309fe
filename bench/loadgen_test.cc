// The benchmark tools against real binaries: loadgen's counting (closed and
// open loop) on the ceiling server, and the e2e / seed / drain / outcome
// check path through mock_provider + api_server + outbox_worker. Counts
// only; no timing is asserted.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/testing/status_matchers.h"
#include "core/testing/subprocess.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace booking::bench {
namespace {

using ::booking::testing::RunfilePath;
using ::booking::testing::Subprocess;

std::string TmpPath(const std::string& name) {
  return absl::StrCat(getenv("TEST_TMPDIR"), "/", name);
}

// Runs a tool to completion; returns its exit code and its JSON line.
struct ToolRun {
  int exit_code = -1;
  nlohmann::json out;
};
ToolRun RunTool(const std::string& tool, std::vector<std::string> args) {
  args.insert(args.begin(), RunfilePath("bench/" + tool));
  ToolRun run;
  absl::StatusOr<Subprocess> p =
      Subprocess::Start(args, {}, TmpPath(tool + ".stderr"));
  EXPECT_OK(p);
  if (!p.ok()) return run;
  absl::StatusOr<std::string> line = p->WaitForLine("{", absl::Seconds(60));
  EXPECT_OK(line) << tool;
  if (line.ok()) run.out = nlohmann::json::parse(*line, nullptr, false);
  absl::StatusOr<int> code = p->Wait(absl::Seconds(60));
  EXPECT_OK(code);
  if (code.ok()) run.exit_code = *code;
  return run;
}

absl::StatusOr<Subprocess> StartServer(std::vector<std::string> argv,
                                       const std::string& log,
                                       std::string* address) {
  absl::StatusOr<Subprocess> p = Subprocess::Start(argv, {}, TmpPath(log));
  if (!p.ok()) return p.status();
  absl::StatusOr<std::string> a = p->WaitForListening();
  if (!a.ok()) return a.status();
  *address = *a;
  return p;
}

class CeilingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<Subprocess> s =
        StartServer({RunfilePath("bench/noop_server"), "--listen=127.0.0.1:0"},
                    "noop_server.log", &target_);
    ASSERT_OK(s);
    server_ = std::make_unique<Subprocess>(std::move(*s));
  }

  std::unique_ptr<Subprocess> server_;
  std::string target_;
};

TEST_F(CeilingTest, ClosedLoopCountsEveryCallOnce) {
  const ToolRun run = RunTool(
      "loadgen", {"--target=" + target_, "--method=ping", "--in_flight=8",
                  "--max_calls=300", "--warmup=0s", "--duration=120s"});
  ASSERT_EQ(run.exit_code, 0) << run.out.dump();
  EXPECT_EQ(run.out["ok"], 300);
  EXPECT_EQ(run.out["completed"], 300);
  EXPECT_EQ(run.out["started"], 300);
  EXPECT_EQ(run.out["unfinished"], 0);
  EXPECT_EQ(run.out["status_counts"], nlohmann::json({{"OK", 300}}));
  EXPECT_EQ(run.out["latency_ms"]["count"], 300);
  EXPECT_GT(run.out["qps"].get<double>(), 0);
}

TEST_F(CeilingTest, EchoWithCreateMessagesInOpenLoop) {
  const ToolRun run = RunTool(
      "loadgen", {"--target=" + target_, "--method=noop", "--rate=400",
                  "--in_flight=100", "--warmup=0s", "--duration=500ms"});
  ASSERT_EQ(run.exit_code, 0) << run.out.dump();
  EXPECT_EQ(run.out["mode"], "open");
  EXPECT_GT(run.out["ok"].get<int64_t>(), 0);
  EXPECT_EQ(run.out["ok"], run.out["completed"]);
  EXPECT_EQ(run.out["status_counts"].size(), 1u) << run.out.dump();
}

TEST(LoadgenTest, UnreachableTargetExitsOneWithAnError) {
  // Port 1 on loopback: nothing listens there.
  const ToolRun run = RunTool(
      "loadgen",
      {"--target=127.0.0.1:1", "--method=ping", "--connect_timeout=500ms"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out["error"], "cannot connect");
}

TEST(LoadgenTest, MeasureReportsExitCodeAndPeakMemory) {
  const std::string out = TmpPath("measure.json");
  absl::StatusOr<Subprocess> p = Subprocess::Start(
      {RunfilePath("bench/measure"), out, "--", "/bin/sh", "-c", "exit 3"});
  ASSERT_OK(p);
  absl::StatusOr<int> code = p->Wait(absl::Seconds(30));
  ASSERT_OK(code);
  EXPECT_EQ(*code, 3);
  std::FILE* f = std::fopen(out.c_str(), "r");
  ASSERT_NE(f, nullptr);
  const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  std::fclose(f);
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_GT(j["peak_rss_mb"].get<double>(), 0);
}

// mock_provider (immediate) + api_server + outbox_worker on loopback.
class StackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = TmpPath("stack.db");
    absl::StatusOr<Subprocess> mock = StartServer(
        {RunfilePath("mock_provider/mock_provider"), "--listen=127.0.0.1:0",
         "--modes=*=immediate", "--log_level=warn"},
        "mock.log", &provider_);
    ASSERT_OK(mock);
    mock_ = std::make_unique<Subprocess>(std::move(*mock));
    absl::StatusOr<Subprocess> api = StartServer(
        {RunfilePath("api_server/api_server"), "--listen=127.0.0.1:0",
         "--db=" + db_, "--providers=clinic-a,clinic-b"},
        "api.log", &api_);
    ASSERT_OK(api);
    api_server_ = std::make_unique<Subprocess>(std::move(*api));
    absl::StatusOr<Subprocess> worker =
        Subprocess::Start({RunfilePath("outbox_worker/outbox_worker"),
                           "--db=" + db_, "--provider_addr=" + provider_},
                          {}, TmpPath("worker.log"));
    ASSERT_OK(worker);
    worker_ = std::make_unique<Subprocess>(std::move(*worker));
  }

  std::string db_, provider_, api_;
  std::unique_ptr<Subprocess> mock_, api_server_, worker_;
};

TEST_F(StackTest, E2eSeedDrainAndOutcomeCheckAgree) {
  const ToolRun e2e =
      RunTool("loadgen", {"--target=" + api_, "--method=e2e", "--in_flight=4",
                          "--max_calls=20", "--warmup=0s", "--duration=120s"});
  ASSERT_EQ(e2e.exit_code, 0) << e2e.out.dump();
  EXPECT_EQ(e2e.out["ok"], 20) << e2e.out.dump();
  EXPECT_EQ(e2e.out["final_states"], nlohmann::json({{"CONFIRMED", 20}}));
  EXPECT_EQ(e2e.out["confirm_ms"]["count"], 20);
  EXPECT_EQ(e2e.out["create_ms"]["count"], 20);

  const ToolRun seed =
      RunTool("seed_outbox", {"--db=" + db_, "--count=50", "--batch=16",
                              "--providers=clinic-a,clinic-b"});
  ASSERT_EQ(seed.exit_code, 0) << seed.out.dump();
  EXPECT_EQ(seed.out["seeded"], 50);

  const ToolRun drain =
      RunTool("wait_drain", {"--db=" + db_, "--poll=10ms", "--timeout=60s"});
  ASSERT_EQ(drain.exit_code, 0) << drain.out.dump();
  EXPECT_EQ(drain.out["counts"]["PENDING"], 0);
  EXPECT_EQ(drain.out["counts"]["LEASED"], 0);
  EXPECT_EQ(drain.out["counts"]["DONE"], 70);

  const ToolRun check =
      RunTool("check_outcome", {"--db=" + db_, "--provider_addr=" + provider_});
  EXPECT_EQ(check.exit_code, 0) << check.out.dump();
  EXPECT_EQ(check.out["ok"], true);
  EXPECT_EQ(check.out["appointments"], 70);
  EXPECT_EQ(check.out["confirmed_one_booking"], 70);
  EXPECT_EQ(check.out["provider_keys"], 70);
}

}  // namespace
}  // namespace booking::bench
