// The reconciler on a real SQLite file with an in-memory paged provider and
// a simulated clock. For each drift class: make the drift, a dry-run reports
// it (exit 1) and changes nothing, --apply repairs it, and a further run is
// clean (exit 0). Plus the safety rules: grace window, live leases,
// compare-and-set races, an incomplete provider listing.

#include "reconciler/reconciler.h"

#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/common/clock.h"
#include "core/common/time_util.h"
#include "core/observability/logging.h"
#include "core/observability/metrics.h"
#include "core/store/sqlite_store.h"
#include "core/store/store_test_util.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "reconciler/test_provider.h"
#include "reconciler/test_rows.h"

namespace booking::reconciler {
namespace {

using ::booking::reconciler::testing::PagedFakeProvider;
using ::booking::reconciler::testing::RowMaker;
using ::provider::v1::Booking;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
using A = Appointment;

// Reads the file through its own connection: what an operator would see.
std::string Query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
    if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0)) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
  } else {
    ADD_FAILURE() << sqlite3_errmsg(db) << " in " << sql;
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = booking::testing::FreshDbPath(absl::StrCat(
        ::testing::UnitTest::GetInstance()->current_test_info()->name(),
        ".db"));
    SqliteOptions opts;
    opts.path = path_;
    opts.clock = &clock_;
    absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> store =
        SqliteAppointmentStore::Open(opts);
    ASSERT_OK(store);
    store_ = std::move(*store);
    // The reconciler's own connection, as in production.
    store = SqliteAppointmentStore::Open(opts);
    ASSERT_OK(store);
    reconciler_store_ = std::move(*store);
    // Small pages: every test crosses page boundaries.
    options_.page_size = 2;
  }

  RunSummary Run(bool apply, ReconcilerOptions options) {
    options.apply = apply;
    Reconciler reconciler(reconciler_store_.get(), &provider_, &clock_, options,
                          &metrics_);
    return reconciler.RunOnce();
  }
  RunSummary DryRun() { return Run(false, options_); }
  RunSummary Apply() { return Run(true, options_); }

  RowMaker Rows() { return RowMaker(store_.get()); }

  A Get(const std::string& id) {
    absl::StatusOr<A> a = store_->GetAppointment(id);
    EXPECT_OK(a);
    return a.ok() ? *a : A();
  }

  // Everything a repair could change, in one string.
  std::string Snapshot() {
    return absl::StrCat(
        Query(path_,
              "SELECT group_concat(id || ':' || state || ':' || version ||"
              " ':' || failure_reason, ',') FROM (SELECT * FROM appointments"
              " ORDER BY id)"),
        "|",
        Query(path_,
              "SELECT group_concat(id || ':' || status || ':' ||"
              " next_attempt_ms || ':' || lease_expiry_ms, ',') FROM (SELECT"
              " * FROM outbox ORDER BY id)"),
        "|", Query(path_, "SELECT COUNT(*) FROM appointment_events"), "|",
        provider_.Fingerprint());
  }

  // Dry-run: `n` findings of `c`, exit 1, nothing changed.
  void ExpectDryRunFinds(DriftClass c, int n) {
    const std::string before = Snapshot();
    RunSummary s = DryRun();
    EXPECT_OK(s.error);
    EXPECT_EQ(s.exit_code, kExitDrift);
    EXPECT_EQ(s.counts(c).found, n) << DriftClassName(c);
    EXPECT_EQ(s.counts(c).planned, n);
    EXPECT_EQ(s.findings(), n);
    EXPECT_EQ(Snapshot(), before) << "a dry-run changed something";
  }

  // Apply: `n` findings of `c`, all repaired, exit 0.
  RunSummary ExpectApplyRepairs(DriftClass c, int n) {
    RunSummary s = Apply();
    EXPECT_OK(s.error);
    EXPECT_EQ(s.counts(c).found, n) << DriftClassName(c);
    EXPECT_EQ(s.counts(c).repaired, n);
    EXPECT_EQ(s.findings(), n);
    EXPECT_EQ(s.exit_code, kExitClean);
    return s;
  }

  void ExpectClean() {
    for (bool apply : {false, true}) {
      RunSummary s = Run(apply, options_);
      EXPECT_OK(s.error);
      EXPECT_EQ(s.findings(), 0) << (apply ? "apply" : "dry-run");
      EXPECT_EQ(s.exit_code, kExitClean);
    }
  }

  std::vector<AppointmentEvent> Events(const std::string& id) {
    absl::StatusOr<std::vector<AppointmentEvent>> e = store_->ListEvents(id);
    EXPECT_OK(e);
    return e.ok() ? *e : std::vector<AppointmentEvent>();
  }

  const absl::Time t0_ = booking::testing::TestNow();
  SimulatedClock clock_{t0_};
  std::string path_;
  std::unique_ptr<SqliteAppointmentStore> store_;
  std::unique_ptr<SqliteAppointmentStore> reconciler_store_;
  PagedFakeProvider provider_{&clock_};
  MetricsRegistry metrics_;
  ReconcilerOptions options_;
  ScopedLogCapture logs_{LogLevel::kInfo};
};

