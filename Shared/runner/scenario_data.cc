#include "Shared/runner/scenario_data.h"

#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace booking::scenarios {
namespace {

using Json = nlohmann::json;

// Reads the fields of one JSON object, remembering which keys were read so
// that Finish() can refuse unknown ones (typos). Errors name the spot.
class ObjectReader {
 public:
  ObjectReader(const Json& object, std::string where)
      : object_(object), where_(std::move(where)) {
    if (!object_.is_object()) Fail("must be an object");
  }

  bool Has(const std::string& key) const {
    return object_.is_object() && object_.contains(key);
  }

  std::string String(const std::string& key, bool required,
                     std::string fallback = "") {
    const Json* v = Get(key, required);
    if (v == nullptr) return fallback;
    if (!v->is_string()) {
      Fail(key + " must be a string");
      return fallback;
    }
    return v->get<std::string>();
  }

  int64_t Int(const std::string& key, bool required, int64_t fallback = 0) {
    const Json* v = Get(key, required);
    if (v == nullptr) return fallback;
    if (!v->is_number_integer()) {
      Fail(key + " must be an integer");
      return fallback;
    }
    return v->get<int64_t>();
  }

  std::optional<bool> Bool(const std::string& key) {
    const Json* v = Get(key, false);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) {
      Fail(key + " must be true or false");
      return std::nullopt;
    }
    return v->get<bool>();
  }

  // An integer (exact) or {"min": a, "max": b}.
  std::optional<Range> RangeField(const std::string& key) {
    const Json* v = Get(key, false);
    if (v == nullptr) return std::nullopt;
    if (v->is_number_integer()) {
      const int64_t n = v->get<int64_t>();
      return Range{n, n};
    }
    ObjectReader r(*v, where_ + "." + key);
    Range range{r.Int("min", true), r.Int("max", true)};
    Absorb(r.Finish());
    if (range.min > range.max) Fail(key + ": min > max");
    return range;
  }

  // Null if absent (and not required) or not an object/array as asked.
  const Json* Get(const std::string& key, bool required) {
    seen_.insert(key);
    if (!Has(key)) {
      if (required) Fail(key + " is required");
      return nullptr;
    }
    return &object_.at(key);
  }

  void Fail(const std::string& message) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(absl::StrCat(where_, ": ", message));
    }
  }
  void Absorb(const absl::Status& s) {
    if (status_.ok() && !s.ok()) status_ = s;
  }
  const std::string& where() const { return where_; }

  absl::Status Finish() {
    if (object_.is_object()) {
      for (auto it = object_.begin(); it != object_.end(); ++it) {
        if (!seen_.count(it.key())) Fail("unknown key " + it.key());
      }
    }
    return status_;
  }

 private:
  const Json& object_;
  std::string where_;
  std::set<std::string> seen_;
  absl::Status status_;
};

absl::StatusOr<Json> ParseJson(absl::string_view text, absl::string_view what) {
  Json root = Json::parse(text.begin(), text.end(), nullptr,
                          /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not valid JSON"));
  }
  return root;
}

struct OpEntry {
  Op op;
  const char* name;
};
constexpr OpEntry kOps[] = {
    {Op::kCreate, "create"},
    {Op::kCreateBurst, "create_burst"},
    {Op::kWaitState, "wait_state"},
    {Op::kWaitProviderCalls, "wait_provider_calls"},
    {Op::kWaitProviderLive, "wait_provider_live"},
    {Op::kWaitBreaker, "wait_breaker"},
    {Op::kSetMode, "set_mode"},
    {Op::kCancel, "cancel"},
    {Op::kInjectOrphan, "inject_orphan"},
};

const std::set<std::string>& KnownStates() {
  static const auto* states = new std::set<std::string>{
      "PENDING",   "IN_PROGRESS", "AWAITING_CONFIRMATION",
      "CONFIRMED", "CANCELLING",  "COMPENSATING",
      "CANCELLED", "FAILED"};
  return *states;
}

