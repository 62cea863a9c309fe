#include "Shared/runner/evaluate.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace booking::scenarios {
namespace {

void Fail(CaseResult& r, std::string message) {
  r.pass = false;
  r.failures.push_back(std::move(message));
}

void CheckRange(CaseResult& r, const std::string& what, int64_t got,
                const std::optional<Range>& want) {
  if (want.has_value() && !want->Contains(got)) {
    Fail(r, absl::StrCat(what, " ", got, ", want ", want->ToString()));
  }
}

void CheckCount(CaseResult& r, const std::string& what, int64_t got,
                int64_t want) {
  if (got != want) Fail(r, absl::StrCat(what, " ", got, ", want ", want));
}

void CheckCalls(const PathExpectation& expected, bool service, CaseResult& r) {
  std::set<int> listed;
  for (const CallExpectation& e : expected.calls) {
    listed.insert(e.step);
    bool any = false;
    for (const CallRecord& c : r.calls) {
      if (c.step != e.step) continue;
      any = true;
      const bool idempotency =
          e.replay.has_value() || e.code == "ALREADY_EXISTS";
      bool ok = true;
      if (c.code != e.code) {
        ok = false;
        Fail(r, absl::StrCat("step ", e.step, " (", c.op, " ", c.request_id,
                             "): answered ", c.code, ", want ", e.code,
                             c.message.empty() ? "" : " — " + c.message));
      }
      if (e.replay.has_value() && c.replay != *e.replay) {
        ok = false;
        Fail(r, absl::StrCat("step ", e.step, ": idempotent-replay ",
                             c.replay ? "true" : "false", ", want ",
                             *e.replay ? "true" : "false"));
      }
      if (idempotency) {
        ++r.idempotency_checks;
        if (ok) ++r.idempotency_passed;
      }
    }
    if (!any) Fail(r, absl::StrCat("step ", e.step, " made no call"));
  }
  // The service must answer OK wherever the data does not say otherwise.
  if (service) {
    for (const CallRecord& c : r.calls) {
      if (!listed.count(c.step) && c.code != "OK") {
        Fail(r, absl::StrCat("step ", c.step, " (", c.op, "): answered ",
                             c.code, " — ", c.message));
      }
    }
  }
}

}  // namespace

