#include "reconciler/reconciler.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "core/common/status_macros.h"
#include "core/common/time_util.h"
#include "core/domain/state_machine.h"
#include "core/observability/logging.h"

namespace booking::reconciler {
namespace {

using A = Appointment;
using ::provider::v1::Booking;

constexpr char kModeApply[] = "apply";
constexpr char kModeDryRun[] = "dry-run";

absl::Time UpdateTime(const A& a) {
  return FromProtoTimestamp(a.update_time());
}

SeenBooking ToSeen(const ProviderBooking& b) {
  SeenBooking s;
  s.booking_id = b.booking_id();
  s.idempotency_key = b.idempotency_key();
  s.provider_id = b.provider_id();
  s.status = Booking::Status_Name(b.status());
  s.live = b.status() == Booking::CONFIRMED || b.status() == Booking::PENDING;
  s.start_time = FromProtoTimestamp(b.start_time());
  s.duration_minutes = b.duration_minutes();
  s.location = b.location();
  s.create_time = FromProtoTimestamp(b.create_time());
  return s;
}

nlohmann::ordered_json BookingJson(const SeenBooking& b) {
  return {{"booking_id", b.booking_id},
          {"provider_id", b.provider_id},
          {"status", b.status},
          {"created_at", FormatUtc(b.create_time)}};
}

nlohmann::ordered_json BookingsJson(const std::vector<SeenBooking>& bookings) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const SeenBooking& b : bookings) out.push_back(BookingJson(b));
  return out;
}

nlohmann::ordered_json RowJson(const A& a) {
  return {{"state", std::string(StateName(a.state()))},
          {"version", a.version()},
          {"provider_booking_id", a.provider_booking_id()},
          {"failure_reason", a.failure_reason()},
          {"updated_at", FormatUtc(UpdateTime(a))}};
}

// The provider's cancel, synchronously. The state is shared with the
// callback so nothing it touches can be gone when it runs.
absl::Status CancelBooking(ProviderClient* provider,
                           const std::string& provider_id,
                           const std::string& booking_id,
                           absl::Duration deadline) {
  struct Call {
    absl::Notification done;
    ProviderResult result;
  };
  auto call = std::make_shared<Call>();
  provider::v1::CancelRequest request;
  request.set_provider_id(provider_id);
  request.set_booking_id(booking_id);
  provider->Cancel(request, deadline, [call](ProviderResult r) {
    call->result = std::move(r);
    call->done.Notify();
  });
  call->done.WaitForNotification();
  return call->result.booking.status();
}

// Store errors of a repair: a lost compare-and-set or a state that moved on
// is "skipped" (the next run looks again); anything else "failed".
void SetStoreOutcome(Finding& f, const absl::Status& s, int64_t* errors) {
  if (absl::IsAborted(s) || absl::IsFailedPrecondition(s) ||
      absl::IsNotFound(s)) {
    f.outcome = Outcome::kSkipped;
    f.detail = absl::StrCat("changed concurrently, left alone: ", s.message());
  } else {
    ++*errors;
    f.outcome = Outcome::kFailed;
    f.detail = s.ToString();
  }
}

}  // namespace

