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

// Failover in the middle of a commit batch. The two mounts that do not serve each fsync a new
// file at the same moment, so that their COMMIT_LOG_TREES reach the server together and go in
// its commit batches; the serving node crashes at its k-th device write after both were sent,
// for every k until the batches finish before it. Each commit is answered by the old server
// (durable), or lost with it and resent to the new one, which executes it with the same effect:
// whichever fsync succeeded, the other mount reads that file whole, each name exactly once, and
// both mounts go on committing with the new server.
TEST(Failover, TheServerDiesInTheMiddleOfACommitBatch) {
  int crashed_mid_batch = 0;
  for (uint64_t k = 1;; ++k) {
    ASSERT_LT(k, 200u) << "the batch never finished";
    QuorumWorld w(40 + k);
    bool crashed = false;
    bool both_pending_at_crash = false;
    w.run([&] {
      w.bring_up();
      const int first = w.server_node();
      ASSERT_GE(first, 0);
      const int a = (first + 1) % 3, b = (first + 2) % 3;
      uint64_t ino[3] = {};
      for (int i : {a, b}) {
        ASSERT_EQ(w.vfs(i).create(kRootIno, "f" + std::to_string(i), 0644, &ino[i]), 0);
        ASSERT_EQ(w.vfs(i).write(ino[i], 0, bytes("data of " + std::to_string(i))), 0);
      }
      struct Fsync {
        bool done = false;
        sim::Errno rc = 0;
      };
      Fsync f[3];
      int sent = 0;
      for (int i : {a, b}) {
        w.nodes[i]->spawn("fsync", [&, i] {
          ++sent;
          f[i].rc = w.vfs(i).fsync(ino[i]);
          f[i].done = true;
        });
      }
      // From the moment both fsyncs have started (the writes from then on are the clients' log
      // blocks, then the server's batches), the k-th device write crashes the serving node.
      while (sent < 2) sim::this_task::sleep(10 * sim::kMicrosecond);
      uint64_t writes = 0;
      auto observe = [&](uint64_t) {
        if (++writes != k || crashed) return;
        crashed = true;
        both_pending_at_crash = !f[a].done && !f[b].done;
        w.nodes[first]->crash();
      };
      w.meta.set_write_observer(observe);
      w.data.set_write_observer(observe);
      const sim::Time give_up = sim::this_task::now() + 30 * sim::kSecond;
      while (!(f[a].done && f[b].done) && sim::this_task::now() < give_up) sim::this_task::sleep(sim::kMillisecond);
      w.meta.set_write_observer(nullptr);
      w.data.set_write_observer(nullptr);
      ASSERT_TRUE(f[a].done && f[b].done) << "k=" << k << ": an fsync never returned";
      if (crashed) w.stacks[first]->forget();
      for (int i : {a, b}) {
        EXPECT_TRUE(f[i].rc == 0 || f[i].rc == EIO) << "k=" << k << " node " << i << ": " << sim::errno_name(f[i].rc);
        const int other = i == a ? b : a;
        std::vector<DirEntry> ents;
        ASSERT_EQ(w.vfs(other).readdir(kRootIno, 0, 100, &ents), 0) << "k=" << k;
        const std::string name = "f" + std::to_string(i);
        const auto n = std::count_if(ents.begin(), ents.end(), [&](const DirEntry& e) { return e.name == name; });
        if (f[i].rc == 0) {
          EXPECT_EQ(n, 1) << "k=" << k << ": " << name << " was synced";
          std::vector<uint8_t> got;
          ASSERT_EQ(w.vfs(other).read(ino[i], 0, 64, &got), 0) << "k=" << k;
          EXPECT_EQ(str(got), "data of " + std::to_string(i)) << "k=" << k;
        } else {
          EXPECT_LE(n, 1) << "k=" << k;
        }
      }
      // Both go on with whichever server serves now.
      for (int i : {a, b}) {
        if (w.stacks[i]->mount().failed()) continue;  // an fsync that failed stopped its mount
        uint64_t g = 0;
        ASSERT_EQ(w.vfs(i).create(kRootIno, "after" + std::to_string(i), 0644, &g), 0) << "k=" << k;
        ASSERT_EQ(w.vfs(i).fsync(g), 0) << "k=" << k;
      }
    });
    if (::testing::Test::HasFailure()) return;
    if (!crashed) break;  // the batches finished before the k-th write
    crashed_mid_batch += both_pending_at_crash;
  }
  EXPECT_GT(crashed_mid_batch, 0) << "no crash found both commits unanswered";
}

}  // namespace
}  // namespace simfs::fs
