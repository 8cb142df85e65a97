// FsWorld: one simulated node with a metadata and a data device, for tests of the mounted
// filesystem. mkfs_and_mount() and remount() run inside the test body's task; crash() throws
// away everything in memory and resolves the devices' unflushed writes as a power loss would.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "fs/format/items.h"
#include "fs/client/mount.h"
#include "fs/vfs/vfs.h"
#include "sim/block_device.h"
#include "sim/simulation.h"
#include "sim/tests/test_util.h"

namespace simfs::fs::testing {

struct FsWorld {
  static sim::BlockDeviceConfig dev_config(uint64_t blocks) {
    sim::BlockDeviceConfig c;
    c.block_size = kBlockSize;
    c.block_count = blocks;
    return c;
  }
  FsWorld(uint64_t seed, uint64_t meta_blocks = 4096, uint64_t data_blocks = 4096)
      : s(seed),
        n(s.add_node("n")),
        meta(s, 0, "meta", dev_config(meta_blocks)),
        data(s, 1, "data", dev_config(data_blocks)) {
    n.start();
    mh = meta.attach(n);
    dh = data.attach(n);
  }
  void run(std::function<void()> body) {
    n.spawn("test", std::move(body));
    auto r = s.run(sim::kTimeNever);
    EXPECT_EQ(r.outcome, sim::Simulation::Outcome::kQuiescent) << r.message;
  }
  // In a task: mkfs, then mount with cfg.
  sim::Errno mkfs_and_mount(MountConfig cfg = test_config()) {
    sim::Errno e = mkfs(NodeEnv(n), *mh, *dh, 0x5eed, btree_fill);
    if (e) return e;
    return remount(cfg);
  }
  sim::Errno remount(MountConfig cfg = test_config()) {
    vfs.reset();
    mount.reset();
    sim::Errno e = Mount::open(NodeEnv(n), *mh, *dh, cfg, &mount);
    if (e) return e;
    vfs = std::make_unique<Vfs>(*mount);
    return vfs->recover_orphans();
  }
  // Forget the mount without committing, as a crash would, and settle unflushed writes.
  void crash() {
    vfs.reset();
    mount.reset();
    meta.power_loss();
    data.power_loss();
  }
  static MountConfig test_config() {
    MountConfig c;
    c.timer = false;  // tests decide when commits happen
    // Small, so that tests finalize and merge log trees often (and crash in the middle).
    c.log_finalize_items = 64;
    c.merge_blocks_per_commit = 8;
    return c;
  }

  uint32_t btree_fill = 0;  // mkfs: the forest's fill limit (0: whole blocks)
  sim::Simulation s;
  sim::Node& n;
  sim::BlockDevice meta;
  sim::BlockDevice data;
  std::unique_ptr<sim::DiskHandle> mh, dh;
  std::unique_ptr<Mount> mount;
  std::unique_ptr<Vfs> vfs;
  sim::testing::ShutdownGuard guard{s};
};

}  // namespace simfs::fs::testing
