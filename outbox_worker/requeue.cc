#include "outbox_worker/requeue.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/common/status_macros.h"

namespace booking {
namespace {

RequeuedCommand Describe(const OutboxCommand& c) {
  return RequeuedCommand{c.id, c.appointment_id, CommandTypeName(c.type),
                         c.last_error};
}

}  // namespace

absl::StatusOr<std::vector<RequeuedCommand>> RequeueDead(
    AppointmentStore* store, absl::string_view ids, absl::Time now,
    int page_size) {
  std::vector<RequeuedCommand> done;
  if (ids == "all") {
    // Keyset pages of DEAD rows in id order: a requeued row leaves the set,
    // and after_id keeps each page after the last row seen.
    int64_t after_id = 0;
    while (true) {
      ASSIGN_OR_RETURN(std::vector<OutboxCommand> page,
                       store->ListCommandsByStatus(CommandStatus::kDead,
                                                   after_id, page_size));
      for (const OutboxCommand& c : page) {
        RETURN_IF_ERROR(store->RequeueDeadCommand(c.id, now));
        done.push_back(Describe(c));
        after_id = c.id;
      }
      if (page.empty()) break;
    }
    return done;
  }
  std::vector<int64_t> parsed;
  for (absl::string_view part : absl::StrSplit(ids, ',', absl::SkipEmpty())) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(part, &id) || id <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--requeue_dead: '", part, "' is not a command id (or `all`)"));
    }
    parsed.push_back(id);
  }
  if (parsed.empty()) {
    return absl::InvalidArgumentError("--requeue_dead: no command ids given");
  }
  for (int64_t id : parsed) {
    ASSIGN_OR_RETURN(OutboxCommand c, store->GetCommand(id));
    RETURN_IF_ERROR(store->RequeueDeadCommand(id, now));
    done.push_back(Describe(c));
  }
  return done;
}

}  // namespace booking
