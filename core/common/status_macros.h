#ifndef CORE_COMMON_STATUS_MACROS_H_
#define CORE_COMMON_STATUS_MACROS_H_

// Abseil 20220623 ships no status macros; these are the two we use.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define BOOKING_STATUS_CONCAT_INNER_(a, b) a##b
#define BOOKING_STATUS_CONCAT_(a, b) BOOKING_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if it is not OK.
#define RETURN_IF_ERROR(expr)              \
  do {                                     \
    const ::absl::Status _status = (expr); \
    if (!_status.ok()) return _status;     \
  } while (0)

// ASSIGN_OR_RETURN(auto x, FunctionReturningStatusOr());
#define ASSIGN_OR_RETURN(lhs, expr)                                         \
  ASSIGN_OR_RETURN_IMPL_(BOOKING_STATUS_CONCAT_(_statusor_, __LINE__), lhs, \
                         expr)
#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                           \
  if (!statusor.ok()) return statusor.status();     \
  lhs = std::move(statusor).value()

#endif  // CORE_COMMON_STATUS_MACROS_H_
