// ClusterWorld: N simulated nodes sharing one metadata and one data device over the simulated
// network; node 0 runs the server, every node may run a mount (fs/cluster/node_stack.h). For
// tests of what happens between mounts: locks bouncing, invalidations, crashes of a client or
// of the server in the middle of a protocol exchange.
//
// The test body runs in a task outside every node (run()), so crash(i) takes node i down under
// it: memory and tasks gone, unflushed writes resolved, the node back up with nothing running.
// mount(i) then starts a new mount (a new rid) there; start_server() a new server on node 0.
// Nodes have no boot function: the test decides what each runs, and when.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "fs/base/bugs.h"
#include "fs/cluster/node_stack.h"
#include "fs/format/items.h"
#include "fs/server/mkfs.h"
#include "sim/block_device.h"
#include "sim/network.h"
#include "sim/simulation.h"

namespace simfs::fs::testing {

struct ClusterWorld {
  static constexpr uint64_t kFsid = 0xc1a5;

  ClusterWorld(uint64_t seed, int node_count, uint64_t meta_blocks = 8192, uint64_t data_blocks = 8192)
      : s(seed), meta(s, 0, "meta", dev_config(meta_blocks)), data(s, 1, "data", dev_config(data_blocks)), net(s) {
    for (int i = 0; i < node_count; ++i) {
      sim::Node& n = s.add_node("m" + std::to_string(i));
      nodes.push_back(&n);
      stacks.push_back(std::make_unique<NodeStack>(n, net, meta, data, stack_config(i)));
      n.start();
      stacks.back()->attach();
    }
  }
  ~ClusterWorld() {
    for (auto& st : stacks) st->forget();
    s.shutdown();
  }

  static sim::BlockDeviceConfig dev_config(uint64_t blocks) {
    sim::BlockDeviceConfig c;
    c.block_size = kBlockSize;
    c.block_count = blocks;
    return c;
  }
  // Tests decide when commits happen; small log trees so that merges happen often.
  static MountConfig test_mount_config() {
    MountConfig c;
    c.timer = false;
    c.merge_poll = 10 * sim::kMillisecond;
    return c;
  }
  static ServerConfig test_server_config() {
    ServerConfig c;
    c.log_finalize_items = 64;
    c.merge_blocks_per_commit = 8;
    c.merge_poll = 20 * sim::kMillisecond;
    c.reconnect_timeout = 2 * sim::kSecond;
    c.recovery_timeout = 2 * sim::kSecond;
    return c;
  }
  NodeStackConfig stack_config(int node) {
    NodeStackConfig c;
    c.fsid = kFsid;
    c.server_address = sim::Address{0, kServerPort};
    c.server = test_server_config();
    c.mount = test_mount_config();
    c.connect_timeout = 10 * sim::kSecond;
    c.mount.bugs = bugs;
    c.server.bugs = bugs;
    c.on_protocol_violation = [this](const std::string& what) { violations.push_back(what); };
    if (node == 0) {
      // Fencing a client cuts its node's device I/O (its mount stops at its next write).
      c.fence = [this](uint64_t, uint32_t n) {
        if (n >= nodes.size()) return false;
        meta.fence(static_cast<int>(n));
        data.fence(static_cast<int>(n));
        fenced.push_back(static_cast<int>(n));
        return true;
      };
      c.observer.transaction_durable = [this](uint64_t rid, uint64_t seq) {
        durable.emplace_back(rid, seq);
        if (on_durable) on_durable(rid, seq);
      };
      c.observer.mount_gone = [this](uint64_t rid) {
        gone.push_back(rid);
        if (on_gone) on_gone(rid);
      };
    }
    return c;
  }

  // Plants bugs in every server and mount started from now on (call before mkfs_and_mount).
  void plant(BugSet b) {
    bugs = b;
    for (auto& st : stacks) {
      st->config().mount.bugs = b;
      st->config().server.bugs = b;
    }
  }

  // Runs `body` in a task outside the nodes; when it returns, every node goes down so its
  // background tasks end and the run is quiescent.
  void run(std::function<void()> body) {
    s.spawn("test", [this, body = std::move(body)] {
      body();
      for (size_t i = 0; i < nodes.size(); ++i) crash(static_cast<int>(i));
    });
    auto r = s.run(sim::kTimeNever);
    EXPECT_EQ(r.outcome, sim::Simulation::Outcome::kQuiescent) << r.message;
  }

