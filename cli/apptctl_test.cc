// apptctl against a real api_server binary: what a person typing commands
// sees (JSON on stdout, "error: CODE: message" on stderr, exit codes).

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "core/testing/status_matchers.h"
#include "core/testing/subprocess.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/appointments/v1/appointment_service.pb.h"

namespace booking {
namespace {

namespace v1 = appointments::v1;
using ::booking::testing::RunfilePath;
using ::booking::testing::Subprocess;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TmpPath(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ShellQuote(const std::string& s) {
  return "'" + absl::StrReplaceAll(s, {{"'", "'\\''"}}) + "'";
}

// Runs apptctl with `args` (after --addr) and collects its output.
CliResult RunCli(const std::string& addr,
                 const std::vector<std::string>& args) {
  const std::string err_path = TmpPath("apptctl.stderr");
  std::string command = ShellQuote(RunfilePath("cli/apptctl"));
  if (!addr.empty()) command += " --addr=" + ShellQuote(addr);
  for (const std::string& a : args) command += " " + ShellQuote(a);
  command += " 2>" + ShellQuote(err_path);
  CliResult r;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) r.out.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = ReadFile(err_path);
  return r;
}

template <typename Message>
Message ParseJson(const std::string& line) {
  Message m;
  auto s = google::protobuf::util::JsonStringToMessage(line, &m);
  EXPECT_TRUE(s.ok()) << s.ToString() << " in " << line;
  return m;
}

class ApptctlTest : public ::testing::Test {
 protected:
  void StartServer(std::vector<std::string> extra = {}) {
    const std::string db = TmpPath("cli.db");
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::remove((db + suffix).c_str());
    }
    std::vector<std::string> argv = {RunfilePath("api_server/api_server"),
                                     "--listen=127.0.0.1:0", "--db=" + db,
                                     "--providers=clinic-a,clinic-b"};
    for (auto& e : extra) argv.push_back(e);
    auto p = Subprocess::Start(argv, {}, TmpPath("server.log"));
    ASSERT_OK(p);
    server_ = std::make_unique<Subprocess>(std::move(*p));
    auto addr = server_->WaitForListening();
    ASSERT_OK(addr);
    addr_ = *addr;
  }
  void TearDown() override {
    if (server_ != nullptr) {
      server_->Signal(SIGTERM);
      auto code = server_->Wait();
      ASSERT_OK(code);
      EXPECT_EQ(*code, 0);
    }
  }

  std::vector<std::string> CreateArgs(const std::string& request_id) {
    return {"create",
            "--request_id=" + request_id,
            "--customer_id=cust-42",
            "--provider_id=clinic-a",
            "--location=Room 1",
            "--start_time=+48h",
            "--duration_minutes=30",
            "--priority=normal",
            "--patient_name=Ada Lovelace",
            "--email=ada@example.com",
            "--phone=+14155550100"};
  }

