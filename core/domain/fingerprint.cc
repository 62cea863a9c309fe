#include "core/domain/fingerprint.h"

#include <openssl/evp.h>

#include <cstdint>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace booking {
namespace {

using appointments::v1::Appointment;
using appointments::v1::CancelAppointmentRequest;
using appointments::v1::CreateAppointmentRequest;

void AddField(std::string* out, absl::string_view name,
              absl::string_view value) {
  absl::StrAppend(out, name, "=", value.size(), ":", value, ";");
}

void AddField(std::string* out, absl::string_view name, int64_t value) {
  AddField(out, name, absl::StrCat(value));
}

}  // namespace

std::string CanonicalCreateRequest(const CreateAppointmentRequest& req) {
  // Absent sub-messages read as their defaults: an absent patient and an
  // empty one are the same parameters (validation refuses both anyway).
  const Appointment& a = req.appointment();
  std::string out = "create/v1;";
  AddField(&out, "customer_id", a.customer_id());
  AddField(&out, "provider_id", a.provider_id());
  AddField(&out, "location", a.location());
  AddField(&out, "start_time.seconds", a.start_time().seconds());
  AddField(&out, "start_time.nanos", a.start_time().nanos());
  AddField(&out, "duration_minutes", a.duration_minutes());
  // The enum number, not its name: renaming a value must not change it.
  AddField(&out, "priority", static_cast<int64_t>(a.priority()));
  AddField(&out, "patient.display_name", a.patient().display_name());
  AddField(&out, "patient.email", a.patient().email());
  AddField(&out, "patient.phone", a.patient().phone());
  AddField(&out, "notes", a.notes());
  return out;
}

std::string CanonicalCancelRequest(const CancelAppointmentRequest& req) {
  std::string out = "cancel/v1;";
  AddField(&out, "id", req.id());
  AddField(&out, "reason", req.reason());
  return out;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // Only fails on allocation failure inside OpenSSL: nothing to recover.
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(),
                 nullptr) != 1 ||
      len != 32) {
    ABSL_RAW_LOG(FATAL, "EVP_Digest(SHA-256) failed");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), len));
}

std::string CreateRequestFingerprint(const CreateAppointmentRequest& req) {
  return Sha256Hex(CanonicalCreateRequest(req));
}

std::string CancelRequestFingerprint(const CancelAppointmentRequest& req) {
  return Sha256Hex(CanonicalCancelRequest(req));
}

}  // namespace booking
