#include "bench/outcome_check.h"

#include "absl/container/flat_hash_set.h"

namespace booking::bench {

nlohmann::json OutcomeReport::ToJson() const {
  return nlohmann::json{
      {"ok", ok()},
      {"appointments", appointments},
      {"states", states},
      {"not_final", not_final},
      {"confirmed_one_booking", confirmed_one_booking},
      {"confirmed_without_booking", confirmed_without_booking},
      {"duplicates", duplicates},
      {"orphans", orphans},
      {"unfinished_commands", unfinished_commands},
  };
}

absl::StatusOr<OutcomeReport> CheckOutcome(
    AppointmentStore& store,
    const absl::flat_hash_map<std::string, int64_t>& live_by_key) {
  OutcomeReport report;
  absl::flat_hash_set<std::string> ids;
  ListQuery query;
  query.page_size = 1000;
  while (true) {
    absl::StatusOr<ListPage> page = store.ListAppointments(query);
    if (!page.ok()) return page.status();
    for (const Appointment& a : page->appointments) {
      ++report.appointments;
      ++report.states[Appointment::State_Name(a.state())];
      ids.insert(a.id());
      auto it = live_by_key.find(a.id());
      const int64_t live = it == live_by_key.end() ? 0 : it->second;
      if (live > 1) ++report.duplicates;
      switch (a.state()) {
        case Appointment::CONFIRMED:
          if (live == 1) ++report.confirmed_one_booking;
          if (live == 0) ++report.confirmed_without_booking;
          break;
        case Appointment::CANCELLED:
        case Appointment::FAILED:
          if (live > 0) ++report.orphans;
          break;
        default:
          ++report.not_final;
      }
    }
    if (!page->next_before_id.has_value()) break;
    query.before_id = page->next_before_id;
  }
  for (const auto& [key, live] : live_by_key) {
    if (live > 0 && !ids.contains(key)) ++report.orphans;
  }
  absl::StatusOr<std::vector<std::pair<CommandStatus, int64_t>>> counts =
      store.CountCommandsByStatus();
  if (!counts.ok()) return counts.status();
  for (const auto& [status, n] : *counts) {
    if (status == CommandStatus::kPending || status == CommandStatus::kLeased) {
      report.unfinished_commands += n;
    }
  }
  return report;
}

}  // namespace booking::bench