Step ParseStep(const Json& j, const std::string& where, ObjectReader& parent) {
  ObjectReader r(j, where);
  Step s;
  const std::string op = r.String("op", true);
  bool known = false;
  for (const OpEntry& e : kOps) {
    if (op == e.name) {
      s.op = e.op;
      known = true;
    }
  }
  if (!known) r.Fail("unknown op " + op);
  s.intent = r.String("intent", false);
  s.request_id = r.String("request_id", false);
  s.count = static_cast<int>(r.Int("count", false, 1));
  s.start_offset_minutes =
      static_cast<int>(r.Int("start_offset_minutes", false, 0));
  if (const Json* states = r.Get("states", false)) {
    if (!states->is_array()) r.Fail("states must be an array");
    for (const Json& st : states->is_array() ? *states : Json::array()) {
      if (!st.is_string() || !KnownStates().count(st.get<std::string>())) {
        r.Fail("states: unknown state " + st.dump());
        continue;
      }
      s.states.push_back(st.get<std::string>());
    }
  }
  s.mode = r.String("mode", false);
  s.min_book_calls = r.Int("min_book_calls", false, 0);
  s.live_bookings = r.Int("live_bookings", false, 0);
  s.breaker_state = r.String("state", false);

  // What each op needs.
  switch (s.op) {
    case Op::kCreate:
    case Op::kCancel:
      if (s.intent.empty() || s.request_id.empty()) {
        r.Fail(std::string(op) + " needs intent and request_id");
      }
      break;
    case Op::kCreateBurst:
      if (s.intent.empty() || s.request_id.empty() || s.count < 1) {
        r.Fail("create_burst needs intent, request_id and count >= 1");
      }
      break;
    case Op::kWaitState:
      if (s.intent.empty() || s.states.empty()) {
        r.Fail("wait_state needs intent and states");
      }
      break;
    case Op::kWaitProviderCalls:
      if (s.min_book_calls < 1)
        r.Fail("wait_provider_calls needs min_book_calls");
      break;
    case Op::kWaitProviderLive:
      if (s.intent.empty()) r.Fail("wait_provider_live needs intent");
      break;
    case Op::kWaitBreaker:
      if (s.breaker_state != "OPEN" && s.breaker_state != "CLOSED" &&
          s.breaker_state != "HALF_OPEN") {
        r.Fail("wait_breaker needs state OPEN, CLOSED or HALF_OPEN");
      }
      break;
    case Op::kSetMode:
      if (s.mode.empty()) r.Fail("set_mode needs mode");
      break;
    case Op::kInjectOrphan:
      break;
  }
  parent.Absorb(r.Finish());
  return s;
}

PathExpectation ParsePathExpectation(const Json& j, const std::string& where,
                                     ObjectReader& parent) {
  ObjectReader r(j, where);
  PathExpectation p;
  if (const Json* calls = r.Get("calls", false)) {
    if (!calls->is_array()) r.Fail("calls must be an array");
    int i = 0;
    for (const Json& c : calls->is_array() ? *calls : Json::array()) {
      ObjectReader cr(c, absl::StrCat(where, ".calls[", i++, "]"));
      CallExpectation e;
      e.step = static_cast<int>(cr.Int("step", true));
      e.code = cr.String("code", true);
      e.replay = cr.Bool("replay");
      r.Absorb(cr.Finish());
      p.calls.push_back(std::move(e));
    }
  }
  if (const Json* intents = r.Get("intents", false)) {
    ObjectReader ir(*intents, where + ".intents");
    for (auto it = intents->begin();
         intents->is_object() && it != intents->end(); ++it) {
      ObjectReader er(it.value(), where + ".intents." + it.key());
      ir.Get(it.key(), false);  // mark as known
      IntentExpectation e;
      if (er.Has("state")) {
        e.state = er.String("state", true);
        if (!KnownStates().count(*e.state))
          er.Fail("unknown state " + *e.state);
      }
      if (er.Has("failure_reason")) {
        e.failure_reason = er.String("failure_reason", true);
      }
      e.attempts = er.RangeField("attempts");
      e.book_calls = er.RangeField("book_calls");
      e.live_bookings = er.RangeField("live_bookings");
      r.Absorb(er.Finish());
      p.intents[it.key()] = e;
    }
    r.Absorb(ir.Finish());
  }
  p.provider_live_bookings = r.RangeField("provider_live_bookings");
  if (r.Has("lost")) p.lost = r.Int("lost", true);
  if (r.Has("duplicate")) p.duplicate = r.Int("duplicate", true);
  if (r.Has("orphan")) p.orphan = r.Int("orphan", true);
  p.breaker_opened = r.Bool("breaker_opened");
  parent.Absorb(r.Finish());
  return p;
}

}  // namespace

absl::string_view OpName(Op op) {
  for (const OpEntry& e : kOps) {
    if (e.op == op) return e.name;
  }
  return "?";
}

bool IsCallingOp(Op op) {
  return op == Op::kCreate || op == Op::kCreateBurst || op == Op::kCancel;
}