// ------------------------------------------------------ 1. provider_lost --

TEST_F(ReconcilerTest, ProviderLostConfirmedBookingGoesFailed) {
  const std::string b1 = provider_.InjectFor("a1", t0_);
  Rows().Confirmed("a1", b1, t0_);
  const std::string b2 = provider_.InjectFor("a2", t0_);
  Rows().Confirmed("a2", b2, t0_);
  Rows().Confirmed("a3", "pb-never-listed", t0_);
  Rows().Confirmed("a4", provider_.InjectFor("a4", t0_), t0_);
  provider_.SetStatus(b1, Booking::DECLINED);  // the provider dropped it
  clock_.Advance(absl::Minutes(10));

  ExpectDryRunFinds(DriftClass::kProviderLost, 2);  // a1 declined, a3 missing
  ExpectApplyRepairs(DriftClass::kProviderLost, 2);
  for (const char* id : {"a1", "a3"}) {
    EXPECT_EQ(Get(id).state(), A::FAILED) << id;
    EXPECT_EQ(Get(id).failure_reason(), kReasonProviderLost);
    EXPECT_EQ(Events(id).back().actor, "reconciler");
    EXPECT_EQ(Events(id).back().from_state, A::CONFIRMED);
  }
  EXPECT_EQ(Get("a2").state(), A::CONFIRMED);
  EXPECT_EQ(Get("a4").state(), A::CONFIRMED);
  ExpectClean();
}

// ------------------------------------------------------------- 2. orphan --

TEST_F(ReconcilerTest, OrphansAreCancelledByBookingId) {
  Rows().Failed("f1", t0_);
  const std::string of = provider_.InjectFor("f1", t0_);  // ghost booking
  Rows().Cancelled("c1", t0_);
  const std::string oc = provider_.InjectFor("c1", t0_);
  const std::string ox = provider_.InjectFor("no-such-row", t0_);
  const std::string ok = provider_.InjectFor("a1", t0_);
  Rows().Confirmed("a1", ok, t0_);
  // A booking at the wrong provider for a healthy row is nobody's either.
  const std::string ow =
      provider_.InjectFor("a1", t0_, Booking::CONFIRMED, "prov-b");
  clock_.Advance(absl::Minutes(10));

  ExpectDryRunFinds(DriftClass::kOrphan, 4);
  RunSummary s = ExpectApplyRepairs(DriftClass::kOrphan, 4);
  for (const std::string& b : {of, oc, ox, ow}) {
    EXPECT_EQ(provider_.Find(b)->status(), Booking::CANCELLED) << b;
  }
  EXPECT_EQ(provider_.Find(ok)->status(), Booking::CONFIRMED);
  EXPECT_EQ(Get("a1").state(), A::CONFIRMED);
  EXPECT_EQ(Get("f1").state(), A::FAILED);
  ExpectClean();
}

// ----------------------------------------------------- 3. field_mismatch --

TEST_F(ReconcilerTest, FieldMismatchIsReportedAndRepairedOnlyOnRequest) {
  ProviderBooking moved;
  moved.set_idempotency_key("a1");
  moved.set_provider_id("prov-a");
  moved.set_status(Booking::CONFIRMED);
  *moved.mutable_start_time() = ToProtoTimestamp(t0_ + absl::Hours(49));
  moved.set_duration_minutes(45);
  moved.set_location("Room 9");
  const std::string b1 = provider_.Inject(moved);
  Rows().Confirmed("a1", b1, t0_);
  clock_.Advance(absl::Minutes(10));

  ExpectDryRunFinds(DriftClass::kFieldMismatch, 1);
  // --apply alone does not touch it: reported, skipped, still drift.
  const std::string before = Snapshot();
  RunSummary s = Apply();
  EXPECT_EQ(s.counts(DriftClass::kFieldMismatch).skipped, 1);
  EXPECT_EQ(s.exit_code, kExitDrift);
  ASSERT_THAT(s.examples, SizeIs(1));
  const nlohmann::ordered_json& diffs = s.examples[0].evidence["differences"];
  EXPECT_EQ(diffs["location"]["db"], "Room 1");
  EXPECT_EQ(diffs["location"]["provider"], "Room 9");
  EXPECT_EQ(diffs["duration_minutes"]["provider"], 45);
  EXPECT_TRUE(diffs.contains("start_time"));
  EXPECT_EQ(Snapshot(), before);

  options_.repair_mismatch = true;
  ExpectApplyRepairs(DriftClass::kFieldMismatch, 1);
  EXPECT_EQ(Get("a1").state(), A::FAILED);
  EXPECT_EQ(Get("a1").failure_reason(), kReasonFieldMismatch);
  EXPECT_EQ(provider_.Find(b1)->status(), Booking::CANCELLED);
  ExpectClean();
}