  std::unique_ptr<Subprocess> server_;
  std::string addr_;
};

TEST_F(ApptctlTest, CreateGetListCancelWatch) {
  StartServer();
  CliResult created = RunCli(addr_, CreateArgs("cli-1"));
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto a = ParseJson<v1::Appointment>(created.out);
  EXPECT_THAT(a.id(), StartsWith("apt_"));
  EXPECT_EQ(a.state(), v1::Appointment::PENDING);
  EXPECT_EQ(a.priority(), v1::Appointment::NORMAL);
  EXPECT_THAT(created.out, HasSubstr("\"customer_id\":\"cust-42\""))
      << "proto field names in the JSON";

  // A retry with the same request_id: the original, flagged as a replay.
  std::vector<std::string> retry = CreateArgs("cli-1");
  {
    // (--start_time=+48h has moved on: give the printed time verbatim.)
    const size_t at = created.out.find("\"start_time\":\"") + 14;
    retry[5] = "--start_time=" +
               created.out.substr(at, created.out.find('"', at) - at);
  }
  CliResult replay = RunCli(addr_, retry);
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(ParseJson<v1::Appointment>(replay.out).id(), a.id());
  EXPECT_THAT(replay.err, HasSubstr("idempotent replay"));

  CliResult got = RunCli(addr_, {"get", a.id()});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(ParseJson<v1::Appointment>(got.out).id(), a.id());

  CliResult listed =
      RunCli(addr_, {"list", "--customer_id=cust-42", "--state=PENDING"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  auto page = ParseJson<v1::ListAppointmentsResponse>(listed.out);
  ASSERT_EQ(page.appointments_size(), 1);
  EXPECT_EQ(page.appointments(0).id(), a.id());

  CliResult cancelled = RunCli(
      addr_, {"cancel", a.id(), "--request_id=cli-cancel-1", "--reason=moved"});
  ASSERT_EQ(cancelled.exit_code, 0) << cancelled.err;
  EXPECT_EQ(ParseJson<v1::Appointment>(cancelled.out).state(),
            v1::Appointment::CANCELLED);

  // Watching a terminal appointment prints it once and ends cleanly.
  CliResult watched = RunCli(addr_, {"watch", a.id(), "--timeout=10s"});
  ASSERT_EQ(watched.exit_code, 0) << watched.err;
  std::vector<std::string> lines =
      absl::StrSplit(watched.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(ParseJson<v1::Appointment>(lines[0]).state(),
            v1::Appointment::CANCELLED);
}

TEST_F(ApptctlTest, CreateFromAJsonFileAndWatchUntilTheDeadline) {
  StartServer();
  const std::string file = TmpPath("request.json");
  {
    std::ofstream out(file);
    out << R"({"request_id": "cli-json-1", "appointment": {
      "customer_id": "cust-7", "provider_id": "clinic-b",
      "location": "Clinic B, room 3", "start_time": "2099-01-01T09:00:00Z",
      "duration_minutes": 45, "priority": "HIGH",
      "patient": {"display_name": "Grace Hopper"}}})";
  }
  // 2099 is more than a year ahead: the server says which field is wrong.
  CliResult refused = RunCli(addr_, {"create", "--from_json=" + file});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, StartsWith("error: INVALID_ARGUMENT: "
                                      "appointment.start_time"));
  // Flags override the file's fields.
  CliResult created =
      RunCli(addr_, {"create", "--from_json=" + file, "--start_time=+24h"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  auto a = ParseJson<v1::Appointment>(created.out);
  EXPECT_EQ(a.provider_id(), "clinic-b");
  EXPECT_EQ(a.priority(), v1::Appointment::HIGH);

  CliResult watched = RunCli(addr_, {"watch", a.id(), "--timeout=1500ms"});
  EXPECT_EQ(watched.exit_code, 1);
  EXPECT_THAT(watched.out, HasSubstr("\"state\":\"PENDING\""));
  EXPECT_THAT(watched.err, HasSubstr("DEADLINE_EXCEEDED"));
}

TEST_F(ApptctlTest, ErrorsAreOnStderrWithNonZeroExitCodes) {
  StartServer();
  CliResult missing = RunCli(addr_, {"get", "apt_01HZZZZZZZZZZZZZZZZZZZZZZZ"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(missing.out.empty());
  EXPECT_THAT(missing.err, StartsWith("error: NOT_FOUND: "));

  std::vector<std::string> bad = CreateArgs("cli-bad");
  bad[6] = "--duration_minutes=4";
  CliResult invalid = RunCli(addr_, bad);
  EXPECT_EQ(invalid.exit_code, 1);
  EXPECT_THAT(invalid.err, HasSubstr("appointment.duration_minutes"));

  EXPECT_EQ(RunCli(addr_, {"frobnicate"}).exit_code, 2);
  EXPECT_EQ(RunCli(addr_, {"get"}).exit_code, 2);
  EXPECT_EQ(RunCli(addr_, {"cancel", "apt_x"}).exit_code, 2)
      << "cancel needs --request_id";
  EXPECT_EQ(RunCli(addr_, {"create", "--start_time=tomorrow"}).exit_code, 2);
}

TEST_F(ApptctlTest, SendsTheBearerToken) {
  const std::string tokens = TmpPath("tokens.txt");
  {
    std::ofstream out(tokens);
    out << "# tokens\ncli-secret\n";
  }
  StartServer({"--auth_tokens_file=" + tokens});
  CliResult denied = RunCli(addr_, {"list"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.err, StartsWith("error: UNAUTHENTICATED"));
  CliResult allowed = RunCli(addr_, {"list", "--token=cli-secret"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  CliResult from_file = RunCli(addr_, {"list", "--token_file=" + tokens});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
}

}  // namespace
}  // namespace booking
