// The elected server (NodeStack with quorum slots): three voting mounts elect one of them to
// serve; when it dies another takes over with every synced write, and a deposed leader that
// still runs is fenced before the next server's first write.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "fs/cluster/node_stack.h"
#include "fs/server/mkfs.h"
#include "sim/block_device.h"
#include "sim/network.h"
#include "sim/simulation.h"

namespace simfs::fs {
namespace {

constexpr uint64_t kFsid = 0xfa11;

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string str(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }

// Three nodes, each a voter (slot i on node i) and a mount; the fence agent cuts a node's
// device I/O and records it.
struct QuorumWorld {
  explicit QuorumWorld(uint64_t seed) : s(seed), meta(s, 0, "meta", dev()), data(s, 1, "data", dev()), net(s) {
    for (int i = 0; i < 3; ++i) {
      sim::Node& n = s.add_node("v" + std::to_string(i));
      nodes.push_back(&n);
      stacks.push_back(std::make_unique<NodeStack>(n, net, meta, data, config(i)));
      n.start();
      stacks.back()->attach();
    }
  }
  ~QuorumWorld() {
    for (auto& st : stacks) st->forget();
    s.shutdown();
  }
  static sim::BlockDeviceConfig dev() {
    sim::BlockDeviceConfig c;
    c.block_size = kBlockSize;
    c.block_count = 8192;
    return c;
  }
  NodeStackConfig config(int node) {
    NodeStackConfig c;
    c.fsid = kFsid;
    c.quorum_slot_nodes = {0, 1, 2};
    c.quorum_slot = node;
    c.election.heartbeat_timeout = 1 * sim::kSecond;
    c.server.reconnect_timeout = 1 * sim::kSecond;
    c.server.recovery_timeout = 1 * sim::kSecond;
    c.mount.timer = false;
    c.connect_timeout = 10 * sim::kSecond;
    c.fence = [this](uint64_t, uint32_t n) {
      meta.fence(static_cast<int>(n));
      data.fence(static_cast<int>(n));
      fenced.push_back(static_cast<int>(n));
      return true;
    };
    c.on_serving = [this, node](uint64_t term, uint64_t) { serving.push_back({node, term}); };
    return c;
  }
  void run(std::function<void()> body) {
    s.spawn("test", [this, body = std::move(body)] {
      body();
      for (sim::Node* n : nodes) n->crash();
    });
    // Voters heartbeat forever: a body stuck on the cluster would never let the run end.
    auto r = s.run(120 * sim::kSecond);
    EXPECT_EQ(r.outcome, sim::Simulation::Outcome::kQuiescent) << r.message << "; " << s.sched().blocked_report(true);
  }
  // In the test task: mkfs, every voter's member, every mount.
  void bring_up() {
    ASSERT_EQ(mkfs(NodeEnv(*nodes[0]), stacks[0]->meta_handle(), stacks[0]->data_handle(), kFsid, 0), 0);
    for (int i = 0; i < 3; ++i) ASSERT_EQ(stacks[i]->start_quorum(++rids), 0);
    for (int i = 0; i < 3; ++i) ASSERT_EQ(stacks[i]->mount(++rids), 0) << "mount " << i;
  }
  // The node whose server runs, of the greatest term; -1 if none.
  int server_node() {
    int best = -1;
    for (int i = 0; i < 3; ++i) {
      Server* sv = stacks[i]->server();
      if (!sv || sv->stopped() || !nodes[i]->up()) continue;
      if (best < 0 || sv->term() > stacks[best]->server()->term()) best = i;
    }
    return best;
  }
  Vfs& vfs(int i) { return stacks[i]->vfs(); }

