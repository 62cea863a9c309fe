// The real api_server binary on loopback: what an operator and a crash see.
// Start-up contract, kill -9 right after an OK, a database locked by another
// process, SIGTERM draining in-flight calls, changes made by another process
// reaching a watcher, and no patient data in the log file.

#include <signal.h>
#include <sqlite3.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "api_server/service_harness.h"
#include "core/store/sqlite_store.h"
#include "core/testing/status_matchers.h"
#include "core/testing/subprocess.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "proto/appointments/v1/appointment_service.grpc.pb.h"

namespace booking {
namespace {

namespace v1 = appointments::v1;
using ::booking::testing::CheckHealth;
using ::booking::testing::RunfilePath;
using ::booking::testing::Subprocess;
using ::booking::testing::TempPath;
using ::booking::testing::Trailer;
using ::booking::testing::ValidCreateRequest;
using ::testing::HasSubstr;
using ::testing::Not;

// A running api_server and a client for it.
struct Server {
  Subprocess process;
  std::string address;
  std::string metrics;  // HOST:PORT, if --metrics_port was given
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::AppointmentService::Stub> stub;
};

std::unique_ptr<Server> StartServer(const std::string& db,
                                    std::vector<std::string> extra_flags = {},
                                    const std::string& stderr_file = "") {
  std::vector<std::string> argv = {RunfilePath("api_server/api_server"),
                                   "--listen=127.0.0.1:0", "--db=" + db,
                                   "--providers=clinic-a,clinic-b"};
  for (auto& f : extra_flags) argv.push_back(f);
  auto process = Subprocess::Start(
      argv, {},
      stderr_file.empty() ? std::nullopt : std::optional(stderr_file));
  EXPECT_OK(process);
  if (!process.ok()) return nullptr;
  auto server = std::make_unique<Server>(Server{std::move(*process)});
  // The contract: the first stdout line says where it listens.
  auto first = server->process.WaitForLine("", absl::Seconds(30));
  EXPECT_OK(first);
  if (!first.ok()) return nullptr;
  EXPECT_THAT(*first, ::testing::StartsWith("listening on 127.0.0.1:"));
  server->address = first->substr(std::string("listening on ").size());
  for (const auto& f : extra_flags) {
    if (absl::StartsWith(f, "--metrics_port=")) {
      auto line = server->process.WaitForLine("metrics on ", absl::Seconds(10));
      EXPECT_OK(line);
      if (line.ok()) server->metrics = line->substr(11);
    }
  }
  server->channel =
      grpc::CreateChannel(server->address, grpc::InsecureChannelCredentials());
  server->stub = v1::AppointmentService::NewStub(server->channel);
  return server;
}

grpc::Status CreateCall(Server& s, const v1::CreateAppointmentRequest& req,
                        v1::Appointment* out, bool* replay = nullptr,
                        absl::Duration timeout = absl::Seconds(10)) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::Status status = s.stub->CreateAppointment(&context, req, out);
  if (replay != nullptr) {
    *replay = Trailer(context, "idempotent-replay") == "true";
  }
  return status;
}

grpc::Status GetCall(Server& s, const std::string& id, v1::Appointment* out) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::GetAppointmentRequest req;
  req.set_id(id);
  return s.stub->GetAppointment(&context, req, out);
}

std::unique_ptr<SqliteAppointmentStore> OpenStore(const std::string& db) {
  SqliteOptions o;
  o.path = db;
  auto store = SqliteAppointmentStore::Open(o);
  EXPECT_OK(store);
  return store.ok() ? std::move(*store) : nullptr;
}

// Another process's view of the database: a raw connection holding the
// write lock, as a long transaction elsewhere would.
class LockHolder {
 public:
  explicit LockHolder(const std::string& db) {
    EXPECT_EQ(sqlite3_open(db.c_str(), &db_), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr),
              SQLITE_OK);
  }
  void Release() {
    if (db_ == nullptr) return;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
    db_ = nullptr;
  }
  ~LockHolder() { Release(); }

 private:
  sqlite3* db_ = nullptr;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Reads a gauge from the server's /metrics ("name value" line).
double ScrapeGauge(const std::string& metrics_address,
                   const std::string& name) {
  std::vector<std::string> hp = absl::StrSplit(metrics_address, ':');
  int port = 0;
  if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &port)) return -1;
  httplib::Client client(hp[0], port);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) return -1;
  for (absl::string_view line : absl::StrSplit(res->body, '\n')) {
    if (absl::StartsWith(line, name + " ")) {
      double v = -1;
      if (absl::SimpleAtod(line.substr(name.size() + 1), &v)) return v;
    }
  }
  return -1;
}