absl::Status ValidateReconcilerOptions(const ReconcilerOptions& o) {
  if (o.grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--grace must not be negative");
  }
  if (o.stuck_after <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--stuck_after must be positive");
  }
  if (o.page_size < 1 || o.page_size > 1000) {
    return absl::InvalidArgumentError("--page_size must be in 1..1000");
  }
  if (o.provider_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--provider_deadline must be positive");
  }
  if (o.requeue_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--requeue_deadline must be positive");
  }
  if (o.max_repairs < 0) {
    return absl::InvalidArgumentError(
        "--max_repairs must not be negative (0 = unlimited)");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- metrics --

struct Reconciler::Metrics {
  explicit Metrics(MetricsRegistry* r)
      : registry(r),
        duration(r->GetHistogram("reconciler_run_duration_seconds",
                                 "Wall time of a reconciler run.", {},
                                 {0.1, 0.5, 1, 5, 10, 30, 60, 300, 900})),
        last_run(r->GetGauge("reconciler_last_run_timestamp_seconds",
                             "When the last run finished (Unix seconds).")),
        last_exit(r->GetGauge("reconciler_last_run_exit_code",
                              "Exit code of the last run (0 clean, 1 drift, "
                              "2 error).")),
        bookings(r->GetGauge("reconciler_last_run_provider_bookings_scanned",
                             "Provider bookings listed by the last run.")),
        rows(r->GetGauge("reconciler_last_run_db_rows_scanned",
                         "Database rows examined by the last run.")) {}

  void Count(const Finding& f) {
    registry
        ->GetCounter("reconciler_findings_total",
                     "Drift findings by class and outcome.",
                     {{"class", std::string(DriftClassName(f.drift_class))},
                      {"outcome", std::string(OutcomeName(f.outcome))}})
        ->Increment();
  }

  void Run(const RunSummary& s) {
    registry
        ->GetCounter("reconciler_runs_total",
                     "Reconciler runs by mode and "
                     "exit code.",
                     {{"mode", s.apply ? kModeApply : kModeDryRun},
                      {"exit_code", absl::StrCat(s.exit_code)}})
        ->Increment();
    duration->Observe(absl::ToDoubleSeconds(s.finished - s.started));
    last_run->Set(absl::ToDoubleSeconds(s.finished - absl::UnixEpoch()));
    last_exit->Set(s.exit_code);
    bookings->Set(static_cast<double>(s.provider_bookings_scanned));
    rows->Set(static_cast<double>(s.db_rows_scanned));
    for (DriftClass c : AllDriftClasses()) {
      // Drift the last run left in place: the level to alert on.
      registry
          ->GetGauge("reconciler_last_run_unrepaired",
                     "Findings the last run left unrepaired, by class.",
                     {{"class", std::string(DriftClassName(c))}})
          ->Set(static_cast<double>(s.counts(c).found - s.counts(c).repaired));
    }
  }

  MetricsRegistry* registry;
  Histogram* duration;
  Gauge* last_run;
  Gauge* last_exit;
  Gauge* bookings;
  Gauge* rows;
};

// -------------------------------------------------------------------- run --

// The state of one run; lives for one RunOnce().
class Reconciler::Run {
 public:
  explicit Run(Reconciler* r) : r_(*r), o_(r->options_) {}

  RunSummary Execute();

 private:
  // A finding and what its repair needs.
  struct Planned {
    Finding finding;
    bool row_exists = false;
    int64_t version = 0;  // as read, for compare-and-set
    A::State state = A::STATE_UNSPECIFIED;
    absl::Time start_time;
    // (provider_id, booking_id) to cancel.
    std::vector<std::pair<std::string, std::string>> cancels;
    std::string confirm_booking_id;
  };

  absl::Status Ingest();
  // FAILED_PRECONDITION for an apply run whose provider listing was empty
  // while old CONFIRMED rows exist (see allow_empty_provider).
  absl::Status CheckEmptyListing();
  // True once max_repairs repairs were made (apply mode).
  bool RepairBudgetSpent() const {
    return o_.max_repairs > 0 && repairs_made_ >= o_.max_repairs;
  }
  absl::Status ProviderSide();
  absl::Status DatabaseSide();
  void AnalyzeKey(const ReconcileItem& item, std::vector<Planned>* out);
  // Duplicate, field_mismatch, late_confirmation and misplaced bookings of
  // a row in PENDING, IN_PROGRESS, AWAITING_CONFIRMATION or CONFIRMED.
  void LiveRowDrift(const A& a, const std::vector<const SeenBooking*>& live,
                    std::vector<Planned>* out);
  Planned OrphanFinding(const std::string& key,
                        const std::vector<const SeenBooking*>& bookings,
                        const A* row, const std::string& why);
  void AnalyzeRow(const ReconcileItem& item, std::vector<Planned>* out);
  // False (and counted as left alone) for a row changed within the grace
  // window or under a live lease.
  bool Touchable(const A& a, const std::optional<absl::Time>& lease);
  void Hit(absl::string_view point) {
    if (r_.crash_ != nullptr) r_.crash_->Hit(point);
  }
  bool Leased(const std::optional<absl::Time>& lease) const {
    return lease.has_value() && *lease > r_.clock_->Now();
  }
  Planned NewFinding(DriftClass c, const std::string& appointment_id,
                     const std::string& provider_id, const A* row);
  void Repair(Planned& p);
  void RepairTransition(Planned& p, A::State to, const std::string& reason,
                        std::vector<CommandType> retire,
                        const std::string& retire_reason);
  void RequeueStuck(Planned& p);
  void CancelAll(Planned& p);
  // ABORTED if the row changed since it was read.
  absl::Status CheckUnchanged(const Planned& p);
  // Counts, reports, logs and records one finding.
  absl::Status Emit(const Planned& p);
  absl::Status ProcessAll(std::vector<Planned>& planned);
  absl::Status FlushRecords();
  void Finish();

  const Reconciler& r_;
  const ReconcilerOptions& o_;
  RunSummary s_;
  absl::Time cutoff_;        // touch rows last changed at or before this
  absl::Time stuck_cutoff_;  // stuck if last changed at or before this
  std::unique_ptr<ReportWriter> report_;
  std::vector<ReconcileFindingRecord> records_;
  int64_t repairs_made_ = 0;  // tried and not skipped, for max_repairs
};

RunSummary Reconciler::Run::Execute() {
  s_.apply = o_.apply;
  s_.max_repairs = o_.max_repairs;
  s_.started = r_.clock_->Now();
  cutoff_ = s_.started - o_.grace;
  stuck_cutoff_ = s_.started - std::max(o_.grace, o_.stuck_after);
  const char* mode = o_.apply ? kModeApply : kModeDryRun;

  absl::StatusOr<int64_t> run_id =
      r_.store_->StartReconcileRun(mode, s_.started);
  if (run_id.ok()) s_.run_id = *run_id;
  LogEvent(LogLevel::kInfo, "reconcile_run_started")
      .Field("run_id", s_.run_id)
      .Field("mode", mode)
      .Field("grace_s", absl::ToInt64Seconds(o_.grace))
      .Field("provider_id", o_.provider_id);
  if (!o_.report_path.empty()) {
    absl::StatusOr<std::unique_ptr<ReportWriter>> report =
        ReportWriter::Open(o_.report_path, s_.run_id, o_.apply, s_.started);
    if (report.ok()) {
      report_ = std::move(*report);
      s_.report_path = report_->path();
    } else {
      s_.error = report.status();
    }
  }
  if (!run_id.ok()) s_.error = run_id.status();

  if (s_.error.ok()) s_.error = Ingest();
  if (s_.error.ok()) s_.error = CheckEmptyListing();
  // Only a complete listing may be compared with the database: a partial
  // one would make CONFIRMED rows look lost.
  if (s_.error.ok()) s_.error = ProviderSide();
  if (s_.error.ok()) s_.error = DatabaseSide();
  if (s_.error.ok()) s_.error = FlushRecords();
  Finish();
  return std::move(s_);
}

absl::Status Reconciler::Run::Ingest() {
  std::string token;
  while (true) {
    provider::v1::ListBookingsRequest request;
    request.set_provider_id(o_.provider_id);
    request.set_page_size(o_.page_size);
    request.set_page_token(token);
    absl::StatusOr<provider::v1::ListBookingsResponse> page =
        r_.provider_->ListBookings(request, o_.provider_deadline);
    if (!page.ok()) {
      return absl::Status(
          page.status().code(),
          absl::StrCat("listing the provider's bookings (after ",
                       s_.provider_bookings_scanned,
                       "): ", page.status().message()));
    }
    std::vector<SeenBooking> seen;
    seen.reserve(page->bookings_size());
    for (const ProviderBooking& b : page->bookings()) {
      seen.push_back(ToSeen(b));
    }
    RETURN_IF_ERROR(r_.store_->AddSeenBookings(s_.run_id, seen));
    s_.provider_bookings_scanned += page->bookings_size();
    if (page->next_page_token().empty()) return absl::OkStatus();
    if (page->next_page_token() == token) {
      return absl::InternalError(
          absl::StrCat("the provider returned page token '", token, "' twice"));
    }
    token = page->next_page_token();
  }
}

absl::Status Reconciler::Run::CheckEmptyListing() {
  if (!o_.apply || o_.allow_empty_provider ||
      s_.provider_bookings_scanned > 0) {
    return absl::OkStatus();
  }
  // Pages like DatabaseSide (bounded memory) and stops at the first old
  // CONFIRMED row of the scope: one is enough to refuse.
  std::string after;
  while (true) {
    ASSIGN_OR_RETURN(ReconcileItemPage page,
                     r_.store_->ListAppointmentsForReconcile(
                         s_.run_id, A::CONFIRMED, after, o_.page_size));
    for (const ReconcileItem& item : page.items) {
      if (!item.appointment.has_value()) continue;
      const A& a = *item.appointment;
      if (!o_.provider_id.empty() && a.provider_id() != o_.provider_id) {
        continue;
      }
      if (UpdateTime(a) > cutoff_) continue;
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing to --apply: the provider listed no bookings",
          o_.provider_id.empty() ? "" : absl::StrCat(" for ", o_.provider_id),
          " while the database has CONFIRMED appointments older than --grace"
          " (e.g. ",
          a.id(), " at ", a.provider_id(),
          "); every one would be marked provider_lost. Check the provider; "
          "if it really has no bookings, rerun with --allow_empty_provider"));
    }
    if (!page.next_after.has_value()) return absl::OkStatus();
    after = *page.next_after;
  }
}