  // In the test task: mkfs from node 0, the server on node 0, then a mount on each of `mounts`.
  sim::Errno mkfs_and_mount(int mounts) {
    if (sim::Errno e = mkfs(NodeEnv(*nodes[0]), stacks[0]->meta_handle(), stacks[0]->data_handle(), kFsid, 0)) return e;
    if (sim::Errno e = start_server()) return e;
    for (int i = 0; i < mounts; ++i) {
      if (sim::Errno e = mount(i)) return e;
    }
    return 0;
  }
  // In the test task: mkfs and the server on node 0, then a mount on each node of `on` (so
  // that a crash of node 0 takes no mount with it).
  sim::Errno mkfs_and_mount_on(std::initializer_list<int> on) {
    if (sim::Errno e = mkfs_and_mount(0)) return e;
    for (int i : on) {
      if (sim::Errno e = mount(i)) return e;
    }
    return 0;
  }
  sim::Errno start_server() { return stacks[0]->start_server(); }
  // A new mount on node i, with a rid no earlier mount had.
  sim::Errno mount(int i) { return stacks[static_cast<size_t>(i)]->mount(++rids); }
  // Node i crashes (its server and/or mount with it) and comes back up running nothing; its
  // fence, if any, is lifted (a rebooted node gets its devices back).
  void crash(int i) {
    sim::Node& n = *nodes[static_cast<size_t>(i)];
    n.crash();
    stacks[static_cast<size_t>(i)]->forget();
    n.restart();
    meta.unfence(i);
    data.unfence(i);
    stacks[static_cast<size_t>(i)]->attach();
  }
  // Sleeps the test task (virtual time).
  void sleep(sim::Duration d) { s.sched().sleep(d); }
  // In the test task: checks `cond` every `step` of virtual time until it holds (true) or
  // `timeout` has passed (false). How a test finds a moment in the other nodes' protocol
  // exchanges (a message sent, a lock invalidating) without host time.
  bool wait_until(const std::function<bool()>& cond, sim::Duration timeout, sim::Duration step = sim::kMillisecond) {
    const sim::Time end = s.now() + timeout;
    while (!cond()) {
      if (s.now() >= end) return false;
      sleep(step);
    }
    return true;
  }
  // How often the server reported transaction `seq` of `rid` durable (a restarted server reports
  // again every transaction the durable state holds).
  size_t durable_reports(uint64_t rid, uint64_t seq) const {
    return static_cast<size_t>(std::count(durable.begin(), durable.end(), std::make_pair(rid, seq)));
  }
  bool is_durable(uint64_t rid, uint64_t seq) const { return durable_reports(rid, seq) > 0; }
  bool is_gone(uint64_t rid) const { return std::find(gone.begin(), gone.end(), rid) != gone.end(); }

  NodeStack& stack(int i) { return *stacks[static_cast<size_t>(i)]; }
  Vfs& vfs(int i) { return stack(i).vfs(); }
  Mount& mount_of(int i) { return stack(i).mount(); }
  Server& server() { return *stacks[0]->server(); }
  uint64_t rid_of(int i) { return stack(i).mount().rid(); }

  uint64_t rids = 0;
  BugSet bugs;  // planted in every node's server and mount (plant())
  sim::Simulation s;
  sim::BlockDevice meta;
  sim::BlockDevice data;
  sim::Network net;
  std::vector<sim::Node*> nodes;
  std::vector<std::unique_ptr<NodeStack>> stacks;
  // What the server and the connections reported, for tests to assert on.
  std::vector<std::string> violations;
  std::vector<std::pair<uint64_t, uint64_t>> durable;  // (rid, seq) of durable transactions
  std::vector<uint64_t> gone;                            // rids reclaimed or said farewell
  std::vector<int> fenced;                               // nodes the server fenced
  // Called as the server reports them (after the vectors above are updated), e.g. to feed an
  // oracle while the cluster runs.
  std::function<void(uint64_t rid, uint64_t seq)> on_durable;
  std::function<void(uint64_t rid)> on_gone;
};

}  // namespace simfs::fs::testing