// -------------------------------------------------------------- 4. stuck --

TEST_F(ReconcilerTest, StuckRowsWithoutALeaseAreRequeued) {
  // a3: still inside its SLA (made first: claims take the oldest due row).
  Rows().InProgress("a3", t0_ + absl::Minutes(10), absl::Seconds(30));
  // a1: a worker claimed the BOOK and died (its lease ran out long ago).
  Rows().InProgress("a1", t0_, absl::Seconds(30));
  // a2: waiting for a confirmation nobody polls (no worker running).
  Rows().Awaiting("a2", provider_.InjectFor("a2", t0_, Booking::PENDING), t0_);
  clock_.Advance(absl::Minutes(20));

  ExpectDryRunFinds(DriftClass::kStuck, 2);
  ExpectApplyRepairs(DriftClass::kStuck, 2);
  absl::StatusOr<std::vector<OutboxCommand>> a1 = store_->ListCommandsFor("a1");
  ASSERT_OK(a1);
  ASSERT_THAT(*a1, SizeIs(1));
  EXPECT_EQ((*a1)[0].status, CommandStatus::kPending);
  EXPECT_EQ((*a1)[0].next_attempt_time, clock_.Now());
  absl::StatusOr<std::vector<OutboxCommand>> a2 = store_->ListCommandsFor("a2");
  ASSERT_OK(a2);
  EXPECT_EQ(a2->back().type, CommandType::kConfirm);
  EXPECT_EQ(a2->back().next_attempt_time, clock_.Now());
  EXPECT_EQ(Get("a1").state(), A::IN_PROGRESS);
  EXPECT_EQ(Get("a2").state(), A::AWAITING_CONFIRMATION);
  // A worker can claim both right away.
  ClaimRequest claim;
  claim.worker_id = "w2";
  claim.now = clock_.Now();
  claim.lease = absl::Seconds(30);
  absl::StatusOr<std::vector<ClaimedCommand>> claimed =
      store_->ClaimDueCommands(claim);
  ASSERT_OK(claimed);
  std::vector<std::string> ids;
  for (const ClaimedCommand& c : *claimed) {
    ids.push_back(c.command.appointment_id);
  }
  EXPECT_THAT(ids, UnorderedElementsAre("a1", "a2", "a3"));
}

TEST_F(ReconcilerTest, StuckRowsAreCleanOnTheNextRun) {
  Rows().InProgress("a1", t0_, absl::Seconds(30));
  Rows().Pending("a2", t0_);  // BOOK queued, no worker
  clock_.Advance(absl::Minutes(20));
  ExpectDryRunFinds(DriftClass::kStuck, 2);
  ExpectApplyRepairs(DriftClass::kStuck, 2);
  ExpectClean();
  // Still nobody working on them: after another SLA they are found again.
  clock_.Advance(absl::Minutes(20));
  ExpectDryRunFinds(DriftClass::kStuck, 2);
}

// ---------------------------------------------------------- 5. duplicate --

