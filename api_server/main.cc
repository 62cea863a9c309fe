// api_server: the gRPC AppointmentService (DESIGN §4, §8, §10). See README.md.
//
//   api_server --listen=HOST:PORT --db=PATH --providers=ID,ID,...
//       [--metrics_port=N] [--auth_tokens_file=PATH] [--rate_limit_qps=N]
//       [--log_file=PATH] ...
//
// Prints `listening on HOST:PORT` as the first stdout line once it serves;
// on SIGTERM/SIGINT stops accepting, finishes in-flight calls, closes the
// database and exits 0.

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "api_server/appointment_service.h"
#include "api_server/auth.h"
#include "api_server/group_commit_writer.h"
#include "api_server/key_purger.h"
#include "api_server/rate_limiter.h"
#include "api_server/watch_hub.h"
#include "core/common/clock.h"
#include "core/domain/ids.h"
#include "core/grpc/server_runtime.h"
#include "core/observability/logging.h"
#include "core/observability/metrics.h"
#include "core/observability/metrics_http.h"
#include "core/store/sqlite_store.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "HOST:PORT to serve gRPC on; port 0 picks a free one. The first "
          "stdout line is `listening on HOST:PORT`.");
ABSL_FLAG(std::string, db, "appointments.db",
          "SQLite database file; created and migrated if missing.");
ABSL_FLAG(std::string, providers, "clinic-a,clinic-b",
          "Comma-separated provider ids that CreateAppointment accepts.");
ABSL_FLAG(int, metrics_port, -1,
          "Serve Prometheus /metrics on this port (0 picks one; printed on "
          "stdout as `metrics on HOST:PORT` after the listening line); -1 "
          "disables.");
ABSL_FLAG(std::string, metrics_host, "127.0.0.1", "Address for /metrics.");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "If set, every AppointmentService call needs metadata "
          "`authorization: Bearer <token>` with a token from this file (one "
          "per line, '#' comments). Health and reflection stay open.");
ABSL_FLAG(double, rate_limit_qps, 0,
          "Per-client sustained requests/s (client = x-client-id metadata, "
          "else the peer address); over it calls get RESOURCE_EXHAUSTED with "
          "trailing `retry-after-ms`. 0 disables.");
ABSL_FLAG(double, rate_limit_burst, 0,
          "Per-client bucket size (calls at once); 0 means max(1, qps).");
ABSL_FLAG(int, rate_limit_max_clients, 10000,
          "Clients tracked by the rate limiter at most (idle ones are "
          "forgotten first).");
ABSL_FLAG(absl::Duration, idempotency_ttl, absl::Hours(24),
          "How long request_ids are remembered (DESIGN: at least 24h; less is "
          "allowed for testing and logged as a warning).");
ABSL_FLAG(absl::Duration, purge_interval, absl::Minutes(10),
          "How often expired request_ids are purged; 0 disables.");
ABSL_FLAG(absl::Duration, busy_timeout, absl::Seconds(5),
          "How long a database call waits for another process's lock before "
          "the call fails with UNAVAILABLE (retry with the same request_id).");
ABSL_FLAG(int, max_batch, 256,
          "Most writes committed in one transaction (group commit).");
ABSL_FLAG(int, max_queue, 10000,
          "Most writes waiting for the writer; more get UNAVAILABLE.");
ABSL_FLAG(int, read_connections, 2,
          "Database connections for Get/List (reads never wait for writes).");
ABSL_FLAG(absl::Duration, book_timeout, absl::Hours(24),
          "Overall deadline of a BOOK (never after the appointment's start).");
ABSL_FLAG(absl::Duration, cancel_timeout, absl::Hours(24),
          "Overall deadline of a CANCEL queued by CancelAppointment.");
ABSL_FLAG(absl::Duration, watch_poll_interval, absl::Milliseconds(10),
          "How often watchers check the database's change counter.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM: how long in-flight calls may finish before they are "
          "cancelled.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error.");
ABSL_FLAG(std::string, log_file, "",
          "Append JSON log lines to this file; default stderr.");

namespace booking {
namespace {

// gRPC refuses larger messages outright (RESOURCE_EXHAUSTED) before they are
// parsed; between 16 KiB and this, the service answers INVALID_ARGUMENT
// naming the limit.
constexpr int kTransportMaxMessageBytes = 64 * 1024;

int UsageError(const std::string& message) {
  std::fprintf(stderr, "api_server: %s\n", message.c_str());
  return 2;
}

int Main() {
  absl::StatusOr<LogLevel> level =
      ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) return UsageError(level.status().ToString());
  LoggingOptions logging;
  logging.service = "api_server";
  logging.level = *level;
  logging.log_file = absl::GetFlag(FLAGS_log_file);
  if (absl::Status s = InitLogging(logging); !s.ok()) {
    return UsageError(s.ToString());
  }

