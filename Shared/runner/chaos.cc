#include "Shared/runner/chaos.h"

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "core/common/time_util.h"
#include "core/grpc/status_conversion.h"
#include "core/observability/logging.h"

namespace booking::scenarios {
namespace {

bool Retryable(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL:
      return true;
    default:
      return false;
  }
}

bool IsChaosProvider(const std::string& id) {
  for (const ChaosProvider& p : ChaosProviders()) {
    if (p.provider_id == id) return true;
  }
  return false;
}

}  // namespace

const std::vector<ChaosProvider>& ChaosProviders() {
  static const auto* providers = new std::vector<ChaosProvider>{
      {"chaos-immediate", "immediate", 30},
      {"chaos-flaky", "flaky:fail_fraction=0.3", 15},
      {"chaos-pending", "pending:confirm_after_ms=300", 10},
      {"chaos-delayed", "delayed:delay_ms=1500:fail_first_n=1", 10},
      {"chaos-timeout", "timeout:delay_ms=1500:fail_first_n=1", 5},
      {"chaos-ghost", "confirm_fail:fail_first_n=1", 10},
      {"chaos-ratelimited", "rate_limited:retry_after_ms=100:fail_first_n=1",
       10},
      {"chaos-reject", "reject", 5},
      {"chaos-decline", "decline_later:decline_after_ms=2000", 5},
  };
  return *providers;
}

std::string ChaosModesFlag() {
  std::vector<std::string> parts;
  for (const ChaosProvider& p : ChaosProviders()) {
    parts.push_back(p.provider_id + "=" + p.mode);
  }
  return absl::StrJoin(parts, ",");
}

std::string ChaosProvidersFlag() {
  std::vector<std::string> parts;
  for (const ChaosProvider& p : ChaosProviders())
    parts.push_back(p.provider_id);
  return absl::StrJoin(parts, ",");
}

std::vector<ChaosIntent> ChaosCreate(const ChaosCreateOptions& options) {
  // The plan is a pure function of the seed: which provider, which slot.
  std::mt19937_64 rng(options.seed);
  std::vector<int> weights;
  for (const ChaosProvider& p : ChaosProviders()) weights.push_back(p.weight);
  std::discrete_distribution<int> pick(weights.begin(), weights.end());
  std::vector<ChaosIntent> intents(options.count);
  for (int i = 0; i < options.count; ++i) {
    intents[i].request_id = absl::StrCat("chaos-", options.seed, "-", i);
    intents[i].provider_id = ChaosProviders()[pick(rng)].provider_id;
    intents[i].cancel = std::uniform_real_distribution<double>(0, 1)(rng) <
                        options.cancel_fraction;
  }
  const absl::Time base = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() + absl::Hours(72)) / 60 * 60);

  ApiClient api(options.api_addr);
  std::atomic<int> next{0};
  const absl::Time start = absl::Now();
  auto worker = [&](int thread) {
    std::mt19937_64 jitter(options.seed * 1000 + thread);
    while (true) {
      const int i = next.fetch_add(1);
      if (i >= options.count) return;
      if (options.rate_per_second > 0) {
        const absl::Time due =
            start + absl::Seconds(i / options.rate_per_second);
        const absl::Time now = absl::Now();
        if (due > now) absl::SleepFor(due - now);
      }
      ChaosIntent& intent = intents[i];
      appointments::v1::CreateAppointmentRequest req;
      req.set_request_id(intent.request_id);
      Appointment* a = req.mutable_appointment();
      a->set_customer_id(absl::StrCat("cust-chaos-", i % 97));
      a->set_provider_id(intent.provider_id);
      a->set_location("Room 1");
      *a->mutable_start_time() =
          ToProtoTimestamp(base + absl::Minutes(15 * (i % 2000)));
      a->set_duration_minutes(15);
      a->set_priority(appointments::v1::Appointment::NORMAL);
      a->mutable_patient()->set_display_name("Chaos Patient");
      // One call with retries under the same request_id (a replay if an
      // earlier attempt committed but its answer was lost); returns the
      // final answer's code name.
      auto call_with_retries = [&](auto call, int* attempts,
                                   Appointment* result) {
        const absl::Time give_up = absl::Now() + options.give_up_after;
        absl::Duration backoff = absl::Milliseconds(50);
        while (true) {
          ++*attempts;
          ApiAnswer answer = call();
          if (answer.status.ok()) {
            *result = answer.appointment;
            intent.replayed = intent.replayed || answer.replay;
            return std::string("OK");
          }
          if (!Retryable(answer.status.error_code()) || absl::Now() > give_up) {
            LogEvent(LogLevel::kWarn, "chaos_call_refused")
                .Field("request_id", intent.request_id)
                .Field("error", answer.status.error_message());
            return absl::StatusCodeToString(
                FromGrpcCode(answer.status.error_code()));
          }
          std::uniform_real_distribution<double> u(0.5, 1.0);
          absl::SleepFor(backoff * u(jitter));
          backoff = std::min(backoff * 2, absl::Seconds(1));
        }
      };
      Appointment created;
      const std::string code =
          call_with_retries([&] { return api.Create(req, absl::Seconds(5)); },
                            &intent.attempts, &created);
      if (code != "OK") {
        intent.refused_code = code;
        continue;
      }
      intent.appointment_id = created.id();
      if (intent.cancel) {
        appointments::v1::CancelAppointmentRequest cancel;
        cancel.set_id(intent.appointment_id);
        cancel.set_request_id(intent.request_id + "-cancel");
        cancel.set_reason("chaos");
        int cancel_attempts = 0;
        Appointment cancelled;
        intent.cancel_code = call_with_retries(
            [&] { return api.Cancel(cancel, absl::Seconds(5)); },
            &cancel_attempts, &cancelled);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, options.concurrency); ++t) {
    threads.emplace_back(worker, t);
  }
  for (std::thread& t : threads) t.join();
  return intents;
}