TEST_F(ReconcilerTest, DuplicatesKeepTheRowsBookingElseTheOldest) {
  // a1's bookings, oldest first: the row knows the middle one. The
  // provider lists them interleaved with others across pages.
  const std::string a1_old = provider_.InjectFor("a1", t0_);
  const std::string a9 = provider_.InjectFor("a9", t0_);
  clock_.Advance(absl::Seconds(1));
  const std::string a1_row = provider_.InjectFor("a1", t0_);
  clock_.Advance(absl::Seconds(1));
  const std::string a8 = provider_.InjectFor("a8", t0_);
  const std::string a1_new = provider_.InjectFor("a1", t0_);
  Rows().Confirmed("a9", a9, t0_);
  Rows().Confirmed("a1", a1_row, t0_);
  Rows().Confirmed("a8", a8, t0_);
  // a2: the worker's BOOK answer was lost (row still IN_PROGRESS, lease
  // expired) and two bookings exist: keep the oldest.
  clock_.Advance(absl::Seconds(1));
  const std::string a2_first = provider_.InjectFor("a2", t0_);
  clock_.Advance(absl::Seconds(1));
  const std::string a2_second = provider_.InjectFor("a2", t0_);
  Rows().InProgress("a2", t0_);
  clock_.Advance(absl::Minutes(10));

  ExpectDryRunFinds(DriftClass::kDuplicate, 2);
  RunSummary s = ExpectApplyRepairs(DriftClass::kDuplicate, 2);
  EXPECT_EQ(provider_.Find(a1_old)->status(), Booking::CANCELLED);
  EXPECT_EQ(provider_.Find(a1_row)->status(), Booking::CONFIRMED);
  EXPECT_EQ(provider_.Find(a1_new)->status(), Booking::CANCELLED);
  EXPECT_EQ(provider_.Find(a2_first)->status(), Booking::CONFIRMED);
  EXPECT_EQ(provider_.Find(a2_second)->status(), Booking::CANCELLED);
  EXPECT_EQ(provider_.LiveBookings("a1"), 1);
  EXPECT_EQ(provider_.LiveBookings("a2"), 1);
  EXPECT_EQ(provider_.LiveBookings("a8"), 1);
  ExpectClean();
}

// -------------------------------------------------- 6. late_confirmation --

TEST_F(ReconcilerTest, LateConfirmationConfirmsAndRetiresThePoll) {
  const std::string b1 = provider_.InjectFor("a1", t0_, Booking::PENDING);
  Rows().Awaiting("a1", b1, t0_);
  // Still pending at the provider: not drift.
  const std::string b2 = provider_.InjectFor("a2", t0_, Booking::PENDING);
  Rows().Awaiting("a2", b2, t0_);
  provider_.SetStatus(b1, Booking::CONFIRMED);
  clock_.Advance(absl::Minutes(6));

  ExpectDryRunFinds(DriftClass::kLateConfirmation, 1);
  ExpectApplyRepairs(DriftClass::kLateConfirmation, 1);
  const A a1 = Get("a1");
  EXPECT_EQ(a1.state(), A::CONFIRMED);
  EXPECT_EQ(a1.provider_booking_id(), b1);
  absl::StatusOr<std::vector<OutboxCommand>> commands =
      store_->ListCommandsFor("a1");
  ASSERT_OK(commands);
  EXPECT_EQ(commands->back().type, CommandType::kConfirm);
  EXPECT_EQ(commands->back().status, CommandStatus::kDone);
  EXPECT_THAT(commands->back().last_error, HasSubstr("reconciler"));
  EXPECT_EQ(Get("a2").state(), A::AWAITING_CONFIRMATION);
  ExpectClean();
}

// ------------------------------------------------------- safety rules --

TEST_F(ReconcilerTest, RowsInGraceOrUnderALiveLeaseAreLeftAlone) {
  // Drift of four kinds, each on a row changed 1 minute ago (grace 5 min)
  // or held by a live lease.
  const std::string lost = provider_.InjectFor("g1", t0_);
  Rows().Confirmed("g1", lost, t0_ + absl::Minutes(9));
  provider_.SetStatus(lost, Booking::CANCELLED);
  Rows().Failed("g2", t0_ + absl::Minutes(9));
  provider_.InjectFor("g2", t0_);
  // h1: healthy and just confirmed: neither drift nor "left alone".
  const absl::Time just = t0_ + absl::Minutes(9);
  Rows().Confirmed("h1", provider_.InjectFor("h1", just), just);
  // l1: late confirmation whose CONFIRM poll a worker holds right now.
  const std::string late = provider_.InjectFor("l1", t0_, Booking::PENDING);
  Rows().Awaiting("l1", late, t0_);
  provider_.SetStatus(late, Booking::CONFIRMED);
  ClaimRequest claim;
  claim.worker_id = "w-live";
  claim.now = t0_ + absl::Minutes(9);
  claim.lease = absl::Minutes(5);
  ASSERT_OK(store_->ClaimDueCommands(claim));
  // l2: IN_PROGRESS for 20 minutes, but its worker still holds the lease.
  Rows().InProgress("l2", t0_ + absl::Minutes(9) - absl::Minutes(20),
                    absl::Hours(2));
  clock_.SetTime(t0_ + absl::Minutes(10));

  const std::string before = Snapshot();
  for (bool apply : {false, true}) {
    RunSummary s = Run(apply, options_);
    EXPECT_OK(s.error);
    EXPECT_EQ(s.findings(), 0);
    EXPECT_EQ(s.exit_code, kExitClean);
    EXPECT_EQ(s.left_in_grace, 2);
    EXPECT_EQ(s.left_leased, 2);
  }
  EXPECT_EQ(Snapshot(), before);

  // Once the grace window and the leases have passed, they are drift.
  clock_.SetTime(t0_ + absl::Minutes(60));
  RunSummary s = DryRun();
  EXPECT_EQ(s.counts(DriftClass::kProviderLost).found, 1);
  EXPECT_EQ(s.counts(DriftClass::kOrphan).found, 1);
  EXPECT_EQ(s.counts(DriftClass::kLateConfirmation).found, 1);
  EXPECT_EQ(s.counts(DriftClass::kStuck).found, 0);  // l2 still leased
  EXPECT_EQ(s.left_leased, 1);
}