TEST(ApiServerBinaryTest, ServesHealthAndMetricsAndExitsZeroOnSigterm) {
  const std::string db = TempPath("health.db");
  auto s = StartServer(db, {"--metrics_port=0"});
  ASSERT_NE(s, nullptr);
  auto health = CheckHealth(s->channel);
  ASSERT_OK(health);
  EXPECT_EQ(*health, 1) << "SERVING";
  v1::Appointment a;
  ASSERT_TRUE(CreateCall(*s, ValidCreateRequest("b-1", absl::Now()), &a).ok());
  EXPECT_EQ(ScrapeGauge(s->metrics, "api_writer_queue_depth"), 0);

  s->process.Signal(SIGTERM);
  auto code = s->process.Wait();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 0);
}

TEST(ApiServerBinaryTest, RefusesBadFlagsWithAClearMessage) {
  const std::string err = TempPath("badflags.stderr");
  auto p = Subprocess::Start(
      {RunfilePath("api_server/api_server"), "--listen=127.0.0.1:0",
       "--db=" + TempPath("badflags.db"), "--providers="},
      {}, err);
  ASSERT_OK(p);
  auto code = p->Wait();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 2);
  EXPECT_THAT(ReadFile(err), HasSubstr("--providers"));
}

TEST(ApiServerBinaryTest, AnOkSurvivesKillNineAndItsOutboxRowIsThere) {
  const std::string db = TempPath("kill9.db");
  auto s = StartServer(db);
  ASSERT_NE(s, nullptr);
  const auto req = ValidCreateRequest("crash-1", absl::Now());
  v1::Appointment created;
  ASSERT_TRUE(CreateCall(*s, req, &created).ok());
  s->process.Signal(SIGKILL);  // right after the OK, no chance to clean up
  auto code = s->process.Wait();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 128 + SIGKILL);

  {
    auto store = OpenStore(db);
    ASSERT_NE(store, nullptr);
    auto a = store->GetAppointment(created.id());
    ASSERT_OK(a);
    EXPECT_EQ(a->state(), v1::Appointment::PENDING);
    auto commands = store->ListCommandsFor(created.id());
    ASSERT_OK(commands);
    ASSERT_EQ(commands->size(), 1u);
    EXPECT_EQ((*commands)[0].type, CommandType::kBook);
  }
  // After a restart the idempotency key is there too: the retry replays.
  auto restarted = StartServer(db);
  ASSERT_NE(restarted, nullptr);
  v1::Appointment again;
  bool replay = false;
  ASSERT_TRUE(CreateCall(*restarted, req, &again, &replay).ok());
  EXPECT_TRUE(replay);
  EXPECT_EQ(again.id(), created.id());
}

