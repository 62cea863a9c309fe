// measure: runs a command and reports its wall time and peak resident
// memory (from wait4's rusage, so no dependency on GNU time).
//
//   measure OUT.json -- COMMAND [ARGS...]
//
// The command's stdout/stderr pass through. Writes
// {"exit_code", "wall_s", "user_s", "sys_s", "peak_rss_mb"} to OUT.json and
// exits with the command's exit code (127 if it could not be started).

#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

double Seconds(const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || std::strcmp(argv[2], "--") != 0) {
    std::fprintf(stderr, "usage: measure OUT.json -- COMMAND [ARGS...]\n");
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("measure: fork");
    return 127;
  }
  if (pid == 0) {
    execvp(argv[3], argv + 3);
    std::perror("measure: exec");
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      std::perror("measure: wait4");
      return 127;
    }
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const int code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  FILE* out = std::fopen(argv[1], "w");
  if (out == nullptr) {
    std::perror("measure: open output");
    return 127;
  }
  // ru_maxrss is in KiB on Linux.
  std::fprintf(out,
               "{\"exit_code\": %d, \"wall_s\": %.3f, \"user_s\": %.3f, "
               "\"sys_s\": %.3f, \"peak_rss_mb\": %.1f}\n",
               code, wall, Seconds(usage.ru_utime), Seconds(usage.ru_stime),
               usage.ru_maxrss / 1024.0);
  std::fclose(out);
  return code;
}