TEST_F(ReconcilerTest, ConcurrentChangeBetweenReadAndWriteIsSkipped) {
  const std::string b1 = provider_.InjectFor("a1", t0_);
  Rows().Confirmed("a1", b1, t0_);
  provider_.SetStatus(b1, Booking::CANCELLED);
  clock_.Advance(absl::Minutes(10));

  // Between the reconciler's read and its write the user cancels: the
  // compare-and-set must lose, not overwrite CANCELLING with FAILED.
  ReconcilerOptions racing = options_;
  racing.before_repair = [&](const Finding& f) {
    ASSERT_EQ(f.appointment_id, "a1");
    ASSERT_OK(store_->CancelAppointment(
        booking::testing::MakeCancelIntent("a1", "user-cancel", clock_.Now())));
  };
  RunSummary s = Run(/*apply=*/true, racing);
  EXPECT_EQ(s.counts(DriftClass::kProviderLost).found, 1);
  EXPECT_EQ(s.counts(DriftClass::kProviderLost).skipped, 1);
  EXPECT_EQ(s.exit_code, kExitDrift);
  ASSERT_THAT(s.examples, SizeIs(1));
  EXPECT_THAT(s.examples[0].detail, HasSubstr("changed concurrently"));
  EXPECT_EQ(Get("a1").state(), A::CANCELLING);
  for (const AppointmentEvent& e : Events("a1")) {
    EXPECT_NE(e.actor, "reconciler");
  }
  // CANCELLING is the worker's business now: nothing to do.
  ExpectClean();
}

TEST_F(ReconcilerTest, OrphanCancelIsSkippedWhenTheRowMovedMeanwhile) {
  const std::string b1 = provider_.InjectFor("a1", t0_);
  const std::string b2 = provider_.InjectFor("a1", t0_);
  Rows().Confirmed("a1", b1, t0_);
  clock_.Advance(absl::Minutes(10));
  ReconcilerOptions racing = options_;
  racing.before_repair = [&](const Finding&) {
    ASSERT_OK(store_->CancelAppointment(
        booking::testing::MakeCancelIntent("a1", "user-cancel", clock_.Now())));
  };
  RunSummary s = Run(/*apply=*/true, racing);
  EXPECT_EQ(s.counts(DriftClass::kDuplicate).skipped, 1);
  EXPECT_EQ(provider_.cancel_calls(), 0);
  EXPECT_EQ(provider_.Find(b2)->status(), Booking::CONFIRMED);
}

TEST_F(ReconcilerTest, IncompleteProviderListingNeverMarksRowsLost) {
  for (int i = 0; i < 6; ++i) {
    const std::string id = absl::StrCat("a", i);
    Rows().Confirmed(id, provider_.InjectFor(id, t0_), t0_);
  }
  clock_.Advance(absl::Minutes(10));
  provider_.FailListAfter(1, absl::UnavailableError("provider went away"));
  const std::string before = Snapshot();
  RunSummary s = Apply();
  EXPECT_EQ(s.exit_code, kExitError);
  EXPECT_THAT(s.error,
              booking::testing::StatusIs(absl::StatusCode::kUnavailable,
                                         HasSubstr("provider went away")));
  EXPECT_EQ(s.findings(), 0);
  EXPECT_EQ(s.provider_bookings_scanned, 2);
  EXPECT_EQ(Snapshot(), before);
  absl::StatusOr<std::vector<ReconcileRun>> runs = store_->ListReconcileRuns(1);
  ASSERT_OK(runs);
  ASSERT_THAT(*runs, SizeIs(1));
  EXPECT_EQ((*runs)[0].exit_code, kExitError);
  EXPECT_THAT((*runs)[0].error, HasSubstr("provider went away"));
}

