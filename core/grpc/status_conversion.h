#ifndef CORE_GRPC_STATUS_CONVERSION_H_
#define CORE_GRPC_STATUS_CONVERSION_H_

// The one place where absl::Status and grpc::Status meet (STYLE §4). Codes map
// one to one; the explicit switches make an unmapped code a compile warning.

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace booking {

grpc::StatusCode ToGrpcCode(absl::StatusCode code);
absl::StatusCode FromGrpcCode(grpc::StatusCode code);

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace booking

#endif  // CORE_GRPC_STATUS_CONVERSION_H_