absl::Status Reconciler::Run::ProviderSide() {
  std::string after;
  while (true) {
    ASSIGN_OR_RETURN(ReconcileItemPage page,
                     r_.store_->ListSeenKeys(s_.run_id, after, o_.page_size));
    std::vector<Planned> planned;
    for (const ReconcileItem& item : page.items) AnalyzeKey(item, &planned);
    RETURN_IF_ERROR(ProcessAll(planned));
    if (!page.next_after.has_value()) return absl::OkStatus();
    after = *page.next_after;
  }
}

absl::Status Reconciler::Run::DatabaseSide() {
  for (A::State state :
       {A::CONFIRMED, A::AWAITING_CONFIRMATION, A::PENDING, A::IN_PROGRESS}) {
    std::string after;
    while (true) {
      ASSIGN_OR_RETURN(ReconcileItemPage page,
                       r_.store_->ListAppointmentsForReconcile(
                           s_.run_id, state, after, o_.page_size));
      std::vector<Planned> planned;
      for (const ReconcileItem& item : page.items) AnalyzeRow(item, &planned);
      RETURN_IF_ERROR(ProcessAll(planned));
      if (!page.next_after.has_value()) break;
      after = *page.next_after;
    }
  }
  return absl::OkStatus();
}

bool Reconciler::Run::Touchable(const A& a,
                                const std::optional<absl::Time>& lease) {
  if (Leased(lease)) {
    ++s_.left_leased;
    return false;
  }
  if (UpdateTime(a) > cutoff_) {
    ++s_.left_in_grace;
    return false;
  }
  return true;
}

