// apptctl: a command-line client for appointments.v1.AppointmentService, so a
// person can use the service without writing code. Output is JSON (one object
// per line); errors go to stderr as "error: CODE: message" with a non-zero
// exit code. Run `apptctl --help` for the flags and cli/README.md for a tour.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/grpc/status_conversion.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "proto/appointments/v1/appointment_service.grpc.pb.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "HOST:PORT of the api_server.");
ABSL_FLAG(absl::Duration, timeout, absl::ZeroDuration(),
          "Deadline of the call (e.g. 5s, 2m). Default 10s; 60s for watch, "
          "whose stream ends at this deadline if no terminal state came.");
ABSL_FLAG(std::string, token, "",
          "Bearer token, sent as 'authorization: Bearer <token>' (servers "
          "started with --auth_tokens_file need one). See also --token_file.");
ABSL_FLAG(std::string, token_file, "",
          "File whose first non-comment line is the bearer token.");
ABSL_FLAG(std::string, client_id, "",
          "Sent as x-client-id metadata: the key of the server's per-client "
          "rate limit.");
ABSL_FLAG(bool, pretty, false, "Indent the JSON output.");

// create
ABSL_FLAG(std::string, from_json, "",
          "create: read the CreateAppointmentRequest from this JSON file "
          "({\"request_id\": ..., \"appointment\": {...}}); flags given "
          "explicitly override its fields.");
ABSL_FLAG(std::string, request_id, "",
          "create/cancel: idempotency key, 1..64 of [A-Za-z0-9._:-]. Retrying "
          "with the same key never books twice. create generates one (and "
          "prints it to stderr) if omitted; cancel requires it.");
ABSL_FLAG(std::string, customer_id, "",
          "create: the customer's id. list: filter.");
ABSL_FLAG(std::string, provider_id, "",
          "create: a provider the server is configured with. list: filter.");
ABSL_FLAG(std::string, location, "", "create: where (1..128 characters).");
ABSL_FLAG(std::string, start_time, "",
          "create: RFC 3339 time (2026-12-01T09:00:00Z) or +DURATION from now "
          "(+48h).");
ABSL_FLAG(int, duration_minutes, 0, "create: 5..480.");
ABSL_FLAG(std::string, priority, "", "create: LOW, NORMAL or HIGH.");
ABSL_FLAG(std::string, patient_name, "", "create: the patient's name.");
ABSL_FLAG(std::string, email, "", "create: optional patient e-mail.");
ABSL_FLAG(std::string, phone, "", "create: optional patient phone (E.164).");
ABSL_FLAG(std::string, notes, "", "create: optional notes (<= 1024 chars).");

// list
ABSL_FLAG(std::string, state, "", "list: filter by state (e.g. PENDING).");
ABSL_FLAG(int, page_size, 0, "list: 1..1000 (default 100).");
ABSL_FLAG(std::string, page_token, "",
          "list: next_page_token of a previous list.");

// cancel
ABSL_FLAG(std::string, reason, "", "cancel: optional reason.");

