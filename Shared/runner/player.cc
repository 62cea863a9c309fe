#include "Shared/runner/player.h"

#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/common/time_util.h"
#include "core/grpc/status_conversion.h"
#include "core/observability/logging.h"

namespace booking::scenarios {
namespace {

std::string CodeName(absl::StatusCode code) {
  return absl::StatusCodeToString(code);
}

double ToMs(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

IntentRecord& IntentFor(CaseRun& run, const std::string& name) {
  if (IntentRecord* r = run.FindIntent(name)) return *r;
  IntentRecord r;
  r.name = name;
  run.intents.push_back(std::move(r));
  return run.intents.back();
}

// The intents a step names: the intent itself, or every "<intent>-N" of a
// burst.
std::vector<IntentRecord*> Resolve(CaseRun& run, const std::string& name) {
  std::vector<IntentRecord*> out;
  if (IntentRecord* r = run.FindIntent(name)) {
    out.push_back(r);
    return out;
  }
  for (IntentRecord& r : run.intents) {
    if (absl::StartsWith(r.name, name + "-")) out.push_back(&r);
  }
  return out;
}

// What wait_breaker's names mean in outbox_breaker_state.
int BreakerGauge(const std::string& state) {
  if (state == "OPEN") return 1;
  if (state == "HALF_OPEN") return 2;
  return 0;
}

}  // namespace

Player::Player(const ScenarioData& data, PlayerOptions options,
               absl::Time base_start)
    : data_(data),
      options_(std::move(options)),
      base_start_(base_start),
      api_(options_.api_addr),
      mock_(options_.mock_addr),
      legacy_mock_(options_.legacy_mock_addr) {
  legacy_provider_ =
      std::make_unique<GrpcProviderClient>(options_.legacy_mock_addr);
  legacy_ = std::make_unique<legacy::LegacyBooker>(
      legacy_provider_.get(), options_.legacy_timeout, options_.seed);
}

appointments::v1::Appointment Player::AppointmentFor(const Case& c,
                                                     const Step& s) {
  const Defaults& d = data_.defaults;
  appointments::v1::Appointment a;
  a.set_customer_id(d.customer_id);
  a.set_provider_id(c.provider_id);
  a.set_location(d.location);
  *a.mutable_start_time() =
      ToProtoTimestamp(base_start_ + absl::Minutes(s.start_offset_minutes));
  a.set_duration_minutes(d.duration_minutes);
  appointments::v1::Appointment::Priority priority;
  if (!appointments::v1::Appointment::Priority_Parse(d.priority, &priority)) {
    priority = appointments::v1::Appointment::NORMAL;
  }
  a.set_priority(priority);
  a.mutable_patient()->set_display_name(d.patient.display_name);
  a.mutable_patient()->set_email(d.patient.email);
  a.mutable_patient()->set_phone(d.patient.phone);
  a.set_notes(d.notes);
  return a;
}

bool Player::PollUntil(const std::function<bool()>& done) {
  const absl::Time give_up = absl::Now() + options_.wait_timeout;
  while (true) {
    if (done()) return true;
    if (absl::Now() >= give_up) return false;
    absl::SleepFor(options_.poll_interval);
  }
}

void Player::LogCall(const Case& c, const CaseRun& run,
                     const CallRecord& call) {
  // Ids only: the patient fields never reach the log.
  LogEvent(call.code == "OK" ? LogLevel::kInfo : LogLevel::kWarn,
           "scenario_call")
      .Field("path", run.path)
      .Field("case", c.id)
      .Field("step", call.step)
      .Field("op", call.op)
      .Field("request_id", call.request_id)
      .Field("provider_id", c.provider_id)
      .Field("appointment_id", call.appointment_id)
      .Field("booking_id", call.booking_id)
      .Field("code", call.code)
      .Field("replay", call.replay)
      .Field("latency_ms", call.latency_ms);
}

bool Player::PlayCommonStep(const Case& c, const Step& s, MockClient& mock,
                            CaseRun& run) {
  switch (s.op) {
    case Op::kSetMode: {
      absl::Status st = mock.SetMode(c.provider_id, s.mode);
      if (!st.ok()) run.play_errors.push_back("set_mode: " + st.ToString());
      return true;
    }
    case Op::kInjectOrphan: {
      provider::v1::Booking b;
      b.set_provider_id(c.provider_id);
      b.set_idempotency_key("orphan-" + c.id);
      *b.mutable_start_time() =
          ToProtoTimestamp(base_start_ + absl::Minutes(s.start_offset_minutes));
      b.set_duration_minutes(data_.defaults.duration_minutes);
      b.set_location(data_.defaults.location);
      b.set_customer_ref("unknown");
      b.set_status(provider::v1::Booking::CONFIRMED);
      absl::StatusOr<provider::v1::Booking> injected = mock.Inject(b);
      if (!injected.ok()) {
        run.play_errors.push_back("inject_orphan: " +
                                  injected.status().ToString());
      }
      return true;
    }
    case Op::kWaitProviderLive: {
      for (IntentRecord* rec : Resolve(run, s.intent)) {
        int64_t live = -1;
        const bool ok = PollUntil([&] {
          live = 0;
          for (const std::string& key : rec->keys) {
            absl::StatusOr<provider::v1::KeyStats> k =
                mock.KeyStats(c.provider_id, key);
            if (!k.ok()) return false;
            live += k->live_bookings();
          }
          return live == s.live_bookings;
        });
        if (!ok) {
          run.play_errors.push_back(
              absl::StrCat("wait_provider_live ", rec->name, ": ", live,
                           " live bookings, want ", s.live_bookings));
        }
      }
      return true;
    }
    default:
      return false;
  }
}

CaseRun Player::PlayLegacy(const Case& c) {
  CaseRun run;
  run.case_id = c.id;
  run.path = kLegacyPath;
  const absl::Time begin = absl::Now();
  auto book = [&](int step, const Step& s, const std::string& intent,
                  const std::string& request_id) {
    legacy::LegacyBookRequest r;
    r.provider_id = c.provider_id;
    r.start_time = base_start_ + absl::Minutes(s.start_offset_minutes);
    r.duration_minutes = data_.defaults.duration_minutes;
    r.location = data_.defaults.location;
    r.customer_ref = data_.defaults.customer_id;
    legacy::LegacyResult res = legacy_->Book(r);
    IntentRecord& rec = IntentFor(run, intent);
    rec.keys.push_back(res.idempotency_key);
    if (res.status.ok()) rec.held_booking_ids.push_back(res.booking_id);
    CallRecord call;
    call.step = step;
    call.op = "create";
    call.intent = intent;
    call.request_id = request_id;
    call.code = CodeName(res.status.code());
    call.message = std::string(res.status.message());
    call.latency_ms = ToMs(res.latency);
    call.booking_id = res.booking_id;
    if (res.status.ok()) {
      call.booking_status = legacy::BookingStatusName(res.booking_status);
    }
    call.key = res.idempotency_key;
    LogCall(c, run, call);
    run.calls.push_back(std::move(call));
  };

  for (int i = 0; i < static_cast<int>(c.steps.size()); ++i) {
    const Step& s = c.steps[i];
    if (PlayCommonStep(c, s, legacy_mock_, run)) continue;
    switch (s.op) {
      case Op::kCreate:
        book(i, s, s.intent, s.request_id);
        break;
      case Op::kCreateBurst:
        // A front-end without a queue books one after another.
        for (int k = 0; k < s.count; ++k) {
          book(i, s, absl::StrCat(s.intent, "-", k),
               absl::StrCat(s.request_id, "-", k));
        }
        break;
      case Op::kCancel: {
        IntentRecord& rec = IntentFor(run, s.intent);
        if (rec.held_booking_ids.empty()) {
          // Nothing it knows of to cancel: whatever the provider holds stays.
          CallRecord call;
          call.step = i;
          call.op = "cancel";
          call.intent = s.intent;
          call.request_id = s.request_id;
          call.code = "NOTHING_TO_CANCEL";
          call.message = "the legacy client holds no booking id";
          LogCall(c, run, call);
          run.calls.push_back(std::move(call));
          break;
        }
        std::vector<std::string> still_held;
        for (const std::string& id : rec.held_booking_ids) {
          legacy::LegacyResult res = legacy_->Cancel(c.provider_id, id);
          CallRecord call;
          call.step = i;
          call.op = "cancel";
          call.intent = s.intent;
          call.request_id = s.request_id;
          call.code = CodeName(res.status.code());
          call.message = std::string(res.status.message());
          call.latency_ms = ToMs(res.latency);
          call.booking_id = id;
          if (!res.status.ok()) still_held.push_back(id);
          LogCall(c, run, call);
          run.calls.push_back(std::move(call));
        }
        rec.held_booking_ids = still_held;
        break;
      }
      default:
        // wait_state, wait_provider_calls, wait_breaker: the legacy client
        // has nothing running in the background to wait for.
        break;
    }
  }
  run.duration_ms = ToMs(absl::Now() - begin);
  return run;
}

CaseRun Player::PlayService(const Case& c) {
  CaseRun run;
  run.case_id = c.id;
  run.path = kServicePath;
  const absl::Time begin = absl::Now();
  std::map<std::string, absl::Time> created_at;

  auto record_create = [&](int step, const std::string& intent,
                           const std::string& request_id,
                           const ApiAnswer& answer, absl::Time sent) {
    IntentRecord& rec = IntentFor(run, intent);
    CallRecord call;
    call.step = step;
    call.op = "create";
    call.intent = intent;
    call.request_id = request_id;
    call.code = CodeName(FromGrpcCode(answer.status.error_code()));
    call.message = answer.status.error_message();
    call.replay = answer.replay;
    call.latency_ms = ToMs(answer.latency);
    if (answer.status.ok()) {
      call.appointment_id = answer.appointment.id();
      if (rec.appointment_id.empty()) {
        rec.appointment_id = answer.appointment.id();
        rec.keys = {answer.appointment.id()};
        created_at[intent] = sent;
      }
    }
    LogCall(c, run, call);
    run.calls.push_back(std::move(call));
  };
  auto create_request = [&](const Step& s, const std::string& request_id) {
    appointments::v1::CreateAppointmentRequest req;
    req.set_request_id(request_id);
    *req.mutable_appointment() = AppointmentFor(c, s);
    return req;
  };

  for (int i = 0; i < static_cast<int>(c.steps.size()); ++i) {
    const Step& s = c.steps[i];
    if (PlayCommonStep(c, s, mock_, run)) continue;
    switch (s.op) {
      case Op::kCreate: {
        const absl::Time sent = absl::Now();
        ApiAnswer answer =
            api_.Create(create_request(s, s.request_id), options_.api_deadline);
        record_create(i, s.intent, s.request_id, answer, sent);
        break;
      }
      case Op::kCreateBurst: {
        // All at once, as several front-end threads would.
        std::vector<ApiAnswer> answers(s.count);
        std::vector<absl::Time> sent(s.count);
        std::vector<std::thread> threads;
        for (int k = 0; k < s.count; ++k) {
          threads.emplace_back([&, k] {
            sent[k] = absl::Now();
            answers[k] = api_.Create(
                create_request(s, absl::StrCat(s.request_id, "-", k)),
                options_.api_deadline);
          });
        }
        for (std::thread& t : threads) t.join();
        for (int k = 0; k < s.count; ++k) {
          record_create(i, absl::StrCat(s.intent, "-", k),
                        absl::StrCat(s.request_id, "-", k), answers[k],
                        sent[k]);
        }
        break;
      }
      case Op::kCancel: {
        IntentRecord& rec = IntentFor(run, s.intent);
        if (rec.appointment_id.empty()) {
          run.play_errors.push_back("cancel " + s.intent +
                                    ": no appointment was created");
          break;
        }
        appointments::v1::CancelAppointmentRequest req;
        req.set_id(rec.appointment_id);
        req.set_request_id(s.request_id);
        req.set_reason("scenario " + c.id);
        ApiAnswer answer = api_.Cancel(req, options_.api_deadline);
        CallRecord call;
        call.step = i;
        call.op = "cancel";
        call.intent = s.intent;
        call.request_id = s.request_id;
        call.code = CodeName(FromGrpcCode(answer.status.error_code()));
        call.message = answer.status.error_message();
        call.replay = answer.replay;
        call.latency_ms = ToMs(answer.latency);
        call.appointment_id = rec.appointment_id;
        LogCall(c, run, call);
        run.calls.push_back(std::move(call));
        break;
      }
      case Op::kWaitState: {
        std::vector<IntentRecord*> intents = Resolve(run, s.intent);
        if (intents.empty()) {
          run.play_errors.push_back("wait_state: no intent " + s.intent);
        }
        for (IntentRecord* rec : intents) {
          if (rec->appointment_id.empty()) {
            run.play_errors.push_back("wait_state " + rec->name +
                                      ": no appointment was created");
            continue;
          }
          std::string last = "unknown";
          const bool ok = PollUntil([&] {
            absl::StatusOr<Appointment> a = api_.Get(rec->appointment_id);
            if (!a.ok()) return false;
            last = Appointment::State_Name(a->state());
            for (const std::string& want : s.states) {
              if (last == want) return true;
            }
            return false;
          });
          if (ok) {
            rec->settle_ms = ToMs(absl::Now() - created_at[rec->name]);
          } else {
            run.play_errors.push_back(absl::StrCat(
                "wait_state ", rec->name, ": still ", last, " after ",
                absl::FormatDuration(options_.wait_timeout)));
          }
        }
        break;
      }
      case Op::kWaitProviderCalls: {
        int64_t calls = 0;
        const bool ok = PollUntil([&] {
          if (!s.intent.empty()) {
            IntentRecord* rec = run.FindIntent(s.intent);
            if (rec == nullptr || rec->appointment_id.empty()) return false;
            absl::StatusOr<provider::v1::KeyStats> k =
                mock_.KeyStats(c.provider_id, rec->appointment_id);
            if (!k.ok()) return false;
            calls = k->book_calls();
          } else {
            absl::StatusOr<provider::v1::StatsResponse> st =
                mock_.Stats(c.provider_id);
            if (!st.ok()) return false;
            calls = 0;
            for (const auto& t : st->totals()) {
              if (t.provider_id() == c.provider_id) calls = t.book_calls();
            }
          }
          return calls >= s.min_book_calls;
        });
        if (!ok) {
          run.play_errors.push_back(absl::StrCat("wait_provider_calls: ", calls,
                                                 " book calls, want ",
                                                 s.min_book_calls));
        }
        break;
      }
      case Op::kWaitBreaker: {
        if (options_.worker_metrics.empty()) {
          run.play_errors.push_back("wait_breaker needs --worker_metrics");
          break;
        }
        const int want = BreakerGauge(s.breaker_state);
        int last = -1;
        const bool ok = PollUntil([&] {
          absl::StatusOr<std::string> page =
              ScrapeMetrics(options_.worker_metrics);
          if (!page.ok()) return false;
          std::optional<double> v =
              MetricValue(ParseMetrics(*page), "outbox_breaker_state",
                          {{"provider", c.provider_id}});
          last = v.has_value() ? static_cast<int>(*v) : 0;
          return last == want;
        });
        if (!ok) {
          run.play_errors.push_back(absl::StrCat("wait_breaker: breaker state ",
                                                 last, ", want ", want, " (",
                                                 s.breaker_state, ")"));
        }
        break;
      }
      default:
        run.play_errors.push_back(
            absl::StrCat("step ", i, ": op ", OpName(s.op), " not handled"));
        break;
    }
  }
  run.duration_ms = ToMs(absl::Now() - begin);
  return run;
}

namespace {

absl::Status FillProviderView(const Case& c, MockClient& mock,
                              CaseInspection& out) {
  absl::StatusOr<std::vector<provider::v1::Booking>> bookings =
      mock.ListAll(c.provider_id);
  if (!bookings.ok()) return bookings.status();
  for (const provider::v1::Booking& b : *bookings) {
    BookingView v;
    v.booking_id = b.booking_id();
    v.key = b.idempotency_key();
    v.status = provider::v1::Booking::Status_Name(b.status());
    v.live = IsLiveStatus(b.status());
    out.bookings.push_back(std::move(v));
  }
  absl::StatusOr<provider::v1::StatsResponse> stats = mock.Stats(c.provider_id);
  if (!stats.ok()) return stats.status();
  for (const auto& k : stats->keys()) {
    out.book_calls_by_key[k.idempotency_key()] += k.book_calls();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CaseInspection> InspectLegacy(const Case& c, const CaseRun& run,
                                             MockClient& mock) {
  (void)run;
  CaseInspection out;
  absl::Status s = FillProviderView(c, mock, out);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<CaseInspection> InspectService(
    const Case& c, const CaseRun& run, ApiClient& api, MockClient& mock,
    const std::vector<MetricSample>* metrics) {
  CaseInspection out;
  absl::Status s = FillProviderView(c, mock, out);
  if (!s.ok()) return s;
  std::vector<std::string> ids;
  for (const IntentRecord& i : run.intents) {
    if (!i.appointment_id.empty()) ids.push_back(i.appointment_id);
  }
  for (const BookingView& b : out.bookings) {
    if (b.live) ids.push_back(b.key);
  }
  for (const std::string& id : ids) {
    if (out.appointments.count(id)) continue;
    AppointmentView v;
    absl::StatusOr<Appointment> a = api.Get(id);
    if (a.ok()) {
      v.found = true;
      v.state = Appointment::State_Name(a->state());
      v.failure_reason = a->failure_reason();
      v.attempts = a->attempt_count();
    } else if (a.status().code() != absl::StatusCode::kNotFound &&
               a.status().code() != absl::StatusCode::kInvalidArgument) {
      return a.status();
    }
    out.appointments[id] = v;
  }
  if (metrics != nullptr) {
    out.breaker.scraped = true;
    out.breaker.openings = static_cast<int64_t>(
        SumMetric(*metrics, "outbox_breaker_transitions_total",
                  {{"provider", c.provider_id}, {"to", "OPEN"}}));
    out.breaker.closings = static_cast<int64_t>(
        SumMetric(*metrics, "outbox_breaker_transitions_total",
                  {{"provider", c.provider_id}, {"to", "CLOSED"}}));
    std::optional<double> state = MetricValue(*metrics, "outbox_breaker_state",
                                              {{"provider", c.provider_id}});
    if (state.has_value()) out.breaker.state = static_cast<int>(*state);
  }
  return out;
}

}  // namespace booking::scenarios