TEST_F(ReconcilerTest, FailedCancelIsDriftLeftAndRepairedLater) {
  provider_.InjectFor("gone", t0_);
  clock_.Advance(absl::Minutes(10));
  provider_.FailCancels(absl::UnavailableError("try later"));
  RunSummary s = Apply();
  EXPECT_OK(s.error);
  EXPECT_EQ(s.counts(DriftClass::kOrphan).failed, 1);
  EXPECT_EQ(s.errors, 1);
  EXPECT_EQ(s.exit_code, kExitDrift);
  provider_.FailCancels(absl::OkStatus());
  ExpectApplyRepairs(DriftClass::kOrphan, 1);
  ExpectClean();
}

TEST_F(ReconcilerTest, ProviderFilterJudgesOnlyThatProvidersRows) {
  Rows().Confirmed("a1", provider_.InjectFor("a1", t0_), t0_, "prov-a");
  Rows().Confirmed("b1", "pb-elsewhere", t0_, "prov-b");  // not listed
  clock_.Advance(absl::Minutes(10));
  options_.provider_id = "prov-a";
  ExpectClean();
  options_.provider_id = "";
  ExpectDryRunFinds(DriftClass::kProviderLost, 1);
}

// -------------------------------------------------------- safety rails --

constexpr char kCapDetail[] =
    "max_repairs (2) reached; rerun with a higher --max_repairs after "
    "checking the report";

TEST_F(ReconcilerTest, MaxRepairsStopsRepairingAndLeavesTheRestReported) {
  // Five CONFIRMED rows whose bookings the provider no longer lists, and a
  // healthy one (the listing is not empty).
  for (const char* id : {"a1", "a2", "a3", "a4", "a5"}) {
    Rows().Confirmed(id, absl::StrCat("pb-gone-", id), t0_);
  }
  Rows().Confirmed("ok", provider_.InjectFor("ok", t0_), t0_);
  clock_.Advance(absl::Minutes(10));
  options_.max_repairs = 2;
  options_.report_path =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/capped-{run_id}.json");

  // A dry-run is not capped: it plans all five.
  ExpectDryRunFinds(DriftClass::kProviderLost, 5);

  RunSummary s = Apply();
  EXPECT_OK(s.error);
  const ClassCounts& lost = s.counts(DriftClass::kProviderLost);
  EXPECT_EQ(lost.found, 5);
  EXPECT_EQ(lost.repaired, 2);
  EXPECT_EQ(lost.skipped, 3);
  EXPECT_EQ(s.left_by_max_repairs, 3);
  EXPECT_EQ(s.exit_code, kExitDrift);
  int failed_rows = 0;
  for (const char* id : {"a1", "a2", "a3", "a4", "a5"}) {
    if (Get(id).state() == A::FAILED) ++failed_rows;
  }
  EXPECT_EQ(failed_rows, 2);
  EXPECT_EQ(Get("ok").state(), A::CONFIRMED);

  // Each finding past the cap says why it was left, in the history...
  absl::StatusOr<std::vector<ReconcileFindingRecord>> findings =
      store_->ListReconcileFindings(s.run_id, 0, 10);
  ASSERT_OK(findings);
  ASSERT_THAT(*findings, SizeIs(5));
  int capped = 0;
  for (const ReconcileFindingRecord& f : *findings) {
    if (f.outcome == "skipped") {
      EXPECT_EQ(f.detail, kCapDetail);
      ++capped;
    } else {
      EXPECT_EQ(f.outcome, "repaired");
    }
  }
  EXPECT_EQ(capped, 3);
  // ... in the report, and in the summary an operator reads.
  std::ifstream in(s.report_path);
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json report = nlohmann::json::parse(text.str());
  EXPECT_EQ(report["max_repairs"]["limit"], 2);
  EXPECT_EQ(report["max_repairs"]["left_unrepaired"], 3);
  EXPECT_EQ(report["exit_code"], 1);
  EXPECT_THAT(FormatHumanSummary(s),
              HasSubstr("max_repairs (2) reached: 3 finding(s) left"));

  // Later runs carry on where this one stopped.
  RunSummary second = Apply();
  EXPECT_EQ(second.counts(DriftClass::kProviderLost).repaired, 2);
  EXPECT_EQ(second.exit_code, kExitDrift);
  RunSummary third = Apply();
  EXPECT_EQ(third.counts(DriftClass::kProviderLost).repaired, 1);
  EXPECT_EQ(third.left_by_max_repairs, 0);
  EXPECT_EQ(third.exit_code, kExitClean);
  ExpectClean();
}