  sim::Simulation s;
  sim::BlockDevice meta, data;
  sim::Network net;
  std::vector<sim::Node*> nodes;
  std::vector<std::unique_ptr<NodeStack>> stacks;
  std::vector<int> fenced;
  std::vector<std::pair<int, uint64_t>> serving;  // (node, term) of every server about to write
  uint64_t rids = 0;
};

TEST(Failover, ThreeVotersElectOneServerAndEveryMountFindsIt) {
  QuorumWorld w(1);
  w.run([&] {
    w.bring_up();
    const int sv = w.server_node();
    ASSERT_GE(sv, 0);
    ASSERT_EQ(w.serving.size(), 1u) << "one election, one server";
    // Every mount talks to it: a file one creates, the others read.
    uint64_t ino = 0, found = 0;
    ASSERT_EQ(w.vfs(0).create(kRootIno, "f", 0644, &ino), 0);
    ASSERT_EQ(w.vfs(0).write(ino, 0, bytes("hello")), 0);
    for (int i = 1; i < 3; ++i) {
      ASSERT_EQ(w.vfs(i).lookup(kRootIno, "f", &found), 0);
      std::vector<uint8_t> got;
      ASSERT_EQ(w.vfs(i).read(ino, 0, 5, &got), 0);
      EXPECT_EQ(str(got), "hello");
    }
  });
}

TEST(Failover, WhenTheServingNodeDiesAnotherVoterServesEverySyncedWrite) {
  QuorumWorld w(2);
  w.run([&] {
    w.bring_up();
    const int first = w.server_node();
    ASSERT_GE(first, 0);
    const int writer = (first + 1) % 3, reader = (first + 2) % 3;
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs(writer).create(kRootIno, "synced", 0644, &ino), 0);
    ASSERT_EQ(w.vfs(writer).write(ino, 0, bytes("durable")), 0);
    ASSERT_EQ(w.vfs(writer).fsync(ino), 0);
    const uint64_t old_term = w.stacks[first]->server()->term();
    w.nodes[first]->crash();
    w.stacks[first]->forget();
    // The others notice the missing heartbeats, elect one of themselves, and it recovers.
    uint64_t found = 0;
    ASSERT_EQ(w.vfs(reader).lookup(kRootIno, "synced", &found), 0);
    std::vector<uint8_t> got;
    ASSERT_EQ(w.vfs(reader).read(found, 0, 7, &got), 0);
    EXPECT_EQ(str(got), "durable");
    const int second = w.server_node();
    ASSERT_GE(second, 0);
    EXPECT_NE(second, first);
    EXPECT_GT(w.stacks[second]->server()->term(), old_term);
    // The dead leader's ELECT had no STOP: the new server fenced its node before serving.
    EXPECT_NE(std::find(w.fenced.begin(), w.fenced.end(), first), w.fenced.end());
    // Both survivors recovered with the new server, the one on its own node too (a record of
    // the server's node is not taken for a dead earlier life while its mount runs): each can
    // still commit.
    sim::this_task::sleep(3 * sim::kSecond);  // past the recovery timeout
    for (int i : {writer, reader}) {
      EXPECT_FALSE(w.stacks[i]->mount().failed()) << "mount on node " << i;
      uint64_t f = 0;
      ASSERT_EQ(w.vfs(i).create(kRootIno, "after" + std::to_string(i), 0644, &f), 0) << "node " << i;
      ASSERT_EQ(w.vfs(i).fsync(f), 0) << "node " << i;
    }
  });
}

TEST(Failover, ADeposedLeaderStillRunningIsFencedBeforeTheNextServerWrites) {
  QuorumWorld w(3);
  w.run([&] {
    w.bring_up();
    const int first = w.server_node();
    ASSERT_GE(first, 0);
    // Paused past the heartbeat timeout: the others elect a new leader while this one still
    // runs, and will go on running when it resumes.
    w.nodes[first]->pause();
    sim::this_task::sleep(4 * sim::kSecond);
    const int second = w.server_node();
    ASSERT_GE(second, 0);
    EXPECT_NE(second, first);
    ASSERT_GE(w.serving.size(), 2u);
    EXPECT_EQ(w.serving.back().first, second);
    EXPECT_TRUE(w.meta.fenced(first)) << "the deposed leader's node must be fenced before the new server writes";
    // Resumed, the old server can write nothing: its next commit fails and it stops.
    w.nodes[first]->resume();
    sim::this_task::sleep(2 * sim::kSecond);
    Server* old = w.stacks[first]->server();
    EXPECT_TRUE(old == nullptr || old->stopped());
    // The fence agent's power cycle: the fenced node's mount cannot commit, so it would never
    // answer an invalidation. Its rid is reclaimed when it does not come back.
    w.nodes[first]->crash();
    w.stacks[first]->forget();
    // And the cluster goes on with the new server.
    const int other = 3 - first - second;
    EXPECT_EQ(std::count(w.fenced.begin(), w.fenced.end(), other), 0)
        << "a mount on a live node found the new server in time: it was not fenced";
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs(other).create(kRootIno, "after", 0644, &ino), 0);
    ASSERT_EQ(w.vfs(other).fsync(ino), 0);
  });
}

}  // namespace
}  // namespace simfs::fs