Reconciler::Run::Planned Reconciler::Run::NewFinding(
    DriftClass c, const std::string& appointment_id,
    const std::string& provider_id, const A* row) {
  Planned p;
  p.finding.drift_class = c;
  p.finding.appointment_id = appointment_id;
  p.finding.provider_id = provider_id;
  if (row != nullptr) {
    p.row_exists = true;
    p.version = row->version();
    p.state = row->state();
    p.start_time = FromProtoTimestamp(row->start_time());
    p.finding.evidence["db"] = RowJson(*row);
  } else {
    p.finding.evidence["db"] = "absent";
  }
  return p;
}

Reconciler::Run::Planned Reconciler::Run::OrphanFinding(
    const std::string& key, const std::vector<const SeenBooking*>& bookings,
    const A* row, const std::string& why) {
  Planned p =
      NewFinding(DriftClass::kOrphan, key, bookings[0]->provider_id, row);
  nlohmann::ordered_json listed = nlohmann::ordered_json::array();
  for (const SeenBooking* b : bookings) {
    p.finding.booking_ids.push_back(b->booking_id);
    p.cancels.emplace_back(b->provider_id, b->booking_id);
    listed.push_back(BookingJson(*b));
  }
  p.finding.evidence["why"] = why;
  p.finding.evidence["live_bookings"] = listed;
  p.finding.action = "cancel_bookings";
  return p;
}

void Reconciler::Run::AnalyzeKey(const ReconcileItem& item,
                                 std::vector<Planned>* out) {
  std::vector<const SeenBooking*> live;
  for (const SeenBooking& b : item.bookings) {
    if (b.live) live.push_back(&b);
  }
  if (live.empty()) return;  // nothing live: provider_lost is row-driven

  if (!item.appointment.has_value()) {
    // No row at all: the booking's own age stands in for the row's.
    std::vector<const SeenBooking*> old;
    for (const SeenBooking* b : live) {
      if (b->create_time <= cutoff_) old.push_back(b);
    }
    if (old.size() < live.size()) ++s_.left_in_grace;
    if (!old.empty()) {
      out->push_back(
          OrphanFinding(item.key, old, nullptr, "no appointment with this id"));
    }
    return;
  }

  const A& a = *item.appointment;
  std::vector<Planned> found;
  switch (a.state()) {
    case A::CANCELLING:
    case A::COMPENSATING:
      return;  // a worker is cancelling by key already
    case A::CANCELLED:
    case A::FAILED:
      found.push_back(
          OrphanFinding(item.key, live, &a,
                        absl::StrCat("appointment is ", StateName(a.state()))));
      break;
    default:
      LiveRowDrift(a, live, &found);
      break;
  }
  // Only drift counts as "left alone": a healthy row changed a minute ago
  // is just healthy.
  if (found.empty() || !Touchable(a, item.lease_expiry)) return;
  for (Planned& p : found) out->push_back(std::move(p));
}

