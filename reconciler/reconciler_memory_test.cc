// 100,000 provider bookings against 100,000 database rows, reconciled with
// bounded memory (DESIGN §7): the provider's bookings are made up page by
// page and never exist all at once, the rows are written with a few big
// SQL statements, and the test measures the peak heap growth of the run
// (C++ allocations through a counting operator new, SQLite's own heap
// through sqlite3_memory_highwater) against what holding the bookings in
// memory would take.

#include <malloc.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/common/clock.h"
#include "core/common/time_util.h"
#include "core/observability/logging.h"
#include "core/store/sqlite_store.h"
#include "core/store/store_test_util.h"
#include "core/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "reconciler/reconciler.h"
#include "reconciler/test_provider.h"

// ------------------------------------------- counting operator new/delete --
// Live bytes and their high-water mark, for this test binary only.

namespace {

std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};

void Track(int64_t delta) {
  const int64_t now =
      g_live.fetch_add(delta, std::memory_order_relaxed) + delta;
  int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak &&
         !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void* Allocate(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  Track(static_cast<int64_t>(malloc_usable_size(p)));
  return p;
}

void Release(void* p) {
  if (p == nullptr) return;
  Track(-static_cast<int64_t>(malloc_usable_size(p)));
  std::free(p);
}

}  // namespace

