// Runs a child process (this same binary, usually) and captures its stdout. Host-facing code:
// lives in tools/ only.
#pragma once

#include <string>
#include <vector>

namespace tools {

struct ChildResult {
  int exit_code = -1;   // -1 if it did not exit normally
  int signal = 0;       // the signal that killed it, if any
  bool timed_out = false;
  std::string out;      // stdout
};

// Runs argv[0] with argv; stderr goes to ours (or /dev/null when quiet_stderr).
// timeout_ms == 0: no limit; otherwise the child is killed (SIGKILL) when it expires.
ChildResult run_child(const std::vector<std::string>& argv, int timeout_ms = 0, bool quiet_stderr = false);

// The path of the running executable (for re-running ourselves).
std::string self_exe();

}  // namespace tools