void Reconciler::Run::LiveRowDrift(const A& a,
                                   const std::vector<const SeenBooking*>& live,
                                   std::vector<Planned>* out) {
  // Live bookings for this key at another provider are nobody's.
  std::vector<const SeenBooking*> mine;
  std::vector<const SeenBooking*> foreign;
  for (const SeenBooking* b : live) {
    (b->provider_id == a.provider_id() ? mine : foreign).push_back(b);
  }
  if (!foreign.empty()) {
    out->push_back(OrphanFinding(
        a.id(), foreign, &a,
        absl::StrCat("booked at another provider than ", a.provider_id())));
  }
  if (mine.empty()) return;

  // Keep the booking the row knows, else the oldest (the one a retried Book
  // would return).
  const SeenBooking* kept = mine[0];
  for (const SeenBooking* b : mine) {
    if (!a.provider_booking_id().empty() &&
        b->booking_id == a.provider_booking_id()) {
      kept = b;
    }
  }
  if (mine.size() > 1) {
    Planned p = NewFinding(DriftClass::kDuplicate, a.id(), a.provider_id(), &a);
    nlohmann::ordered_json listed = nlohmann::ordered_json::array();
    for (const SeenBooking* b : mine) {
      listed.push_back(BookingJson(*b));
      if (b == kept) continue;
      p.finding.booking_ids.push_back(b->booking_id);
      p.cancels.emplace_back(b->provider_id, b->booking_id);
    }
    p.finding.evidence["live_bookings"] = listed;
    p.finding.evidence["kept"] = kept->booking_id;
    p.finding.action = "cancel_duplicates";
    out->push_back(std::move(p));
  }

  // Only rows that recorded a booking can disagree with it.
  if (a.state() != A::CONFIRMED && a.state() != A::AWAITING_CONFIRMATION) {
    return;
  }
  nlohmann::ordered_json diffs = nlohmann::ordered_json::object();
  const absl::Time db_start = FromProtoTimestamp(a.start_time());
  if (ToDbMillis(db_start) != ToDbMillis(kept->start_time)) {
    diffs["start_time"] = {{"db", FormatUtc(db_start)},
                           {"provider", FormatUtc(kept->start_time)}};
  }
  if (a.duration_minutes() != kept->duration_minutes) {
    diffs["duration_minutes"] = {{"db", a.duration_minutes()},
                                 {"provider", kept->duration_minutes}};
  }
  if (a.location() != kept->location) {
    diffs["location"] = {{"db", a.location()}, {"provider", kept->location}};
  }
  if (!diffs.empty()) {
    Planned p =
        NewFinding(DriftClass::kFieldMismatch, a.id(), a.provider_id(), &a);
    for (const SeenBooking* b : mine) {
      p.finding.booking_ids.push_back(b->booking_id);
      p.cancels.emplace_back(b->provider_id, b->booking_id);
    }
    p.finding.evidence["booking_id"] = kept->booking_id;
    p.finding.evidence["differences"] = diffs;
    p.finding.action =
        o_.repair_mismatch ? "mark_failed_and_cancel" : "report_only";
    out->push_back(std::move(p));
    return;  // never confirm a booking that does not match
  }
  if (a.state() == A::AWAITING_CONFIRMATION && kept->status == "CONFIRMED") {
    Planned p =
        NewFinding(DriftClass::kLateConfirmation, a.id(), a.provider_id(), &a);
    p.finding.booking_ids.push_back(kept->booking_id);
    p.confirm_booking_id = kept->booking_id;
    p.finding.evidence["booking"] = BookingJson(*kept);
    p.finding.action = "mark_confirmed";
    out->push_back(std::move(p));
  }
}

