#include "mock_provider/booking_book.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/common/time_util.h"

namespace booking::mock {
namespace {

using ::provider::v1::Booking;
using ::provider::v1::BookRequest;
using ::provider::v1::CancelRequest;
using ::provider::v1::DropBookingRequest;
using ::provider::v1::GetBookingRequest;
using ::provider::v1::InjectBookingRequest;
using ::provider::v1::KeyStats;
using ::provider::v1::ListAllResponse;
using ::provider::v1::ListBookingsRequest;
using ::provider::v1::ListBookingsResponse;
using ::provider::v1::ProviderTotals;
using ::provider::v1::StatsRequest;
using ::provider::v1::StatsResponse;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
// Calls not aimed at one provider (ListBookings of all, a Cancel or Get by an
// unknown booking_id without provider_id) are counted under this id.
constexpr char kAllProviders[] = "*";

uint64_t Fnv1a(uint64_t h, const std::string& s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string PageToken(int64_t next_seq) { return absl::StrCat("s", next_seq); }

absl::StatusOr<int64_t> ParsePageToken(const std::string& token) {
  if (token.empty()) return 0;
  int64_t seq = 0;
  if (token[0] != 's' || !absl::SimpleAtoi(token.substr(1), &seq) || seq <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token '", token, "' is not a token we issued"));
  }
  return seq;
}

// Cancel, Get and Drop find a booking by its id, or by provider_id and
// idempotency_key: INVALID_ARGUMENT naming what is missing.
template <typename Request>
absl::Status CheckLookup(const Request& request) {
  if (request.booking_id().empty() && request.idempotency_key().empty()) {
    return absl::InvalidArgumentError(
        "booking_id or idempotency_key is required");
  }
  if (request.booking_id().empty() && request.provider_id().empty()) {
    return absl::InvalidArgumentError(
        "provider_id is required with idempotency_key");
  }
  return absl::OkStatus();
}

}  // namespace

BookingBook::BookingBook(const Clock* clock, ModeTable start_modes,
                         uint64_t seed)
    : clock_(clock),
      start_modes_(std::move(start_modes)),
      start_seed_(seed),
      seed_(seed),
      modes_(start_modes_) {}

double BookingBook::Coin(uint64_t seed, const std::string& provider_id,
                         const std::string& key, int64_t call_index) {
  uint64_t h = Fnv1a(0xcbf29ce484222325ULL, provider_id);
  h = Fnv1a(h ^ 0xff, key);
  uint64_t x = SplitMix64(seed ^ SplitMix64(h ^ SplitMix64(call_index)));
  return static_cast<double>(x >> 11) * 0x1.0p-53;
}

bool BookingBook::IsLive(Booking::Status s) {
  return s == Booking::CONFIRMED || s == Booking::PENDING;
}

Booking BookingBook::View(const Record& r, absl::Time now) {
  Booking b = r.booking;
  if (b.status() == Booking::PENDING && r.confirm_at <= now) {
    b.set_status(Booking::CONFIRMED);
    *b.mutable_update_time() = ToProtoTimestamp(r.confirm_at);
  }
  if (b.status() == Booking::CONFIRMED && r.decline_at <= now) {
    b.set_status(Booking::DECLINED);
    *b.mutable_update_time() = ToProtoTimestamp(r.decline_at);
  }
  return b;
}

Booking::Status BookingBook::StatusAt(const Record& r, absl::Time now) {
  Booking::Status s = r.booking.status();
  if (s == Booking::PENDING && r.confirm_at <= now) s = Booking::CONFIRMED;
  if (s == Booking::CONFIRMED && r.decline_at <= now) s = Booking::DECLINED;
  return s;
}

void BookingBook::Settle(Record& r, absl::Time now) {
  r.booking = View(r, now);
  if (r.confirm_at <= now) r.confirm_at = absl::InfiniteFuture();
  if (r.decline_at <= now) r.decline_at = absl::InfiniteFuture();
}

ModeSpec BookingBook::ModeForLocked(const std::string& provider_id) const {
  auto it = modes_.find(provider_id);
  if (it == modes_.end()) it = modes_.find(kDefaultProvider);
  return it == modes_.end() ? ModeSpec{} : it->second;
}

ModeSpec BookingBook::ModeFor(const std::string& provider_id) const {
  absl::MutexLock lock(&mu_);
  return ModeForLocked(provider_id);
}

ProviderTotals& BookingBook::TotalsLocked(const std::string& provider_id) {
  ProviderTotals& t = totals_[provider_id];
  t.set_provider_id(provider_id);
  return t;
}

BookingBook::Record& BookingBook::AddLocked(Booking booking, absl::Time now) {
  const int64_t seq = next_seq_++;
  if (booking.booking_id().empty()) {
    booking.set_booking_id(absl::StrFormat("bk-%08d", seq));
  }
  *booking.mutable_create_time() = ToProtoTimestamp(now);
  *booking.mutable_update_time() = ToProtoTimestamp(now);
  by_booking_id_[booking.booking_id()] = seq;
  by_provider_[booking.provider_id()].push_back(seq);
  if (!booking.idempotency_key().empty()) {
    keys_[{booking.provider_id(), booking.idempotency_key()}].seqs.push_back(
        seq);
  }
  ProviderTotals& totals = TotalsLocked(booking.provider_id());
  totals.set_bookings_created(totals.bookings_created() + 1);
  Record& r = bookings_[seq];
  r.booking = std::move(booking);
  return r;
}

const BookingBook::Record& BookingBook::EnsureBookedLocked(
    const BookRequest& request, KeyState& key, const ModeSpec& mode,
    absl::Time now) {
  if (!key.seqs.empty()) return bookings_.at(key.seqs.front());
  Booking b;
  b.set_idempotency_key(request.idempotency_key());
  b.set_provider_id(request.provider_id());
  *b.mutable_start_time() = request.start_time();
  b.set_duration_minutes(request.duration_minutes());
  b.set_location(request.location());
  b.set_customer_ref(request.customer_ref());
  b.set_status(mode.mode == ::provider::v1::PENDING_CONFIRM
                   ? Booking::PENDING
                   : Booking::CONFIRMED);
  Record& r = AddLocked(std::move(b), now);
  if (mode.mode == ::provider::v1::PENDING_CONFIRM) {
    r.confirm_at = now + absl::Milliseconds(mode.confirm_after_ms);
  }
  if (mode.mode == ::provider::v1::DECLINE_LATER) {
    r.decline_at = now + absl::Milliseconds(mode.decline_after_ms);
  }
  return r;
}

BookOutcome BookingBook::Book(const BookRequest& request) {
  BookOutcome out;
  if (request.idempotency_key().empty()) {
    out.status = absl::InvalidArgumentError("idempotency_key is required");
    return out;
  }
  if (request.provider_id().empty()) {
    out.status = absl::InvalidArgumentError("provider_id is required");
    return out;
  }
  if (!request.has_start_time()) {
    out.status = absl::InvalidArgumentError("start_time is required");
    return out;
  }
  if (request.duration_minutes() <= 0) {
    out.status =
        absl::InvalidArgumentError("duration_minutes must be positive");
    return out;
  }

  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  const std::string& provider_id = request.provider_id();
  const ModeSpec mode = WithDefaults(ModeForLocked(provider_id));
  KeyState& key = keys_[{provider_id, request.idempotency_key()}];
  const int64_t call_index = key.book_calls++;
  ProviderTotals& totals = TotalsLocked(provider_id);
  totals.set_book_calls(totals.book_calls() + 1);
  // For delayed/timeout/confirm_fail/rate_limited, fail_first_n > 0 limits
  // the mode to the first n calls per key; later calls act like immediate.
  const bool applies = mode.fail_first_n == 0 || call_index < mode.fail_first_n;
  auto injected = [&](absl::Status status) {
    totals.set_failures_injected(totals.failures_injected() + 1);
    out.status = std::move(status);
    return out;
  };

  switch (mode.mode) {
    case ::provider::v1::FLAKY: {
      const bool fails =
          mode.fail_fraction > 0
              ? Coin(seed_, provider_id, request.idempotency_key(),
                     call_index) < mode.fail_fraction
              : call_index < mode.fail_first_n;
      if (fails) {
        return injected(absl::UnavailableError(
            absl::StrCat("mock flaky: call ", call_index + 1, " fails")));
      }
      break;
    }
    case ::provider::v1::TIMEOUT:
      if (applies) {
        out.reply_after = absl::Milliseconds(mode.delay_ms);
        return injected(absl::DeadlineExceededError(
            "mock timeout: no answer in time, nothing booked"));
      }
      break;
    case ::provider::v1::ALWAYS_FAIL:
      return injected(absl::UnavailableError("mock always_fail: unavailable"));
    case ::provider::v1::RATE_LIMITED:
      if (applies) {
        out.retry_after_ms = mode.retry_after_ms;
        return injected(absl::ResourceExhaustedError(absl::StrCat(
            "mock rate_limited: retry after ", mode.retry_after_ms, " ms")));
      }
      break;
    case ::provider::v1::REJECT:
      // A key that already has a booking replays it, as in every mode.
      if (key.seqs.empty()) {
        return injected(absl::FailedPreconditionError(
            "mock reject: slot taken, do not retry"));
      }
      break;
    default:
      break;
  }

  const Record& record = EnsureBookedLocked(request, key, mode, now);
  if (mode.mode == ::provider::v1::CONFIRM_FAIL && applies) {
    return injected(absl::InternalError(
        "mock confirm_fail: booked, then failed to answer"));
  }
  out.booking = View(record, now);
  if (mode.mode == ::provider::v1::DELAYED && applies) {
    out.reply_after = absl::Milliseconds(mode.delay_ms);
  }
  return out;
}

std::vector<int64_t> BookingBook::FindLocked(const std::string& provider_id,
                                             const std::string& booking_id,
                                             const std::string& key) const {
  if (!booking_id.empty()) {
    auto it = by_booking_id_.find(booking_id);
    if (it == by_booking_id_.end()) return {};
    const Record& r = bookings_.at(it->second);
    if (!provider_id.empty() && r.booking.provider_id() != provider_id) {
      return {};
    }
    return {it->second};
  }
  auto it = keys_.find({provider_id, key});
  if (it == keys_.end()) return {};
  return it->second.seqs;
}

absl::StatusOr<Booking> BookingBook::Cancel(const CancelRequest& request) {
  if (absl::Status s = CheckLookup(request); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  const std::vector<int64_t> seqs = FindLocked(
      request.provider_id(), request.booking_id(), request.idempotency_key());
  const Booking* first =
      seqs.empty() ? nullptr : &bookings_.at(seqs.front()).booking;
  const std::string provider_id =
      !request.provider_id().empty()
          ? request.provider_id()
          : (first != nullptr ? first->provider_id() : kAllProviders);
  ProviderTotals& totals = TotalsLocked(provider_id);
  totals.set_cancel_calls(totals.cancel_calls() + 1);
  const std::string& key = !request.booking_id().empty() && first != nullptr
                               ? first->idempotency_key()
                               : request.idempotency_key();
  if (!key.empty()) ++keys_[{provider_id, key}].cancel_calls;

  if (ModeForLocked(provider_id).mode == ::provider::v1::ALWAYS_FAIL) {
    totals.set_failures_injected(totals.failures_injected() + 1);
    return absl::UnavailableError("mock always_fail: unavailable");
  }
  if (seqs.empty()) {
    Booking b;
    b.set_provider_id(provider_id);
    b.set_booking_id(request.booking_id());
    b.set_idempotency_key(request.idempotency_key());
    b.set_status(Booking::CANCELLED);
    *b.mutable_update_time() = ToProtoTimestamp(now);
    return b;
  }
  for (int64_t seq : seqs) {
    Record& r = bookings_.at(seq);
    Settle(r, now);
    if (IsLive(r.booking.status())) {
      r.booking.set_status(Booking::CANCELLED);
      *r.booking.mutable_update_time() = ToProtoTimestamp(now);
      r.confirm_at = r.decline_at = absl::InfiniteFuture();
    }
  }
  return View(bookings_.at(seqs.front()), now);
}

absl::StatusOr<Booking> BookingBook::Get(const GetBookingRequest& request) {
  if (absl::Status s = CheckLookup(request); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  const std::vector<int64_t> seqs = FindLocked(
      request.provider_id(), request.booking_id(), request.idempotency_key());
  const std::string provider_id =
      !request.provider_id().empty()
          ? request.provider_id()
          : (seqs.empty() ? kAllProviders
                          : bookings_.at(seqs.front()).booking.provider_id());
  ProviderTotals& totals = TotalsLocked(provider_id);
  totals.set_get_calls(totals.get_calls() + 1);
  if (ModeForLocked(provider_id).mode == ::provider::v1::ALWAYS_FAIL) {
    totals.set_failures_injected(totals.failures_injected() + 1);
    return absl::UnavailableError("mock always_fail: unavailable");
  }
  if (seqs.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no booking ",
                     request.booking_id().empty()
                         ? absl::StrCat("with idempotency_key '",
                                        request.idempotency_key(), "'")
                         : absl::StrCat("'", request.booking_id(), "'"),
                     " at provider '", provider_id, "'"));
  }
  return View(bookings_.at(seqs.front()), now);
}

absl::StatusOr<ListBookingsResponse> BookingBook::List(
    const ListBookingsRequest& request) {
  if (request.page_size() < 0) {
    return absl::InvalidArgumentError("page_size must not be negative");
  }
  const int page_size = request.page_size() == 0
                            ? kDefaultPageSize
                            : std::min(request.page_size(), kMaxPageSize);
  auto start = ParsePageToken(request.page_token());
  if (!start.ok()) return start.status();

  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  ProviderTotals& totals = TotalsLocked(
      request.provider_id().empty() ? kAllProviders : request.provider_id());
  totals.set_list_calls(totals.list_calls() + 1);

  ListBookingsResponse response;
  if (request.provider_id().empty()) {
    auto it = bookings_.lower_bound(*start);
    for (; it != bookings_.end() && response.bookings_size() < page_size;
         ++it) {
      *response.add_bookings() = View(it->second, now);
    }
    if (it != bookings_.end()) {
      response.set_next_page_token(PageToken(it->first));
    }
    return response;
  }
  auto pit = by_provider_.find(request.provider_id());
  if (pit == by_provider_.end()) return response;
  const std::vector<int64_t>& seqs = pit->second;
  auto it = std::lower_bound(seqs.begin(), seqs.end(), *start);
  for (; it != seqs.end() && response.bookings_size() < page_size; ++it) {
    *response.add_bookings() = View(bookings_.at(*it), now);
  }
  if (it != seqs.end()) response.set_next_page_token(PageToken(*it));
  return response;
}

absl::Status BookingBook::SetMode(const std::string& provider_id,
                                  const ModeSpec& spec) {
  const std::string id = provider_id.empty() ? kDefaultProvider : provider_id;
  if (absl::Status s =
          ValidateModeSpec(spec, absl::StrCat("mode for provider '", id, "'"));
      !s.ok()) {
    return s;
  }
  absl::MutexLock lock(&mu_);
  modes_[id] = spec;
  return absl::OkStatus();
}

void BookingBook::Reset(uint64_t seed) {
  absl::MutexLock lock(&mu_);
  seed_ = seed != 0 ? seed : start_seed_;
  modes_ = start_modes_;
  next_seq_ = 1;
  bookings_.clear();
  by_booking_id_.clear();
  keys_.clear();
  by_provider_.clear();
  totals_.clear();
}

StatsResponse BookingBook::Stats(const StatsRequest& request) const {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  StatsResponse response;
  std::vector<const std::pair<const KeyId, KeyState>*> keys;
  for (const auto& entry : keys_) keys.push_back(&entry);
  std::sort(keys.begin(), keys.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  for (const auto* entry : keys) {
    const KeyId& id = entry->first;
    const KeyState& state = entry->second;
    if (!request.provider_id().empty() && id.first != request.provider_id()) {
      continue;
    }
    if (!request.idempotency_key().empty() &&
        id.second != request.idempotency_key()) {
      continue;
    }
    KeyStats* ks = response.add_keys();
    ks->set_provider_id(id.first);
    ks->set_idempotency_key(id.second);
    ks->set_book_calls(state.book_calls);
    ks->set_cancel_calls(state.cancel_calls);
    int64_t live = 0;
    for (int64_t seq : state.seqs) {
      const Booking::Status s = StatusAt(bookings_.at(seq), now);
      ks->add_statuses(s);
      live += IsLive(s) ? 1 : 0;
    }
    ks->set_live_bookings(live);
  }
  std::vector<const ProviderTotals*> all_totals;
  for (const auto& entry : totals_) all_totals.push_back(&entry.second);
  std::sort(all_totals.begin(), all_totals.end(),
            [](const auto* a, const auto* b) {
              return a->provider_id() < b->provider_id();
            });
  for (const ProviderTotals* totals : all_totals) {
    const std::string& provider_id = totals->provider_id();
    if (!request.provider_id().empty() &&
        provider_id != request.provider_id()) {
      continue;
    }
    ProviderTotals* t = response.add_totals();
    *t = *totals;
    int64_t live = 0;
    auto pit = by_provider_.find(provider_id);
    if (pit != by_provider_.end()) {
      for (int64_t seq : pit->second) {
        live += IsLive(StatusAt(bookings_.at(seq), now)) ? 1 : 0;
      }
    }
    t->set_live_bookings(live);
  }
  return response;
}

ListAllResponse BookingBook::ListAll() const {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  ListAllResponse response;
  for (const auto& [seq, record] : bookings_) {
    *response.add_bookings() = View(record, now);
  }
  return response;
}

absl::StatusOr<Booking> BookingBook::Inject(
    const InjectBookingRequest& request) {
  Booking b = request.booking();
  if (b.provider_id().empty()) {
    return absl::InvalidArgumentError("booking.provider_id is required");
  }
  if (b.status() == Booking::STATUS_UNSPECIFIED) {
    b.set_status(Booking::CONFIRMED);
  }
  if (!Booking::Status_IsValid(b.status())) {
    return absl::InvalidArgumentError("booking.status is not a status");
  }
  absl::MutexLock lock(&mu_);
  if (!b.booking_id().empty() && by_booking_id_.count(b.booking_id()) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("booking_id '", b.booking_id(), "' already exists"));
  }
  const absl::Time now = clock_->Now();
  return AddLocked(std::move(b), now).booking;
}

void BookingBook::EraseLocked(int64_t seq) {
  auto it = bookings_.find(seq);
  if (it == bookings_.end()) return;
  const Booking& b = it->second.booking;
  by_booking_id_.erase(b.booking_id());
  auto remove = [seq](std::vector<int64_t>& v) {
    v.erase(std::remove(v.begin(), v.end(), seq), v.end());
  };
  remove(by_provider_[b.provider_id()]);
  if (!b.idempotency_key().empty()) {
    remove(keys_[{b.provider_id(), b.idempotency_key()}].seqs);
  }
  bookings_.erase(it);
}

absl::StatusOr<Booking> BookingBook::Drop(const DropBookingRequest& request) {
  if (absl::Status s = CheckLookup(request); !s.ok()) return s;
  Booking::Status status = request.status();
  if (status == Booking::STATUS_UNSPECIFIED) status = Booking::CANCELLED;
  if (status != Booking::CANCELLED && status != Booking::DECLINED) {
    return absl::InvalidArgumentError("status must be CANCELLED or DECLINED");
  }
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  const std::vector<int64_t> seqs = FindLocked(
      request.provider_id(), request.booking_id(), request.idempotency_key());
  // By key, only live bookings are lost; by id, the one booking named.
  std::vector<int64_t> targets;
  for (int64_t seq : seqs) {
    if (!request.booking_id().empty() || request.erase() ||
        IsLive(StatusAt(bookings_.at(seq), now))) {
      targets.push_back(seq);
    }
  }
  if (targets.empty()) {
    return absl::NotFoundError("no such booking to drop");
  }
  Booking first;
  for (size_t i = 0; i < targets.size(); ++i) {
    Record& r = bookings_.at(targets[i]);
    Settle(r, now);
    if (request.erase()) {
      if (i == 0) first = r.booking;
      EraseLocked(targets[i]);
      continue;
    }
    r.booking.set_status(status);
    *r.booking.mutable_update_time() = ToProtoTimestamp(now);
    r.confirm_at = r.decline_at = absl::InfiniteFuture();
    if (i == 0) first = r.booking;
  }
  return first;
}

}  // namespace booking::mock
