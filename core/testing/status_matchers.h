#ifndef CORE_TESTING_STATUS_MATCHERS_H_
#define CORE_TESTING_STATUS_MATCHERS_H_

// Minimal gMock matchers for absl::Status / absl::StatusOr (Abseil 20220623
// ships none).

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace booking::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = ::booking::testing::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.ok();
}

// StatusIs(code) or StatusIs(code, message_matcher).
MATCHER_P(StatusIs, code, "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = ::booking::testing::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = ::booking::testing::GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(
             message_matcher, std::string(s.message()), result_listener);
}

// absl::StatusOr<T> that is OK and whose value matches `m`.
MATCHER_P(IsOkAndHolds, m, "is OK and holds a value that matches") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(m, *arg, result_listener);
}

}  // namespace booking::testing

#define ASSERT_OK(expr) ASSERT_THAT((expr), ::booking::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::booking::testing::IsOk())

#endif  // CORE_TESTING_STATUS_MATCHERS_H_
