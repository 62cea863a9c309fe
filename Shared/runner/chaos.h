#ifndef SHARED_RUNNER_CHAOS_H_
#define SHARED_RUNNER_CHAOS_H_

// The client side of the chaos run (Shared/chaos.sh kills and restarts the
// processes): create many appointments over a mix of provider modes,
// retrying each with its own request_id through crashes; wait until nothing
// is in flight; then count, from the provider's and the API's views, what
// happened to every accepted intent. Pass: lost = duplicate = orphan = 0 and
// nothing left unsettled.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "Shared/runner/clients.h"
#include "Shared/runner/records.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace booking::scenarios {

struct ChaosProvider {
  std::string provider_id;
  std::string mode;  // mock_provider --modes form
  int weight = 1;
};

// The mix of provider modes the chaos run books over.
const std::vector<ChaosProvider>& ChaosProviders();
std::string ChaosModesFlag();
std::string ChaosProvidersFlag();

struct ChaosIntent {
  std::string request_id;
  std::string provider_id;
  std::string appointment_id;  // empty: never accepted
  int attempts = 0;            // CreateAppointment calls it took
  bool replayed = false;       // an answer came back as a replay
  std::string refused_code;    // non-retryable refusal, if any
  // The plan cancels some intents right after they are accepted (a user
  // changing their mind while the BOOK may be in flight).
  bool cancel = false;
  std::string cancel_code;  // the cancel's final answer
};

struct ChaosCreateOptions {
  std::string api_addr;
  int count = 1000;
  uint64_t seed = 1;
  int concurrency = 8;
  double rate_per_second = 150;  // overall pacing; 0 = as fast as possible
  double cancel_fraction = 0.05;
  absl::Duration give_up_after = absl::Seconds(120);  // per intent
};

// Creates `count` intents (request ids "chaos-<seed>-<n>"), each retried
// with the same request_id on UNAVAILABLE / DEADLINE_EXCEEDED / ... until OK
// or `give_up_after`.
std::vector<ChaosIntent> ChaosCreate(const ChaosCreateOptions& options);

OrderedJson ChaosIntentsJson(uint64_t seed,
                             const std::vector<ChaosIntent>& intents);
absl::StatusOr<std::vector<ChaosIntent>> ChaosIntentsFromJson(
    const std::string& text, uint64_t* seed);

// Polls ListAppointments until no chaos appointment is in a transient state
// (PENDING, IN_PROGRESS, AWAITING_CONFIRMATION, CANCELLING, COMPENSATING)
// or `timeout`; returns how many still are.
int64_t ChaosSettle(const std::string& api_addr, absl::Duration timeout);

struct ChaosOutcome {
  uint64_t seed = 0;
  int worker_kills = 0;  // as reported by chaos.sh
  int api_restarts = 0;
  int64_t intents = 0;
  int64_t accepted = 0;
  int64_t refused = 0;
  int64_t replayed = 0;
  int64_t create_retries = 0;
  int64_t confirmed = 0;
  int64_t cancelled = 0;
  int64_t cancels_sent = 0;
  int64_t failed = 0;
  std::map<std::string, int64_t> failed_by_reason;
  std::map<std::string, int64_t> unsettled_by_state;
  int64_t lost = 0;
  int64_t duplicate = 0;
  int64_t orphan = 0;
  std::vector<std::string> problems;  // one line per lost/duplicate/orphan
  // provider_id -> state -> count
  std::map<std::string, std::map<std::string, int64_t>> by_provider;
  bool pass = false;
};

absl::StatusOr<ChaosOutcome> ChaosCheck(
    ApiClient& api, MockClient& mock, uint64_t seed,
    const std::vector<ChaosIntent>& intents);

OrderedJson ToJson(const ChaosOutcome& o);
std::string ChaosSummary(const ChaosOutcome& o);

}  // namespace booking::scenarios

#endif  // SHARED_RUNNER_CHAOS_H_
