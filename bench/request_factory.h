#ifndef BENCH_REQUEST_FACTORY_H_
#define BENCH_REQUEST_FACTORY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/appointments/v1/appointment_service.pb.h"

namespace booking::bench {

// Builds valid CreateAppointmentRequests with unique request_ids
// "<prefix>-<seq>": every field set (patient e-mail and phone too, so the
// messages are realistic), start tomorrow, providers in turn.
class RequestFactory {
 public:
  RequestFactory(std::string request_id_prefix,
                 std::vector<std::string> providers, absl::Time now);
  void Fill(int64_t seq,
            appointments::v1::CreateAppointmentRequest* request) const;

 private:
  const std::string prefix_;
  const std::vector<std::string> providers_;
  const int64_t start_seconds_;
};

}  // namespace booking::bench

#endif  // BENCH_REQUEST_FACTORY_H_
