#include "api_server/appointment_service.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "api_server/page_token.h"
#include "core/common/time_util.h"
#include "core/domain/fingerprint.h"
#include "core/domain/state_machine.h"
#include "core/grpc/status_conversion.h"
#include "core/observability/logging.h"
#include "core/observability/pii.h"

namespace booking {

namespace v1 = appointments::v1;

namespace {

constexpr const char* kMethodNames[] = {"CreateAppointment", "GetAppointment",
                                        "ListAppointments", "CancelAppointment",
                                        "WatchAppointment"};
constexpr const char* kEventNames[] = {
    "create_appointment", "get_appointment", "list_appointments",
    "cancel_appointment", "watch_appointment"};

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
// Keys of the rate limiter come from the client; keep them short.
constexpr size_t kMaxClientKeyChars = 128;

std::string Metadata(const grpc::CallbackServerContext* context,
                     const std::string& key, bool* present = nullptr) {
  const auto& md = context->client_metadata();
  auto it = md.find(key);
  if (present != nullptr) *present = it != md.end();
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// "ipv4:127.0.0.1:54321" -> "ipv4:127.0.0.1"; "ipv6:[::1]:80" -> "ipv6:[::1]".
std::string PeerHost(const std::string& peer) {
  const size_t colon = peer.rfind(':');
  const size_t first = peer.find(':');
  if (colon == std::string::npos || colon == first) return peer;
  return peer.substr(0, colon);
}

// Output-only fields of the request's appointment are ignored (AIP-203): the
// server sets them.
v1::Appointment InputFields(const v1::Appointment& in) {
  v1::Appointment a = in;
  a.clear_id();
  a.clear_request_id();
  a.clear_state();
  a.clear_provider_booking_id();
  a.clear_attempt_count();
  a.clear_failure_reason();
  a.clear_create_time();
  a.clear_update_time();
  a.clear_version();
  a.clear_cancel_reason();
  return a;
}

// Writes answered UNAVAILABLE are always safe to retry: say how.
absl::Status ForWriteCaller(const absl::Status& s) {
  if (s.code() != absl::StatusCode::kUnavailable ||
      absl::StrContains(s.message(), "retry")) {
    return s;
  }
  if (absl::StrContains(s.message(), "locked")) {
    return absl::UnavailableError(absl::StrCat(
        "database is busy: ", s.message(), "; retry with the same request_id"));
  }
  return absl::UnavailableError(
      absl::StrCat(s.message(), "; retry with the same request_id"));
}

bool IsServerSideProblem(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct AppointmentService::CallInfo {
  explicit CallInfo(Method m)
      : method(m), start(std::chrono::steady_clock::now()) {}
  Method method;
  std::chrono::steady_clock::time_point start;
  std::string client;
  std::string request_id;
  std::string appointment_id;
  std::string provider_id;
  // Masked (pii.h) before they are stored here.
  std::string patient_name;
  std::string patient_email;
  std::string patient_phone;
  std::optional<State> state;
  bool replay = false;
  int64_t items = -1;    // List: appointments returned
  int64_t updates = -1;  // Watch: messages sent
};

// ------------------------------------------------------------------ watch --

namespace {

// A Watch call that was refused before it started.
class RefusedWatch final : public grpc::ServerWriteReactor<v1::Appointment> {
 public:
  explicit RefusedWatch(const absl::Status& status) {
    Finish(ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

}  // namespace

// One WatchAppointment stream. Owned by shared_ptr: itself until OnDone, and
// the hub while registered, so the hub's ticker may still hold it for a
// moment after the call is done. Only one write is in flight at a time; a
// newer row arriving meanwhile replaces any row still waiting (a slow reader
// sees the latest state, not every intermediate one). Finish waits for the
// write in flight.
class WatchCall final : public grpc::ServerWriteReactor<v1::Appointment>,
                        public Watcher {
 public:
  WatchCall(AppointmentService* service, WatchHub* hub,
            AppointmentService::CallInfo info, absl::Time deadline)
      : service_(service),
        hub_(hub),
        info_(std::move(info)),
        deadline_(deadline) {}

  // Sends `initial` and, unless it is terminal, starts watching.
  void Begin(std::shared_ptr<WatchCall> self, const v1::Appointment& initial) {
    {
      absl::MutexLock lock(&mu_);
      self_ = self;
      latest_version_ = initial.version();
      SendLocked(initial);
    }
    if (IsTerminal(initial.state())) return;  // finishes after the write
    if (!hub_->Add(std::move(self))) {
      absl::MutexLock lock(&mu_);
      RequestFinishLocked(absl::UnavailableError(
          "the server is shutting down; watch again elsewhere or later"));
    }
  }

  // Watcher
  const std::string& appointment_id() const override {
    return info_.appointment_id;
  }
  absl::Time deadline() const override { return deadline_; }
  void OnAppointment(const v1::Appointment& a) override {
    absl::MutexLock lock(&mu_);
    if (finish_requested_ || a.version() <= latest_version_) return;
    latest_version_ = a.version();
    if (writing_) {
      pending_ = a;
    } else {
      SendLocked(a);
    }
  }
  void OnExpired() override {
    absl::MutexLock lock(&mu_);
    RequestFinishLocked(absl::DeadlineExceededError(
        "the watch deadline passed before a terminal state"));
  }
  void OnShutdown() override {
    absl::MutexLock lock(&mu_);
    RequestFinishLocked(absl::UnavailableError(
        "the server is shutting down; watch again elsewhere or later"));
  }

  // Reactor
  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      RequestFinishLocked(absl::CancelledError("the stream was closed"));
      return;
    }
    ++sent_;
    if (IsTerminal(current_.state())) {
      RequestFinishLocked(absl::OkStatus());
      return;
    }
    if (pending_.has_value() && !finish_requested_) {
      v1::Appointment next = std::move(*pending_);
      pending_.reset();
      SendLocked(next);
      return;
    }
    MaybeFinishLocked();
  }
  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    RequestFinishLocked(absl::CancelledError("cancelled by the client"));
  }
  void OnDone() override {
    hub_->Remove(this);
    absl::Status final_status;
    {
      absl::MutexLock lock(&mu_);
      final_status = final_status_;
      info_.updates = sent_;
      info_.state = current_.state();
    }
    service_->RecordAndLog(info_, final_status);
    // Drop our own reference last: it may be the final one.
    std::shared_ptr<WatchCall> self = std::move(self_);
  }

 private:
  void SendLocked(const v1::Appointment& a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_ = a;
    writing_ = true;
    StartWrite(&current_);
  }
  void RequestFinishLocked(const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finish_requested_) return;
    finish_requested_ = true;
    final_status_ = status;
    pending_.reset();
    MaybeFinishLocked();
  }
  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!finish_requested_ || writing_ || finished_) return;
    finished_ = true;
    Finish(ToGrpcStatus(final_status_));
  }