TEST(ApiServerBinaryTest, ALockedDatabaseIsUnavailableAndTheServerRecovers) {
  const std::string db = TempPath("locked.db");
  auto s = StartServer(db, {"--busy_timeout=200ms"});
  ASSERT_NE(s, nullptr);
  v1::Appointment existing;
  ASSERT_TRUE(
      CreateCall(*s, ValidCreateRequest("lock-0", absl::Now()), &existing)
          .ok());

  LockHolder lock(db);
  const auto req = ValidCreateRequest("lock-1", absl::Now());
  v1::Appointment a;
  grpc::Status busy = CreateCall(*s, req, &a);
  EXPECT_EQ(busy.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(busy.error_message(), HasSubstr("database is busy"));
  EXPECT_THAT(busy.error_message(),
              HasSubstr("retry with the same request_id"));
  // Reads go on meanwhile (WAL).
  v1::Appointment read;
  EXPECT_TRUE(GetCall(*s, existing.id(), &read).ok());

  lock.Release();
  bool replay = true;
  grpc::Status ok = CreateCall(*s, req, &a, &replay);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_FALSE(replay) << "nothing had been written by the refused call";
  EXPECT_EQ(a.state(), v1::Appointment::PENDING);
}

TEST(ApiServerBinaryTest, SigtermLetsInFlightCallsFinish) {
  const std::string db = TempPath("drain.db");
  const std::string log = TempPath("drain.log");
  // No key purger: its start-up task would be one more write waiting.
  auto s = StartServer(db, {"--metrics_port=0", "--busy_timeout=20s",
                            "--purge_interval=0", "--log_file=" + log});
  ASSERT_NE(s, nullptr);
  // Hold the write lock so the calls below stay in flight inside the server.
  constexpr int kCalls = 8;
  std::vector<grpc::Status> statuses(kCalls);
  {
    LockHolder lock(db);
    std::vector<std::thread> callers;
    // On any exit: let the database go, then wait for the callers.
    auto join = absl::MakeCleanup([&] {
      lock.Release();
      for (auto& t : callers) t.join();
    });
    for (int i = 0; i < kCalls; ++i) {
      callers.emplace_back([&, i] {
        v1::Appointment a;
        statuses[i] = CreateCall(
            *s, ValidCreateRequest(absl::StrCat("drain-", i), absl::Now()), &a,
            nullptr, absl::Seconds(60));
      });
    }
    // All calls have reached the writer (waiting for the lock or queued
    // behind it). The server's own gauge is polled, bounded.
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (ScrapeGauge(s->metrics, "api_writer_pending") != kCalls) {
      ASSERT_LT(absl::Now(), give_up) << "calls never arrived";
      absl::SleepFor(absl::Milliseconds(10));
    }
    s->process.Signal(SIGTERM);
    // Wait until the server is draining (its log says so); the cleanup then
    // lets the database go, and the in-flight calls must still succeed.
    while (ReadFile(log).find("\"event\":\"draining\"") == std::string::npos) {
      ASSERT_LT(absl::Now(), give_up) << "never started draining";
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
  for (int i = 0; i < kCalls; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
  }
  auto code = s->process.Wait();
  ASSERT_OK(code);
  EXPECT_EQ(*code, 0);
  auto store = OpenStore(db);
  ASSERT_NE(store, nullptr);
  auto page = store->ListAppointments(ListQuery{});
  ASSERT_OK(page);
  EXPECT_EQ(page->appointments.size(), static_cast<size_t>(kCalls));
}

TEST(ApiServerBinaryTest, AWatcherSeesChangesMadeByAnotherProcess) {
  const std::string db = TempPath("watch.db");
  auto s = StartServer(db);
  ASSERT_NE(s, nullptr);
  v1::Appointment created;
  ASSERT_TRUE(
      CreateCall(*s, ValidCreateRequest("watch-1", absl::Now()), &created)
          .ok());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  v1::WatchAppointmentRequest req;
  req.set_id(created.id());
  auto reader = s->stub->WatchAppointment(&context, req);
  v1::Appointment a;
  ASSERT_TRUE(reader->Read(&a));
  EXPECT_EQ(a.state(), v1::Appointment::PENDING);

  // This test process plays the outbox_worker.
  auto store = OpenStore(db);
  ASSERT_NE(store, nullptr);
  ClaimRequest claim;
  claim.worker_id = "other-process";
  claim.now = absl::Now() + absl::Seconds(1);
  claim.lease = absl::Minutes(1);
  auto claimed = store->ClaimDueCommands(claim);
  ASSERT_OK(claimed);
  ASSERT_EQ(claimed->size(), 1u);
  ASSERT_TRUE(reader->Read(&a));
  EXPECT_EQ(a.state(), v1::Appointment::IN_PROGRESS);

  CommandOutcome done;
  done.command_id = (*claimed)[0].command.id;
  done.fencing_token = (*claimed)[0].command.fencing_token;
  done.now = claim.now;
  done.actor = "worker:other-process";
  done.to_state = Appointment::FAILED;
  done.failure_reason = "provider_rejected";
  ASSERT_OK(store->CompleteCommand(done));
  ASSERT_TRUE(reader->Read(&a));
  EXPECT_EQ(a.state(), v1::Appointment::FAILED);
  EXPECT_EQ(a.failure_reason(), "provider_rejected");
  EXPECT_FALSE(reader->Read(&a));
  EXPECT_TRUE(reader->Finish().ok());
}

TEST(ApiServerBinaryTest, NoPatientDataInTheLogFile) {
  const std::string db = TempPath("pii.db");
  const std::string log = TempPath("pii.log");
  auto s = StartServer(db, {"--log_file=" + log, "--log_level=debug"});
  ASSERT_NE(s, nullptr);
  auto req = ValidCreateRequest("pii-bin-1", absl::Now());
  auto* p = req.mutable_appointment()->mutable_patient();
  p->set_display_name("Philippa Quintessence");
  p->set_email("philippa.q@pii-test.example");
  p->set_phone("+445550001122");
  req.mutable_appointment()->set_notes("claustrophobic, prefers stairs");
  v1::Appointment a;
  ASSERT_TRUE(CreateCall(*s, req, &a).ok());
  CreateCall(*s, req, &a);  // replay
  auto invalid = req;
  invalid.set_request_id("pii-bin-2");
  invalid.mutable_appointment()->mutable_patient()->set_phone("+0 Philippa");
  CreateCall(*s, invalid, &a);
  v1::Appointment got;
  GetCall(*s, a.id(), &got);
  // An idle client channel answers the server's GOAWAY only when its backup
  // poller runs (every 5 s); close it so the drain has nothing to wait for.
  s->stub.reset();
  s->channel.reset();
  s->process.Signal(SIGTERM);
  ASSERT_OK(s->process.Wait());

  const std::string text = ReadFile(log);
  ASSERT_THAT(text, HasSubstr("create_appointment"));
  ASSERT_THAT(text, HasSubstr("\"patient_name\":\"P***\""));
  for (const char* secret :
       {"Philippa", "Quintessence", "philippa.q", "5550001122", "0001122",
        "claustrophobic", "stairs"}) {
    EXPECT_THAT(text, Not(HasSubstr(secret))) << secret;
  }
}

}  // namespace
}  // namespace booking
