// FsWorld: one simulated node with a metadata and a data device, running the server and one
// mount of the filesystem over the simulated network (the smallest cluster), for tests of the
// mounted filesystem. The test body runs in a task outside the node, so crash() can take the
// node down under it: crash() throws away everything in memory, resolves the devices'
// unflushed writes as the crash does, and brings the node back up; remount() then starts a new
// server and a new mount (with a new rid) from what is on disk.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "fs/client/mount.h"
#include "fs/client/net_server_link.h"
#include "fs/format/items.h"
#include "fs/server/mkfs.h"
#include "fs/server/server.h"
#include "fs/server/server_net.h"
#include "fs/vfs/vfs.h"
#include "sim/block_device.h"
#include "sim/network.h"
#include "sim/simulation.h"
#include "sim/tests/test_util.h"

namespace simfs::fs::testing {

struct FsWorld {
  static constexpr uint64_t kFsid = 0x5eed;
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
        data(s, 1, "data", dev_config(data_blocks)),
        net(s) {
    n.start();
    attach();
  }
  ~FsWorld() { s.shutdown(); }
  // Runs `body` in a task outside the node; when it returns, the node goes down so its
  // background tasks (timers, the server's workers) end and the run is quiescent.
  void run(std::function<void()> body) {
    s.spawn("test", [this, body = std::move(body)] {
      body();
      crash();  // memory and tasks gone; the devices stay for the next run()
    });
    auto r = s.run(sim::kTimeNever);
    EXPECT_EQ(r.outcome, sim::Simulation::Outcome::kQuiescent) << r.message;
  }
  // In the test task: mkfs, then start a server and mount with cfg.
  sim::Errno mkfs_and_mount(MountConfig cfg = test_config()) {
    sim::Errno e = mkfs(NodeEnv(n), *mh, *dh, kFsid, btree_fill);
    if (e) return e;
    return remount(cfg);
  }
  sim::Errno start_server() {
    server = std::make_unique<Server>(NodeEnv(n), *mh, *dh, server_cfg);
    if (sim::Errno e = server->start()) return e;
    server_net = std::make_unique<ServerNet>(NodeEnv(n), net, *server);
    server->set_links(server_net.get());
    return server_net->start();
  }
  // Unmounts nothing: a new mount (and, if none runs, a new server) on what is on disk.
  sim::Errno remount(MountConfig cfg = test_config()) {
    vfs.reset();
    mount.reset();
    link.reset();
    if (!server) {
      if (sim::Errno e = start_server()) return e;
    }
    NetServerLinkConfig lc;
    lc.server = sim::Address{n.id(), kServerPort};
    lc.fsid = kFsid;
    lc.rid = ++rids;
    link = std::make_unique<NetServerLink>(NodeEnv(n), net, lc);
    if (sim::Errno e = link->start(s.now() + 10 * sim::kSecond)) return e;
    if (sim::Errno e = Mount::open(NodeEnv(n), *mh, *dh, *link, cfg, &mount)) return e;
    vfs = std::make_unique<Vfs>(*mount);
    return vfs->recover_orphans();
  }
  // The node crashes (memory gone, unflushed writes resolved) and comes back up empty.
  void crash() {
    n.crash();
    vfs.reset();
    mount.reset();
    link.reset();
    server_net.reset();
    server.reset();
    n.restart();
    attach();
  }
  // Waits (bounded) for queued orphans to be deleted.
  void drain_orphans() {
    for (int i = 0; i < 1000 && vfs && vfs->orphans_pending() > 0; ++i) s.sched().sleep(10 * sim::kMillisecond);
  }
  // Commits and has the server merge every log tree into the fs tree: the fs tree then holds
  // every item. For tests that look at the fs tree directly.
  sim::Errno merge_logs() {
    for (int round = 0; round < 200; ++round) {
      if (sim::Errno e = mount->commit()) return e;
      s.sched().sleep(server_cfg.merge_poll * 2);  // a tick counts what the commit logged
      if (server->logged_items() == 0 && !server->merge_running()) return 0;
      server->force_merge();
      s.sched().sleep(server_cfg.merge_poll * 2);
    }
    return ETIMEDOUT;
  }
  static MountConfig test_config() {
    MountConfig c;
    c.timer = false;  // tests decide when commits happen
    c.merge_poll = 10 * sim::kMillisecond;
    return c;
  }
  static ServerConfig test_server_config() {
    ServerConfig c;
    // Small, so that tests finalize and merge log trees often (and crash in the middle).
    c.log_finalize_items = 64;
    c.merge_blocks_per_commit = 8;
    c.merge_poll = 20 * sim::kMillisecond;
    return c;
  }
  void attach() {
    mh = meta.attach(n);
    dh = data.attach(n);
  }

  uint32_t btree_fill = 0;  // mkfs: the forest's fill limit (0: whole blocks)
  ServerConfig server_cfg = test_server_config();
  uint64_t rids = 0;
  sim::Simulation s;
  sim::Node& n;
  sim::BlockDevice meta;
  sim::BlockDevice data;
  sim::Network net;
  std::unique_ptr<sim::DiskHandle> mh, dh;
  std::unique_ptr<Server> server;
  std::unique_ptr<ServerNet> server_net;
  std::unique_ptr<NetServerLink> link;
  std::unique_ptr<Mount> mount;
  std::unique_ptr<Vfs> vfs;
};

}  // namespace simfs::fs::testing
