// ProcessPool: runs child processes concurrently (one per simulation run, so a crash, abort or
// hang of the system under test is a recorded result, not the end of a campaign) and hands
// back each one's stdout and exit status as it finishes. Host-facing: tools/ only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/subprocess.h"

namespace tools {

class ProcessPool {
 public:
  ProcessPool() = default;
  ~ProcessPool();
  ProcessPool(const ProcessPool&) = delete;
  ProcessPool& operator=(const ProcessPool&) = delete;

  // Starts argv; `tag` comes back with the result. timeout_ms == 0: no limit. The child's
  // stderr goes to /dev/null when quiet_stderr, else to ours.
  // Returns false if the process could not be started.
  bool start(const std::vector<std::string>& argv, uint64_t tag, int timeout_ms, bool quiet_stderr = true);
  size_t running() const { return children_.size(); }
  // Blocks until some child finishes (or poll_ms passes, returning false).
  bool wait_one(uint64_t* tag, ChildResult* result, int poll_ms);

 private:
  struct Child {
    pid_t pid;
    int fd;
    uint64_t tag;
    int64_t deadline_ms;  // monotonic ms; 0 = none
    bool killed = false;
    std::string out;
  };
  std::map<pid_t, Child> children_;
};

int64_t monotonic_ms();

}  // namespace tools