void Reconciler::Run::AnalyzeRow(const ReconcileItem& item,
                                 std::vector<Planned>* out) {
  if (!item.appointment.has_value()) return;
  const A& a = *item.appointment;
  if (!o_.provider_id.empty() && a.provider_id() != o_.provider_id) return;
  ++s_.db_rows_scanned;
  bool live = false;
  bool confirmed = false;
  for (const SeenBooking& b : item.bookings) {
    if (b.live && b.provider_id == a.provider_id()) {
      live = true;
      confirmed = confirmed || b.status == "CONFIRMED";
    }
  }

  if (a.state() == A::CONFIRMED) {
    if (live || !Touchable(a, item.lease_expiry)) return;
    Planned p =
        NewFinding(DriftClass::kProviderLost, a.id(), a.provider_id(), &a);
    if (!a.provider_booking_id().empty()) {
      p.finding.booking_ids.push_back(a.provider_booking_id());
    }
    p.finding.evidence["provider"] = item.bookings.empty()
                                         ? nlohmann::ordered_json("missing")
                                         : BookingsJson(item.bookings);
    p.finding.action = "mark_failed";
    out->push_back(std::move(p));
    return;
  }

  // PENDING, IN_PROGRESS, AWAITING_CONFIRMATION.
  if (a.state() == A::AWAITING_CONFIRMATION && confirmed) {
    return;  // late_confirmation, decided from the provider's side
  }
  if (UpdateTime(a) > stuck_cutoff_) return;  // within its SLA
  if (Leased(item.lease_expiry)) {
    ++s_.left_leased;
    return;
  }
  Planned p = NewFinding(DriftClass::kStuck, a.id(), a.provider_id(), &a);
  p.finding.evidence["stuck_for_s"] =
      absl::ToInt64Seconds(s_.started - UpdateTime(a));
  absl::StatusOr<std::vector<OutboxCommand>> commands =
      r_.store_->ListCommandsFor(a.id());
  if (commands.ok()) {
    nlohmann::ordered_json listed = nlohmann::ordered_json::array();
    for (const OutboxCommand& c : *commands) {
      listed.push_back({{"id", c.id},
                        {"type", CommandTypeName(c.type)},
                        {"status", CommandStatusName(c.status)},
                        {"attempts", c.attempts},
                        {"next_attempt_at", FormatUtc(c.next_attempt_time)},
                        {"last_error", c.last_error}});
    }
    p.finding.evidence["commands"] = listed;
  }
  p.finding.evidence["provider"] = BookingsJson(item.bookings);
  p.finding.action = "requeue";
  out->push_back(std::move(p));
}

absl::Status Reconciler::Run::CheckUnchanged(const Planned& p) {
  absl::StatusOr<A> now = r_.store_->GetAppointment(p.finding.appointment_id);
  if (!p.row_exists) {
    if (absl::IsNotFound(now.status())) return absl::OkStatus();
    if (now.ok()) return absl::AbortedError("a row with this id appeared");
    return now.status();
  }
  if (!now.ok()) return now.status();
  if (now->version() != p.version) {
    return absl::AbortedError(absl::StrCat(
        "version mismatch: expected ", p.version, ", found ", now->version()));
  }
  return absl::OkStatus();
}

void Reconciler::Run::CancelAll(Planned& p) {
  std::vector<std::string> failures;
  for (const auto& [provider_id, booking_id] : p.cancels) {
    absl::Status s = CancelBooking(r_.provider_, provider_id, booking_id,
                                   o_.provider_deadline);
    if (!s.ok())
      failures.push_back(absl::StrCat(booking_id, ": ", s.ToString()));
  }
  if (failures.empty()) {
    p.finding.outcome = Outcome::kRepaired;
    absl::StrAppend(&p.finding.detail, p.finding.detail.empty() ? "" : "; ",
                    "cancelled ", absl::StrJoin(p.finding.booking_ids, ", "));
  } else {
    ++s_.errors;
    p.finding.outcome = Outcome::kFailed;
    absl::StrAppend(&p.finding.detail, p.finding.detail.empty() ? "" : "; ",
                    "cancel failed: ", absl::StrJoin(failures, "; "));
  }
}

void Reconciler::Run::RepairTransition(Planned& p, A::State to,
                                       const std::string& reason,
                                       std::vector<CommandType> retire,
                                       const std::string& retire_reason) {
  ReconcileTransition rt;
  Transition& t = rt.transition;
  t.appointment_id = p.finding.appointment_id;
  t.expected_version = p.version;
  t.to = to;
  t.actor = o_.actor;
  t.detail = absl::StrCat("reconciler run ", s_.run_id, ": ",
                          DriftClassName(p.finding.drift_class));
  t.now = r_.clock_->Now();
  if (!reason.empty()) t.failure_reason = reason;
  if (!p.confirm_booking_id.empty())
    t.provider_booking_id = p.confirm_booking_id;
  rt.retire = std::move(retire);
  rt.retire_reason = retire_reason;
  absl::StatusOr<A> after = r_.store_->ReconcileTransitionAppointment(rt);
  if (!after.ok()) {
    SetStoreOutcome(p.finding, after.status(), &s_.errors);
    return;
  }
  p.finding.outcome = Outcome::kRepaired;
  p.finding.detail = absl::StrCat(StateName(p.state), " -> ", StateName(to));
  if (!reason.empty()) absl::StrAppend(&p.finding.detail, " (", reason, ")");
}