  AppointmentService* const service_;
  WatchHub* const hub_;
  AppointmentService::CallInfo info_;
  const absl::Time deadline_;

  absl::Mutex mu_;
  std::shared_ptr<WatchCall> self_;
  v1::Appointment current_ ABSL_GUARDED_BY(mu_);  // being written
  std::optional<v1::Appointment> pending_ ABSL_GUARDED_BY(mu_);
  int64_t latest_version_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);
};

// ---------------------------------------------------------------- service --

AppointmentService::AppointmentService(AppointmentServiceOptions options,
                                       AppointmentServiceDeps deps)
    : options_(std::move(options)), deps_(std::move(deps)) {
  for (int m = 0; m < kNumMethods; ++m) {
    const MetricLabels labels = {{"method", kMethodNames[m]}};
    metrics_[m].latency = deps_.metrics->GetHistogram(
        "api_request_duration_seconds",
        "Time from receiving a call to answering it, by method.", labels);
    metrics_[m].replays = deps_.metrics->GetCounter(
        "api_idempotent_replays_total",
        "Calls answered from an earlier call with the same request_id.",
        labels);
  }
}

AppointmentService::~AppointmentService() = default;

Counter* AppointmentService::RequestCounter(Method method,
                                            absl::StatusCode code) {
  const int c = std::clamp(static_cast<int>(code), 0, 16);
  std::atomic<Counter*>& slot = metrics_[method].by_code[c];
  Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Racing threads get the same series from the registry.
    counter = deps_.metrics->GetCounter(
        "api_requests_total", "Calls answered, by method and status code.",
        {{"method", kMethodNames[method]},
         {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(c))}});
    slot.store(counter, std::memory_order_release);
  }
  return counter;
}

