#include "core/store/store_test_util.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "core/common/time_util.h"

namespace booking::testing {

absl::Time TestNow() { return absl::FromUnixSeconds(1'700'000'000); }

CreateIntent MakeCreateIntent(const std::string& id,
                              const std::string& request_id, absl::Time now,
                              const std::string& provider_id,
                              const std::string& customer_id,
                              const std::string& location) {
  CreateIntent in;
  in.request_id = request_id;
  Appointment& a = in.appointment;
  a.set_id(id);
  a.set_customer_id(customer_id);
  a.set_provider_id(provider_id);
  a.set_location(location);
  *a.mutable_start_time() = ToProtoTimestamp(now + absl::Hours(48));
  a.set_duration_minutes(30);
  a.set_priority(Appointment::NORMAL);
  a.mutable_patient()->set_display_name("Ada Lovelace");
  a.mutable_patient()->set_email("ada@example.com");
  a.mutable_patient()->set_phone("+14155550100");
  a.set_notes("first visit");
  in.fingerprint =
      absl::StrCat("fp|", customer_id, "|", provider_id, "|", location);
  in.now = now;
  in.key_expiry = now + absl::Hours(24);
  in.book_deadline = now + absl::Hours(1);
  in.actor = "api";
  return in;
}

CancelIntent MakeCancelIntent(const std::string& appointment_id,
                              const std::string& request_id, absl::Time now,
                              const std::string& reason) {
  CancelIntent in;
  in.appointment_id = appointment_id;
  in.request_id = request_id;
  in.reason = reason;
  in.fingerprint = absl::StrCat("cancel|", appointment_id, "|", reason);
  in.now = now;
  in.key_expiry = now + absl::Hours(24);
  in.cancel_deadline = now + absl::Hours(1);
  return in;
}

std::string FreshDbPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path =
      absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    unlink(absl::StrCat(path, suffix).c_str());
  }
  return path;
}

}  // namespace booking::testing
