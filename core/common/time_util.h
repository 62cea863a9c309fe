#ifndef CORE_COMMON_TIME_UTIL_H_
#define CORE_COMMON_TIME_UTIL_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace booking {

// The database stores times as UTC milliseconds since the Unix epoch.
inline int64_t ToDbMillis(absl::Time t) { return absl::ToUnixMillis(t); }
inline absl::Time FromDbMillis(int64_t ms) { return absl::FromUnixMillis(ms); }

inline google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t ns = absl::ToUnixNanos(t);
  int64_t seconds = ns / 1'000'000'000;
  int64_t nanos = ns % 1'000'000'000;
  if (nanos < 0) {
    nanos += 1'000'000'000;
    --seconds;
  }
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(nanos));
  return ts;
}

inline absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

}  // namespace booking

#endif  // CORE_COMMON_TIME_UTIL_H_
