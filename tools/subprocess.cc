#include "tools/subprocess.h"

#include <unistd.h>

#include <climits>

#include "tools/process_pool.h"

namespace tools {

std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "simfs";
  return std::string(buf, static_cast<size_t>(n));
}

ChildResult run_child(const std::vector<std::string>& argv, int timeout_ms, bool quiet_stderr) {
  // A pool of one: the pool owns the fork/exec/pipe/timeout logic.
  ProcessPool pool;
  ChildResult r;
  if (!pool.start(argv, 0, timeout_ms, quiet_stderr)) return r;
  uint64_t tag;
  while (pool.running() > 0 && !pool.wait_one(&tag, &r, 1000)) {
  }
  return r;
}

}  // namespace tools
