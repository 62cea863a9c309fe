#ifndef MOCK_PROVIDER_MODE_CONFIG_H_
#define MOCK_PROVIDER_MODE_CONFIG_H_

// The mock provider's failure modes (DESIGN §5) and how they are written down:
// the `--modes` flag, the `--modes_file` JSON and MockControl.SetMode all end
// up as a ModeTable. Parsing is strict: a bad entry is an INVALID_ARGUMENT
// naming it, so a typo in a scenario script fails loudly instead of silently
// running the default mode.

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/provider/v1/provider.pb.h"

namespace booking::mock {

using ::provider::v1::Mode;

// One provider's behaviour. Zero-valued parameters mean "the mode's default"
// (see WithDefaults); parameters that do not apply to the mode must be zero.
struct ModeSpec {
  Mode mode = ::provider::v1::IMMEDIATE;
  int64_t delay_ms = 0;          // delayed (2000), timeout (60000)
  int32_t fail_first_n = 0;      // flaky (2); delayed/timeout/confirm_fail/
                                 // rate_limited: 0 = every call
  double fail_fraction = 0;      // flaky: if > 0, used instead of fail_first_n
  int64_t retry_after_ms = 0;    // rate_limited (1000)
  int64_t confirm_after_ms = 0;  // pending (500)
  int64_t decline_after_ms = 0;  // decline_later (1000)

  bool operator==(const ModeSpec& o) const;
};

// The lower-case names of DESIGN §5: immediate, pending, delayed, flaky,
// timeout, always_fail, confirm_fail, reject, rate_limited, decline_later.
absl::StatusOr<Mode> ParseModeName(absl::string_view name);
std::string ModeName(Mode mode);

// The --modes form of one spec, e.g. "flaky:fail_first_n=2".
std::string FormatModeSpec(const ModeSpec& spec);

// Fills the mode's defaults into zero-valued parameters.
ModeSpec WithDefaults(const ModeSpec& spec);

// Ranges (non-negative, fraction in [0, 1]), a real mode, and no parameter
// that the mode ignores. `where` prefixes the error message.
absl::Status ValidateModeSpec(const ModeSpec& spec, absl::string_view where);

ModeSpec FromProto(Mode mode, const ::provider::v1::ModeParams& params);
::provider::v1::ModeParams ParamsToProto(const ModeSpec& spec);

// provider_id -> mode. The key "*" is the default for ids not listed.
using ModeTable = std::map<std::string, ModeSpec>;
inline constexpr char kDefaultProvider[] = "*";

// `PROVIDER_ID=MODE[:PARAM=VALUE[:PARAM=VALUE...]],...`, e.g.
// `clinic-b=flaky:fail_first_n=2,x=delayed:delay_ms=3000`. Empty = no entry.
absl::StatusOr<ModeTable> ParseModesFlag(absl::string_view flag);

// `{"clinic-a": {"mode": "flaky", "fail_first_n": 2}, "*": {...}}`.
absl::StatusOr<ModeTable> ParseModesJson(absl::string_view json);
absl::StatusOr<ModeTable> LoadModesFile(const std::string& path);

}  // namespace booking::mock

#endif  // MOCK_PROVIDER_MODE_CONFIG_H_
