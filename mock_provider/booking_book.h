#ifndef MOCK_PROVIDER_BOOKING_BOOK_H_
#define MOCK_PROVIDER_BOOKING_BOOK_H_

// The mock provider's whole state, without any gRPC: the bookings, the
// idempotency index, the per-key and per-provider counters, the modes table
// and the seed. The gRPC services are thin shells around it, so every mode's
// decision is unit-testable with a SimulatedClock.
//
// Time-driven transitions (pending -> CONFIRMED, decline_later -> DECLINED)
// are not timers: a booking stores when it changes, and every read computes
// its status from the clock. So no background thread exists, and a test moves
// a booking along by advancing its SimulatedClock.
//
// Randomness (flaky with fail_fraction) is a pure function of
// (seed, provider_id, idempotency_key, call index): the same seed and the same
// calls give the same answers, even when calls for different keys interleave
// differently between runs.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/common/clock.h"
#include "mock_provider/mode_config.h"
#include "proto/provider/v1/provider.pb.h"

namespace booking::mock {

// What the service must answer to one Book call.
struct BookOutcome {
  absl::Status status;
  ::provider::v1::Booking booking;  // the reply when `status` is OK
  // Wall-clock wait before answering (delayed, timeout). The caller's
  // deadline is wall-clock too, which is the point of these modes.
  absl::Duration reply_after = absl::ZeroDuration();
  // > 0: send trailing metadata `retry-after-ms` (rate_limited).
  int64_t retry_after_ms = 0;
};

class BookingBook {
 public:
  // `start_modes` are the modes given at start; Reset returns to them.
  // `clock` is not owned and must outlive this object.
  BookingBook(const Clock* clock, ModeTable start_modes, uint64_t seed);

  BookingBook(const BookingBook&) = delete;
  BookingBook& operator=(const BookingBook&) = delete;

  // --- provider.v1.ProviderService ---

  // Applies the provider's mode. INVALID_ARGUMENT for a malformed request
  // (not counted); every other call counts in book_calls.
  BookOutcome Book(const ::provider::v1::BookRequest& request);
  // Idempotent; unknown bookings answer OK with a CANCELLED booking carrying
  // the given ids. By key, cancels every live booking with that key.
  // UNAVAILABLE in always_fail.
  absl::StatusOr<::provider::v1::Booking> Cancel(
      const ::provider::v1::CancelRequest& request);
  // The first booking made with the key, or the booking with the id.
  // NOT_FOUND if none; UNAVAILABLE in always_fail.
  absl::StatusOr<::provider::v1::Booking> Get(
      const ::provider::v1::GetBookingRequest& request);
  // Oldest first, every status. Works in every mode (the reconciler's view).
  absl::StatusOr<::provider::v1::ListBookingsResponse> List(
      const ::provider::v1::ListBookingsRequest& request);

  // --- provider.v1.MockControl ---

  // Empty or "*" provider_id sets the default for ids without a mode.
  absl::Status SetMode(const std::string& provider_id, const ModeSpec& spec);
  // The mode in force for `provider_id` (defaults not filled in).
  ModeSpec ModeFor(const std::string& provider_id) const;
  // Back to the start: no bookings, no counters, the start modes. A zero
  // seed keeps the seed given at construction.
  void Reset(uint64_t seed);
  ::provider::v1::StatsResponse Stats(
      const ::provider::v1::StatsRequest& request) const;
  ::provider::v1::ListAllResponse ListAll() const;
  absl::StatusOr<::provider::v1::Booking> Inject(
      const ::provider::v1::InjectBookingRequest& request);
  absl::StatusOr<::provider::v1::Booking> Drop(
      const ::provider::v1::DropBookingRequest& request);

  // The flaky coin for one call: a uniform value in [0, 1) that depends only
  // on its arguments. Exposed for tests.
  static double Coin(uint64_t seed, const std::string& provider_id,
                     const std::string& key, int64_t call_index);

 private:
  struct Record {
    ::provider::v1::Booking booking;  // stored status, before transitions
    absl::Time confirm_at = absl::InfiniteFuture();  // PENDING -> CONFIRMED
    absl::Time decline_at = absl::InfiniteFuture();  // CONFIRMED -> DECLINED
  };
  struct KeyState {
    int64_t book_calls = 0;
    int64_t cancel_calls = 0;
    std::vector<int64_t> seqs;  // bookings made with the key, oldest first
  };
  using KeyId = std::pair<std::string, std::string>;  // (provider, key)

  // The booking as a reader sees it at `now` (lazy transitions applied).
  static ::provider::v1::Booking View(const Record& r, absl::Time now);
  // View(r, now).status() without the copy.
  static ::provider::v1::Booking::Status StatusAt(const Record& r,
                                                  absl::Time now);
  static bool IsLive(::provider::v1::Booking::Status s);
  // Writes the lazy transitions into the stored status (before a change).
  static void Settle(Record& r, absl::Time now);

  ModeSpec ModeForLocked(const std::string& provider_id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The first booking made with the key, creating one if there is none.
  const Record& EnsureBookedLocked(const ::provider::v1::BookRequest& request,
                                   KeyState& key, const ModeSpec& mode,
                                   absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Record& AddLocked(::provider::v1::Booking booking, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Seqs targeted by booking_id or (provider_id, key); empty if none.
  std::vector<int64_t> FindLocked(const std::string& provider_id,
                                  const std::string& booking_id,
                                  const std::string& key) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseLocked(int64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ::provider::v1::ProviderTotals& TotalsLocked(const std::string& provider_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* const clock_;
  const ModeTable start_modes_;
  const uint64_t start_seed_;

  mutable absl::Mutex mu_;
  uint64_t seed_ ABSL_GUARDED_BY(mu_);
  ModeTable modes_ ABSL_GUARDED_BY(mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int64_t, Record> bookings_ ABSL_GUARDED_BY(mu_);  // by seq
  absl::flat_hash_map<std::string, int64_t> by_booking_id_ ABSL_GUARDED_BY(mu_);
  // Hash maps on the Book path (node maps: references stay valid across
  // inserts); Stats sorts its output.
  absl::node_hash_map<KeyId, KeyState> keys_ ABSL_GUARDED_BY(mu_);
  // Seqs per provider, ascending, for paging a provider's bookings.
  absl::node_hash_map<std::string, std::vector<int64_t>> by_provider_
      ABSL_GUARDED_BY(mu_);
  absl::node_hash_map<std::string, ::provider::v1::ProviderTotals> totals_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace booking::mock

#endif  // MOCK_PROVIDER_BOOKING_BOOK_H_
