#ifndef OUTBOX_WORKER_REQUEUE_H_
#define OUTBOX_WORKER_REQUEUE_H_

// The operator's way back from DEAD (DESIGN §6): `outbox_worker --db=PATH
// --requeue_dead=ID[,ID...]|all` puts DEAD commands back in the queue, due
// now. Their attempts and error history are kept.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/store/appointment_store.h"

namespace booking {

struct RequeuedCommand {
  int64_t command_id = 0;
  std::string appointment_id;
  std::string type;
  std::string last_error;
};

// `ids` is "all" or a comma-separated list of command ids. "all" pages
// through the DEAD rows only (AppointmentStore::ListCommandsByStatus),
// `page_size` at a time, in id order.
// INVALID_ARGUMENT for a malformed list; an id that is not DEAD fails the
// call with the store's FAILED_PRECONDITION (ids before it stay requeued).
absl::StatusOr<std::vector<RequeuedCommand>> RequeueDead(
    AppointmentStore* store, absl::string_view ids, absl::Time now,
    int page_size = 500);

}  // namespace booking

#endif  // OUTBOX_WORKER_REQUEUE_H_
