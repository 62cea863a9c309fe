#ifndef SHARED_RUNNER_SCENARIO_DATA_H_
#define SHARED_RUNNER_SCENARIO_DATA_H_

// The canonical cases (Shared/test_data.json) and what each path must end
// with (Shared/expected_postchange.json), parsed strictly: an unknown key, a
// wrong type or a step that names nothing is an INVALID_ARGUMENT naming the
// spot, so a typo in the data fails the run instead of silently testing less.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace booking::scenarios {

struct Patient {
  std::string display_name;
  std::string email;
  std::string phone;
};

// Appointment fields every create uses unless a step overrides them.
struct Defaults {
  std::string customer_id;
  std::string location;
  int start_in_hours = 48;
  int duration_minutes = 30;
  std::string priority = "NORMAL";
  Patient patient;
  std::string notes;
};

enum class Op {
  kCreate,
  kCreateBurst,
  kWaitState,
  kWaitProviderCalls,
  kWaitProviderLive,
  kWaitBreaker,
  kSetMode,
  kCancel,
  kInjectOrphan,
};
// "create", "create_burst", ... as written in the data.
absl::string_view OpName(Op op);
// Ops that call the API (B) or the provider (A) and so produce a call record.
bool IsCallingOp(Op op);

struct Step {
  Op op = Op::kCreate;
  std::string intent;
  std::string request_id;
  int count = 1;                    // create_burst
  int start_offset_minutes = 0;     // create, create_burst, inject_orphan
  std::vector<std::string> states;  // wait_state
  std::string mode;                 // set_mode, in the --modes form
  int64_t min_book_calls = 0;       // wait_provider_calls
  int64_t live_bookings = 0;        // wait_provider_live
  std::string breaker_state;        // wait_breaker: OPEN, CLOSED, HALF_OPEN
};

struct Case {
  std::string id;
  std::string purpose;
  std::string provider_id;
  std::string mode;  // mock_provider --modes form, e.g. "flaky:fail_first_n=2"
  std::string must;
  std::vector<Step> steps;
};

struct ScenarioData {
  Defaults defaults;
  std::vector<Case> cases;
};

absl::StatusOr<ScenarioData> ParseScenarioData(absl::string_view json);
absl::StatusOr<ScenarioData> LoadScenarioData(const std::string& path);

// mock_provider's --modes value (every case's provider and mode) and
// api_server's --providers value.
std::string ModesFlag(const ScenarioData& data);
std::string ProvidersFlag(const ScenarioData& data);

// An inclusive range; an exact expectation has min == max.
struct Range {
  int64_t min = 0;
  int64_t max = 0;
  bool Contains(int64_t v) const { return v >= min && v <= max; }
  std::string ToString() const;
};

struct CallExpectation {
  int step = 0;
  // A gRPC code name ("OK", "ALREADY_EXISTS", ...) or a runner code such as
  // "NOTHING_TO_CANCEL".
  std::string code;
  // Whether the answer carried `idempotent-replay: true` (service only).
  std::optional<bool> replay;
};

struct IntentExpectation {
  std::optional<std::string> state;  // service only
  std::optional<std::string> failure_reason;
  std::optional<Range> attempts;
  std::optional<Range> book_calls;
  std::optional<Range> live_bookings;
};

struct PathExpectation {
  std::vector<CallExpectation> calls;
  // Intent name, or "<prefix>-*" for every member of a burst.
  std::map<std::string, IntentExpectation> intents;
  std::optional<Range> provider_live_bookings;
  // Unset for the service: there they must always be 0.
  std::optional<int64_t> lost;
  std::optional<int64_t> duplicate;
  std::optional<int64_t> orphan;
  std::optional<bool> breaker_opened;
};

struct CaseExpectation {
  PathExpectation service;
  PathExpectation legacy;
};

using Expectations = std::map<std::string, CaseExpectation>;

absl::StatusOr<Expectations> ParseExpectations(absl::string_view json);
absl::StatusOr<Expectations> LoadExpectations(const std::string& path);

// Every case has an expectation and no expectation is left over; every
// expected call names a calling step of its case.
absl::Status CheckConsistent(const ScenarioData& data,
                             const Expectations& expectations);

// The expectation for `intent`: its own entry, else a "<prefix>-*" entry
// whose prefix it extends; null if none.
const IntentExpectation* FindIntentExpectation(const PathExpectation& path,
                                               const std::string& intent);

absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace booking::scenarios

#endif  // SHARED_RUNNER_SCENARIO_DATA_H_
