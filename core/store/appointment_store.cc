#include "core/store/appointment_store.h"

namespace booking {

const char* CommandTypeName(CommandType t) {
  switch (t) {
    case CommandType::kBook:
      return "BOOK";
    case CommandType::kCancel:
      return "CANCEL";
    case CommandType::kCompensate:
      return "COMPENSATE";
    case CommandType::kConfirm:
      return "CONFIRM";
  }
  return "UNKNOWN";
}

const char* CommandStatusName(CommandStatus s) {
  switch (s) {
    case CommandStatus::kPending:
      return "PENDING";
    case CommandStatus::kLeased:
      return "LEASED";
    case CommandStatus::kDone:
      return "DONE";
    case CommandStatus::kDead:
      return "DEAD";
  }
  return "UNKNOWN";
}

}  // namespace booking
