#ifndef SHARED_RUNNER_PLAYER_H_
#define SHARED_RUNNER_PLAYER_H_

// Plays the canonical cases through both paths and inspects the end state:
//
//   A (legacy): legacy_client's LegacyBooker against mock A — one provider
//     call per request, a fresh key per call, no retries.
//   B (service): the AppointmentService against api_server, whose worker
//     books with mock B.
//
// Waits poll with a bound (no fixed sleeps decide anything), so a run is
// repeatable: the modes are seeded and every case has its own provider id.

#include <memory>
#include <string>
#include <vector>

#include "Shared/runner/clients.h"
#include "Shared/runner/records.h"
#include "Shared/runner/scenario_data.h"
#include "absl/time/time.h"
#include "core/provider/grpc_provider_client.h"
#include "legacy_client/legacy_booker.h"

namespace booking::scenarios {

struct PlayerOptions {
  std::string api_addr;          // api_server (path B)
  std::string mock_addr;         // mock_provider behind the worker (B)
  std::string legacy_mock_addr;  // mock_provider for the legacy client (A)
  std::string worker_metrics;    // worker /metrics HOST:PORT (wait_breaker)
  absl::Duration legacy_timeout = absl::Seconds(2);
  absl::Duration api_deadline = absl::Seconds(10);
  // Bound of every wait_* step (a broken stack, not a timing assertion).
  absl::Duration wait_timeout = absl::Seconds(30);
  absl::Duration poll_interval = absl::Milliseconds(10);
  uint64_t seed = 1;
};

class Player {
 public:
  // `base_start` is the slot every create starts from (fixed for the run so
  // that a replay has exactly the same parameters).
  Player(const ScenarioData& data, PlayerOptions options,
         absl::Time base_start);

  CaseRun PlayLegacy(const Case& c);
  CaseRun PlayService(const Case& c);

 private:
  appointments::v1::Appointment AppointmentFor(const Case& c, const Step& s);
  // Polls `done` until true or the wait bound; false on timeout.
  bool PollUntil(const std::function<bool()>& done);
  void LogCall(const Case& c, const CaseRun& run, const CallRecord& call);
  // Steps both paths treat alike (set_mode, inject_orphan,
  // wait_provider_live); false if `s` is not one of them.
  bool PlayCommonStep(const Case& c, const Step& s, MockClient& mock,
                      CaseRun& run);

  const ScenarioData& data_;
  const PlayerOptions options_;
  const absl::Time base_start_;
  ApiClient api_;
  MockClient mock_;
  MockClient legacy_mock_;
  std::unique_ptr<GrpcProviderClient> legacy_provider_;
  std::unique_ptr<legacy::LegacyBooker> legacy_;
};

// Reads the end state of one case's path (after the reconciler ran).
// `metrics` is the worker's /metrics page (empty if unread).
absl::StatusOr<CaseInspection> InspectLegacy(const Case& c, const CaseRun& run,
                                             MockClient& mock);
absl::StatusOr<CaseInspection> InspectService(
    const Case& c, const CaseRun& run, ApiClient& api, MockClient& mock,
    const std::vector<MetricSample>* metrics);

}  // namespace booking::scenarios

#endif  // SHARED_RUNNER_PLAYER_H_