  AppointmentServiceOptions options;
  for (absl::string_view p :
       absl::StrSplit(absl::GetFlag(FLAGS_providers), ',', absl::SkipEmpty())) {
    options.validation.provider_ids.insert(
        std::string(absl::StripAsciiWhitespace(p)));
  }
  if (options.validation.provider_ids.empty()) {
    return UsageError("--providers needs at least one provider id");
  }
  options.idempotency_ttl = absl::GetFlag(FLAGS_idempotency_ttl);
  options.book_timeout = absl::GetFlag(FLAGS_book_timeout);
  options.cancel_timeout = absl::GetFlag(FLAGS_cancel_timeout);
  if (options.idempotency_ttl <= absl::ZeroDuration() ||
      options.book_timeout <= absl::ZeroDuration() ||
      options.cancel_timeout <= absl::ZeroDuration()) {
    return UsageError(
        "--idempotency_ttl, --book_timeout and --cancel_timeout must be "
        "positive");
  }
  if (options.idempotency_ttl < absl::Hours(24)) {
    LogEvent(LogLevel::kWarn, "idempotency_ttl_below_24h")
        .Field("idempotency_ttl",
               absl::FormatDuration(options.idempotency_ttl));
  }
  const int read_connections = absl::GetFlag(FLAGS_read_connections);
  const int max_batch = absl::GetFlag(FLAGS_max_batch);
  const int max_queue = absl::GetFlag(FLAGS_max_queue);
  if (read_connections < 1 || max_batch < 1 || max_queue < 1) {
    return UsageError(
        "--read_connections, --max_batch and --max_queue must be >= 1");
  }
  if (absl::GetFlag(FLAGS_rate_limit_qps) < 0 ||
      absl::GetFlag(FLAGS_rate_limit_burst) < 0) {
    return UsageError("--rate_limit_qps and --rate_limit_burst must be >= 0");
  }

  std::unique_ptr<TokenAuthenticator> auth;
  if (const std::string path = absl::GetFlag(FLAGS_auth_tokens_file);
      !path.empty()) {
    absl::StatusOr<TokenAuthenticator> loaded =
        TokenAuthenticator::FromFile(path);
    if (!loaded.ok()) return UsageError(loaded.status().ToString());
    auth = std::make_unique<TokenAuthenticator>(std::move(*loaded));
  }

  // The database: one write connection (owned by the group-commit writer's
  // thread), read connections for Get/List, one for the watch ticker. Open
  // (and migrate) before serving, so health is SERVING only with a database.
  const std::string db_path = absl::GetFlag(FLAGS_db);
  SqliteOptions sqlite;
  sqlite.path = db_path;
  sqlite.busy_timeout = absl::GetFlag(FLAGS_busy_timeout);
  SqliteOptions writer_sqlite = sqlite;
  // The writer's batches journal each intent's savepoint: in memory, not
  // in a temp file (ADR 0006).
  writer_sqlite.temp_store_in_memory = true;
  absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> write_store =
      SqliteAppointmentStore::Open(writer_sqlite);
  if (!write_store.ok()) {
    LogEvent(LogLevel::kError, "database_open_failed")
        .Field("db", db_path)
        .Error(write_store.status());
    std::fprintf(stderr, "api_server: cannot open %s: %s\n", db_path.c_str(),
                 write_store.status().ToString().c_str());
    return 1;
  }
  std::vector<std::unique_ptr<SqliteAppointmentStore>> owned_readers;
  std::vector<AppointmentStore*> readers;
  for (int i = 0; i < read_connections + 1; ++i) {
    absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> r =
        SqliteAppointmentStore::Open(sqlite);
    if (!r.ok()) {
      std::fprintf(stderr, "api_server: cannot open %s: %s\n", db_path.c_str(),
                   r.status().ToString().c_str());
      return 1;
    }
    owned_readers.push_back(std::move(*r));
  }
  AppointmentStore* watch_store = owned_readers.back().get();
  for (int i = 0; i < read_connections; ++i) {
    readers.push_back(owned_readers[i].get());
  }

  MetricsRegistry& metrics = DefaultRegistry();
  Histogram* batch_sizes = metrics.GetHistogram(
      "api_writer_batch_size",
      "Create intents committed per transaction (group commit).", {},
      {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024});
  GroupCommitWriterOptions writer_options;
  writer_options.max_batch = max_batch;
  writer_options.max_queue = max_queue;
  writer_options.on_create_batch = [batch_sizes](int n) {
    batch_sizes->Observe(n);
  };
  GroupCommitWriter writer(write_store->get(), writer_options);
  metrics.AddCallbackGauge(
      "api_writer_queue_depth", "Writes waiting for the group-commit writer.",
      {}, [&writer] { return static_cast<double>(writer.queue_depth()); });
  metrics.AddCallbackGauge(
      "api_writer_pending", "Writes submitted and not yet answered.", {},
      [&writer] { return static_cast<double>(writer.pending()); });