namespace booking::cli {
namespace {

namespace v1 = appointments::v1;

constexpr char kUsage[] =
    R"(a command-line client for the appointment API.

Usage:
  apptctl [--addr=HOST:PORT] create --customer_id=ID --provider_id=ID \
      --location=TEXT --start_time=RFC3339|+DURATION --duration_minutes=N \
      --priority=LOW|NORMAL|HIGH --patient_name=NAME [--email=E] [--phone=P] \
      [--notes=TEXT] [--request_id=KEY]
  apptctl create --from_json=FILE [--request_id=KEY]
  apptctl get ID
  apptctl list [--state=S] [--provider_id=P] [--customer_id=C] \
      [--page_size=N] [--page_token=T]
  apptctl cancel ID --request_id=KEY [--reason=TEXT]
  apptctl watch ID [--timeout=60s]

Output: JSON, one object per line (watch prints one per change).
Exit code: 0 on OK; 1 if the server answered an error (printed to stderr as
"error: CODE: message"); 2 for a usage error.)";

// Exit codes.
constexpr int kOk = 0;
constexpr int kRpcError = 1;
constexpr int kUsageError = 2;

int UsageError(const std::string& message) {
  std::cerr << "apptctl: " << message << "\n(run apptctl --help for usage)\n";
  return kUsageError;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = absl::GetFlag(FLAGS_pretty);
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options)
           .ok()) {
    return "{}";
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void PrintJson(const google::protobuf::Message& message) {
  std::cout << ToJson(message) << std::endl;
}

std::string TrailingValue(const grpc::ClientContext& context,
                          const std::string& key) {
  const auto& md = context.GetServerTrailingMetadata();
  auto it = md.find(key);
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

int ReportStatus(const grpc::Status& status,
                 const grpc::ClientContext& context) {
  const std::string name =
      absl::StatusCodeToString(booking::FromGrpcCode(status.error_code()));
  std::cerr << "error: " << name << ": " << status.error_message();
  const std::string retry_after = TrailingValue(context, "retry-after-ms");
  if (!retry_after.empty())
    std::cerr << " (retry after " << retry_after << " ms)";
  std::cerr << std::endl;
  return kRpcError;
}

void NoteReplay(const grpc::ClientContext& context) {
  if (TrailingValue(context, "idempotent-replay") == "true") {
    std::cerr << "note: idempotent replay: this request_id was seen before; "
                 "this is the original appointment as it is now"
              << std::endl;
  }
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::optional<std::string> BearerToken() {
  std::string token = absl::GetFlag(FLAGS_token);
  const std::string file = absl::GetFlag(FLAGS_token_file);
  if (token.empty() && !file.empty()) {
    auto text = ReadFile(file);
    if (!text.ok()) return std::nullopt;
    std::istringstream lines(*text);
    std::string line;
    while (std::getline(lines, line)) {
      absl::string_view l = absl::StripAsciiWhitespace(line);
      if (l.empty() || absl::StartsWith(l, "#")) continue;
      token = std::string(l);
      break;
    }
  }
  if (token.empty()) return std::nullopt;
  return token;
}

void PrepareContext(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (auto token = BearerToken()) {
    context->AddMetadata("authorization", "Bearer " + *token);
  }
  const std::string client_id = absl::GetFlag(FLAGS_client_id);
  if (!client_id.empty()) context->AddMetadata("x-client-id", client_id);
}

absl::Duration CallTimeout(absl::Duration fallback) {
  const absl::Duration t = absl::GetFlag(FLAGS_timeout);
  return t > absl::ZeroDuration() ? t : fallback;
}

// "2026-12-01T09:00:00Z" or "+48h".
absl::StatusOr<absl::Time> ParseStartTime(const std::string& text) {
  if (absl::StartsWith(text, "+")) {
    absl::Duration d;
    if (!absl::ParseDuration(text.substr(1), &d)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--start_time: '", text, "' is not +DURATION (+48h)"));
    }
    // Whole seconds: the printed time can then be passed back verbatim
    // (e.g. to retry with the same request_id).
    return absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now() + d));
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--start_time: '", text, "' is not RFC 3339 (", err, ")"));
  }
  return t;
}

std::string NewRequestId() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  return absl::StrCat("cli-", absl::Hex(rng(), absl::kZeroPad16));
}

