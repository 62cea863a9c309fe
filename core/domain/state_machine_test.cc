#include "core/domain/state_machine.h"

#include <set>
#include <utility>

#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

using A = appointments::v1::Appointment;
using ::booking::testing::StatusIs;
using ::testing::HasSubstr;

// DESIGN §3 written out independently of the implementation's table, so a
// change to either one that the other does not share fails this test.
const std::set<std::pair<State, State>>& Expected() {
  static const auto* const pairs = new std::set<std::pair<State, State>>{
      {A::PENDING, A::IN_PROGRESS},
      {A::PENDING, A::CANCELLED},
      {A::PENDING, A::CANCELLING},
      {A::IN_PROGRESS, A::CONFIRMED},
      {A::IN_PROGRESS, A::AWAITING_CONFIRMATION},
      {A::IN_PROGRESS, A::PENDING},
      {A::IN_PROGRESS, A::CANCELLING},
      {A::IN_PROGRESS, A::COMPENSATING},
      {A::IN_PROGRESS, A::FAILED},
      {A::AWAITING_CONFIRMATION, A::CONFIRMED},
      {A::AWAITING_CONFIRMATION, A::CANCELLING},
      {A::AWAITING_CONFIRMATION, A::COMPENSATING},
      {A::AWAITING_CONFIRMATION, A::FAILED},
      {A::CONFIRMED, A::CANCELLING},
      {A::CONFIRMED, A::FAILED},
      {A::CANCELLING, A::CANCELLED},
      {A::COMPENSATING, A::FAILED},
  };
  return *pairs;
}

TEST(StateMachineTest, EveryPairMatchesTheDesignTable) {
  std::vector<State> all = AllStates();
  all.push_back(A::STATE_UNSPECIFIED);
  int allowed = 0;
  for (State from : all) {
    for (State to : all) {
      const bool want = Expected().count({from, to}) > 0;
      EXPECT_EQ(IsTransitionAllowed(from, to), want)
          << StateName(from) << " -> " << StateName(to);
      if (want) {
        ++allowed;
        EXPECT_OK(ValidateTransition(from, to));
      } else {
        EXPECT_THAT(ValidateTransition(from, to),
                    StatusIs(absl::StatusCode::kFailedPrecondition,
                             HasSubstr(std::string(StateName(from)) + " -> " +
                                       std::string(StateName(to)))));
      }
    }
  }
  EXPECT_EQ(allowed, 17);
}

TEST(StateMachineTest, TerminalStatesHaveNoSuccessors) {
  for (State s : AllStates()) {
    EXPECT_EQ(IsTerminal(s), AllowedNextStates(s).empty()) << StateName(s);
  }
  EXPECT_TRUE(IsTerminal(A::CANCELLED));
  EXPECT_TRUE(IsTerminal(A::FAILED));
  EXPECT_FALSE(IsTerminal(A::CONFIRMED));
}

TEST(StateMachineTest, NamesAreTheProtoEnumNames) {
  EXPECT_EQ(StateName(A::AWAITING_CONFIRMATION), "AWAITING_CONFIRMATION");
  EXPECT_EQ(AllStates().size(), 8u);
}

}  // namespace
}  // namespace booking