void AppointmentService::RecordAndLog(const CallInfo& info,
                                      const absl::Status& status) {
  const double seconds = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - info.start)
                             .count();
  RequestCounter(info.method, status.code())->Increment();
  if (info.method != kWatch) metrics_[info.method].latency->Observe(seconds);
  if (info.replay) metrics_[info.method].replays->Increment();

  // Reads are frequent and tell little: debug. Writes and every server-side
  // problem: info / warn.
  LogLevel level = (info.method == kCreate || info.method == kCancel ||
                    info.method == kWatch)
                       ? LogLevel::kInfo
                       : LogLevel::kDebug;
  if (IsServerSideProblem(status.code())) level = LogLevel::kWarn;
  LogEvent event(level, kEventNames[info.method]);
  event.Field("code", absl::StatusCodeToString(status.code()));
  if (!info.request_id.empty()) event.Field("request_id", info.request_id);
  if (!info.appointment_id.empty()) {
    event.Field("appointment_id", info.appointment_id);
  }
  if (!info.provider_id.empty()) event.Field("provider_id", info.provider_id);
  if (info.state.has_value()) event.Field("state", StateName(*info.state));
  if (!info.patient_name.empty())
    event.Field("patient_name", info.patient_name);
  if (!info.patient_email.empty()) {
    event.Field("patient_email", info.patient_email);
  }
  if (!info.patient_phone.empty()) {
    event.Field("patient_phone", info.patient_phone);
  }
  if (info.replay) event.Field("idempotent_replay", true);
  if (info.items >= 0) event.Field("items", info.items);
  if (info.updates >= 0) event.Field("updates", info.updates);
  event.Field("client", info.client);
  event.Field("latency_ms", seconds * 1000.0);
  event.Error(status);
}

void AppointmentService::FinishUnary(grpc::ServerUnaryReactor* reactor,
                                     const CallInfo& info,
                                     const absl::Status& status) {
  RecordAndLog(info, status);
  reactor->Finish(ToGrpcStatus(status));
}

template <typename WriteResult>
void AppointmentService::FinishWrite(grpc::CallbackServerContext* context,
                                     grpc::ServerUnaryReactor* reactor,
                                     v1::Appointment* response, CallInfo& info,
                                     absl::StatusOr<WriteResult> result) {
  if (!result.ok()) {
    FinishUnary(reactor, info, ForWriteCaller(result.status()));
    return;
  }
  *response = std::move(result->appointment);
  info.appointment_id = response->id();
  info.provider_id = response->provider_id();
  info.state = response->state();
  if (result->replayed) {
    info.replay = true;
    context->AddTrailingMetadata("idempotent-replay", "true");
  }
  FinishUnary(reactor, info, absl::OkStatus());
}

AppointmentStore* AppointmentService::NextReader() {
  const size_t i = next_reader_.fetch_add(1, std::memory_order_relaxed);
  return deps_.readers[i % deps_.readers.size()];
}

