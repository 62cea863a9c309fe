#include "core/domain/state_machine.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"

namespace booking {
namespace {

using A = appointments::v1::Appointment;

// DESIGN §3, row by row. Change the lifecycle here and nowhere else.
const std::map<State, std::vector<State>>& Table() {
  static const auto* const table = new std::map<State, std::vector<State>>{
      {A::PENDING, {A::IN_PROGRESS, A::CANCELLED, A::CANCELLING}},
      {A::IN_PROGRESS,
       {A::CONFIRMED, A::AWAITING_CONFIRMATION, A::PENDING, A::CANCELLING,
        A::COMPENSATING, A::FAILED}},
      {A::AWAITING_CONFIRMATION,
       {A::CONFIRMED, A::CANCELLING, A::COMPENSATING, A::FAILED}},
      {A::CONFIRMED, {A::CANCELLING, A::FAILED}},
      {A::CANCELLING, {A::CANCELLED}},
      {A::COMPENSATING, {A::FAILED}},
      {A::CANCELLED, {}},
      {A::FAILED, {}},
  };
  return *table;
}

}  // namespace

bool IsTerminal(State s) { return s == A::CANCELLED || s == A::FAILED; }

const std::vector<State>& AllowedNextStates(State from) {
  static const std::vector<State>* const kNone = new std::vector<State>();
  auto it = Table().find(from);
  return it == Table().end() ? *kNone : it->second;
}

bool IsTransitionAllowed(State from, State to) {
  const std::vector<State>& next = AllowedNextStates(from);
  return std::find(next.begin(), next.end(), to) != next.end();
}

absl::Status ValidateTransition(State from, State to) {
  if (IsTransitionAllowed(from, to)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "illegal state transition ", StateName(from), " -> ", StateName(to)));
}

absl::string_view StateName(State s) { return A::State_Name(s); }

const std::vector<State>& AllStates() {
  static const auto* const states = new std::vector<State>{
      A::PENDING,   A::IN_PROGRESS, A::AWAITING_CONFIRMATION,
      A::CONFIRMED, A::CANCELLING,  A::COMPENSATING,
      A::CANCELLED, A::FAILED};
  return *states;
}

}  // namespace booking