OrderedJson ChaosIntentsJson(uint64_t seed,
                             const std::vector<ChaosIntent>& intents) {
  OrderedJson j;
  j["seed"] = seed;
  j["intents"] = OrderedJson::array();
  for (const ChaosIntent& i : intents) {
    j["intents"].push_back({{"request_id", i.request_id},
                            {"provider_id", i.provider_id},
                            {"appointment_id", i.appointment_id},
                            {"attempts", i.attempts},
                            {"replayed", i.replayed},
                            {"refused_code", i.refused_code},
                            {"cancel", i.cancel},
                            {"cancel_code", i.cancel_code}});
  }
  return j;
}

absl::StatusOr<std::vector<ChaosIntent>> ChaosIntentsFromJson(
    const std::string& text, uint64_t* seed) {
  nlohmann::json root =
      nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object() || !root.contains("intents") ||
      !root["intents"].is_array() || !root.contains("seed") ||
      !root["seed"].is_number_unsigned()) {
    return absl::InvalidArgumentError("not a chaos intents file");
  }
  *seed = root["seed"].get<uint64_t>();
  std::vector<ChaosIntent> out;
  for (const nlohmann::json& j : root["intents"]) {
    ChaosIntent i;
    i.request_id = j.value("request_id", "");
    i.provider_id = j.value("provider_id", "");
    i.appointment_id = j.value("appointment_id", "");
    i.attempts = j.value("attempts", 0);
    i.replayed = j.value("replayed", false);
    i.refused_code = j.value("refused_code", "");
    i.cancel = j.value("cancel", false);
    i.cancel_code = j.value("cancel_code", "");
    out.push_back(std::move(i));
  }
  return out;
}

int64_t ChaosSettle(const std::string& api_addr, absl::Duration timeout) {
  auto stub = appointments::v1::AppointmentService::NewStub(
      grpc::CreateChannel(api_addr, grpc::InsecureChannelCredentials()));
  const Appointment::State transient[] = {
      Appointment::PENDING, Appointment::IN_PROGRESS,
      Appointment::AWAITING_CONFIRMATION, Appointment::CANCELLING,
      Appointment::COMPENSATING};
  const absl::Time give_up = absl::Now() + timeout;
  int64_t left = -1;
  while (true) {
    left = 0;
    bool read_all = true;
    for (Appointment::State state : transient) {
      std::string token;
      do {
        appointments::v1::ListAppointmentsRequest req;
        req.set_state(state);
        req.set_page_size(1000);
        req.set_page_token(token);
        appointments::v1::ListAppointmentsResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
        if (!stub->ListAppointments(&ctx, req, &resp).ok()) {
          read_all = false;
          break;
        }
        for (const Appointment& a : resp.appointments()) {
          if (IsChaosProvider(a.provider_id())) ++left;
        }
        token = resp.next_page_token();
      } while (!token.empty());
    }
    if (read_all && left == 0) return 0;
    if (absl::Now() >= give_up) return read_all ? left : -1;
    absl::SleepFor(absl::Milliseconds(200));
  }
}