void Reconciler::Run::RequeueStuck(Planned& p) {
  StuckRequeue r;
  r.appointment_id = p.finding.appointment_id;
  r.expected_version = p.version;
  r.now = r_.clock_->Now();
  // Never after the appointment's start (DESIGN §6): a past start makes the
  // worker give up at once, which also ends the stuck state.
  r.new_command_deadline = std::min(p.start_time, r.now + o_.requeue_deadline);
  r.actor = o_.actor;
  r.detail = absl::StrCat("reconciler run ", s_.run_id, ": stuck");
  absl::StatusOr<StuckRequeueResult> done =
      r_.store_->RequeueStuckAppointment(r);
  if (!done.ok()) {
    SetStoreOutcome(p.finding, done.status(), &s_.errors);
    return;
  }
  p.finding.outcome = Outcome::kRepaired;
  p.finding.detail =
      done->created
          ? absl::StrCat("enqueued ", CommandTypeName(done->type), " command ",
                         done->command_id, " due now")
          : absl::StrCat("requeued ", CommandTypeName(done->type), " command ",
                         done->command_id, " (was ",
                         CommandStatusName(done->previous_status), ") due now");
}

void Reconciler::Run::Repair(Planned& p) {
  if (o_.before_repair) o_.before_repair(p.finding);
  switch (p.finding.drift_class) {
    case DriftClass::kOrphan:
    case DriftClass::kDuplicate: {
      // The provider is not part of the transaction: re-read the row just
      // before cancelling and leave it if anything moved.
      absl::Status unchanged = CheckUnchanged(p);
      if (!unchanged.ok()) {
        SetStoreOutcome(p.finding, unchanged, &s_.errors);
        return;
      }
      CancelAll(p);
      return;
    }
    case DriftClass::kProviderLost:
      RepairTransition(p, A::FAILED, kReasonProviderLost, {}, "");
      return;
    case DriftClass::kLateConfirmation:
      RepairTransition(p, A::CONFIRMED, "", {CommandType::kConfirm},
                       "superseded: reconciler saw the provider's "
                       "confirmation");
      return;
    case DriftClass::kFieldMismatch:
      if (!o_.repair_mismatch) {
        p.finding.outcome = Outcome::kSkipped;
        p.finding.detail = "report only (--repair_mismatch repairs it)";
        return;
      }
      // The row first: if the provider's cancel then fails, the next run
      // sees a FAILED row with a live booking, an orphan, and cancels it.
      RepairTransition(p, A::FAILED, kReasonFieldMismatch,
                       {CommandType::kBook, CommandType::kConfirm},
                       "superseded: reconciler found a field mismatch");
      if (p.finding.outcome == Outcome::kRepaired) {
        Hit(crash_points::kReconcilerMidRepair);
        CancelAll(p);
      }
      return;
    case DriftClass::kStuck:
      RequeueStuck(p);
      return;
  }
}

absl::Status Reconciler::Run::ProcessAll(std::vector<Planned>& planned) {
  for (Planned& p : planned) {
    if (o_.apply && RepairBudgetSpent()) {
      p.finding.outcome = Outcome::kSkipped;
      p.finding.detail = absl::StrCat(
          "max_repairs (", o_.max_repairs,
          ") reached; rerun with a higher --max_repairs after checking the "
          "report");
      ++s_.left_by_max_repairs;
    } else if (o_.apply) {
      Repair(p);
      if (p.finding.outcome != Outcome::kSkipped) ++repairs_made_;
      if (p.finding.outcome == Outcome::kRepaired) {
        Hit(crash_points::kReconcilerAfterRepair);
      }
    }
    RETURN_IF_ERROR(Emit(p));
  }
  return FlushRecords();
}

