// Helpers shared by the kernel tests.
#pragma once

#include "sim/simulation.h"

namespace sim::testing {

// Unwinds every task when it goes out of scope. Declare it after the objects that tasks
// reference (devices, networks, sockets), so it runs first even when an ASSERT returns early.
class ShutdownGuard {
 public:
  explicit ShutdownGuard(Simulation& s) : s_(s) {}
  ~ShutdownGuard() { s_.shutdown(); }
  ShutdownGuard(const ShutdownGuard&) = delete;
  ShutdownGuard& operator=(const ShutdownGuard&) = delete;

 private:
  Simulation& s_;
};

}  // namespace sim::testing
