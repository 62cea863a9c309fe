#ifndef CORE_STORE_STORE_TEST_UTIL_H_
#define CORE_STORE_STORE_TEST_UTIL_H_

// Builders shared by the store tests and their helper binary.

#include <string>

#include "absl/time/time.h"
#include "core/store/appointment_store.h"

namespace booking::testing {

// A fixed "now" for tests: 2023-11-14T22:13:20Z.
absl::Time TestNow();

// A valid create intent: appointment `id` for customer/provider, asked with
// `request_id` at `now`. The fingerprint covers every request field, so two
// intents differing in any of them (other than id) get different ones.
CreateIntent MakeCreateIntent(const std::string& id,
                              const std::string& request_id, absl::Time now,
                              const std::string& provider_id = "prov-a",
                              const std::string& customer_id = "cust-1",
                              const std::string& location = "Room 1");

// A cancel intent for `appointment_id` with a fingerprint of (id, reason).
CancelIntent MakeCancelIntent(const std::string& appointment_id,
                              const std::string& request_id, absl::Time now,
                              const std::string& reason = "changed plans");

// "$TEST_TMPDIR/<name>" with any old file (and its -wal/-shm) removed.
std::string FreshDbPath(const std::string& name);

}  // namespace booking::testing

#endif  // CORE_STORE_STORE_TEST_UTIL_H_
