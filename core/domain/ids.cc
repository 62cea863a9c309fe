#include "core/domain/ids.h"

#include <algorithm>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"

namespace booking {
namespace {

// Crockford base32: digits then letters, ascending in ASCII, so fixed-width
// encodings sort like the numbers they encode.
constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr uint64_t kMaxMillis = (uint64_t{1} << 48) - 1;

int DecodeChar(char c) {
  for (int i = 0; i < 32; ++i) {
    if (kAlphabet[i] == c) return i;
  }
  return -1;
}

uint64_t ToMillis(absl::Time t) {
  const int64_t ms = absl::ToUnixMillis(t);
  if (ms < 0) return 0;
  return std::min(static_cast<uint64_t>(ms), kMaxMillis);
}

std::string Encode(uint64_t ms, uint16_t hi, uint64_t lo) {
  const absl::uint128 v =
      (absl::uint128(ms) << 80) | (absl::uint128(hi) << 64) | absl::uint128(lo);
  std::string out(kAppointmentIdPrefix);
  out.resize(kAppointmentIdPrefix.size() + kUlidChars);
  for (size_t i = 0; i < kUlidChars; ++i) {
    const int shift = static_cast<int>(5 * (kUlidChars - 1 - i));
    out[kAppointmentIdPrefix.size() + i] =
        kAlphabet[static_cast<uint64_t>(v >> shift) & 31];
  }
  return out;
}

std::mt19937_64 MakeRng(uint64_t seed) {
  if (seed != 0) return std::mt19937_64(seed);
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
  return std::mt19937_64(seq);
}

}  // namespace

IdGenerator::IdGenerator(Clock* clock, uint64_t seed)
    : clock_(clock), rng_(MakeRng(seed)) {}

std::string IdGenerator::NewAppointmentId() {
  const uint64_t now_ms = ToMillis(clock_->Now());
  absl::MutexLock lock(&mu_);
  if (issued_any_ && now_ms <= last_ms_) {
    // Same millisecond (or the clock stepped back): increment the random
    // part so the new id sorts after the last one.
    if (++last_lo_ == 0 && ++last_hi_ == 0) {
      // All 80 bits wrapped (about never): borrow the next millisecond.
      ++last_ms_;
      last_hi_ = static_cast<uint16_t>(rng_());
      last_lo_ = rng_();
    }
  } else {
    last_ms_ = now_ms;
    // Fresh randomness per millisecond keeps ids of concurrent generators
    // (several processes) apart.
    last_hi_ = static_cast<uint16_t>(rng_());
    last_lo_ = rng_();
    issued_any_ = true;
  }
  return Encode(last_ms_, last_hi_, last_lo_);
}

bool IsWellFormedAppointmentId(absl::string_view id) {
  if (id.size() != kAppointmentIdPrefix.size() + kUlidChars) return false;
  if (id.substr(0, kAppointmentIdPrefix.size()) != kAppointmentIdPrefix) {
    return false;
  }
  const absl::string_view ulid = id.substr(kAppointmentIdPrefix.size());
  if (DecodeChar(ulid[0]) < 0 || DecodeChar(ulid[0]) > 7) return false;
  for (char c : ulid) {
    if (DecodeChar(c) < 0) return false;
  }
  return true;
}

absl::Time AppointmentIdTime(absl::string_view id) {
  if (!IsWellFormedAppointmentId(id)) return absl::InfinitePast();
  // The first 10 characters carry 50 bits; the top 2 are zero (checked
  // above), leaving the 48-bit timestamp.
  uint64_t ms = 0;
  for (size_t i = 0; i < 10; ++i) {
    ms = (ms << 5) |
         static_cast<uint64_t>(DecodeChar(id[kAppointmentIdPrefix.size() + i]));
  }
  return absl::FromUnixMillis(static_cast<int64_t>(ms));
}

}  // namespace booking
