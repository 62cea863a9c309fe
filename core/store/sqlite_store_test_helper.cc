// A second process for sqlite_store_concurrency_test: the tests start it with
// testing::Subprocess and read its stdout lines.
//
//   sqlite_store_test_helper create_once DB FIFO APPOINTMENT_ID REQUEST_ID
//     Prints "ready", waits until FIFO reports EOF (the start barrier shared
//     by several helpers), opens DB (a fresh file is migrated here, racing
//     the other helpers) and creates one appointment. Prints
//     "result ID REPLAYED" and exits 0, or "error STATUS" and exits 1.
//
//   sqlite_store_test_helper write_loop DB PREFIX
//     Creates appointments in batches of 4 forever, printing "progress N"
//     after each committed batch; the test kills it with SIGKILL.

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/store/sqlite_store.h"
#include "core/store/store_test_util.h"

namespace booking {
namespace {

void Line(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

absl::StatusOr<std::unique_ptr<SqliteAppointmentStore>> OpenStore(
    const std::string& path) {
  SqliteOptions opts;
  opts.path = path;
  return SqliteAppointmentStore::Open(opts);
}

int CreateOnce(const std::string& db, const std::string& fifo,
               const std::string& id, const std::string& request_id) {
  const int fd = open(fifo.c_str(), O_RDONLY);
  if (fd < 0) {
    Line("error cannot open fifo");
    return 1;
  }
  Line("ready");
  char buf[16];
  while (read(fd, buf, sizeof(buf)) > 0) {
  }
  close(fd);
  auto store = OpenStore(db);
  if (!store.ok()) {
    Line(absl::StrFormat("error %s", store.status().ToString()));
    return 1;
  }
  absl::StatusOr<CreateResult> r = (*store)->CreateAppointment(
      testing::MakeCreateIntent(id, request_id, testing::TestNow()));
  if (!r.ok()) {
    Line(absl::StrFormat("error %s", r.status().ToString()));
    return 1;
  }
  Line(absl::StrFormat("result %s %d", r->appointment.id(), r->replayed));
  return 0;
}

int WriteLoop(const std::string& db, const std::string& prefix) {
  auto store = OpenStore(db);
  if (!store.ok()) {
    Line(absl::StrFormat("error %s", store.status().ToString()));
    return 1;
  }
  for (int i = 0;; ++i) {
    std::vector<CreateIntent> batch;
    for (int j = 0; j < 4; ++j) {
      const std::string id = absl::StrFormat("%s-%06d-%d", prefix, i, j);
      batch.push_back(
          testing::MakeCreateIntent(id, "req-" + id, testing::TestNow()));
    }
    for (const auto& r : (*store)->CreateAppointments(batch)) {
      if (!r.ok()) {
        Line(absl::StrFormat("error %s", r.status().ToString()));
        return 1;
      }
    }
    Line(absl::StrFormat("progress %d", i));
  }
}

}  // namespace
}  // namespace booking

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 5 && args[0] == "create_once") {
    return booking::CreateOnce(args[1], args[2], args[3], args[4]);
  }
  if (args.size() == 3 && args[0] == "write_loop") {
    return booking::WriteLoop(args[1], args[2]);
  }
  std::fprintf(stderr,
               "usage: %s create_once DB FIFO ID REQUEST_ID | write_loop DB "
               "PREFIX\n",
               argv[0]);
  return 2;
}