std::string Range::ToString() const {
  if (min == max) return absl::StrCat(min);
  return absl::StrCat(min, "..", max);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::StatusOr<ScenarioData> ParseScenarioData(absl::string_view json) {
  absl::StatusOr<Json> root = ParseJson(json, "test data");
  if (!root.ok()) return root.status();
  ObjectReader r(*root, "test data");
  ScenarioData data;
  r.String("schema", true);
  r.String("description", false);
  r.Get("step_ops", false);  // documentation only

  if (const Json* d = r.Get("defaults", true)) {
    ObjectReader dr(*d, "defaults");
    Defaults& def = data.defaults;
    def.customer_id = dr.String("customer_id", true);
    def.location = dr.String("location", true);
    def.start_in_hours = static_cast<int>(dr.Int("start_in_hours", true));
    def.duration_minutes = static_cast<int>(dr.Int("duration_minutes", true));
    def.priority = dr.String("priority", true);
    def.notes = dr.String("notes", false);
    if (const Json* p = dr.Get("patient", true)) {
      ObjectReader pr(*p, "defaults.patient");
      def.patient.display_name = pr.String("display_name", true);
      def.patient.email = pr.String("email", false);
      def.patient.phone = pr.String("phone", false);
      dr.Absorb(pr.Finish());
    }
    r.Absorb(dr.Finish());
  }

  std::set<std::string> ids, providers;
  if (const Json* cases = r.Get("cases", true)) {
    if (!cases->is_array() || cases->empty()) {
      r.Fail("cases must be a non-empty array");
    } else {
      for (size_t i = 0; i < cases->size(); ++i) {
        const Json& cj = (*cases)[i];
        std::string where = absl::StrCat("cases[", i, "]");
        if (cj.is_object() && cj.contains("id") && cj["id"].is_string()) {
          where = "case " + cj["id"].get<std::string>();
        }
        ObjectReader cr(cj, where);
        Case c;
        c.id = cr.String("id", true);
        c.purpose = cr.String("purpose", true);
        c.provider_id = cr.String("provider_id", true);
        c.mode = cr.String("mode", true);
        c.must = cr.String("must", true);
        if (!ids.insert(c.id).second) cr.Fail("duplicate case id");
        if (!providers.insert(c.provider_id).second) {
          cr.Fail("provider_id shared with another case (modes would mix)");
        }
        if (const Json* steps = cr.Get("steps", true)) {
          if (!steps->is_array() || steps->empty()) {
            cr.Fail("steps must be a non-empty array");
          } else {
            for (size_t k = 0; k < steps->size(); ++k) {
              c.steps.push_back(ParseStep(
                  (*steps)[k], absl::StrCat(where, ".steps[", k, "]"), cr));
            }
          }
        }
        r.Absorb(cr.Finish());
        data.cases.push_back(std::move(c));
      }
    }
  }
  absl::Status s = r.Finish();
  if (!s.ok()) return s;
  return data;
}

absl::StatusOr<ScenarioData> LoadScenarioData(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<ScenarioData> data = ParseScenarioData(*text);
  if (!data.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", data.status().message()));
  }
  return data;
}

std::string ModesFlag(const ScenarioData& data) {
  std::vector<std::string> parts;
  for (const Case& c : data.cases)
    parts.push_back(c.provider_id + "=" + c.mode);
  return absl::StrJoin(parts, ",");
}

std::string ProvidersFlag(const ScenarioData& data) {
  std::vector<std::string> parts;
  for (const Case& c : data.cases) parts.push_back(c.provider_id);
  return absl::StrJoin(parts, ",");
}

absl::StatusOr<Expectations> ParseExpectations(absl::string_view json) {
  absl::StatusOr<Json> root = ParseJson(json, "expectations");
  if (!root.ok()) return root.status();
  ObjectReader r(*root, "expectations");
  r.String("schema", true);
  r.String("description", false);
  Expectations out;
  if (const Json* cases = r.Get("cases", true)) {
    if (!cases->is_object()) r.Fail("cases must be an object");
    for (auto it = cases->begin(); cases->is_object() && it != cases->end();
         ++it) {
      ObjectReader cr(it.value(), "expected " + it.key());
      CaseExpectation e;
      if (const Json* s = cr.Get("service", true)) {
        e.service = ParsePathExpectation(*s, cr.where() + ".service", cr);
      }
      if (const Json* l = cr.Get("legacy", true)) {
        e.legacy = ParsePathExpectation(*l, cr.where() + ".legacy", cr);
      }
      r.Absorb(cr.Finish());
      out[it.key()] = std::move(e);
    }
  }
  absl::Status s = r.Finish();
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Expectations> LoadExpectations(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<Expectations> e = ParseExpectations(*text);
  if (!e.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", e.status().message()));
  }
  return e;
}

absl::Status CheckConsistent(const ScenarioData& data,
                             const Expectations& expectations) {
  std::set<std::string> ids;
  for (const Case& c : data.cases) {
    ids.insert(c.id);
    auto it = expectations.find(c.id);
    if (it == expectations.end()) {
      return absl::InvalidArgumentError("no expectation for case " + c.id);
    }
    for (const PathExpectation* p : {&it->second.service, &it->second.legacy}) {
      for (const CallExpectation& call : p->calls) {
        if (call.step < 0 || call.step >= static_cast<int>(c.steps.size()) ||
            !IsCallingOp(c.steps[call.step].op)) {
          return absl::InvalidArgumentError(
              absl::StrCat("expected ", c.id, ": step ", call.step,
                           " is not a calling step"));
        }
      }
    }
  }
  for (const auto& [id, unused] : expectations) {
    if (!ids.count(id)) {
      return absl::InvalidArgumentError("expectation for unknown case " + id);
    }
  }
  return absl::OkStatus();
}

const IntentExpectation* FindIntentExpectation(const PathExpectation& path,
                                               const std::string& intent) {
  auto it = path.intents.find(intent);
  if (it != path.intents.end()) return &it->second;
  for (const auto& [pattern, e] : path.intents) {
    if (absl::EndsWith(pattern, "-*") &&
        absl::StartsWith(intent, pattern.substr(0, pattern.size() - 1))) {
      return &e;
    }
  }
  return nullptr;
}

}  // namespace booking::scenarios