TEST_F(ReconcilerTest, MaxRepairsZeroIsUnlimited) {
  for (const char* id : {"a1", "a2", "a3"}) {
    Rows().Confirmed(id, absl::StrCat("pb-gone-", id), t0_);
  }
  Rows().Confirmed("ok", provider_.InjectFor("ok", t0_), t0_);
  clock_.Advance(absl::Minutes(10));
  options_.max_repairs = 0;
  RunSummary s = ExpectApplyRepairs(DriftClass::kProviderLost, 3);
  EXPECT_EQ(s.left_by_max_repairs, 0);
}

TEST_F(ReconcilerTest, EmptyProviderListingRefusesApplyUnlessAllowed) {
  // The provider lists nothing at all (say, it lost its data or answers for
  // the wrong tenant) while two CONFIRMED rows are past the grace window.
  Rows().Confirmed("a1", "pb-1", t0_);
  Rows().Confirmed("a2", "pb-2", t0_);
  clock_.Advance(absl::Minutes(10));

  // A dry-run still shows what --apply would do.
  ExpectDryRunFinds(DriftClass::kProviderLost, 2);

  const std::string before = Snapshot();
  RunSummary refused = Apply();
  EXPECT_EQ(refused.exit_code, kExitError);
  EXPECT_THAT(refused.error, booking::testing::StatusIs(
                                 absl::StatusCode::kFailedPrecondition,
                                 HasSubstr("the provider listed no bookings")));
  EXPECT_THAT(refused.error.message(), HasSubstr("--allow_empty_provider"));
  EXPECT_EQ(refused.findings(), 0);
  EXPECT_EQ(Snapshot(), before) << "a refused run changed something";
  EXPECT_THAT(FormatHumanSummary(refused), HasSubstr("ERROR: "));
  absl::StatusOr<std::vector<ReconcileRun>> runs = store_->ListReconcileRuns(1);
  ASSERT_OK(runs);
  ASSERT_THAT(*runs, SizeIs(1));
  EXPECT_EQ((*runs)[0].exit_code, kExitError);
  EXPECT_THAT((*runs)[0].error, HasSubstr("--allow_empty_provider"));

  // The operator checked: the provider really has nothing.
  options_.allow_empty_provider = true;
  ExpectApplyRepairs(DriftClass::kProviderLost, 2);
  EXPECT_EQ(Get("a1").state(), A::FAILED);
  EXPECT_EQ(Get("a2").state(), A::FAILED);
}

TEST_F(ReconcilerTest, EmptyListingIsFineWithoutOldConfirmedRowsInScope) {
  // Young CONFIRMED rows (within grace) and old ones at another provider
  // than the run's scope: nothing an empty listing could wrongly fail.
  Rows().Confirmed("b1", "pb-b1", t0_, "prov-b");
  clock_.Advance(absl::Minutes(10));
  Rows().Confirmed("a1", "pb-a1", clock_.Now());
  options_.provider_id = "prov-a";
  RunSummary s = Apply();
  EXPECT_OK(s.error);
  EXPECT_EQ(s.exit_code, kExitClean);
  EXPECT_EQ(s.findings(), 0);
  EXPECT_EQ(Get("a1").state(), A::CONFIRMED);
  EXPECT_EQ(Get("b1").state(), A::CONFIRMED);
}

// ------------------------------------------------------------ recording --