absl::Time AppointmentService::DeadlineOf(
    const grpc::CallbackServerContext* context) const {
  const auto deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

absl::Status AppointmentService::Admit(grpc::CallbackServerContext* context,
                                       const google::protobuf::Message& request,
                                       CallInfo* info) {
  std::string client = Metadata(context, "x-client-id");
  if (client.empty()) client = PeerHost(context->peer());
  if (client.size() > kMaxClientKeyChars) client.resize(kMaxClientKeyChars);
  info->client = client;

  if (deps_.auth != nullptr) {
    bool present = false;
    const std::string authorization =
        Metadata(context, "authorization", &present);
    absl::Status s = deps_.auth->Check(
        present ? std::optional<absl::string_view>(authorization)
                : std::nullopt);
    if (!s.ok()) return s;
  }
  if (deps_.rate_limiter != nullptr && deps_.rate_limiter->enabled()) {
    const RateLimiter::Decision d = deps_.rate_limiter->Acquire(client);
    if (!d.allowed) {
      const int64_t ms = absl::ToInt64Milliseconds(d.retry_after);
      context->AddTrailingMetadata("retry-after-ms", std::to_string(ms));
      return absl::ResourceExhaustedError(absl::StrFormat(
          "rate limit of %g requests/s exceeded for client '%s'; retry after "
          "%d ms",
          deps_.rate_limiter->qps(), client, ms));
    }
  }
  if (deps_.deadline_clock->Now() >= DeadlineOf(context)) {
    return absl::DeadlineExceededError(
        "the call's deadline passed before it was started; nothing was done");
  }
  const size_t bytes = request.ByteSizeLong();
  if (bytes > options_.max_request_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("request: must be at most ", options_.max_request_bytes,
                     " bytes serialized (got ", bytes, ")"));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AppointmentService::CreateAppointment(
    grpc::CallbackServerContext* context,
    const v1::CreateAppointmentRequest* request, v1::Appointment* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  CallInfo info(kCreate);
  info.request_id = request->request_id();
  info.provider_id = request->appointment().provider_id();
  const v1::Appointment::Patient& patient = request->appointment().patient();
  info.patient_name = MaskName(patient.display_name());
  if (!patient.email().empty()) info.patient_email = MaskEmail(patient.email());
  if (!patient.phone().empty()) info.patient_phone = MaskPhone(patient.phone());

  absl::Status s = Admit(context, *request, &info);
  const absl::Time now = deps_.clock->Now();
  if (s.ok()) s = ValidateCreateRequest(*request, options_.validation, now);
  if (!s.ok()) {
    FinishUnary(reactor, info, s);
    return reactor;
  }

  CreateIntent intent;
  intent.request_id = request->request_id();
  intent.fingerprint = CreateRequestFingerprint(*request);
  intent.appointment = InputFields(request->appointment());
  intent.appointment.set_id(deps_.ids->NewAppointmentId());
  intent.appointment.set_request_id(request->request_id());
  intent.now = now;
  intent.key_expiry = now + options_.idempotency_ttl;
  intent.book_deadline =
      std::min(FromProtoTimestamp(request->appointment().start_time()),
               now + options_.book_timeout);
  intent.actor = "api";
  info.appointment_id = intent.appointment.id();

  deps_.writer->SubmitCreate(
      std::move(intent), DeadlineOf(context),
      [this, context, reactor, response,
       info = std::move(info)](absl::StatusOr<CreateResult> result) mutable {
        FinishWrite(context, reactor, response, info, std::move(result));
      });
  return reactor;
}

grpc::ServerUnaryReactor* AppointmentService::CancelAppointment(
    grpc::CallbackServerContext* context,
    const v1::CancelAppointmentRequest* request, v1::Appointment* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  CallInfo info(kCancel);
  info.request_id = request->request_id();
  info.appointment_id = request->id();
  absl::Status s = Admit(context, *request, &info);
  if (s.ok()) s = ValidateCancelRequest(*request);
  if (!s.ok()) {
    FinishUnary(reactor, info, s);
    return reactor;
  }
  const absl::Time now = deps_.clock->Now();
  CancelIntent intent;
  intent.appointment_id = request->id();
  intent.request_id = request->request_id();
  intent.fingerprint = CancelRequestFingerprint(*request);
  intent.reason = request->reason();
  intent.now = now;
  intent.key_expiry = now + options_.idempotency_ttl;
  intent.cancel_deadline = now + options_.cancel_timeout;

  deps_.writer->SubmitCancel(
      std::move(intent), DeadlineOf(context),
      [this, context, reactor, response,
       info = std::move(info)](absl::StatusOr<CancelResult> result) mutable {
        FinishWrite(context, reactor, response, info, std::move(result));
      });
  return reactor;
}

grpc::ServerUnaryReactor* AppointmentService::GetAppointment(
    grpc::CallbackServerContext* context,
    const v1::GetAppointmentRequest* request, v1::Appointment* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  CallInfo info(kGet);
  info.appointment_id = request->id();
  absl::Status s = Admit(context, *request, &info);
  if (s.ok()) s = ValidateAppointmentId("id", request->id());
  if (s.ok()) {
    absl::StatusOr<v1::Appointment> a =
        NextReader()->GetAppointment(request->id());
    if (a.ok()) {
      *response = std::move(*a);
      info.state = response->state();
      info.provider_id = response->provider_id();
    }
    s = a.status();
  }
  FinishUnary(reactor, info, s);
  return reactor;
}

grpc::ServerUnaryReactor* AppointmentService::ListAppointments(
    grpc::CallbackServerContext* context,
    const v1::ListAppointmentsRequest* request,
    v1::ListAppointmentsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  CallInfo info(kList);
  info.provider_id = request->provider_id();
  auto serve = [&]() -> absl::Status {
    if (absl::Status s = Admit(context, *request, &info); !s.ok()) return s;
    ListQuery q;
    if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("page_size: must be between 0 and ", kMaxPageSize,
                       " (got ", request->page_size(), ")"));
    }
    q.page_size =
        request->page_size() == 0 ? kDefaultPageSize : request->page_size();
    if (!v1::Appointment::State_IsValid(request->state())) {
      return absl::InvalidArgumentError(
          absl::StrCat("state: unknown state ", request->state()));
    }
    if (request->state() != v1::Appointment::STATE_UNSPECIFIED) {
      q.state = request->state();
    }
    if (!request->provider_id().empty()) {
      if (absl::Status s =
              ValidateUtf8Text("provider_id", request->provider_id(), 1, 128);
          !s.ok()) {
        return s;
      }
      q.provider_id = request->provider_id();
    }
    if (!request->customer_id().empty()) {
      if (absl::Status s = ValidateUtf8Text(
              "customer_id", request->customer_id(), 1, kMaxIdChars);
          !s.ok()) {
        return s;
      }
      q.customer_id = request->customer_id();
    }
    if (!request->page_token().empty()) {
      absl::StatusOr<std::string> before =
          DecodePageToken(request->page_token());
      if (!before.ok()) return before.status();
      q.before_id = std::move(*before);
    }
    absl::StatusOr<ListPage> page = NextReader()->ListAppointments(q);
    if (!page.ok()) return page.status();
    for (Appointment& a : page->appointments) {
      *response->add_appointments() = std::move(a);
    }
    if (page->next_before_id.has_value()) {
      response->set_next_page_token(EncodePageToken(*page->next_before_id));
    }
    info.items = response->appointments_size();
    return absl::OkStatus();
  };
  FinishUnary(reactor, info, serve());
  return reactor;
}

grpc::ServerWriteReactor<v1::Appointment>* AppointmentService::WatchAppointment(
    grpc::CallbackServerContext* context,
    const v1::WatchAppointmentRequest* request) {
  CallInfo info(kWatch);
  info.appointment_id = request->id();
  absl::Status s = Admit(context, *request, &info);
  if (s.ok()) s = ValidateAppointmentId("id", request->id());
  absl::StatusOr<v1::Appointment> initial =
      s.ok() ? NextReader()->GetAppointment(request->id())
             : absl::StatusOr<v1::Appointment>(s);
  if (!initial.ok()) {
    RecordAndLog(info, initial.status());
    return new RefusedWatch(initial.status());
  }
  info.provider_id = initial->provider_id();
  auto call = std::make_shared<WatchCall>(this, deps_.watch_hub,
                                          std::move(info), DeadlineOf(context));
  call->Begin(call, *initial);
  return call.get();
}

}  // namespace booking