absl::Status Reconciler::Run::Emit(const Planned& p) {
  const Finding& f = p.finding;
  s_.counts(f.drift_class).Add(f.outcome);
  if (static_cast<int>(s_.examples.size()) < o_.summary_examples) {
    s_.examples.push_back(f);
  }
  r_.metrics_->Count(f);
  LogEvent(LogLevel::kWarn, "drift_found")
      .Field("run_id", s_.run_id)
      .Field("class", DriftClassName(f.drift_class))
      .Field("appointment_id", f.appointment_id)
      .Field("provider_id", f.provider_id)
      .Field("booking_ids", absl::StrJoin(f.booking_ids, ","))
      .Field("action", f.action)
      .Field("outcome", OutcomeName(f.outcome))
      .Field("detail", f.detail);
  if (report_ != nullptr) RETURN_IF_ERROR(report_->Add(f));
  ReconcileFindingRecord rec;
  rec.run_id = s_.run_id;
  rec.drift_class = std::string(DriftClassName(f.drift_class));
  rec.appointment_id = f.appointment_id;
  rec.provider_id = f.provider_id;
  rec.booking_ids = f.booking_ids;
  rec.evidence_json = f.evidence.dump();
  rec.action = f.action;
  rec.outcome = std::string(OutcomeName(f.outcome));
  rec.detail = f.detail;
  rec.time = r_.clock_->Now();
  records_.push_back(std::move(rec));
  return absl::OkStatus();
}

absl::Status Reconciler::Run::FlushRecords() {
  if (records_.empty() || s_.run_id == 0) return absl::OkStatus();
  absl::Status s = r_.store_->RecordReconcileFindings(records_);
  records_.clear();
  return s;
}

void Reconciler::Run::Finish() {
  if (s_.run_id != 0) {
    // The scratch set is per connection and per run; a failure to clear it
    // only costs temp space until the connection closes.
    absl::Status cleared = r_.store_->ClearSeenBookings(s_.run_id);
    if (!cleared.ok()) {
      LogEvent(LogLevel::kWarn, "scratch_clear_failed")
          .Field("run_id", s_.run_id)
          .Error(cleared);
    }
  }
  s_.finished = r_.clock_->Now();
  s_.exit_code = ExitCodeFor(s_);
  if (report_ != nullptr) {
    absl::Status written = report_->Finish(s_);
    if (!written.ok() && s_.error.ok()) {
      s_.error = written;
      s_.exit_code = ExitCodeFor(s_);
    }
  }
  if (s_.run_id != 0) {
    ReconcileRun run;
    run.id = s_.run_id;
    run.finished = s_.finished;
    run.provider_bookings_scanned = s_.provider_bookings_scanned;
    run.db_rows_scanned = s_.db_rows_scanned;
    run.findings = s_.findings();
    run.repaired = s_.repaired();
    run.errors = s_.errors;
    run.exit_code = s_.exit_code;
    run.error = s_.error.ok() ? "" : s_.error.ToString();
    absl::Status recorded = r_.store_->FinishReconcileRun(run);
    if (!recorded.ok() && s_.error.ok()) {
      s_.error = recorded;
      s_.exit_code = ExitCodeFor(s_);
    }
  }
  r_.metrics_->Run(s_);
  LogEvent(s_.error.ok() ? LogLevel::kInfo : LogLevel::kError,
           "reconcile_run_finished")
      .Field("run_id", s_.run_id)
      .Field("mode", s_.apply ? kModeApply : kModeDryRun)
      .Field("exit_code", s_.exit_code)
      .Field("findings", s_.findings())
      .Field("repaired", s_.repaired())
      .Field("provider_bookings_scanned", s_.provider_bookings_scanned)
      .Field("db_rows_scanned", s_.db_rows_scanned)
      .Field("left_in_grace", s_.left_in_grace)
      .Field("left_leased", s_.left_leased)
      .Field("latency_ms", absl::ToDoubleMilliseconds(s_.finished - s_.started))
      .Error(s_.error);
}

// ------------------------------------------------------------- reconciler --

Reconciler::Reconciler(AppointmentStore* store, ProviderClient* provider,
                       Clock* clock, ReconcilerOptions options,
                       MetricsRegistry* metrics, CrashPoints* crash)
    : store_(store),
      provider_(provider),
      clock_(clock),
      options_(std::move(options)),
      crash_(crash) {
  if (metrics == nullptr) {
    own_metrics_ = std::make_unique<MetricsRegistry>();
    metrics = own_metrics_.get();
  }
  metrics_ = std::make_unique<Metrics>(metrics);
}

Reconciler::~Reconciler() = default;

RunSummary Reconciler::RunOnce() {
  Run run(this);
  return run.Execute();
}

}  // namespace booking::reconciler
