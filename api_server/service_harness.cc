#include "api_server/service_harness.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/common/time_util.h"
#include "core/grpc/server_runtime.h"
#include "grpcpp/generic/generic_stub.h"

namespace booking::testing {

namespace v1 = appointments::v1;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path =
      absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    unlink(absl::StrCat(path, suffix).c_str());
  }
  return path;
}

absl::StatusOr<std::unique_ptr<ServiceHarness>> ServiceHarness::Start(
    HarnessOptions options) {
  std::unique_ptr<ServiceHarness> h(new ServiceHarness());
  h->clock_ = options.clock != nullptr ? options.clock : RealClock();
  h->db_path_ = TempPath(options.db_name);
  SqliteOptions sqlite;
  sqlite.path = h->db_path_;
  sqlite.busy_timeout = options.busy_timeout;
  sqlite.clock = h->clock_;
  for (auto* slot :
       {&h->write_store_, &h->read_store_, &h->watch_store_, &h->inspect_}) {
    auto opened = SqliteAppointmentStore::Open(sqlite);
    if (!opened.ok()) return opened.status();
    *slot = std::move(*opened);
  }
  h->writer_ = std::make_unique<GroupCommitWriter>(
      h->write_store_.get(), GroupCommitWriterOptions{options.max_batch});
  WatchHubOptions hub_options;
  hub_options.poll_interval = absl::Milliseconds(5);
  h->hub_ = std::make_unique<WatchHub>(h->watch_store_.get(), hub_options);
  h->purger_ = std::make_unique<KeyPurger>(h->writer_.get(), h->clock_,
                                           absl::ZeroDuration());
  h->limiter_ = std::make_unique<RateLimiter>(
      options.rate_limit, options.rate_limit_clock != nullptr
                              ? options.rate_limit_clock
                              : RealClock());
  if (!options.auth_tokens.empty()) {
    auto auth = TokenAuthenticator::FromText(options.auth_tokens);
    if (!auth.ok()) return auth.status();
    h->auth_ = std::make_unique<TokenAuthenticator>(std::move(*auth));
  }
  h->ids_ = std::make_unique<IdGenerator>(h->clock_, /*seed=*/0);

  AppointmentServiceOptions service_options;
  for (const std::string& p : options.providers) {
    service_options.validation.provider_ids.insert(p);
  }
  service_options.idempotency_ttl = options.idempotency_ttl;
  AppointmentServiceDeps deps;
  deps.writer = h->writer_.get();
  deps.readers = {h->read_store_.get()};
  deps.watch_hub = h->hub_.get();
  deps.clock = h->clock_;
  deps.ids = h->ids_.get();
  deps.metrics = &h->metrics_;
  deps.rate_limiter = h->limiter_.get();
  deps.auth = h->auth_.get();
  if (options.deadline_clock != nullptr) {
    deps.deadline_clock = options.deadline_clock;
  }
  h->service_ = std::make_unique<AppointmentService>(service_options, deps);

  GrpcServerOptions server_options;
  server_options.listen_address = "127.0.0.1:0";
  server_options.services = {h->service_.get()};
  server_options.max_receive_message_bytes = 64 * 1024;
  auto started = StartGrpcServer(server_options);
  if (!started.ok()) return started.status();
  h->server_ = std::move(started->server);
  h->address_ = absl::StrCat("127.0.0.1:", started->bound.port);
  h->channel_ =
      grpc::CreateChannel(h->address_, grpc::InsecureChannelCredentials());
  h->stub_ = v1::AppointmentService::NewStub(h->channel_);
  return h;
}

ServiceHarness::~ServiceHarness() {
  if (server_ != nullptr) {
    hub_->Stop();
    DrainAndShutdown(server_.get(), absl::Seconds(5));
  }
  if (purger_) purger_->Stop();
  if (writer_) writer_->Stop();
}

v1::CreateAppointmentRequest ValidCreateRequest(
    const std::string& request_id, absl::Time now,
    const std::string& customer_id, const std::string& provider_id) {
  v1::CreateAppointmentRequest req;
  req.set_request_id(request_id);
  v1::Appointment* a = req.mutable_appointment();
  a->set_customer_id(customer_id);
  a->set_provider_id(provider_id);
  a->set_location("Room 1");
  // Whole seconds, so a retry built a moment later is identical.
  *a->mutable_start_time() = ToProtoTimestamp(
      absl::FromUnixSeconds(absl::ToUnixSeconds(now + absl::Hours(48))));
  a->set_duration_minutes(30);
  a->set_priority(v1::Appointment::NORMAL);
  a->mutable_patient()->set_display_name("Ada Lovelace");
  a->mutable_patient()->set_email("ada@example.com");
  a->mutable_patient()->set_phone("+14155550100");
  a->set_notes("first visit");
  return req;
}

absl::StatusOr<int> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                absl::Duration timeout) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  // HealthCheckRequest{service: ""} serializes to no bytes.
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return absl::InternalError("bad reply");
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  // HealthCheckResponse{status: N} is "\x08" N (field 1, varint).
  if (bytes.empty()) return 0;  // UNKNOWN
  if (bytes.size() != 2 || bytes[0] != '\x08') {
    return absl::InternalError("unexpected health reply");
  }
  return static_cast<int>(bytes[1]);
}

std::string Trailer(const grpc::ClientContext& context,
                    const std::string& key) {
  const auto& md = context.GetServerTrailingMetadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace booking::testing
