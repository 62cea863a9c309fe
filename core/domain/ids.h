#ifndef CORE_DOMAIN_IDS_H_
#define CORE_DOMAIN_IDS_H_

// Appointment ids: "apt_" + a 26-character ULID (https://github.com/ulid/spec)
// in Crockford base32: 48 bits of Unix milliseconds, then 80 random bits.
//
// Why ULIDs: the id is also the provider idempotency key (DESIGN §5), so it
// must be unique without coordination; and the store pages newest-first by
// id, so lexicographic order must equal creation order. Within one
// generator, ids are strictly increasing even within one millisecond (the
// random part is incremented) and even if the clock steps backwards (the
// last timestamp is kept until the clock catches up).

#include <cstdint>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/common/clock.h"

namespace booking {

inline constexpr absl::string_view kAppointmentIdPrefix = "apt_";
inline constexpr size_t kUlidChars = 26;

class IdGenerator {
 public:
  // `clock` is not owned and must outlive the generator. `seed` 0 draws the
  // random part from the OS; any other value makes the sequence
  // deterministic for a given sequence of clock readings (tests only: two
  // processes with one seed would issue the same ids).
  IdGenerator(Clock* clock, uint64_t seed);

  IdGenerator(const IdGenerator&) = delete;
  IdGenerator& operator=(const IdGenerator&) = delete;

  // Thread-safe. Never fails.
  std::string NewAppointmentId() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Clock* const clock_;
  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  // The last id issued: timestamp and 80-bit random part (hi 16 + lo 64).
  uint64_t last_ms_ ABSL_GUARDED_BY(mu_) = 0;
  uint16_t last_hi_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_lo_ ABSL_GUARDED_BY(mu_) = 0;
  bool issued_any_ ABSL_GUARDED_BY(mu_) = false;
};

// True for "apt_" + 26 Crockford base32 characters (upper case, no I L O U)
// whose first character is 0..7 (a ULID is 128 bits).
bool IsWellFormedAppointmentId(absl::string_view id);

// The creation time encoded in a well-formed id, to millisecond precision;
// absl::InfinitePast() if the id is not well formed.
absl::Time AppointmentIdTime(absl::string_view id);

}  // namespace booking

#endif  // CORE_DOMAIN_IDS_H_
