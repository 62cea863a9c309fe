#include "bench/operations.h"

#include <functional>
#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/common/time_util.h"

namespace booking::bench {
namespace {

using ::appointments::v1::Appointment;
using ::appointments::v1::AppointmentService;
using ::appointments::v1::CreateAppointmentRequest;
using ::appointments::v1::WatchAppointmentRequest;

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoNanoseconds(d);
}

// The e2e operation's CreateAppointment call; owned by its callback.
struct CreateCall {
  grpc::ClientContext context;
  CreateAppointmentRequest request;
  Appointment response;
};

// Stubs for `Service`, one per channel; call `seq` uses them in turn.
template <typename Service>
std::vector<std::unique_ptr<typename Service::Stub>> StubsFor(
    const OperationOptions& o) {
  std::vector<std::unique_ptr<typename Service::Stub>> stubs;
  for (const auto& channel : o.channels) {
    stubs.push_back(Service::NewStub(channel));
  }
  return stubs;
}

// One unary method of `Service` per call (ping, noop, create). `invoke`
// starts the call through the stub's async() interface; `fill` writes call
// `seq`'s request (empty: the request stays default).
template <typename Service, typename Request, typename Response>
class UnaryOperation final : public Operation {
 public:
  using Stub = typename Service::Stub;
  using Invoke =
      std::function<void(Stub*, grpc::ClientContext*, const Request*, Response*,
                         std::function<void(grpc::Status)>)>;
  using Fill = std::function<void(int64_t seq, Request*)>;

  UnaryOperation(const OperationOptions& o, Invoke invoke, Fill fill)
      : options_(o),
        stubs_(StubsFor<Service>(o)),
        invoke_(std::move(invoke)),
        fill_(std::move(fill)) {}

  void Start(int64_t seq, Done done) override {
    // Deleted by the completion callback.
    struct Call {
      grpc::ClientContext context;
      Request request;
      Response response;
    };
    auto* call = new Call;
    if (fill_) fill_(seq, &call->request);
    call->context.set_deadline(DeadlineIn(options_.call_timeout));
    invoke_(stubs_[seq % stubs_.size()].get(), &call->context, &call->request,
            &call->response,
            [call, done = std::move(done)](grpc::Status status) {
              delete call;
              done(status);
            });
  }

 private:
  const OperationOptions options_;
  const std::vector<std::unique_ptr<Stub>> stubs_;
  const Invoke invoke_;
  const Fill fill_;
};

class E2eOperation;

// Watches one appointment until it is CONFIRMED (then cancels the stream) or
// reaches another terminal state. Deletes itself when the stream is done.
class ConfirmWatch final : public grpc::ClientReadReactor<Appointment> {
 public:
  struct Times {
    SteadyTime create_start;
    SteadyTime create_ok;
    absl::Time create_ok_wall;
  };

  ConfirmWatch(E2eOperation* op, Times times, Operation::Done done)
      : op_(op), times_(times), done_(std::move(done)) {}

  void Begin(AppointmentService::Stub* stub, const std::string& id,
             absl::Duration timeout) {
    request_.set_id(id);
    context_.set_deadline(DeadlineIn(timeout));
    stub->async()->WatchAppointment(&context_, &request_, this);
    StartRead(&update_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended; OnDone follows
    final_state_ = update_.state();
    if (update_.state() == Appointment::CONFIRMED) {
      confirmed_at_ = SteadyNow();
      confirmed_commit_ = FromProtoTimestamp(update_.update_time());
      confirmed_ = true;
      context_.TryCancel();  // CONFIRMED is not terminal; stop watching
      return;
    }
    if (update_.state() == Appointment::FAILED ||
        update_.state() == Appointment::CANCELLED) {
      return;  // terminal: the server ends the stream
    }
    StartRead(&update_);
  }

  void OnDone(const grpc::Status& status) override;

 private:
  E2eOperation* const op_;
  const Times times_;
  Operation::Done done_;
  grpc::ClientContext context_;
  WatchAppointmentRequest request_;
  Appointment update_;
  Appointment::State final_state_ = Appointment::STATE_UNSPECIFIED;
  bool confirmed_ = false;
  SteadyTime confirmed_at_;
  absl::Time confirmed_commit_;
};

class E2eOperation final : public Operation {
 public:
  explicit E2eOperation(const OperationOptions& o)
      : options_(o), stubs_(StubsFor<AppointmentService>(o)) {}

