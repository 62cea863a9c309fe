#include "Shared/runner/records.h"

#include "absl/status/status.h"

namespace booking::scenarios {
namespace {

using Json = nlohmann::json;

template <typename T>
T Value(const Json& j, const char* key, T fallback) {
  if (!j.is_object() || !j.contains(key)) return fallback;
  const Json& v = j.at(key);
  if constexpr (std::is_same_v<T, std::string>) {
    return v.is_string() ? v.get<std::string>() : fallback;
  } else if constexpr (std::is_same_v<T, bool>) {
    return v.is_boolean() ? v.get<bool>() : fallback;
  } else {
    return v.is_number() ? v.get<T>() : fallback;
  }
}

std::vector<std::string> Strings(const Json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_array()) return out;
  for (const Json& v : j.at(key)) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

CallRecord CallFromJson(const Json& j) {
  CallRecord c;
  c.step = Value<int>(j, "step", 0);
  c.op = Value<std::string>(j, "op", "");
  c.intent = Value<std::string>(j, "intent", "");
  c.request_id = Value<std::string>(j, "request_id", "");
  c.code = Value<std::string>(j, "code", "");
  c.message = Value<std::string>(j, "message", "");
  c.replay = Value<bool>(j, "replay", false);
  c.latency_ms = Value<double>(j, "latency_ms", 0);
  c.appointment_id = Value<std::string>(j, "appointment_id", "");
  c.booking_id = Value<std::string>(j, "booking_id", "");
  c.booking_status = Value<std::string>(j, "booking_status", "");
  c.key = Value<std::string>(j, "key", "");
  return c;
}

IntentRecord IntentFromJson(const Json& j) {
  IntentRecord i;
  i.name = Value<std::string>(j, "name", "");
  i.keys = Strings(j, "keys");
  i.appointment_id = Value<std::string>(j, "appointment_id", "");
  i.held_booking_ids = Strings(j, "held_booking_ids");
  if (j.contains("settle_ms") && j["settle_ms"].is_number()) {
    i.settle_ms = j["settle_ms"].get<double>();
  }
  return i;
}

}  // namespace

IntentRecord* CaseRun::FindIntent(const std::string& name) {
  for (IntentRecord& i : intents) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

OrderedJson ToJson(const CallRecord& c) {
  OrderedJson j;
  j["step"] = c.step;
  j["op"] = c.op;
  j["intent"] = c.intent;
  j["request_id"] = c.request_id;
  j["code"] = c.code;
  if (!c.message.empty()) j["message"] = c.message;
  j["replay"] = c.replay;
  j["latency_ms"] = c.latency_ms;
  if (!c.appointment_id.empty()) j["appointment_id"] = c.appointment_id;
  if (!c.booking_id.empty()) j["booking_id"] = c.booking_id;
  if (!c.booking_status.empty()) j["booking_status"] = c.booking_status;
  if (!c.key.empty()) j["key"] = c.key;
  return j;
}

OrderedJson ToJson(const IntentRecord& i) {
  OrderedJson j;
  j["name"] = i.name;
  j["keys"] = i.keys;
  if (!i.appointment_id.empty()) j["appointment_id"] = i.appointment_id;
  j["held_booking_ids"] = i.held_booking_ids;
  if (i.settle_ms.has_value()) j["settle_ms"] = *i.settle_ms;
  return j;
}

OrderedJson ToJson(const CaseRun& r) {
  OrderedJson j;
  j["case_id"] = r.case_id;
  j["path"] = r.path;
  j["duration_ms"] = r.duration_ms;
  j["calls"] = OrderedJson::array();
  for (const CallRecord& c : r.calls) j["calls"].push_back(ToJson(c));
  j["intents"] = OrderedJson::array();
  for (const IntentRecord& i : r.intents) j["intents"].push_back(ToJson(i));
  j["play_errors"] = r.play_errors;
  return j;
}

OrderedJson ToJson(const PlayState& s) {
  OrderedJson j;
  j["started_at"] = s.started_at;
  j["base_start_time"] = s.base_start_time;
  j["runs"] = OrderedJson::array();
  for (const CaseRun& r : s.runs) j["runs"].push_back(ToJson(r));
  return j;
}

absl::StatusOr<PlayState> PlayStateFromJson(const std::string& text) {
  Json root = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object() || !root.contains("runs") ||
      !root["runs"].is_array()) {
    return absl::InvalidArgumentError("play state: not a play state file");
  }
  PlayState s;
  s.started_at = Value<std::string>(root, "started_at", "");
  s.base_start_time = Value<std::string>(root, "base_start_time", "");
  for (const Json& rj : root["runs"]) {
    CaseRun r;
    r.case_id = Value<std::string>(rj, "case_id", "");
    r.path = Value<std::string>(rj, "path", "");
    r.duration_ms = Value<double>(rj, "duration_ms", 0);
    if (rj.contains("calls") && rj["calls"].is_array()) {
      for (const Json& c : rj["calls"]) r.calls.push_back(CallFromJson(c));
    }
    if (rj.contains("intents") && rj["intents"].is_array()) {
      for (const Json& i : rj["intents"])
        r.intents.push_back(IntentFromJson(i));
    }
    r.play_errors = Strings(rj, "play_errors");
    s.runs.push_back(std::move(r));
  }
  return s;
}

OrderedJson ToJson(const BookingView& b) {
  OrderedJson j;
  j["booking_id"] = b.booking_id;
  j["key"] = b.key;
  j["status"] = b.status;
  j["live"] = b.live;
  return j;
}

}  // namespace booking::scenarios
