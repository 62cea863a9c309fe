#ifndef CORE_DOMAIN_STATE_MACHINE_H_
#define CORE_DOMAIN_STATE_MACHINE_H_

// The appointment lifecycle of DESIGN §3: the one table every binary uses.

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/appointments/v1/appointment_service.pb.h"

namespace booking {

using State = appointments::v1::Appointment::State;

// True for CANCELLED and FAILED: nothing follows them.
bool IsTerminal(State s);

// The states `from` may move to, in table order (empty for terminal states).
const std::vector<State>& AllowedNextStates(State from);

// True if the table allows from → to. A state never "moves" to itself.
bool IsTransitionAllowed(State from, State to);

// OK, or FAILED_PRECONDITION naming both states when the table refuses it.
absl::Status ValidateTransition(State from, State to);

// "PENDING", "CONFIRMED", ... (the proto enum name).
absl::string_view StateName(State s);

// Every state except STATE_UNSPECIFIED, in enum order.
const std::vector<State>& AllStates();

}  // namespace booking

#endif  // CORE_DOMAIN_STATE_MACHINE_H_
