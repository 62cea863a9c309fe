#include "outbox_worker/integration_harness.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/common/time_util.h"
#include "core/grpc/status_conversion.h"
#include "core/store/store_test_util.h"
#include "grpcpp/grpcpp.h"
#include "httplib.h"

namespace booking::testing {
namespace {

std::string TmpPath(const std::string& file) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", file);
}

template <typename Service>
std::unique_ptr<typename Service::Stub> Connect(const std::string& addr) {
  return Service::NewStub(
      grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
}

void Deadline(grpc::ClientContext& ctx) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Stack>> Stack::Start(
    const std::string& name, const std::string& modes,
    const std::vector<std::string>& providers) {
  std::unique_ptr<Stack> s(new Stack());
  s->name_ = name;
  s->db_path_ = FreshDbPath(name + ".db");
  absl::StatusOr<Subprocess> mock = Subprocess::Start(
      {RunfilePath("mock_provider/mock_provider"), "--listen=127.0.0.1:0",
       "--modes=" + modes, "--seed=7"},
      {}, TmpPath(name + ".mock.log"));
  if (!mock.ok()) return mock.status();
  s->mock_.emplace(std::move(*mock));
  absl::StatusOr<std::string> mock_addr = s->mock_->WaitForListening();
  if (!mock_addr.ok()) return mock_addr.status();
  s->mock_addr_ = *mock_addr;

  absl::StatusOr<Subprocess> api = Subprocess::Start(
      {RunfilePath("api_server/api_server"), "--listen=127.0.0.1:0",
       "--db=" + s->db_path_, "--providers=" + absl::StrJoin(providers, ",")},
      {}, TmpPath(name + ".api.log"));
  if (!api.ok()) return api.status();
  s->api_.emplace(std::move(*api));
  absl::StatusOr<std::string> api_addr = s->api_->WaitForListening();
  if (!api_addr.ok()) return api_addr.status();
  s->api_addr_ = *api_addr;

  s->api_stub_ = Connect<appointments::v1::AppointmentService>(s->api_addr_);
  s->control_ = Connect<provider::v1::MockControl>(s->mock_addr_);
  SqliteOptions o;
  o.path = s->db_path_;
  auto store = SqliteAppointmentStore::Open(o);
  if (!store.ok()) return store.status();
  s->store_ = std::move(*store);
  return s;
}

absl::StatusOr<Subprocess> Stack::StartWorker(const std::string& label,
                                              std::vector<std::string> flags,
                                              std::vector<std::string> env) {
  // Fast defaults; later flags win (absl flags: last one counts).
  std::vector<std::string> argv = {
      RunfilePath("outbox_worker/outbox_worker"),
      "--db=" + db_path_,
      "--provider_addr=" + mock_addr_,
      "--worker_id=" + label,
      "--attempt_timeout=300ms",
      "--lease=2s",
      "--max_attempts=3",
      "--max_cancel_attempts=5",
      "--backoff_base=10ms",
      "--backoff_cap=50ms",
      "--confirm_timeout=10s",
      "--idle_poll=200ms",
      "--breaker_window=1000",
      "--breaker_min_calls=1000",
      "--shutdown_grace=1s",
      "--log_level=debug",
  };
  for (auto& f : flags) argv.push_back(std::move(f));
  return Subprocess::Start(std::move(argv), std::move(env),
                           TmpPath(absl::StrCat(name_, ".", label, ".log")));
}

absl::StatusOr<std::pair<int, std::string>> Stack::RunWorkerCommand(
    std::vector<std::string> flags) {
  std::vector<std::string> argv = {RunfilePath("outbox_worker/outbox_worker"),
                                   "--db=" + db_path_};
  for (auto& f : flags) argv.push_back(std::move(f));
  absl::StatusOr<Subprocess> p =
      Subprocess::Start(std::move(argv), {}, TmpPath(name_ + ".command.log"));
  if (!p.ok()) return p.status();
  // Read all of stdout (NOT_FOUND = closed), then the exit code.
  (void)p->WaitForLine("\x01never", absl::Seconds(20));
  absl::StatusOr<int> code = p->Wait();
  if (!code.ok()) return code.status();
  return std::make_pair(*code, p->stdout_text());
}

absl::StatusOr<std::string> Stack::Create(const std::string& provider_id,
                                          const std::string& request_id) {
  appointments::v1::CreateAppointmentRequest req;
  req.set_request_id(request_id);
  Appt* a = req.mutable_appointment();
  a->set_customer_id("cust-1");
  a->set_provider_id(provider_id);
  a->set_location("Room 1");
  *a->mutable_start_time() = ToProtoTimestamp(absl::Now() + absl::Hours(48));
  a->set_duration_minutes(30);
  a->set_priority(Appt::NORMAL);
  a->mutable_patient()->set_display_name("Pat Example");
  a->mutable_patient()->set_email("pat@example.com");
  grpc::ClientContext ctx;
  Deadline(ctx);
  Appt out;
  grpc::Status st = api_stub_->CreateAppointment(&ctx, req, &out);
  if (!st.ok()) return FromGrpcStatus(st);
  return out.id();
}

absl::StatusOr<Appt> Stack::Get(const std::string& id) {
  appointments::v1::GetAppointmentRequest req;
  req.set_id(id);
  grpc::ClientContext ctx;
  Deadline(ctx);
  Appt out;
  grpc::Status st = api_stub_->GetAppointment(&ctx, req, &out);
  if (!st.ok()) return FromGrpcStatus(st);
  return out;
}

absl::StatusOr<Appt> Stack::Cancel(const std::string& id,
                                   const std::string& request_id) {
  appointments::v1::CancelAppointmentRequest req;
  req.set_id(id);
  req.set_request_id(request_id);
  req.set_reason("test");
  grpc::ClientContext ctx;
  Deadline(ctx);
  Appt out;
  grpc::Status st = api_stub_->CancelAppointment(&ctx, req, &out);
  if (!st.ok()) return FromGrpcStatus(st);
  return out;
}

absl::StatusOr<Appt> Stack::WaitUntil(
    const std::string& id, const std::function<bool(const Appt&)>& done,
    absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  Appt last;
  while (true) {
    absl::StatusOr<Appt> a = Get(id);
    if (!a.ok()) return a.status();
    last = *a;
    if (done(last)) return last;
    if (absl::Now() >= give_up) {
      return absl::DeadlineExceededError(absl::StrCat(
          "appointment ", id, " still ", Appt::State_Name(last.state()),
          " after ", absl::FormatDuration(timeout), "; attempts ",
          last.attempt_count(), ", reason '", last.failure_reason(), "'"));
    }
    absl::SleepFor(absl::Milliseconds(5));  // poll interval, not a sync
  }
}

absl::StatusOr<Appt> Stack::WaitForTerminalOr(Appt::State state,
                                              const std::string& id,
                                              absl::Duration timeout) {
  return WaitUntil(
      id,
      [state](const Appt& a) {
        return a.state() == state || a.state() == Appt::CANCELLED ||
               a.state() == Appt::FAILED;
      },
      timeout);
}

absl::Status Stack::SetMode(const std::string& provider_id,
                            provider::v1::Mode mode,
                            const provider::v1::ModeParams& params) {
  provider::v1::SetModeRequest req;
  req.set_provider_id(provider_id);
  req.set_mode(mode);
  *req.mutable_params() = params;
  provider::v1::SetModeResponse resp;
  grpc::ClientContext ctx;
  Deadline(ctx);
  return FromGrpcStatus(control_->SetMode(&ctx, req, &resp));
}

absl::StatusOr<provider::v1::KeyStats> Stack::KeyStats(const std::string& key) {
  provider::v1::StatsRequest req;
  req.set_idempotency_key(key);
  provider::v1::StatsResponse resp;
  grpc::ClientContext ctx;
  Deadline(ctx);
  grpc::Status st = control_->Stats(&ctx, req, &resp);
  if (!st.ok()) return FromGrpcStatus(st);
  for (const auto& k : resp.keys()) {
    if (k.idempotency_key() == key) return k;
  }
  provider::v1::KeyStats none;  // the provider never heard of it
  none.set_idempotency_key(key);
  return none;
}

absl::StatusOr<provider::v1::ProviderTotals> Stack::Totals(
    const std::string& provider_id) {
  provider::v1::StatsRequest req;
  req.set_provider_id(provider_id);
  provider::v1::StatsResponse resp;
  grpc::ClientContext ctx;
  Deadline(ctx);
  grpc::Status st = control_->Stats(&ctx, req, &resp);
  if (!st.ok()) return FromGrpcStatus(st);
  for (const auto& t : resp.totals()) {
    if (t.provider_id() == provider_id) return t;
  }
  provider::v1::ProviderTotals none;
  none.set_provider_id(provider_id);
  return none;
}

absl::StatusOr<int> Stack::CountOrphans() {
  provider::v1::ListAllResponse all;
  grpc::ClientContext ctx;
  Deadline(ctx);
  grpc::Status st =
      control_->ListAll(&ctx, provider::v1::ListAllRequest(), &all);
  if (!st.ok()) return FromGrpcStatus(st);
  int orphans = 0;
  for (const auto& b : all.bookings()) {
    const bool live = b.status() == provider::v1::Booking::CONFIRMED ||
                      b.status() == provider::v1::Booking::PENDING;
    if (!live) continue;
    absl::StatusOr<Appt> a = Get(b.idempotency_key());
    if (!a.ok() || (a->state() != Appt::CONFIRMED &&
                    a->state() != Appt::AWAITING_CONFIRMATION)) {
      ++orphans;
    }
  }
  return orphans;
}

absl::StatusOr<int> Stack::CountDuplicates() {
  provider::v1::StatsResponse resp;
  grpc::ClientContext ctx;
  Deadline(ctx);
  grpc::Status st = control_->Stats(&ctx, provider::v1::StatsRequest(), &resp);
  if (!st.ok()) return FromGrpcStatus(st);
  int duplicates = 0;
  for (const auto& k : resp.keys()) duplicates += k.live_bookings() > 1;
  return duplicates;
}

absl::StatusOr<std::string> ScrapeMetrics(const std::string& host_port) {
  std::vector<std::string> parts = absl::StrSplit(host_port, ':');
  int port = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &port)) {
    return absl::InvalidArgumentError("bad metrics address " + host_port);
  }
  httplib::Client client(parts[0], port);
  client.set_connection_timeout(5);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) {
    return absl::UnavailableError("metrics scrape failed");
  }
  return res->body;
}

std::optional<double> MetricValue(const std::string& page,
                                  const std::string& series) {
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (!absl::StartsWith(line, series + " ")) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(series.size() + 1), &v)) return v;
  }
  return std::nullopt;
}

}  // namespace booking::testing