TEST_F(ReconcilerTest, RunsAndFindingsAreRecordedReportedAndCounted) {
  Rows().Failed("f1", t0_);
  const std::string orphan = provider_.InjectFor("f1", t0_);
  clock_.Advance(absl::Minutes(10));
  options_.report_path =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/report-{run_id}.json");

  RunSummary dry = DryRun();
  RunSummary applied = Apply();
  absl::StatusOr<std::vector<ReconcileRun>> runs =
      store_->ListReconcileRuns(10);
  ASSERT_OK(runs);
  ASSERT_THAT(*runs, SizeIs(2));
  EXPECT_EQ((*runs)[1].id, dry.run_id);
  EXPECT_EQ((*runs)[1].mode, "dry-run");
  EXPECT_EQ((*runs)[1].exit_code, 1);
  EXPECT_EQ((*runs)[1].findings, 1);
  EXPECT_EQ((*runs)[1].repaired, 0);
  EXPECT_EQ((*runs)[0].mode, "apply");
  EXPECT_EQ((*runs)[0].exit_code, 0);
  EXPECT_EQ((*runs)[0].repaired, 1);
  EXPECT_EQ((*runs)[0].provider_bookings_scanned, 1);

  absl::StatusOr<std::vector<ReconcileFindingRecord>> findings =
      store_->ListReconcileFindings(applied.run_id, 0, 10);
  ASSERT_OK(findings);
  ASSERT_THAT(*findings, SizeIs(1));
  const ReconcileFindingRecord& f = (*findings)[0];
  EXPECT_EQ(f.drift_class, "orphan");
  EXPECT_EQ(f.appointment_id, "f1");
  EXPECT_EQ(f.provider_id, "prov-a");
  EXPECT_THAT(f.booking_ids, ElementsAre(orphan));
  EXPECT_EQ(f.action, "cancel_bookings");
  EXPECT_EQ(f.outcome, "repaired");
  const nlohmann::json evidence = nlohmann::json::parse(f.evidence_json);
  EXPECT_EQ(evidence["db"]["state"], "FAILED");
  EXPECT_EQ(evidence["live_bookings"][0]["booking_id"], orphan);

  // The report file of the dry-run.
  EXPECT_EQ(dry.report_path, absl::StrCat(std::getenv("TEST_TMPDIR"),
                                          "/report-", dry.run_id, ".json"));
  std::ifstream in(dry.report_path);
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json report = nlohmann::json::parse(text.str());
  EXPECT_EQ(report["run_id"], dry.run_id);
  EXPECT_EQ(report["mode"], "dry-run");
  EXPECT_EQ(report["exit_code"], 1);
  EXPECT_EQ(report["provider_bookings_scanned"], 1);
  ASSERT_EQ(report["findings"].size(), 1u);
  EXPECT_EQ(report["findings"][0]["class"], "orphan");
  EXPECT_EQ(report["findings"][0]["outcome"], "planned");
  EXPECT_EQ(report["findings"][0]["booking_ids"][0], orphan);
  EXPECT_EQ(report["summary"]["orphan"]["found"], 1);
  EXPECT_EQ(report["summary"]["stuck"]["found"], 0);

  // Metrics and logs.
  const std::string metrics = metrics_.RenderPrometheusText();
  EXPECT_THAT(metrics, HasSubstr("reconciler_findings_total{class=\"orphan\","
                                 "outcome=\"planned\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("reconciler_findings_total{class=\"orphan\","
                                 "outcome=\"repaired\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("reconciler_runs_total{exit_code=\"1\","
                                 "mode=\"dry-run\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("reconciler_last_run_exit_code 0"));
  EXPECT_THAT(logs_.Text(), HasSubstr("\"event\":\"drift_found\""));
  EXPECT_THAT(logs_.Text(), HasSubstr("\"class\":\"orphan\""));
  EXPECT_THAT(logs_.Text(), HasSubstr("\"event\":\"reconcile_run_finished\""));
}

TEST_F(ReconcilerTest, UnwritableReportIsAnError) {
  options_.report_path = "/nonexistent-dir/report.json";
  RunSummary s = DryRun();
  EXPECT_EQ(s.exit_code, kExitError);
  EXPECT_THAT(s.error, booking::testing::StatusIs(
                           absl::StatusCode::kUnavailable,
                           HasSubstr("/nonexistent-dir/report.json")));
}

TEST(ReconcilerOptionsTest, BadOptionsAreNamed) {
  ReconcilerOptions o;
  EXPECT_OK(ValidateReconcilerOptions(o));
  o.page_size = 0;
  EXPECT_THAT(ValidateReconcilerOptions(o),
              booking::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("--page_size")));
  o = ReconcilerOptions();
  o.grace = -absl::Seconds(1);
  EXPECT_THAT(ValidateReconcilerOptions(o),
              booking::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("--grace")));
  o = ReconcilerOptions();
  EXPECT_EQ(o.max_repairs, 100);
  EXPECT_FALSE(o.allow_empty_provider);
  o.max_repairs = -1;
  EXPECT_THAT(ValidateReconcilerOptions(o),
              booking::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("--max_repairs")));
}

}  // namespace
}  // namespace booking::reconciler
