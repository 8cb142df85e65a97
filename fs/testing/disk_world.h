// DiskWorld: one simulated node with a metadata device attached, for fs tests. Each test body
// runs in a task of that node, and the run must end quietly (no deadlock, no harness error).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "fs/format/format.h"
#include "sim/block_device.h"
#include "sim/simulation.h"
#include "sim/tests/test_util.h"

namespace simfs::fs::testing {

struct DiskWorld {
  static sim::BlockDeviceConfig dev_config(uint64_t blocks) {
    sim::BlockDeviceConfig c;
    c.block_size = kBlockSize;
    c.block_count = blocks;
    return c;
  }
  DiskWorld(uint64_t seed, uint64_t blocks)
      : s(seed), n(s.add_node("n")), dev(s, 0, "meta", dev_config(blocks)), h((n.start(), dev.attach(n))) {}
  void run(std::function<void()> body) {
    n.spawn("test", std::move(body));
    auto r = s.run(sim::kTimeNever);
    EXPECT_EQ(r.outcome, sim::Simulation::Outcome::kQuiescent) << r.message;
  }
  sim::Simulation s;
  sim::Node& n;
  sim::BlockDevice dev;
  std::unique_ptr<sim::DiskHandle> h;
  sim::testing::ShutdownGuard guard{s};
};

}  // namespace simfs::fs::testing