absl::StatusOr<ChaosOutcome> ChaosCheck(
    ApiClient& api, MockClient& mock, uint64_t seed,
    const std::vector<ChaosIntent>& intents) {
  ChaosOutcome o;
  o.seed = seed;
  o.intents = static_cast<int64_t>(intents.size());

  // The provider's view: live bookings per key, over every chaos provider.
  std::map<std::string, int64_t> live_by_key;
  std::map<std::string, std::string> provider_of_key;
  for (const ChaosProvider& p : ChaosProviders()) {
    absl::StatusOr<std::vector<provider::v1::Booking>> bookings =
        mock.ListAll(p.provider_id);
    if (!bookings.ok()) return bookings.status();
    for (const provider::v1::Booking& b : *bookings) {
      if (!IsLiveStatus(b.status())) continue;
      ++live_by_key[b.idempotency_key()];
      provider_of_key[b.idempotency_key()] = b.provider_id();
    }
  }

  std::set<std::string> confirmed_ids;
  for (const ChaosIntent& i : intents) {
    o.create_retries += std::max(0, i.attempts - 1);
    if (i.replayed) ++o.replayed;
    if (i.cancel && !i.appointment_id.empty()) ++o.cancels_sent;
    if (i.appointment_id.empty()) {
      ++o.refused;
      o.by_provider[i.provider_id]["REFUSED_" + i.refused_code]++;
      continue;
    }
    ++o.accepted;
    absl::StatusOr<Appointment> a = api.Get(i.appointment_id);
    if (!a.ok()) {
      if (a.status().code() == absl::StatusCode::kNotFound) {
        ++o.lost;
        o.problems.push_back(absl::StrCat("lost: accepted ", i.request_id, " (",
                                          i.appointment_id, ") not found"));
        continue;
      }
      return a.status();
    }
    const std::string state = Appointment::State_Name(a->state());
    o.by_provider[i.provider_id][state]++;
    auto found = live_by_key.find(i.appointment_id);
    const int64_t live = found == live_by_key.end() ? 0 : found->second;
    switch (a->state()) {
      case Appointment::CONFIRMED:
        ++o.confirmed;
        confirmed_ids.insert(i.appointment_id);
        if (live == 0) {
          ++o.lost;
          o.problems.push_back(absl::StrCat("lost: ", i.appointment_id,
                                            " CONFIRMED, no live booking"));
        }
        break;
      case Appointment::CANCELLED:
        ++o.cancelled;
        break;
      case Appointment::FAILED:
        ++o.failed;
        ++o.failed_by_reason[a->failure_reason().empty() ? std::string("(none)")
                                                         : a->failure_reason()];
        break;
      default:
        ++o.unsettled_by_state[state];
        break;
    }
    if (live > 1) {
      o.duplicate += live - 1;
      o.problems.push_back(absl::StrCat("duplicate: ", i.appointment_id,
                                        " has ", live, " live bookings"));
    }
  }
  for (const auto& [key, live] : live_by_key) {
    if (live == 0 || confirmed_ids.count(key)) continue;
    o.orphan += live;
    o.problems.push_back(absl::StrCat("orphan: live booking with key ", key,
                                      " at ", provider_of_key[key],
                                      " whose appointment is not CONFIRMED"));
  }
  int64_t unsettled = 0;
  for (const auto& [state, n] : o.unsettled_by_state) unsettled += n;
  o.pass = o.lost == 0 && o.duplicate == 0 && o.orphan == 0 && unsettled == 0 &&
           o.accepted > 0;
  return o;
}

OrderedJson ToJson(const ChaosOutcome& o) {
  OrderedJson j;
  j["seed"] = o.seed;
  j["pass"] = o.pass;
  j["worker_kills"] = o.worker_kills;
  j["api_restarts"] = o.api_restarts;
  j["intents"] = o.intents;
  j["accepted"] = o.accepted;
  j["refused"] = o.refused;
  j["replayed_creates"] = o.replayed;
  j["create_retries"] = o.create_retries;
  j["confirmed"] = o.confirmed;
  j["cancels_sent"] = o.cancels_sent;
  j["cancelled"] = o.cancelled;
  j["failed"] = o.failed;
  j["failed_by_reason"] = o.failed_by_reason;
  j["unsettled_by_state"] = o.unsettled_by_state;
  j["lost"] = o.lost;
  j["duplicate"] = o.duplicate;
  j["orphan"] = o.orphan;
  j["by_provider"] = o.by_provider;
  j["problems"] = o.problems;
  return j;
}

std::string ChaosSummary(const ChaosOutcome& o) {
  std::string out;
  absl::StrAppend(&out, "seed ", o.seed, ": ", o.worker_kills,
                  " worker kills (SIGKILL), ", o.api_restarts,
                  " api_server kill(s); ", o.intents, " intents, ", o.accepted,
                  " accepted (", o.replayed,
                  " answered as replays after a lost reply, ", o.create_retries,
                  " client retries), ", o.refused, " refused\n");
  absl::StrAppend(&out, "  confirmed ", o.confirmed, ", cancelled ",
                  o.cancelled, " (", o.cancels_sent, " cancels sent), failed ",
                  o.failed);
  if (!o.failed_by_reason.empty()) {
    std::vector<std::string> parts;
    for (const auto& [reason, n] : o.failed_by_reason) {
      parts.push_back(absl::StrCat(reason, " ", n));
    }
    absl::StrAppend(&out, " (", absl::StrJoin(parts, ", "), ")");
  }
  absl::StrAppend(&out, "\n");
  if (!o.unsettled_by_state.empty()) {
    std::vector<std::string> parts;
    for (const auto& [state, n] : o.unsettled_by_state) {
      parts.push_back(absl::StrCat(state, " ", n));
    }
    absl::StrAppend(&out, "  UNSETTLED: ", absl::StrJoin(parts, ", "), "\n");
  }
  absl::StrAppend(&out, "  lost ", o.lost, ", duplicate ", o.duplicate,
                  ", orphan ", o.orphan, "\n");
  for (size_t i = 0; i < o.problems.size() && i < 20; ++i) {
    absl::StrAppend(&out, "  ", o.problems[i], "\n");
  }
  absl::StrAppend(&out, "CHAOS RESULT: ", o.pass ? "PASS" : "FAIL", " (seed ",
                  o.seed, ")\n");
  return out;
}

}  // namespace booking::scenarios