void* operator new(size_t n) { return Allocate(n); }
void* operator new[](size_t n) { return Allocate(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p != nullptr) Track(static_cast<int64_t>(malloc_usable_size(p)));
  return p;
}
void* operator new[](size_t n, const std::nothrow_t& t) noexcept {
  return operator new(n, t);
}
void operator delete(void* p) noexcept { Release(p); }
void operator delete[](void* p) noexcept { Release(p); }
void operator delete(void* p, size_t) noexcept { Release(p); }
void operator delete[](void* p, size_t) noexcept { Release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { Release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { Release(p); }

namespace booking::reconciler {
namespace {

using ::provider::v1::Booking;

constexpr int64_t kRows = 100'000;
constexpr int64_t kDrift = 100;  // per class: every 1000th row
constexpr int64_t kStride = kRows / kDrift;

std::string RowId(int64_t i) { return absl::StrFormat("a%06d", i); }

// Booking `j` of kRows + kDrift, in a scrambled order (the provider lists by
// creation, not by key): j < kRows is row perm(j)'s booking, except that
// rows with perm(j) % 1000 == 0 have none (provider_lost) and an orphan key
// takes their place; j >= kRows are second bookings (duplicates) for the
// rows with i % 1000 == 500.
ProviderBooking MakeBooking(int64_t j, absl::Time base) {
  ProviderBooking b;
  b.set_provider_id("prov-a");
  b.set_status(Booking::CONFIRMED);
  *b.mutable_start_time() = ToProtoTimestamp(base + absl::Hours(48));
  b.set_duration_minutes(30);
  b.set_location("Room 1");
  if (j < kRows) {
    const int64_t i = (j * 7919) % kRows;  // 7919 is prime: a permutation
    const bool lost = i % kStride == 0;
    b.set_idempotency_key(lost ? absl::StrFormat("x%06d", i) : RowId(i));
    b.set_booking_id(absl::StrFormat("b%06d", i));
    *b.mutable_create_time() = ToProtoTimestamp(base);
  } else {
    const int64_t i = (j - kRows) * kStride + kStride / 2;
    b.set_idempotency_key(RowId(i));
    b.set_booking_id(absl::StrFormat("d%06d", i));
    *b.mutable_create_time() = ToProtoTimestamp(base + absl::Seconds(1));
  }
  return b;
}

// kRows CONFIRMED rows a000000.., booked as b000000.., in one statement.
void InsertRows(const std::string& path, absl::Time base) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const int64_t at = ToDbMillis(base);
  const int64_t start = ToDbMillis(base + absl::Hours(48));
  const std::string sql = absl::StrCat(
      "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n"
      " WHERE i < ",
      kRows - 1,
      ") INSERT INTO appointments (id, request_id, customer_id,"
      " provider_id, location, start_ms, duration_minutes, priority,"
      " patient_name, patient_email, patient_phone, notes, state,"
      " provider_booking_id, attempt_count, failure_reason, cancel_reason,"
      " version, create_ms, update_ms) SELECT printf('a%06d', i),"
      " printf('req-%06d', i), 'cust-1', 'prov-a', 'Room 1', ",
      start,
      ", 30, 'NORMAL', 'Ada Lovelace', '', '', '', 'CONFIRMED',"
      " printf('b%06d', i), 1, '', '', 3, ",
      at, ", ", at, " FROM n");
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

TEST(ReconcilerMemoryTest, HundredThousandBookingsInBoundedMemory) {
  // Drift lines only at error level: 300 findings would flood the log.
  LoggingOptions quiet;
  quiet.service = "reconciler";
  quiet.level = LogLevel::kError;
  ASSERT_OK(InitLogging(quiet));

  const absl::Time base = booking::testing::TestNow();
  SimulatedClock clock(base + absl::Hours(1));
  const std::string path = booking::testing::FreshDbPath("memory.db");
  SqliteOptions opts;
  opts.path = path;
  opts.clock = &clock;
  {
    auto store = SqliteAppointmentStore::Open(opts);  // creates the schema
    ASSERT_OK(store);
  }
  InsertRows(path, base);
  auto store = SqliteAppointmentStore::Open(opts);
  ASSERT_OK(store);
  ASSERT_GT(sqlite3_memory_used(), 0) << "SQLite memory statistics are off";

  // What holding a tenth of the bookings would take.
  int64_t tenth_bytes = 0;
  {
    const int64_t before = g_live.load();
    std::vector<ProviderBooking> held;
    held.reserve(kRows / 10);
    for (int64_t j = 0; j < kRows / 10; ++j) {
      held.push_back(MakeBooking(j, base));
    }
    tenth_bytes = g_live.load() - before;
  }
  const int64_t all_in_memory = tenth_bytes * 10;

  testing::GeneratedProvider provider(
      kRows + kDrift, [base](int64_t j) { return MakeBooking(j, base); });
  ReconcilerOptions options;
  options.page_size = 1000;
  Reconciler reconciler(store->get(), &provider, &clock, options);

  const int64_t cpp_before = g_live.load();
  g_peak.store(cpp_before);
  const int64_t sqlite_before = sqlite3_memory_used();
  sqlite3_memory_highwater(/*resetFlag=*/1);
  RunSummary s = reconciler.RunOnce();
  const int64_t cpp_peak = g_peak.load() - cpp_before;
  const int64_t sqlite_peak = sqlite3_memory_highwater(0) - sqlite_before;

  EXPECT_OK(s.error);
  EXPECT_EQ(s.provider_bookings_scanned, kRows + kDrift);
  EXPECT_EQ(s.db_rows_scanned, kRows);
  EXPECT_EQ(s.counts(DriftClass::kProviderLost).found, kDrift);
  EXPECT_EQ(s.counts(DriftClass::kOrphan).found, kDrift);
  EXPECT_EQ(s.counts(DriftClass::kDuplicate).found, kDrift);
  EXPECT_EQ(s.findings(), 3 * kDrift);
  EXPECT_EQ(s.exit_code, kExitDrift);

  std::printf(
      "100k bookings held in memory: %.1f MiB; run peak growth: C++ %.1f "
      "MiB + SQLite %.1f MiB\n",
      all_in_memory / 1048576.0, cpp_peak / 1048576.0, sqlite_peak / 1048576.0);
  EXPECT_GT(all_in_memory, 0);
  // Bounded: far below the bookings themselves (a page of 1000 bookings,
  // SQLite's page caches and a page of rows).
  EXPECT_LT(cpp_peak + sqlite_peak, all_in_memory / 4);
}

}  // namespace
}  // namespace booking::reconciler