CaseResult Evaluate(const Case& c, const CaseExpectation& expected,
                    const CaseRun& run, const CaseInspection& inspection) {
  const bool service = run.path == kServicePath;
  const PathExpectation& want = service ? expected.service : expected.legacy;
  CaseResult r;
  r.case_id = c.id;
  r.path = run.path;
  r.provider_id = c.provider_id;
  r.mode = c.mode;
  r.calls = run.calls;
  r.bookings = inspection.bookings;
  r.breaker = inspection.breaker;
  r.duration_ms = run.duration_ms;
  for (const std::string& e : run.play_errors) Fail(r, "play: " + e);

  for (const CallRecord& call : run.calls) {
    if (call.code != "OK") ++r.errors;
  }
  CheckCalls(want, service, r);

  // Which intent owns which key.
  std::map<std::string, const IntentRecord*> owner;
  for (const IntentRecord& i : run.intents) {
    for (const std::string& k : i.keys) owner[k] = &i;
  }
  std::map<std::string, int64_t> live_by_key;
  for (const BookingView& b : inspection.bookings) {
    if (b.live) ++live_by_key[b.key];
    if (b.live) ++r.provider_live_bookings;
  }

  for (const IntentRecord& rec : run.intents) {
    IntentResult ir;
    ir.name = rec.name;
    ir.appointment_id = rec.appointment_id;
    ir.keys = rec.keys;
    ir.settle_ms = rec.settle_ms;
    for (const std::string& k : rec.keys) {
      auto calls = inspection.book_calls_by_key.find(k);
      if (calls != inspection.book_calls_by_key.end()) {
        ir.book_calls += calls->second;
      }
      auto live = live_by_key.find(k);
      if (live != live_by_key.end()) ir.live_bookings += live->second;
    }
    bool believes_booked;
    if (service) {
      if (rec.appointment_id.empty()) {
        ir.state = "NOT_CREATED";
      } else {
        auto a = inspection.appointments.find(rec.appointment_id);
        if (a == inspection.appointments.end() || !a->second.found) {
          ir.state = "NOT_FOUND";
        } else {
          ir.state = a->second.state;
          ir.failure_reason = a->second.failure_reason;
          ir.attempts = a->second.attempts;
        }
      }
      believes_booked = ir.state == "CONFIRMED";
    } else {
      bool ever_booked = false;
      for (const CallRecord& call : run.calls) {
        if (call.intent == rec.name && call.op != "cancel" &&
            call.code == "OK") {
          ever_booked = true;
        }
      }
      believes_booked = !rec.held_booking_ids.empty();
      ir.state = believes_booked ? "booked"
                                 : (ever_booked ? "cancelled" : "not booked");
    }

    const IntentExpectation* e = FindIntentExpectation(want, rec.name);
    const IntentExpectation* service_e =
        FindIntentExpectation(expected.service, rec.name);
    const bool expect_booked = service_e != nullptr &&
                               service_e->state.has_value() &&
                               *service_e->state == "CONFIRMED";
    if (e == nullptr && service) {
      Fail(r, "intent " + rec.name + " has no expectation");
    }
    if (e != nullptr) {
      const std::string who = "intent " + rec.name + ":";
      if (service && e->state.has_value() && ir.state != *e->state) {
        Fail(r, absl::StrCat(who, " state ", ir.state, ", want ", *e->state,
                             ir.failure_reason.empty()
                                 ? ""
                                 : " (" + ir.failure_reason + ")"));
      }
      if (e->failure_reason.has_value() &&
          ir.failure_reason != *e->failure_reason) {
        Fail(r, absl::StrCat(who, " failure_reason \"", ir.failure_reason,
                             "\", want \"", *e->failure_reason, "\""));
      }
      if (service) CheckRange(r, who + " attempts", ir.attempts, e->attempts);
      CheckRange(r, who + " book_calls", ir.book_calls, e->book_calls);
      CheckRange(r, who + " live_bookings", ir.live_bookings, e->live_bookings);
    }
    ir.lost = (believes_booked || expect_booked) && ir.live_bookings == 0;
    if (ir.lost) ++r.lost;
    r.duplicate += std::max<int64_t>(0, ir.live_bookings - 1);
    if (service) r.retries += std::max<int64_t>(0, ir.book_calls - 1);
    // One idempotency assertion per intent: never two live bookings.
    ++r.idempotency_checks;
    if (ir.live_bookings <= 1) ++r.idempotency_passed;
    r.intents.push_back(std::move(ir));
  }

  for (const BookingView& b : inspection.bookings) {
    if (!b.live) continue;
    auto o = owner.find(b.key);
    bool held = false;
    if (service) {
      auto a = inspection.appointments.find(b.key);
      held = a != inspection.appointments.end() && a->second.found &&
             a->second.state == "CONFIRMED";
    } else if (o != owner.end()) {
      const auto& ids = o->second->held_booking_ids;
      held = std::find(ids.begin(), ids.end(), b.booking_id) != ids.end();
    }
    if (!held) ++r.orphan;
  }

  CheckRange(r, "provider live bookings", r.provider_live_bookings,
             want.provider_live_bookings);
  if (service) {
    CheckCount(r, "lost", r.lost, want.lost.value_or(0));
    CheckCount(r, "duplicate", r.duplicate, want.duplicate.value_or(0));
    CheckCount(r, "orphan", r.orphan, want.orphan.value_or(0));
  } else {
    if (want.lost.has_value()) CheckCount(r, "lost", r.lost, *want.lost);
    if (want.duplicate.has_value()) {
      CheckCount(r, "duplicate", r.duplicate, *want.duplicate);
    }
    if (want.orphan.has_value())
      CheckCount(r, "orphan", r.orphan, *want.orphan);
  }
  if (want.breaker_opened.has_value()) {
    if (!r.breaker.scraped) {
      Fail(r, "breaker: the worker's /metrics could not be read");
    } else if (*want.breaker_opened) {
      if (r.breaker.openings < 1) Fail(r, "breaker never opened");
      if (r.breaker.state.value_or(0) != 0) {
        Fail(r, absl::StrCat("breaker did not close (state ", *r.breaker.state,
                             ")"));
      }
    } else if (r.breaker.openings != 0) {
      Fail(r, absl::StrCat("breaker opened ", r.breaker.openings, " times"));
    }
  }
  return r;
}

OrderedJson ToJson(const CaseResult& r) {
  OrderedJson j;
  j["case_id"] = r.case_id;
  j["path"] = r.path;
  j["provider_id"] = r.provider_id;
  j["mode"] = r.mode;
  j["pass"] = r.pass;
  j["failures"] = r.failures;
  j["lost"] = r.lost;
  j["duplicate"] = r.duplicate;
  j["orphan"] = r.orphan;
  j["provider_live_bookings"] = r.provider_live_bookings;
  j["retries"] = r.retries;
  j["errors"] = r.errors;
  j["idempotency_checks"] = r.idempotency_checks;
  j["idempotency_passed"] = r.idempotency_passed;
  if (r.breaker.scraped) {
    j["breaker"] = {{"openings", r.breaker.openings},
                    {"closings", r.breaker.closings}};
    if (r.breaker.state.has_value()) j["breaker"]["state"] = *r.breaker.state;
  }
  j["duration_ms"] = r.duration_ms;
  j["intents"] = OrderedJson::array();
  for (const IntentResult& i : r.intents) {
    OrderedJson ij;
    ij["name"] = i.name;
    if (!i.appointment_id.empty()) ij["appointment_id"] = i.appointment_id;
    ij["keys"] = i.keys;
    ij["state"] = i.state;
    if (!i.failure_reason.empty()) ij["failure_reason"] = i.failure_reason;
    if (r.path == kServicePath) ij["attempts"] = i.attempts;
    ij["book_calls"] = i.book_calls;
    ij["live_bookings"] = i.live_bookings;
    ij["lost"] = i.lost;
    if (i.settle_ms.has_value()) ij["settle_ms"] = *i.settle_ms;
    j["intents"].push_back(std::move(ij));
  }
  j["calls"] = OrderedJson::array();
  for (const CallRecord& c : r.calls) j["calls"].push_back(ToJson(c));
  j["bookings"] = OrderedJson::array();
  for (const BookingView& b : r.bookings) j["bookings"].push_back(ToJson(b));
  return j;
}

}  // namespace booking::scenarios
