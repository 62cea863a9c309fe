#ifndef CORE_TESTING_SUBPROCESS_H_
#define CORE_TESTING_SUBPROCESS_H_

// Runs a real binary for integration tests: starts it, reads its
// `listening on HOST:PORT` line, and stops it with SIGTERM or SIGKILL.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace booking::testing {

// Path of a binary in the test's runfiles, e.g. "api_server/api_server".
std::string RunfilePath(const std::string& workspace_relative);

class Subprocess {
 public:
  // argv[0] is the binary path. Stdout is captured (see WaitForLine); stderr
  // goes to `stderr_path` if set, else is inherited.
  static absl::StatusOr<Subprocess> Start(
      std::vector<std::string> argv, std::vector<std::string> extra_env = {},
      std::optional<std::string> stderr_path = std::nullopt);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // Kills (SIGKILL) and reaps the process if it is still running.
  ~Subprocess();

  // Reads stdout lines until one starts with `prefix`; returns that line.
  // DEADLINE_EXCEEDED after `timeout` (a bound for a broken binary, not a
  // synchronisation sleep), NOT_FOUND if stdout closes first.
  absl::StatusOr<std::string> WaitForLine(const std::string& prefix,
                                          absl::Duration timeout);
  // WaitForLine("listening on ") and returns "HOST:PORT".
  absl::StatusOr<std::string> WaitForListening(
      absl::Duration timeout = absl::Seconds(30));

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits for exit; returns the exit code, or 128+signal if killed.
  // DEADLINE_EXCEEDED after `timeout`.
  absl::StatusOr<int> Wait(absl::Duration timeout = absl::Seconds(30));
  // Everything read from stdout so far.
  const std::string& stdout_text() const { return stdout_; }

 private:
  Subprocess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string stdout_;
  size_t consumed_ = 0;
  std::optional<int> exit_code_;
};

}  // namespace booking::testing

#endif  // CORE_TESTING_SUBPROCESS_H_