  WatchHubOptions hub_options;
  hub_options.poll_interval = absl::GetFlag(FLAGS_watch_poll_interval);
  WatchHub hub(watch_store, hub_options);
  metrics.AddCallbackGauge(
      "api_active_watches", "WatchAppointment streams open.", {},
      [&hub] { return static_cast<double>(hub.watcher_count()); });

  KeyPurger purger(&writer, RealClock(), absl::GetFlag(FLAGS_purge_interval));

  RateLimiterOptions limiter_options;
  limiter_options.qps = absl::GetFlag(FLAGS_rate_limit_qps);
  limiter_options.burst = absl::GetFlag(FLAGS_rate_limit_burst);
  limiter_options.max_keys = static_cast<size_t>(
      std::max(1, absl::GetFlag(FLAGS_rate_limit_max_clients)));
  RateLimiter limiter(limiter_options, RealClock());
  IdGenerator ids(RealClock(), /*seed=*/0);

  AppointmentServiceDeps deps;
  deps.writer = &writer;
  deps.readers = readers;
  deps.watch_hub = &hub;
  deps.clock = RealClock();
  deps.ids = &ids;
  deps.metrics = &metrics;
  deps.rate_limiter = limiter.enabled() ? &limiter : nullptr;
  deps.auth = auth.get();
  AppointmentService service(options, deps);

  std::unique_ptr<MetricsHttpServer> metrics_server;
  if (const int port = absl::GetFlag(FLAGS_metrics_port); port >= 0) {
    auto started = MetricsHttpServer::Start(absl::GetFlag(FLAGS_metrics_host),
                                            port, &metrics);
    if (!started.ok()) {
      return UsageError(absl::StrCat("metrics: ", started.status().ToString()));
    }
    metrics_server = std::move(*started);
  }

  GrpcServerOptions server_options;
  server_options.listen_address = absl::GetFlag(FLAGS_listen);
  server_options.services = {&service};
  server_options.max_receive_message_bytes = kTransportMaxMessageBytes;
  absl::StatusOr<StartedServer> server = StartGrpcServer(server_options);
  if (!server.ok()) {
    LogEvent(LogLevel::kError, "listen_failed")
        .Field("listen", server_options.listen_address)
        .Error(server.status());
    std::fprintf(stderr, "api_server: %s\n",
                 server.status().ToString().c_str());
    return 1;
  }
  AnnounceListening(server->bound.host, server->bound.port);
  std::string metrics_where;
  if (metrics_server != nullptr) {
    metrics_where = absl::StrCat(absl::GetFlag(FLAGS_metrics_host), ":",
                                 metrics_server->port());
    std::printf("metrics on %s\n", metrics_where.c_str());
    std::fflush(stdout);
  }
  std::vector<std::string> provider_list(
      options.validation.provider_ids.begin(),
      options.validation.provider_ids.end());
  std::sort(provider_list.begin(), provider_list.end());
  LogEvent(LogLevel::kInfo, "serving")
      .Field("listen",
             absl::StrCat(server->bound.host, ":", server->bound.port))
      .Field("db", db_path)
      .Field("providers", absl::StrJoin(provider_list, ","))
      .Field("metrics", metrics_where)
      .Field("auth", auth != nullptr)
      .Field("rate_limit_qps", limiter_options.qps);

  const int sig = WaitForShutdownSignal();
  LogEvent(LogLevel::kInfo, "draining").Field("signal", sig);
  // Not serving from here on; open watches end (their clients re-watch
  // elsewhere); in-flight unary calls finish — their writes are still
  // committed by the writer — within the grace period.
  if (auto* health = server->server->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  hub.Stop();
  DrainAndShutdown(server->server.get(), absl::GetFlag(FLAGS_shutdown_grace));
  purger.Stop();
  writer.Stop();  // finishes anything still queued
  metrics.RemoveCallbackGauge("api_writer_queue_depth", {});
  metrics.RemoveCallbackGauge("api_writer_pending", {});
  metrics.RemoveCallbackGauge("api_active_watches", {});
  if (metrics_server != nullptr) metrics_server->Stop();
  owned_readers.clear();
  write_store->reset();  // closes the database cleanly (WAL checkpoint)
  LogEvent(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace
}  // namespace booking

int main(int argc, char** argv) {
  // First, so every thread created later inherits the blocked mask and the
  // signals arrive only in WaitForShutdownSignal().
  booking::BlockShutdownSignals();
  absl::SetProgramUsageMessage(
      "the appointment booking gRPC API (appointments.v1.AppointmentService).\n"
      "  api_server --listen=HOST:PORT --db=PATH --providers=ID,ID,... "
      "[--metrics_port=N] [--auth_tokens_file=PATH] [--rate_limit_qps=N] "
      "[--log_file=PATH]\n"
      "Prints `listening on HOST:PORT` first on stdout; exits 0 after a "
      "SIGTERM drain. Run with --helpfull for every flag.");
  absl::ParseCommandLine(argc, argv);
  return booking::Main();
}