  void Start(int64_t seq, Done done) override {
    auto* call = new CreateCall;
    options_.requests->Fill(seq, &call->request);
    call->context.set_deadline(DeadlineIn(options_.call_timeout));
    AppointmentService::Stub* stub = stubs_[seq % stubs_.size()].get();
    const SteadyTime start = SteadyNow();
    stub->async()->CreateAppointment(
        &call->context, &call->request, &call->response,
        [this, call, stub, start, done = std::move(done)](grpc::Status status) {
          std::unique_ptr<CreateCall> owned(call);
          if (!status.ok()) {
            done(status);
            return;
          }
          ConfirmWatch::Times times{start, SteadyNow(), absl::Now()};
          auto* watch = new ConfirmWatch(this, times, std::move(done));
          watch->Begin(stub, owned->response.id(), options_.confirm_timeout);
        });
  }

  // Called by a finished watch (any thread).
  void Record(SteadyTime now, const ConfirmWatch::Times& t, bool confirmed,
              SteadyTime confirmed_at, absl::Time confirmed_commit,
              Appointment::State final_state) {
    if (!options_.window->Contains(now)) return;
    create_ms_.RecordNanos(NanosBetween(t.create_start, t.create_ok));
    if (confirmed) {
      confirm_ms_.RecordNanos(
          absl::ToInt64Nanoseconds(confirmed_commit - t.create_ok_wall));
      observed_ms_.RecordNanos(NanosBetween(t.create_ok, confirmed_at));
    }
    absl::MutexLock lock(&mu_);
    ++final_states_[Appointment::State_Name(final_state)];
  }

  void Report(nlohmann::json* out) const override {
    (*out)["create_ms"] = create_ms_.ToJsonMillis();
    (*out)["confirm_ms"] = confirm_ms_.ToJsonMillis();
    (*out)["confirm_observed_ms"] = observed_ms_.ToJsonMillis();
    absl::MutexLock lock(&mu_);
    (*out)["final_states"] = final_states_;
  }

 private:
  const OperationOptions options_;
  const std::vector<std::unique_ptr<AppointmentService::Stub>> stubs_;
  LatencyHistogram create_ms_;
  LatencyHistogram confirm_ms_;
  LatencyHistogram observed_ms_;
  mutable absl::Mutex mu_;
  std::map<std::string, int64_t> final_states_ ABSL_GUARDED_BY(mu_);
};

void ConfirmWatch::OnDone(const grpc::Status& status) {
  op_->Record(SteadyNow(), times_, confirmed_, confirmed_at_, confirmed_commit_,
              final_state_);
  grpc::Status result = grpc::Status::OK;
  if (!confirmed_) {
    result =
        status.ok() || status.error_code() == grpc::StatusCode::CANCELLED
            ? grpc::Status(grpc::StatusCode::ABORTED,
                           absl::StrCat("watch ended in ",
                                        Appointment::State_Name(final_state_)))
            : status;
  }
  Operation::Done done = std::move(done_);
  delete this;
  done(result);
}

}  // namespace

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& target, int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    // Distinct args keep gRPC from sharing one subchannel (connection).
    args.SetInt("bench.channel_index", i);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels.push_back(grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

std::unique_ptr<Operation> MakeNoopOperation(const OperationOptions& o) {
  using Noop = ::bench::v1::NoopService;
  return std::make_unique<
      UnaryOperation<Noop, CreateAppointmentRequest, Appointment>>(
      o,
      [](Noop::Stub* stub, grpc::ClientContext* context,
         const CreateAppointmentRequest* request, Appointment* response,
         std::function<void(grpc::Status)> done) {
        stub->async()->Echo(context, request, response, std::move(done));
      },
      [requests = o.requests](int64_t seq, CreateAppointmentRequest* r) {
        requests->Fill(seq, r);
      });
}
std::unique_ptr<Operation> MakePingOperation(const OperationOptions& o) {
  using Noop = ::bench::v1::NoopService;
  using ::bench::v1::PingRequest;
  using ::bench::v1::PingResponse;
  return std::make_unique<UnaryOperation<Noop, PingRequest, PingResponse>>(
      o,
      [](Noop::Stub* stub, grpc::ClientContext* context,
         const PingRequest* request, PingResponse* response,
         std::function<void(grpc::Status)> done) {
        stub->async()->Ping(context, request, response, std::move(done));
      },
      nullptr);
}
std::unique_ptr<Operation> MakeCreateOperation(const OperationOptions& o) {
  return std::make_unique<UnaryOperation<
      AppointmentService, CreateAppointmentRequest, Appointment>>(
      o,
      [](AppointmentService::Stub* stub, grpc::ClientContext* context,
         const CreateAppointmentRequest* request, Appointment* response,
         std::function<void(grpc::Status)> done) {
        stub->async()->CreateAppointment(context, request, response,
                                         std::move(done));
      },
      [requests = o.requests](int64_t seq, CreateAppointmentRequest* r) {
        requests->Fill(seq, r);
      });
}
std::unique_ptr<Operation> MakeE2eOperation(const OperationOptions& o) {
  return std::make_unique<E2eOperation>(o);
}

}  // namespace booking::bench
