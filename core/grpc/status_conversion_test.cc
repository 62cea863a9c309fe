#include "core/grpc/status_conversion.h"

#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace booking {
namespace {

const std::vector<std::pair<absl::StatusCode, grpc::StatusCode>>& AllCodes() {
  static const auto* const codes =
      new std::vector<std::pair<absl::StatusCode, grpc::StatusCode>>{
          {absl::StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
          {absl::StatusCode::kUnknown, grpc::StatusCode::UNKNOWN},
          {absl::StatusCode::kInvalidArgument,
           grpc::StatusCode::INVALID_ARGUMENT},
          {absl::StatusCode::kDeadlineExceeded,
           grpc::StatusCode::DEADLINE_EXCEEDED},
          {absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
          {absl::StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
          {absl::StatusCode::kPermissionDenied,
           grpc::StatusCode::PERMISSION_DENIED},
          {absl::StatusCode::kResourceExhausted,
           grpc::StatusCode::RESOURCE_EXHAUSTED},
          {absl::StatusCode::kFailedPrecondition,
           grpc::StatusCode::FAILED_PRECONDITION},
          {absl::StatusCode::kAborted, grpc::StatusCode::ABORTED},
          {absl::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
          {absl::StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
          {absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL},
          {absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
          {absl::StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
          {absl::StatusCode::kUnauthenticated,
           grpc::StatusCode::UNAUTHENTICATED},
      };
  return *codes;
}

TEST(StatusConversionTest, EveryCodeMapsBothWaysWithItsMessage) {
  for (const auto& [absl_code, grpc_code] : AllCodes()) {
    const absl::Status in(absl_code, "field x: rule y");
    const grpc::Status out = ToGrpcStatus(in);
    EXPECT_EQ(out.error_code(), grpc_code) << in;
    EXPECT_EQ(out.error_message(), "field x: rule y");
    EXPECT_EQ(FromGrpcStatus(out), in);
  }
}

TEST(StatusConversionTest, OkIsOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace booking
