#include "mock_provider/mode_config.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace booking::mock {
namespace {

using ::provider::v1::ALWAYS_FAIL;
using ::provider::v1::CONFIRM_FAIL;
using ::provider::v1::DECLINE_LATER;
using ::provider::v1::DELAYED;
using ::provider::v1::FLAKY;
using ::provider::v1::IMMEDIATE;
using ::provider::v1::PENDING_CONFIRM;
using ::provider::v1::RATE_LIMITED;
using ::provider::v1::REJECT;
using ::provider::v1::TIMEOUT;

struct ModeInfo {
  Mode mode;
  const char* name;
  std::vector<std::string> params;  // the parameters the mode reads
};

const std::vector<ModeInfo>& Modes() {
  static const auto* modes = new std::vector<ModeInfo>{
      {IMMEDIATE, "immediate", {}},
      {PENDING_CONFIRM, "pending", {"confirm_after_ms"}},
      {DELAYED, "delayed", {"delay_ms", "fail_first_n"}},
      {FLAKY, "flaky", {"fail_first_n", "fail_fraction"}},
      {TIMEOUT, "timeout", {"delay_ms", "fail_first_n"}},
      {ALWAYS_FAIL, "always_fail", {}},
      {CONFIRM_FAIL, "confirm_fail", {"fail_first_n"}},
      {REJECT, "reject", {}},
      {RATE_LIMITED, "rate_limited", {"retry_after_ms", "fail_first_n"}},
      {DECLINE_LATER, "decline_later", {"decline_after_ms"}},
  };
  return *modes;
}

const ModeInfo* FindMode(Mode mode) {
  for (const auto& info : Modes()) {
    if (info.mode == mode) return &info;
  }
  return nullptr;
}

const char* const kParamNames[] = {"delay_ms",         "fail_first_n",
                                   "fail_fraction",    "retry_after_ms",
                                   "confirm_after_ms", "decline_after_ms"};

// Sets one named parameter from its text form.
absl::Status SetParam(ModeSpec& spec, absl::string_view name,
                      absl::string_view value, absl::string_view where) {
  auto bad_value = [&](absl::string_view expected) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", name, "='", value, "' is not ", expected));
  };
  int64_t* int64_field = nullptr;
  if (name == "delay_ms") int64_field = &spec.delay_ms;
  if (name == "retry_after_ms") int64_field = &spec.retry_after_ms;
  if (name == "confirm_after_ms") int64_field = &spec.confirm_after_ms;
  if (name == "decline_after_ms") int64_field = &spec.decline_after_ms;
  if (int64_field != nullptr) {
    if (!absl::SimpleAtoi(value, int64_field)) return bad_value("an integer");
    return absl::OkStatus();
  }
  if (name == "fail_first_n") {
    if (!absl::SimpleAtoi(value, &spec.fail_first_n)) {
      return bad_value("an integer");
    }
    return absl::OkStatus();
  }
  if (name == "fail_fraction") {
    if (!absl::SimpleAtod(value, &spec.fail_fraction)) {
      return bad_value("a number");
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": unknown parameter '", name,
                   "' (known: ", absl::StrJoin(kParamNames, ", "), ")"));
}

bool IsSet(const ModeSpec& spec, absl::string_view param) {
  if (param == "delay_ms") return spec.delay_ms != 0;
  if (param == "fail_first_n") return spec.fail_first_n != 0;
  if (param == "fail_fraction") return spec.fail_fraction != 0;
  if (param == "retry_after_ms") return spec.retry_after_ms != 0;
  if (param == "confirm_after_ms") return spec.confirm_after_ms != 0;
  if (param == "decline_after_ms") return spec.decline_after_ms != 0;
  return false;
}

absl::Status CheckProviderId(absl::string_view id, absl::string_view where,
                             const ModeTable& table) {
  if (id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where,
                     ": provider id is empty (use \"*\" for the "
                     "default mode)"));
  }
  if (table.count(std::string(id)) > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": provider '", id, "' is given twice"));
  }
  return absl::OkStatus();
}

}  // namespace

bool ModeSpec::operator==(const ModeSpec& o) const {
  return mode == o.mode && delay_ms == o.delay_ms &&
         fail_first_n == o.fail_first_n && fail_fraction == o.fail_fraction &&
         retry_after_ms == o.retry_after_ms &&
         confirm_after_ms == o.confirm_after_ms &&
         decline_after_ms == o.decline_after_ms;
}