int Create(v1::AppointmentService::Stub& stub) {
  v1::CreateAppointmentRequest req;
  const std::string from_json = absl::GetFlag(FLAGS_from_json);
  if (!from_json.empty()) {
    auto text = ReadFile(from_json);
    if (!text.ok()) return UsageError(std::string(text.status().message()));
    auto parsed = google::protobuf::util::JsonStringToMessage(*text, &req);
    if (!parsed.ok()) {
      return UsageError(absl::StrCat(
          from_json, ": not a CreateAppointmentRequest: ", parsed.ToString()));
    }
  }
  v1::Appointment* a = req.mutable_appointment();
  auto set_if = [](const std::string& value, auto setter) {
    if (!value.empty()) setter(value);
  };
  set_if(absl::GetFlag(FLAGS_request_id),
         [&](const std::string& v) { req.set_request_id(v); });
  set_if(absl::GetFlag(FLAGS_customer_id),
         [&](const std::string& v) { a->set_customer_id(v); });
  set_if(absl::GetFlag(FLAGS_provider_id),
         [&](const std::string& v) { a->set_provider_id(v); });
  set_if(absl::GetFlag(FLAGS_location),
         [&](const std::string& v) { a->set_location(v); });
  set_if(absl::GetFlag(FLAGS_patient_name), [&](const std::string& v) {
    a->mutable_patient()->set_display_name(v);
  });
  set_if(absl::GetFlag(FLAGS_email),
         [&](const std::string& v) { a->mutable_patient()->set_email(v); });
  set_if(absl::GetFlag(FLAGS_phone),
         [&](const std::string& v) { a->mutable_patient()->set_phone(v); });
  set_if(absl::GetFlag(FLAGS_notes),
         [&](const std::string& v) { a->set_notes(v); });
  if (absl::GetFlag(FLAGS_duration_minutes) != 0) {
    a->set_duration_minutes(absl::GetFlag(FLAGS_duration_minutes));
  }
  const std::string priority = absl::GetFlag(FLAGS_priority);
  if (!priority.empty()) {
    v1::Appointment::Priority p;
    if (!v1::Appointment::Priority_Parse(absl::AsciiStrToUpper(priority), &p)) {
      return UsageError("--priority must be LOW, NORMAL or HIGH");
    }
    a->set_priority(p);
  }
  const std::string start = absl::GetFlag(FLAGS_start_time);
  if (!start.empty()) {
    auto t = ParseStartTime(start);
    if (!t.ok()) return UsageError(std::string(t.status().message()));
    const int64_t ns = absl::ToUnixNanos(*t);
    a->mutable_start_time()->set_seconds(ns / 1'000'000'000);
    a->mutable_start_time()->set_nanos(static_cast<int>(ns % 1'000'000'000));
  }
  if (req.request_id().empty()) {
    req.set_request_id(NewRequestId());
    std::cerr << "request_id: " << req.request_id()
              << " (pass --request_id=" << req.request_id()
              << " to retry safely)" << std::endl;
  }

  grpc::ClientContext context;
  PrepareContext(&context, CallTimeout(absl::Seconds(10)));
  v1::Appointment response;
  grpc::Status status = stub.CreateAppointment(&context, req, &response);
  if (!status.ok()) return ReportStatus(status, context);
  NoteReplay(context);
  PrintJson(response);
  return kOk;
}

int Get(v1::AppointmentService::Stub& stub, const std::string& id) {
  v1::GetAppointmentRequest req;
  req.set_id(id);
  grpc::ClientContext context;
  PrepareContext(&context, CallTimeout(absl::Seconds(10)));
  v1::Appointment response;
  grpc::Status status = stub.GetAppointment(&context, req, &response);
  if (!status.ok()) return ReportStatus(status, context);
  PrintJson(response);
  return kOk;
}

int List(v1::AppointmentService::Stub& stub) {
  v1::ListAppointmentsRequest req;
  req.set_page_size(absl::GetFlag(FLAGS_page_size));
  req.set_page_token(absl::GetFlag(FLAGS_page_token));
  req.set_provider_id(absl::GetFlag(FLAGS_provider_id));
  req.set_customer_id(absl::GetFlag(FLAGS_customer_id));
  const std::string state = absl::GetFlag(FLAGS_state);
  if (!state.empty()) {
    v1::Appointment::State s;
    if (!v1::Appointment::State_Parse(absl::AsciiStrToUpper(state), &s)) {
      return UsageError(absl::StrCat("--state: unknown state '", state, "'"));
    }
    req.set_state(s);
  }
  grpc::ClientContext context;
  PrepareContext(&context, CallTimeout(absl::Seconds(10)));
  v1::ListAppointmentsResponse response;
  grpc::Status status = stub.ListAppointments(&context, req, &response);
  if (!status.ok()) return ReportStatus(status, context);
  PrintJson(response);
  return kOk;
}

int Cancel(v1::AppointmentService::Stub& stub, const std::string& id) {
  v1::CancelAppointmentRequest req;
  req.set_id(id);
  req.set_request_id(absl::GetFlag(FLAGS_request_id));
  req.set_reason(absl::GetFlag(FLAGS_reason));
  if (req.request_id().empty()) {
    return UsageError(
        "cancel needs --request_id=KEY (reuse it to retry the cancel safely)");
  }
  grpc::ClientContext context;
  PrepareContext(&context, CallTimeout(absl::Seconds(10)));
  v1::Appointment response;
  grpc::Status status = stub.CancelAppointment(&context, req, &response);
  if (!status.ok()) return ReportStatus(status, context);
  NoteReplay(context);
  PrintJson(response);
  return kOk;
}

int Watch(v1::AppointmentService::Stub& stub, const std::string& id) {
  v1::WatchAppointmentRequest req;
  req.set_id(id);
  grpc::ClientContext context;
  PrepareContext(&context, CallTimeout(absl::Seconds(60)));
  std::unique_ptr<grpc::ClientReader<v1::Appointment>> reader =
      stub.WatchAppointment(&context, req);
  v1::Appointment update;
  while (reader->Read(&update)) PrintJson(update);
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportStatus(status, context);
  return kOk;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) return UsageError("missing command");
  const std::string command = args[1];
  auto needs_id = [&]() -> std::optional<std::string> {
    if (args.size() != 3) return std::nullopt;
    return std::string(args[2]);
  };

  auto channel = grpc::CreateChannel(absl::GetFlag(FLAGS_addr),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::AppointmentService::NewStub(channel);

  if (command == "create") {
    if (args.size() != 2) return UsageError("create takes no positional args");
    return Create(*stub);
  }
  if (command == "list") {
    if (args.size() != 2) return UsageError("list takes no positional args");
    return List(*stub);
  }
  if (command == "get" || command == "cancel" || command == "watch") {
    auto id = needs_id();
    if (!id) return UsageError(absl::StrCat(command, " takes one ID"));
    if (command == "get") return Get(*stub, *id);
    if (command == "cancel") return Cancel(*stub, *id);
    return Watch(*stub, *id);
  }
  return UsageError(absl::StrCat("unknown command '", command, "'"));
}

}  // namespace
}  // namespace booking::cli

int main(int argc, char** argv) { return booking::cli::Main(argc, argv); }
