#include "Shared/runner/clients.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/grpc/status_conversion.h"
#include "httplib.h"
#include "mock_provider/mode_config.h"

namespace booking::scenarios {
namespace {

void SetDeadline(grpc::ClientContext& ctx, absl::Duration d) {
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + d));
}

bool ReplayFlag(const grpc::ClientContext& ctx) {
  const auto& trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find("idempotent-replay");
  return it != trailers.end() &&
         std::string(it->second.data(), it->second.size()) == "true";
}

template <typename Request, typename Invoke>
ApiAnswer Mutate(const Request& request, absl::Duration deadline,
                 Invoke invoke) {
  ApiAnswer answer;
  grpc::ClientContext ctx;
  SetDeadline(ctx, deadline);
  const absl::Time begin = absl::Now();
  answer.status = invoke(&ctx, request, &answer.appointment);
  answer.latency = absl::Now() - begin;
  answer.replay = answer.status.ok() && ReplayFlag(ctx);
  return answer;
}

}  // namespace

ApiClient::ApiClient(const std::string& addr)
    : stub_(appointments::v1::AppointmentService::NewStub(
          grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()))) {}

ApiAnswer ApiClient::Create(
    const appointments::v1::CreateAppointmentRequest& request,
    absl::Duration deadline) {
  return Mutate(request, deadline,
                [this](grpc::ClientContext* ctx, const auto& req, auto* out) {
                  return stub_->CreateAppointment(ctx, req, out);
                });
}

ApiAnswer ApiClient::Cancel(
    const appointments::v1::CancelAppointmentRequest& request,
    absl::Duration deadline) {
  return Mutate(request, deadline,
                [this](grpc::ClientContext* ctx, const auto& req, auto* out) {
                  return stub_->CancelAppointment(ctx, req, out);
                });
}

absl::StatusOr<Appointment> ApiClient::Get(const std::string& id,
                                           absl::Duration deadline) {
  grpc::ClientContext ctx;
  SetDeadline(ctx, deadline);
  appointments::v1::GetAppointmentRequest request;
  request.set_id(id);
  Appointment out;
  grpc::Status s = stub_->GetAppointment(&ctx, request, &out);
  if (!s.ok()) return FromGrpcStatus(s);
  return out;
}

MockClient::MockClient(const std::string& addr)
    : stub_(provider::v1::MockControl::NewStub(
          grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()))) {}

absl::Status MockClient::SetMode(const std::string& provider_id,
                                 const std::string& spec) {
  absl::StatusOr<mock::ModeTable> table =
      mock::ParseModesFlag(provider_id + "=" + spec);
  if (!table.ok()) return table.status();
  const mock::ModeSpec& m = table->at(provider_id);
  provider::v1::SetModeRequest request;
  request.set_provider_id(provider_id);
  request.set_mode(m.mode);
  *request.mutable_params() = mock::ParamsToProto(m);
  provider::v1::SetModeResponse response;
  grpc::ClientContext ctx;
  SetDeadline(ctx, absl::Seconds(10));
  return FromGrpcStatus(stub_->SetMode(&ctx, request, &response));
}

absl::StatusOr<provider::v1::StatsResponse> MockClient::Stats(
    const std::string& provider_id, const std::string& key) {
  provider::v1::StatsRequest request;
  request.set_provider_id(provider_id);
  request.set_idempotency_key(key);
  provider::v1::StatsResponse response;
  grpc::ClientContext ctx;
  SetDeadline(ctx, absl::Seconds(10));
  grpc::Status s = stub_->Stats(&ctx, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<provider::v1::KeyStats> MockClient::KeyStats(
    const std::string& provider_id, const std::string& key) {
  absl::StatusOr<provider::v1::StatsResponse> stats = Stats(provider_id, key);
  if (!stats.ok()) return stats.status();
  provider::v1::KeyStats out;
  out.set_idempotency_key(key);
  out.set_provider_id(provider_id);
  for (const auto& k : stats->keys()) {
    if (k.idempotency_key() == key && k.provider_id() == provider_id) out = k;
  }
  return out;
}

absl::StatusOr<std::vector<provider::v1::Booking>> MockClient::ListAll(
    const std::string& provider_id) {
  provider::v1::ListAllRequest request;
  provider::v1::ListAllResponse response;
  grpc::ClientContext ctx;
  SetDeadline(ctx, absl::Seconds(30));
  grpc::Status s = stub_->ListAll(&ctx, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  std::vector<provider::v1::Booking> out;
  for (const auto& b : response.bookings()) {
    if (provider_id.empty() || b.provider_id() == provider_id) out.push_back(b);
  }
  return out;
}

absl::StatusOr<provider::v1::Booking> MockClient::Inject(
    const provider::v1::Booking& booking) {
  provider::v1::InjectBookingRequest request;
  *request.mutable_booking() = booking;
  provider::v1::Booking response;
  grpc::ClientContext ctx;
  SetDeadline(ctx, absl::Seconds(10));
  grpc::Status s = stub_->InjectBooking(&ctx, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::StatusOr<std::string> ScrapeMetrics(const std::string& host_port) {
  std::vector<std::string> parts = absl::StrSplit(host_port, ':');
  int port = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &port)) {
    return absl::InvalidArgumentError("bad metrics address " + host_port);
  }
  httplib::Client client(parts[0], port);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) {
    return absl::UnavailableError("cannot read http://" + host_port +
                                  "/metrics");
  }
  return res->body;
}

std::vector<MetricSample> ParseMetrics(const std::string& page) {
  std::vector<MetricSample> out;
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    MetricSample s;
    absl::string_view rest;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    if (brace != absl::string_view::npos && brace < space) {
      const size_t close = line.find('}', brace);
      if (close == absl::string_view::npos) continue;
      s.name = std::string(line.substr(0, brace));
      // Label values in our metrics never contain '"' or ','.
      for (absl::string_view pair :
           absl::StrSplit(line.substr(brace + 1, close - brace - 1), ',',
                          absl::SkipEmpty())) {
        const size_t eq = pair.find('=');
        if (eq == absl::string_view::npos) continue;
        absl::string_view value = pair.substr(eq + 1);
        absl::ConsumePrefix(&value, "\"");
        absl::ConsumeSuffix(&value, "\"");
        s.labels[std::string(pair.substr(0, eq))] = std::string(value);
      }
      rest = line.substr(close + 1);
    } else {
      s.name = std::string(line.substr(0, space));
      rest = line.substr(space);
    }
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(rest), &s.value)) continue;
    out.push_back(std::move(s));
  }
  return out;
}

double SumMetric(const std::vector<MetricSample>& samples,
                 const std::string& name,
                 const std::map<std::string, std::string>& match) {
  double sum = 0;
  for (const MetricSample& s : samples) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) ok = false;
    }
    if (ok) sum += s.value;
  }
  return sum;
}

std::optional<double> MetricValue(
    const std::vector<MetricSample>& samples, const std::string& name,
    const std::map<std::string, std::string>& labels) {
  for (const MetricSample& s : samples) {
    if (s.name == name && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

bool IsLiveStatus(provider::v1::Booking::Status status) {
  return status == provider::v1::Booking::CONFIRMED ||
         status == provider::v1::Booking::PENDING;
}

}  // namespace booking::scenarios