absl::StatusOr<Mode> ParseModeName(absl::string_view name) {
  std::vector<std::string> names;
  for (const auto& info : Modes()) {
    if (name == info.name) return info.mode;
    names.push_back(info.name);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown mode '", name, "' (known: ", absl::StrJoin(names, ", "), ")"));
}

std::string ModeName(Mode mode) {
  const ModeInfo* info = FindMode(mode);
  return info != nullptr ? info->name : absl::StrCat("mode_", mode);
}

std::string FormatModeSpec(const ModeSpec& spec) {
  std::string out = ModeName(spec.mode);
  auto add = [&out](const char* name, auto value) {
    if (value != 0) absl::StrAppend(&out, ":", name, "=", value);
  };
  add("delay_ms", spec.delay_ms);
  add("fail_first_n", spec.fail_first_n);
  add("fail_fraction", spec.fail_fraction);
  add("retry_after_ms", spec.retry_after_ms);
  add("confirm_after_ms", spec.confirm_after_ms);
  add("decline_after_ms", spec.decline_after_ms);
  return out;
}

ModeSpec WithDefaults(const ModeSpec& spec) {
  ModeSpec s = spec;
  switch (s.mode) {
    case DELAYED:
      if (s.delay_ms == 0) s.delay_ms = 2000;
      break;
    case TIMEOUT:
      if (s.delay_ms == 0) s.delay_ms = 60000;
      break;
    case FLAKY:
      if (s.fail_first_n == 0 && s.fail_fraction == 0) s.fail_first_n = 2;
      break;
    case RATE_LIMITED:
      if (s.retry_after_ms == 0) s.retry_after_ms = 1000;
      break;
    case PENDING_CONFIRM:
      if (s.confirm_after_ms == 0) s.confirm_after_ms = 500;
      break;
    case DECLINE_LATER:
      if (s.decline_after_ms == 0) s.decline_after_ms = 1000;
      break;
    default:
      break;
  }
  return s;
}

absl::Status ValidateModeSpec(const ModeSpec& spec, absl::string_view where) {
  const ModeInfo* info = FindMode(spec.mode);
  if (info == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": mode ", spec.mode, " is not a mode"));
  }
  if (spec.delay_ms < 0 || spec.fail_first_n < 0 || spec.retry_after_ms < 0 ||
      spec.confirm_after_ms < 0 || spec.decline_after_ms < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": parameters must not be negative"));
  }
  if (!(spec.fail_fraction >= 0 && spec.fail_fraction <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": fail_fraction must be in [0, 1]"));
  }
  if (spec.fail_first_n != 0 && spec.fail_fraction != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": set fail_first_n or fail_fraction, not both"));
  }
  for (const char* param : kParamNames) {
    if (!IsSet(spec, param)) continue;
    bool applies = false;
    for (const auto& p : info->params) applies |= (p == param);
    if (!applies) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": parameter ", param, " does not apply to mode ",
                       info->name));
    }
  }
  return absl::OkStatus();
}

ModeSpec FromProto(Mode mode, const ::provider::v1::ModeParams& params) {
  ModeSpec s;
  s.mode = mode;
  s.delay_ms = params.delay_ms();
  s.fail_first_n = params.fail_first_n();
  s.fail_fraction = params.fail_fraction();
  s.retry_after_ms = params.retry_after_ms();
  s.confirm_after_ms = params.confirm_after_ms();
  s.decline_after_ms = params.decline_after_ms();
  return s;
}

::provider::v1::ModeParams ParamsToProto(const ModeSpec& spec) {
  ::provider::v1::ModeParams p;
  p.set_delay_ms(spec.delay_ms);
  p.set_fail_first_n(spec.fail_first_n);
  p.set_fail_fraction(spec.fail_fraction);
  p.set_retry_after_ms(spec.retry_after_ms);
  p.set_confirm_after_ms(spec.confirm_after_ms);
  p.set_decline_after_ms(spec.decline_after_ms);
  return p;
}

absl::StatusOr<ModeTable> ParseModesFlag(absl::string_view flag) {
  ModeTable table;
  for (absl::string_view entry :
       absl::StrSplit(flag, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    const std::string where = absl::StrCat("--modes entry '", entry, "'");
    const size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": expected PROVIDER_ID=MODE[:PARAM=VALUE...]"));
    }
    const absl::string_view id = entry.substr(0, eq);
    if (absl::Status s = CheckProviderId(id, where, table); !s.ok()) return s;
    std::vector<absl::string_view> parts =
        absl::StrSplit(entry.substr(eq + 1), ':');
    auto mode = ParseModeName(parts[0]);
    if (!mode.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", mode.status().message()));
    }
    ModeSpec spec;
    spec.mode = *mode;
    for (size_t i = 1; i < parts.size(); ++i) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(parts[i], absl::MaxSplits('=', 1));
      if (kv.first.empty() || parts[i].find('=') == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": parameter '", parts[i], "' must be NAME=VALUE"));
      }
      if (absl::Status s = SetParam(spec, kv.first, kv.second, where);
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = ValidateModeSpec(spec, where); !s.ok()) return s;
    table[std::string(id)] = spec;
  }
  return table;
}

absl::StatusOr<ModeTable> ParseModesJson(absl::string_view json_text) {
  nlohmann::json root =
      nlohmann::json::parse(json_text.begin(), json_text.end(), nullptr,
                            /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError("modes file is not valid JSON");
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        "modes file must be an object {\"PROVIDER_ID\": {\"mode\": ...}}");
  }
  ModeTable table;
  for (const auto& [id, value] : root.items()) {
    const std::string where = absl::StrCat("modes file entry '", id, "'");
    if (absl::Status s = CheckProviderId(id, where, table); !s.ok()) return s;
    if (!value.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": must be an object with a \"mode\""));
    }
    auto mode_it = value.find("mode");
    if (mode_it == value.end() || !mode_it->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": \"mode\" (a string) is required"));
    }
    auto mode = ParseModeName(mode_it->get<std::string>());
    if (!mode.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", mode.status().message()));
    }
    ModeSpec spec;
    spec.mode = *mode;
    for (const auto& [name, param] : value.items()) {
      if (name == "mode") continue;
      if (!param.is_number()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": ", name, " must be a number"));
      }
      // Integers keep their exact text; fail_fraction may be fractional.
      const std::string text = param.is_number_float()
                                   ? absl::StrCat(param.get<double>())
                                   : param.dump();
      if (absl::Status s = SetParam(spec, name, text, where); !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = ValidateModeSpec(spec, where); !s.ok()) return s;
    table[id] = spec;
  }
  return table;
}

absl::StatusOr<ModeTable> LoadModesFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read modes file '", path, "'"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto table = ParseModesJson(buffer.str());
  if (!table.ok()) {
    return absl::Status(table.status().code(),
                        absl::StrCat(path, ": ", table.status().message()));
  }
  return table;
}

}  // namespace booking::mock
