// Scenarios "cluster_smoke" and "multi_mount": N mounts on N nodes share one metadata and one
// data device; node 0 also runs the server. Every mount runs several workload tasks, all on one
// shared namespace, so inode, rename and orphan locks bounce between mounts constantly. Every
// operation of every mount is judged against one single-copy POSIX model at its linearization
// point (oracle/cluster_checker.h), and when the server declares a mount gone (reclaimed after a
// crash, a fence, or its farewell), only that mount's uncommitted transactions may vanish.
//
// multi_mount adds faults: crashes of any node (the server's included: the server restarts
// from its durable state, clients reconnect and resend, locks are recovered), pauses,
// partitions between clients and the server (a client cut off too long is fenced and
// reclaimed, then restarted), and metadata disk faults (a mount or server that hits one stops
// and its node is restarted, as an administrator would).
//
// Live checks beside the model: the lock server's own state is consistent (LockServerCore::
// check) and the modes the mounts hold are pairwise compatible; at the end, after the faults
// heal, every mount reads the whole namespace and must see exactly the model (every other
// mount's synced writes among it), every mount unmounts, and fsck finds the images clean.
#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fs/base/assert.h"
#include "fs/cluster/node_stack.h"
#include "fs/fsck/fsck.h"
#include "fs/lock/lock_mode.h"
#include "fs/server/mkfs.h"
#include "oracle/cluster_checker.h"
#include "oracle/farewell_checker.h"
#include "oracle/merge_piece_checker.h"
#include "oracle/quorum_checker.h"
#include "oracle/recovery_checker.h"
#include "scenarios/cluster_scenario.h"
#include "scenarios/nemesis.h"
#include "scenarios/scenario.h"
#include "sim/block_device.h"
#include "sim/network.h"

namespace scenarios {
namespace {

namespace fs = simfs::fs;
using oracle::ClusterChecker;
using oracle::FsOp;
using sim::kMillisecond;
using sim::kSecond;
using sim::Site;
using sim::Stream;

constexpr uint64_t kFsid = 0xc1a5;
// After the faults heal, every mount must get this many operations done: a mount stuck behind
// a lost request or a lock that is never granted is a liveness failure, even when the others
// carry on.
constexpr uint64_t kMinOpsAfterHeal = 12;
constexpr sim::Duration kTimeLimitSlack = 8 * kSecond;
// What verifying a round (views, the shutdown's farewells, fsck) may take before the next round.
constexpr sim::Duration kVerifyBudget = 6 * kSecond;

constexpr Site kSiteKind{"cluster.op.kind", Stream::kWorkload};
constexpr Site kSiteArg{"cluster.op.arg", Stream::kWorkload};
constexpr Site kSiteLen{"cluster.op.len", Stream::kWorkload};
constexpr Site kSiteThink{"cluster.think", Stream::kWorkload};
constexpr Site kSiteKillGap{"cluster.server_kill.gap", Stream::kFaults};
constexpr Site kSiteKillDown{"cluster.server_kill.down", Stream::kFaults};
constexpr Site kSiteKillHow{"cluster.server_kill.how", Stream::kFaults};
constexpr Site kSiteUnmountGap{"cluster.unmount.gap", Stream::kWorkload};
constexpr Site kSiteUnmountNode{"cluster.unmount.node", Stream::kWorkload};
constexpr Site kSiteRemountDelay{"cluster.unmount.remount", Stream::kWorkload};
constexpr Site kSiteCutGap{"cluster.client_cut.gap", Stream::kFaults};
constexpr Site kSiteCutNode{"cluster.client_cut.node", Stream::kFaults};
constexpr Site kSiteCutHow{"cluster.client_cut.how", Stream::kFaults};
constexpr Site kSiteCutDown{"cluster.client_cut.down", Stream::kFaults};
// How often the live checks (lock state, recovery) run.
constexpr sim::Duration kCheckInterval = 20 * kMillisecond;

class ClusterScenario final : public Scenario {
 public:
  ClusterScenario(const ScenarioOptions& o, bool faults);
  void setup(sim::Simulation& sim) override;
  // The last round's workload end, then as long again as the end of a run may take.
  sim::Time time_limit() const override {
    return static_cast<sim::Time>(rounds_ - 1) * round_period() + workload_end_ + kTimeLimitSlack;
  }
  void finish(sim::Simulation& sim) override;
  std::vector<const sim::BlockDevice*> devices() const override { return {meta_.get(), data_.get()}; }
  uint64_t messages_sent() const override { return net_ ? net_->messages_sent() : 0; }

 private:
  std::set<uint64_t> gone_;      // rids the server said are gone (ServerObserver::mount_gone)
  std::set<uint64_t> admitted_;  // rids that finished mounting (their record was durable)
  struct Member {
    std::unique_ptr<fs::NodeStack> stack;
    uint64_t rid = 0;         // the mount running now (0: none)
    uint64_t mounting_rid = 0;  // the mount being brought up (it may have greeted already)
    uint64_t quorum_rid = 0;  // the rid its quorum member elects with (0: none)
    bool fenced = false;
    bool unmounting = false;  // an administrator's unmount of `rid` is under way
    int ops_running = 0;      // operations of the workload under way
    uint64_t ops_after_heal = 0;
  };
  bool all_live_enough() const {
    for (const Member& m : members_)
      if (m.ops_after_heal < kMinOpsAfterHeal) return false;
    return true;
  }
  // Rounds (nightly): round k runs from k * round_period() for workload_end, its faults and
  // churn within it; then the round driver waits for every mount to be live, verifies the
  // cluster (verify_cluster) and powers every node off, and at the next round's start boots
  // them all again: a cold start of the whole cluster on the images the last one left.
  sim::Duration round_period() const { return workload_end_ + kTimeLimitSlack + kVerifyBudget; }
  sim::Time round_end() const { return round_start_ + workload_end_; }
  void drive_rounds();
  // The round's fault tasks: a nemesis whose window is the round's, the server killer, the
  // administrator's churn and the client cutter (each ends with its round).
  void start_round_faults();
  // Every mount has done its operations since the faults healed; else records fs.liveness,
  // saying what is stuck, and returns false.
  bool check_live();
  // A task: every mount reads the whole namespace against the model, every mount unmounts at
  // once (farewells), the lock server keeps nothing of them, and fsck finds the durable images
  // clean. Returns false when it recorded a violation.
  bool verify_cluster();
  void boot(sim::Node& node);
  void workload(sim::Node& node, uint64_t rid);
  void restart_node(sim::Node& node);
  void check_locks();
  // Lock compatibility, at the moment a grant takes effect on node `node`'s mount.
  void check_grant(int node, const simfs::fs::Key& lock, simfs::fs::LockMode mode);
  bool holds_locks(const Member& m) const;
  // The server that serves now: the running one of the greatest term (null: none).
  fs::Server* serving_server(int* node = nullptr);
  void kill_servers();
  // The administrator's churn: every unmount_interval or so one mount is unmounted (its
  // farewell, and for a voter its quorum slot's withdrawal), and after a while its node is
  // powered off and booted again, which mounts it afresh.
  void churn();
  void unmount_node(sim::Node& node, uint64_t rid);
  // The client cutter of fence_and_reclaim: every client_cut_interval or so, a mount that does
  // not serve is cut off from everyone, paused or crashed for about the reconnect timeout —
  // long enough, often, for the server to fence and reclaim it while it still runs.
  void cut_clients();
  // The serving server ran for another check interval: recovery.recovered_or_reclaimed.
  void check_recovery();
  void quorum_written(const fs::QuorumBlock& b);
  void server_serving(int node, uint64_t term, uint64_t rid);
  void mount_gone(uint64_t rid);
  FsOp next_op();
  bool faults_possible() const { return nemesis_ && !nemesis_->healed(); }
  void violation(const oracle::ClusterVerdict& v) {
    if (!v.invariant.empty() && !stop_) sim_->violation(v.invariant, v.message);
  }
  fs::NodeStackConfig stack_config(int node);

  std::string bug_;
  fs::BugSet bugs_;
  Params params_;
  bool faults_;
  int mounts_;
  int voters_;  // 0: node 0 always serves; else nodes 0..voters_-1 elect the server
  int tasks_;
  std::vector<FsOp::Kind> ops_;  // the kinds the workload draws from, in kind order
  sim::Time workload_end_;  // of each round, from its start
  int rounds_ = 1;
  int round_ = 0;
  sim::Time round_start_ = 0;
  bool verifying_ = false;  // between a round's end and the next one's start
  sim::Simulation* sim_ = nullptr;
  std::unique_ptr<sim::BlockDevice> meta_, data_;
  std::unique_ptr<sim::Network> net_;
  std::vector<Member> members_;
  std::vector<std::unique_ptr<Nemesis>> nemeses_;  // one per round (a round's tasks refer to it)
  Nemesis* nemesis_ = nullptr;                     // this round's
  ClusterChecker checker_;
  oracle::MergePieceChecker pieces_;  // the log merge's pieces in flight share no block
  int pieces_node_ = -1;              // the node of the server that started last: its pieces
  oracle::QuorumChecker quorum_;
  std::unique_ptr<oracle::FarewellChecker> farewells_;  // with voters only
  std::unique_ptr<oracle::RecoveryChecker> recovery_;   // with voters only
  bool formatted_ = false;
  uint64_t next_rid_ = 0;
  bool stop_ = false;
};

ClusterScenario::ClusterScenario(const ScenarioOptions& o, bool faults)
    : bug_(o.bug), bugs_(fs::BugSet::from_name(o.bug)), params_(o.params), faults_(faults),
      mounts_(static_cast<int>(o.params.integer("mounts"))),
      voters_(static_cast<int>(o.params.integer("voters"))), tasks_(static_cast<int>(o.params.integer("tasks_per_mount"))),
      workload_end_(o.params.duration("workload_end")), rounds_(static_cast<int>(o.params.integer("rounds"))) {
  const std::vector<std::string>& ops = o.params.list("ops");
  for (int k = 0; k < FsOp::kKinds; ++k) {
    const auto kind = static_cast<FsOp::Kind>(k);
    if (std::find(ops.begin(), ops.end(), FsOp::kind_name(kind)) != ops.end()) ops_.push_back(kind);
  }
  checker_.allow_eio(faults);
  checker_.allow_enospc(params_.flag("allow_enospc"));
}

fs::NodeStackConfig ClusterScenario::stack_config(int node) {
  fs::NodeStackConfig c;
  c.fsid = kFsid;
  c.server_address = sim::Address{0, fs::kServerPort};
  c.mount.commit_interval = params_.duration("commit_interval");
  c.mount.dirty_items_max = static_cast<size_t>(params_.integer("dirty_items_max"));
  c.mount.bugs = bugs_;
  // Everything written under a lock is durable before the lock is given up: the next holder
  // reads it from the forest (scoutfs-design §4 invalidation).
  c.mount.on_lock_granted = [this, node](const fs::Key& lock, fs::LockMode mode) { check_grant(node, lock, mode); };
  c.mount.on_lock_answer = [this, node](const fs::Key& lock, fs::LockMode from, fs::LockMode to, bool dirty) {
    if (!dirty) return;
    sim_->violation("lock.dirty_answer", "mount " + std::to_string(members_[static_cast<size_t>(node)].rid) +
                                             " answered the invalidation of lock " + fs::key_string(lock) + " (" +
                                             fs::lock_mode_name(from) + " to " + fs::lock_mode_name(to) +
                                             ") before the changes it made under it were durable");
  };
  c.server.log_finalize_items = static_cast<uint64_t>(params_.integer("log_finalize_items"));
  c.server.merge_blocks_per_commit = static_cast<size_t>(params_.integer("merge_blocks_per_commit"));
  c.server.merge_requests_per_client = static_cast<size_t>(params_.integer("merge_requests_per_client"));
  c.server.merge_batch_requests = static_cast<size_t>(params_.integer("merge_batch_requests"));
  c.server.reconnect_timeout = params_.duration("reconnect_timeout");
  c.server.recovery_timeout = params_.duration("reconnect_timeout");
  c.server.bugs = bugs_;
  c.on_protocol_violation = [this](const std::string& what) {
    if (!stop_) sim_->violation("net.in_order", what);
  };
  if (voters_ > 0) {
    for (int v = 0; v < voters_; ++v) c.quorum_slot_nodes.push_back(v);
    c.quorum_slot = node < voters_ ? node : -1;
    c.election.heartbeat_timeout = params_.duration("heartbeat_timeout");
    c.quorum_observer = [this](const fs::QuorumBlock& b) { quorum_written(b); };
    c.on_serving = [this, node](uint64_t term, uint64_t rid) { server_serving(node, term, rid); };
  }
  if (voters_ > 0 ? node < voters_ : node == 0) {
    // The fence agent cuts the node's device I/O; its mount then stops on its next write, and
    // the node is restarted (and unfenced) like any stopped mount's.
    c.fence = [this](uint64_t rid, uint32_t n) {
      if (n >= members_.size()) return false;
      // A mount of a node that has rebooted since is dead already: the agent confirms it (as a
      // power-cycling agent would) without touching the node's new life.
      if (members_[n].rid != rid && members_[n].quorum_rid != rid && members_[n].mounting_rid != rid) {
        sim_->event(static_cast<int>(n), "fence_dead", {{"rid", rid}});
        return true;
      }
      meta_->fence(static_cast<int>(n));
      data_->fence(static_cast<int>(n));
      members_[n].fenced = true;
      sim_->event(static_cast<int>(n), "fenced", {{"rid", rid}}, /*fault=*/true);
      if (voters_ > 0) {
        // With an elected server the agent also power-cycles the node a little later, as a
        // STONITH agent would: a fenced voter cannot write its quorum block, and a fenced mount
        // stuck waiting on a lock may never write to learn it was fenced. Until then the node
        // runs fenced, and nothing it writes may reach the disk.
        sim::Node& node = sim_->node(static_cast<int>(n));
        const uint64_t life = node.incarnation();
        sim_->spawn("admin.power_cycle", [this, &node, life] {
          sim_->sched().sleep(500 * kMillisecond);
          // Not once the final check runs: it unmounts from a world task, which a crash of the
          // node would pull the mount from under.
          if (!stop_ && node.up() && node.incarnation() == life) restart_node(node);
        });
      }
      return true;
    };
    c.on_server_stopped = [this, node](sim::Errno e) {
      sim_->event(node, "fs_server_failed", {{"err", sim::errno_name(e)}});
      restart_node(sim_->node(node));
    };
    c.observer.transaction_durable = [this](uint64_t rid, uint64_t seq) { checker_.transaction_durable(rid, seq); };
    // The pieces are the newest server's: a deposed one, fenced but not yet aware of it, may
    // still cut a piece it can never make durable or answer, and that piece is nobody's.
    // (Two servers that really serve at once are quorum.fenced_before_serving.)
    c.observer.starting = [this, node] {
      pieces_.reset();
      pieces_node_ = node;
    };
    c.observer.merge_piece_out = [this, node](uint64_t id, uint64_t block, bool whole_tree) {
      if (node != pieces_node_) return;
      std::string e = pieces_.piece_out(id, block, whole_tree);
      if (!e.empty() && !stop_) sim_->violation("merge.disjoint", e);
    };
    c.observer.merge_piece_gone = [this, node](uint64_t id) {
      if (node == pieces_node_) pieces_.piece_gone(id);
    };
    c.observer.mount_gone = [this](uint64_t rid) { mount_gone(rid); };
    c.observer.recovering = [this](uint64_t term, const std::vector<uint64_t>& rids) {
      // A mount the durable state no longer records is gone, told or not: the server that
      // made its reclaim or farewell durable may have died before telling its observer.
      const std::set<uint64_t> recorded(rids.begin(), rids.end());
      for (uint64_t rid : std::vector<uint64_t>(admitted_.begin(), admitted_.end())) {
        if (!recorded.count(rid) && !gone_.count(rid)) {
          sim_->event(-1, "oracle_mount_gone_unreported", {{"rid", rid}, {"term", term}});
          mount_gone(rid);
        }
      }
      if (recovery_) recovery_->server_started(term, rids);
    };
    c.observer.client_recovered = [this](uint64_t term, uint64_t rid) {
      if (recovery_) recovery_->recovered(term, rid);
    };
    c.observer.farewell_done = [this](uint64_t rid) {
      // Its last commit was durable before its farewell was sent: nothing of it is lost.
      checker_.farewell(rid);
      if (!farewells_) return;
      std::vector<bool> up;
      for (int n = 0; n < mounts_; ++n) up.push_back(sim_->node(n).up());
      const std::string e = farewells_->farewell_done(rid, up);
      if (!e.empty() && !stop_) sim_->violation("quorum.farewell_majority", e);
    };
  }
  return c;
}

FsOp ClusterScenario::next_op() {
  sim::Chooser& c = sim_->chooser();
  FsOp op;
  // With every kind allowed (the default) the index is the kind itself.
  op.kind = ops_[c.choose(kSiteKind, ops_.size())];
  op.a = static_cast<uint32_t>(c.choose(kSiteArg, 64));
  op.b = static_cast<uint32_t>(c.choose(kSiteArg, 64));
  op.c = static_cast<uint32_t>(c.choose(kSiteArg, 64));
  op.d = static_cast<uint32_t>(c.choose(kSiteArg, 64));
  op.len = static_cast<uint32_t>(c.choose(kSiteLen, 9000));
  return op;
}

void ClusterScenario::restart_node(sim::Node& node) {
  sim::Simulation& s = *sim_;
  // The final check unmounts from a world task, which a crash would pull the mount from under;
  // whatever fails then is reported by the check itself.
  if (stop_) return;
  // The nemesis restarts crashed nodes until it heals; after that the administrator must. With
  // an elected server the administrator always does, after a while: three voters down for the
  // rest of the fault window would leave nothing to fail over to.
  if (voters_ > 0 && faults_possible()) {
    // (Not between rounds: the round driver powered every node off and boots them all.)
    s.spawn("admin.restart", [this, &s, &node] {
      s.sched().sleep(kSecond);
      if (!node.up() && !verifying_) node.restart();
    });
  } else if (!faults_possible()) {
    s.spawn("admin.restart", [this, &s, &node] {
      s.sched().sleep(20 * kMillisecond);  // the crash completes from the loop, after this task starts
      if (!node.up() && !verifying_) node.restart();
    });
  }
  node.crash();
}

void ClusterScenario::boot(sim::Node& node) {
  sim::Simulation& s = *sim_;
  const int i = node.id();
  Member& m = members_[static_cast<size_t>(i)];
  m.stack->forget();
  m.rid = 0;
  m.mounting_rid = 0;
  m.ops_running = 0;  // a crash took its operations with it
  m.unmounting = false;
  // A rebooted node gets its device access back (it was fenced in an earlier life).
  if (m.fenced) {
    meta_->unfence(i);
    data_->unfence(i);
    m.fenced = false;
  }
  m.stack->attach();
  m.quorum_rid = 0;
  if (i == 0) {
    for (int attempt = 0; !formatted_; ++attempt) {
      sim::Errno e = fs::mkfs(fs::NodeEnv(node), m.stack->meta_handle(), m.stack->data_handle(), kFsid,
                              static_cast<uint32_t>(params_.integer("btree_fill")));
      if (!e) {
        formatted_ = true;
        break;
      }
      if (e != EIO || attempt > 100) {
        s.violation("fs.durability", std::string("mkfs failed with ") + sim::errno_name(e));
        return;
      }
      s.sched().sleep(20 * kMillisecond);
    }
  }
  // Mounts (and voters) wait for the filesystem to exist.
  while (!formatted_) s.sched().sleep(10 * kMillisecond);
  if (i < voters_) {
    for (int attempt = 0;; ++attempt) {
      const uint64_t rid = ++next_rid_;
      m.quorum_rid = rid;
      sim::Errno e = m.stack->start_quorum(rid);
      if (!e) break;
      m.quorum_rid = 0;
      if (!(e == EIO && (faults_possible() || attempt < 3))) {
        s.violation("fs.durability", std::string("the quorum member failed to start with ") + sim::errno_name(e));
        return;
      }
      s.sched().sleep(20 * kMillisecond);
    }
  }
  if (i == 0 && voters_ == 0) {
    for (int attempt = 0;; ++attempt) {
      sim::Errno e = m.stack->start_server();
      if (!e) break;
      if (!(e == EIO && (faults_possible() || attempt < 3))) {
        s.violation("fs.durability", std::string("the server failed to start with ") + sim::errno_name(e));
        return;
      }
      m.stack->forget();
      m.stack->attach();
      s.sched().sleep(20 * kMillisecond);
    }
  }
  for (int attempt = 0;; ++attempt) {
    const uint64_t rid = ++next_rid_;
    checker_.mounted(rid);
    if (farewells_) farewells_->mounting(i, rid);
    m.mounting_rid = rid;
    sim::Errno e = m.stack->mount(rid);
    m.mounting_rid = 0;
    if (!e) {
      m.rid = rid;
      if (farewells_) {
        farewells_->mounting(i, rid);  // again: a record reclaimed while it mounted forgot it
        farewells_->mounted(rid);
      }
      break;
    }
    if (!((e == EIO || e == ETIMEDOUT || e == ENOLINK) && (faults_possible() || attempt < 3))) {
      s.violation("fs.liveness", std::string("mounting failed with ") + sim::errno_name(e));
      return;
    }
    s.sched().sleep(50 * kMillisecond);
  }
  s.event(i, "cluster_mounted", {{"rid", m.rid}});
  admitted_.insert(m.rid);
  for (int t = 0; t < tasks_; ++t) {
    const uint64_t rid = m.rid;
    node.spawn("workload." + std::to_string(t), [this, &node, rid] { workload(node, rid); });
  }
}

void ClusterScenario::workload(sim::Node& node, uint64_t rid) {
  sim::Simulation& s = *sim_;
  Member& m = members_[static_cast<size_t>(node.id())];
  while (!stop_ && !verifying_ && (s.now() < round_end() || (!faults_possible() && !all_live_enough()))) {
    s.sched().sleep(s.chooser().range(kSiteThink, 200 * sim::kMicrosecond, 6 * kMillisecond));
    if (stop_ || m.rid != rid || m.unmounting || !m.stack->has_mount()) return;
    fs::Mount& mount = m.stack->mount();
    if (mount.failed()) {
      if (mount.stop_cause() == ENOSPC) {
        s.violation("fs.enospc", "an operation ran out of space half way and stopped the mount");
        return;
      }
      // Stopped (a device error, or fenced and refused): restart the node.
      s.event(node.id(), "fs_mount_failed", {{"rid", rid}, {"err", sim::errno_name(mount.stop_cause())}});
      restart_node(node);
      return;
    }
    bool not_done = false;
    const FsOp op = next_op();
    const uint64_t call = s.event(node.id(), "op_call", {{"client", rid}, {"op", op.describe()}});
    ++m.ops_running;
    oracle::ClusterVerdict v = checker_.run(rid, m.stack->vfs(), mount, op, &not_done);
    --m.ops_running;
    const uint64_t ret = s.event(node.id(), "op_return", {{"client", rid}, {"op", op.describe()}, {"ok", v.invariant.empty()}});
    if (!v.invariant.empty()) {
      // An operation that ran out of space half way stopped the mount: that is the finding,
      // not the EIO it then answered.
      if (mount.failed() && mount.stop_cause() == ENOSPC) {
        s.violation("fs.enospc", op.describe() + " ran out of space half way and stopped the mount", {call, ret});
      } else {
        s.violation(v.invariant, v.message, {call, ret});
      }
      return;
    }
    if (!not_done && !faults_possible() && s.now() >= round_end() - kSecond) ++m.ops_after_heal;
  }
}

void ClusterScenario::check_locks() {
  sim::Simulation& s = *sim_;
  fs::Server* server = serving_server();
  if (!server) return;
  if (std::string e = server->locks().check(); !e.empty()) s.violation("lock.server_state", e);
}

bool ClusterScenario::holds_locks(const Member& m) const {
  // A mount the server has let go (its farewell or reclaim is durable) holds nothing any more,
  // whatever it still lists until the answer reaches it (a lock whose invalidation it never
  // answered, say: an open file it never closed), and the server may grant its locks.
  return m.rid && m.stack->has_mount() && !m.stack->mount().failed() && !gone_.count(m.rid) && !m.fenced;
}

void ClusterScenario::check_grant(int node, const fs::Key& lock, fs::LockMode mode) {
  // Two mounts' modes can only come to conflict when one of them rises, and a mode rises only
  // when a grant takes effect: checking each grant against what the others hold then is the
  // pairwise check at every instant, without walking every lock. A mount's own view lags the
  // server's by messages in flight only in the safe direction (it drops a mode before
  // answering; it takes one when the grant arrives).
  const Member& me = members_[static_cast<size_t>(node)];
  if (mode == fs::LockMode::kNull || !holds_locks(me)) return;
  for (const Member& m : members_) {
    if (&m == &me || !holds_locks(m)) continue;
    const fs::LockMode other = m.stack->mount().locks().held(lock);
    if (other == fs::LockMode::kNull || fs::lock_grant_compatible(m.rid, other, me.rid, mode)) continue;
    sim_->violation("lock.compatible", "mounts " + std::to_string(me.rid) + " and " + std::to_string(m.rid) + " hold " +
                                           fs::lock_mode_name(mode) + " and " + fs::lock_mode_name(other) +
                                           " on lock " + fs::key_string(lock));
    return;
  }
}

fs::Server* ClusterScenario::serving_server(int* node) {
  fs::Server* best = nullptr;
  for (size_t i = 0; i < members_.size(); ++i) {
    fs::Server* sv = members_[i].stack->server();
    if (!sv || sv->stopped() || !sim_->node(static_cast<int>(i)).up()) continue;
    if (!best || sv->term() > best->term()) {
      best = sv;
      if (node) *node = static_cast<int>(i);
    }
  }
  return best;
}

void ClusterScenario::quorum_written(const fs::QuorumBlock& b) {
  std::string invariant;
  const std::string e = quorum_.block_written(
      oracle::QuorumSlotWrite{b.slot, b.term, b.vote_term, b.vote_slot, b.elect.term, b.elect.rid}, &invariant);
  if (!e.empty() && !stop_) sim_->violation(invariant, e);
}

void ClusterScenario::mount_gone(uint64_t rid) {
  if (farewells_) farewells_->gone(rid);
  if (recovery_) recovery_->gone(rid);
  // A mount still coming up whose record a server reclaims (the answer to its first greeting
  // was lost with the server that recorded it, and the next one timed it out) has done nothing
  // yet, and its next greeting still says it is new: it may go on as a new mount under the
  // same rid. Only its record is gone; for the model the mount is not.
  for (const Member& m : members_) {
    if (m.mounting_rid == rid && !admitted_.count(rid)) {
      sim_->event(-1, "oracle_gone_while_mounting", {{"rid", rid}});
      return;
    }
  }
  if (!gone_.insert(rid).second) return;
  violation(checker_.mount_gone(rid));
}

void ClusterScenario::server_serving(int node, uint64_t term, uint64_t rid) {
  std::vector<oracle::RunningServer> others;
  for (size_t i = 0; i < members_.size(); ++i) {
    if (static_cast<int>(i) == node || !sim_->node(static_cast<int>(i)).up()) continue;
    fs::Server* sv = members_[i].stack->server();
    if (!sv || sv->stopped()) continue;
    others.push_back({static_cast<int>(i), members_[i].quorum_rid, members_[i].fenced});
  }
  const std::string e = quorum_.serving(node, term, rid, others);
  if (!e.empty() && !stop_) sim_->violation("quorum.fenced_before_serving", e);
}

void ClusterScenario::check_recovery() {
  int node = -1;
  fs::Server* server = serving_server(&node);
  if (!recovery_ || !server || sim_->node(node).paused()) return;
  const std::string e = recovery_->ran(server->term(), kCheckInterval);
  if (!e.empty() && !stop_) sim_->violation("recovery.recovered_or_reclaimed", e);
}

// The server killer of the failover scenarios: during the fault window, every interval or so
// the node that serves now is taken out: crashed (it comes back after a while), or paused or
// cut off from everyone for longer than the heartbeat timeout — a stalled server, still running
// when the others elect a new one, which must fence it before writing.
void ClusterScenario::kill_servers() {
  sim::Simulation& s = *sim_;
  const sim::Duration interval = params_.duration("server_kill_interval");
  const sim::Duration heartbeat = params_.duration("heartbeat_timeout");
  const int round = round_;
  for (;;) {
    s.sched().sleep(s.chooser().range(kSiteKillGap, interval / 2, interval + interval / 2));
    if (stop_ || round_ != round || !faults_possible()) return;
    int node = -1;
    if (!serving_server(&node)) continue;
    const uint64_t how = s.chooser().choose(kSiteKillHow, 3);  // 0 crash, 1 pause, 2 isolate
    static const char* const kHow[] = {"crash", "pause", "isolate"};
    s.event(node, "server_kill", {{"term", members_[static_cast<size_t>(node)].stack->server()->term()}, {"how", kHow[how]}},
            /*fault=*/true);
    sim::Node& n = s.node(node);
    if (how == 0) {
      n.crash();
      s.sched().sleep(s.chooser().range(kSiteKillDown, 100 * kMillisecond, 3 * kSecond));
      if (!n.up()) n.restart();
    } else if (how == 1) {
      n.pause();
      s.sched().sleep(s.chooser().range(kSiteKillDown, heartbeat + heartbeat / 2, 3 * heartbeat));
      n.resume();
    } else {
      net_->isolate(node);
      s.sched().sleep(s.chooser().range(kSiteKillDown, heartbeat + heartbeat / 2, 3 * heartbeat));
      net_->heal();
    }
  }
}

void ClusterScenario::churn() {
  sim::Simulation& s = *sim_;
  const sim::Duration interval = params_.duration("unmount_interval");
  // The churn ends in time for every node to be mounted again and meet the liveness bar.
  const sim::Time end = faults_ ? std::min(round_start_ + params_.duration("fault_window_end"), round_end() - 2 * kSecond)
                                : round_end() - 2 * kSecond;
  const int round = round_;
  for (;;) {
    s.sched().sleep(s.chooser().range(kSiteUnmountGap, interval / 2, interval + interval / 2));
    if (stop_ || round_ != round || s.now() >= end) return;
    std::vector<int> mounted;
    for (int n = 0; n < mounts_; ++n) {
      const Member& m = members_[static_cast<size_t>(n)];
      if (m.rid && !m.unmounting && s.node(n).up() && m.stack->has_mount() && !m.stack->mount().failed()) {
        mounted.push_back(n);
      }
    }
    if (mounted.empty()) continue;
    const int n = mounted[s.chooser().choose(kSiteUnmountNode, mounted.size())];
    Member& m = members_[static_cast<size_t>(n)];
    sim::Node& node = s.node(n);
    m.unmounting = true;
    const uint64_t rid = m.rid;
    // A task of the node: a crash in the middle takes the unmount with it.
    node.spawn("admin.unmount", [this, &node, rid] { unmount_node(node, rid); });
  }
}

void ClusterScenario::unmount_node(sim::Node& node, uint64_t rid) {
  sim::Simulation& s = *sim_;
  Member& m = members_[static_cast<size_t>(node.id())];
  // As umount(8) would: not while the filesystem is busy (its workload stops at its next turn).
  while (m.ops_running > 0) s.sched().sleep(kMillisecond);
  if (farewells_) farewells_->leaving(rid);
  s.event(node.id(), "unmount_start", {{"rid", rid}});
  const sim::Errno e = m.stack->unmount();
  s.event(node.id(), "unmount_done", {{"rid", rid}, {"err", sim::errno_name(e)}});
  // A clean unmount fails only when a fault cut it short (the server reclaims the mount then).
  if (e && !faults_possible() && !stop_) {
    s.violation("fs.durability", "unmount of mount " + std::to_string(rid) + " failed with " + sim::errno_name(e));
    return;
  }
  const uint64_t life = node.incarnation();
  const sim::Duration down = s.chooser().range(kSiteRemountDelay, 200 * kMillisecond, 2 * kSecond);
  s.spawn("admin.remount", [this, &s, &node, life, down] {
    s.sched().sleep(down);
    if (stop_ || !node.up() || node.incarnation() != life) return;
    node.power_off();
    node.restart();
  });
}

void ClusterScenario::cut_clients() {
  sim::Simulation& s = *sim_;
  const sim::Duration interval = params_.duration("client_cut_interval");
  const sim::Duration timeout = params_.duration("reconnect_timeout");
  const int round = round_;
  for (;;) {
    s.sched().sleep(s.chooser().range(kSiteCutGap, interval / 2, interval + interval / 2));
    if (stop_ || round_ != round || !faults_possible()) return;
    int serving = -1;
    serving_server(&serving);
    std::vector<int> clients;
    for (int n = 0; n < mounts_; ++n)
      if (n != serving && s.node(n).up() && !s.node(n).paused() && members_[static_cast<size_t>(n)].rid) clients.push_back(n);
    if (clients.empty()) continue;
    const int n = clients[s.chooser().choose(kSiteCutNode, clients.size())];
    const uint64_t how = s.chooser().choose(kSiteCutHow, 3);  // 0 cut off, 1 pause, 2 crash
    static const char* const kHow[] = {"cut_off", "pause", "crash"};
    // Half the time shorter than the timeout (it comes back in time), half longer (fenced and
    // reclaimed while it runs, or a dead client's record reclaimed).
    const sim::Duration down = s.chooser().range(kSiteCutDown, timeout / 2, 2 * timeout);
    s.event(n, "client_cut", {{"rid", members_[static_cast<size_t>(n)].rid}, {"how", kHow[how]}, {"for_ns", down}},
            /*fault=*/true);
    sim::Node& node = s.node(n);
    if (how == 0) {
      for (int o = 0; o < mounts_; ++o) {
        if (o == n) continue;
        net_->block_link(n, o);
        net_->block_link(o, n);
      }
      s.sched().sleep(down);
      for (int o = 0; o < mounts_; ++o) {
        if (o == n) continue;
        net_->unblock_link(n, o);
        net_->unblock_link(o, n);
      }
    } else if (how == 1) {
      node.pause();
      s.sched().sleep(down);
      node.resume();
    } else {
      node.crash();
      s.sched().sleep(down);
      if (!node.up()) node.restart();
    }
  }
}

void ClusterScenario::setup(sim::Simulation& s) {
  sim_ = &s;
  sim::BlockDeviceConfig mc;
  mc.block_size = fs::kBlockSize;
  mc.block_count = static_cast<uint64_t>(params_.integer("meta_blocks"));
  meta_ = std::make_unique<sim::BlockDevice>(s, 0, "meta", mc);
  sim::BlockDeviceConfig dc = mc;
  dc.block_count = static_cast<uint64_t>(params_.integer("data_blocks"));
  data_ = std::make_unique<sim::BlockDevice>(s, 1, "data", dc);
  net_ = std::make_unique<sim::Network>(s);
  members_.resize(static_cast<size_t>(mounts_));
  if (voters_ > 0) {
    std::vector<bool> voter;
    for (int i = 0; i < mounts_; ++i) voter.push_back(i < voters_);
    farewells_ = std::make_unique<oracle::FarewellChecker>(static_cast<uint32_t>(voters_), voter);
    // The recovery timeout, then the reclaim loop's tick, the fences and one reclaim commit
    // per mount.
    recovery_ = std::make_unique<oracle::RecoveryChecker>(params_.duration("reconnect_timeout") + 2 * kSecond);
  }
  for (int i = 0; i < mounts_; ++i) {
    sim::Node& n = s.add_node("m" + std::to_string(i));
    members_[static_cast<size_t>(i)].stack = std::make_unique<fs::NodeStack>(n, *net_, *meta_, *data_, stack_config(i));
    n.set_boot([this](sim::Node& node) { boot(node); });
    n.start();
  }
  s.spawn("lock.checker", [this, &s] {
    while (!stop_) {
      s.sched().sleep(kCheckInterval);
      check_locks();
      check_recovery();
    }
  }, /*daemon=*/true);
  start_round_faults();
  if (rounds_ > 1) s.spawn("rounds", [this] { drive_rounds(); });
}

void ClusterScenario::start_round_faults() {
  sim::Simulation& s = *sim_;
  if (faults_ && voters_ > 0 && params_.duration("server_kill_interval") > 0) {
    s.spawn("server.killer", [this] { kill_servers(); });
  }
  if (params_.duration("unmount_interval") > 0) s.spawn("admin.churn", [this] { churn(); });
  if (faults_ && params_.duration("client_cut_interval") > 0) s.spawn("client.cutter", [this] { cut_clients(); });
  if (faults_) {
    NemesisConfig nc;
    apply_nemesis_params(params_, &nc);
    nc.window_start += round_start_;
    nc.window_end += round_start_;
    for (int i = 0; i < mounts_; ++i) nc.nodes.push_back(i);
    // Disk faults on the checksummed metadata device only (file data carries no checksum).
    nemeses_.push_back(std::make_unique<Nemesis>(s, net_.get(), std::vector<sim::BlockDevice*>{meta_.get()}, nc));
    nemesis_ = nemeses_.back().get();
    nemesis_->start();
  }
}

void ClusterScenario::drive_rounds() {
  sim::Simulation& s = *sim_;
  while (round_ + 1 < rounds_) {
    s.sched().sleep(round_end() - s.now());
    // The workload goes on until every mount is live again, as at the end of a run.
    const sim::Time give_up = round_end() + kTimeLimitSlack;
    while (!all_live_enough() && s.now() < give_up) s.sched().sleep(10 * kMillisecond);
    if (!check_live()) return;
    verifying_ = true;  // the workload stops at its next turn
    for (;;) {
      bool busy = false;
      for (const Member& m : members_) busy |= m.ops_running > 0;
      if (!busy) break;
      s.sched().sleep(kMillisecond);
    }
    if (!verify_cluster()) return;
    s.event(-1, "round_verified", {{"round", round_}, {"ops", checker_.ops()}});
    // Every node off at once (every mount has said farewell; the quorum members go too), and at
    // the next round's start on again.
    for (int n = 0; n < mounts_; ++n)
      if (s.node(n).up()) s.node(n).power_off();
    ++round_;
    round_start_ = static_cast<sim::Time>(round_) * round_period();
    if (s.now() > round_start_) {
      s.violation("fs.liveness", "verifying round " + std::to_string(round_ - 1) + " took until " +
                                     format_duration(s.now()) + ", past the next round's start");
      return;
    }
    s.sched().sleep(round_start_ - s.now());
    s.event(-1, "round_start", {{"round", round_}});
    for (Member& m : members_) m.ops_after_heal = 0;
    verifying_ = false;
    start_round_faults();
    for (int n = 0; n < mounts_; ++n)
      if (!s.node(n).up()) s.node(n).restart();
  }
}

bool ClusterScenario::check_live() {
  sim::Simulation& s = *sim_;
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].ops_after_heal >= kMinOpsAfterHeal) continue;
    if (members_[i].unmounting) {
      s.violation("fs.liveness", "the unmount of mount " + std::to_string(members_[i].rid) + " on node " +
                                     std::to_string(i) + " never finished; blocked: " + s.sched().blocked_report(true));
      return false;
    }
    // Say what is stuck, on which task, waiting for what, and which locks each mount waits on.
    std::string locks;
    for (size_t j = 0; j < members_.size(); ++j) {
      if (!members_[j].stack->has_mount()) continue;
      locks += "; mount " + std::to_string(members_[j].rid) + ": " + members_[j].stack->mount().locks().busy_report();
    }
    fs::Server* server = serving_server();
    if (server) {
      locks += "; server: " + std::to_string(server->locks().lock_count()) + " locks" +
               (server->locks().in_recovery() ? " (in recovery)" : "");
      for (const auto& [k, st] : server->locks().locks()) {
        if (st.requested.empty()) continue;
        locks += "; " + fs::key_string(k) + " waiting " + std::to_string(st.requested.size()) + ", granted";
        for (const fs::LockEntry& e : st.granted) locks += " " + std::to_string(e.rid) + ":" + fs::lock_mode_name(e.mode);
        locks += ", invalidated";
        for (const fs::LockEntry& e : st.invalidated) locks += " " + std::to_string(e.rid) + ":" + fs::lock_mode_name(e.mode);
      }
    }
    s.violation("fs.liveness", "mount on node " + std::to_string(i) + " completed only " +
                                   std::to_string(members_[i].ops_after_heal) +
                                   " operations after the faults healed (want " + std::to_string(kMinOpsAfterHeal) +
                                   "); blocked: " + s.sched().blocked_report(true) + locks);
    return false;
  }
  return true;
}

void ClusterScenario::finish(sim::Simulation& s) {
  if (!check_live()) return;
  stop_ = true;
  s.spawn("final.check", [this] { verify_cluster(); });
  s.run(s.now() + 5 * kSecond);
}

bool ClusterScenario::verify_cluster() {
  sim::Simulation& s = *sim_;
  // Every mount reads the whole namespace: it must be the model, every other mount's writes
  // included. Then every mount unmounts (farewell), and the images must be clean.
  for (Member& m : members_) {
    if (!m.rid || !m.stack->has_mount() || m.stack->mount().failed()) continue;
    oracle::ClusterVerdict v = checker_.check_view(m.rid, m.stack->vfs());
    if (!v.invariant.empty()) {
      s.violation(v.invariant, v.message);
      return false;
    }
  }
  // Every mount at once, as a cluster is shut down: the last voters' farewells are answered
  // only when all of them leave together. The quorum members stay, so that the lock server
  // can be inspected below.
  std::vector<uint64_t> unmounted;
  struct Unmounts {
    size_t running = 0;
    bool failed = false;
  };
  auto u = std::make_shared<Unmounts>();
  for (Member& m : members_) {
    if (!m.rid || !m.stack->has_mount() || m.stack->mount().failed()) continue;
    unmounted.push_back(m.rid);
    if (farewells_) farewells_->leaving(m.rid);
    ++u->running;
    s.spawn("final.unmount", [&s, &m, u] {
      if (sim::Errno e = m.stack->mount().unmount()) {
        if (!u->failed) s.violation("fs.durability", std::string("unmount failed with ") + sim::errno_name(e));
        u->failed = true;
      }
      --u->running;
    });
  }
  const sim::Time give_up = s.now() + 4 * kSecond;
  while (u->running > 0 && s.now() < give_up) s.sched().sleep(10 * kMillisecond);
  if (u->failed) return false;
  if (u->running > 0) {
    s.violation("fs.liveness", std::to_string(u->running) + " of the final unmounts never finished; blocked: " +
                                   s.sched().blocked_report(true));
    return false;
  }
  fs::Server* server = serving_server();
  if (server) {
    for (uint64_t rid : unmounted) {
      if (server->locks().has_entries(rid)) {
        s.violation("lock.departed", "the lock server keeps state for unmounted rid " + std::to_string(rid));
        return false;
      }
    }
  }
  const fs::FsckReport r = fs::fsck(fs::durable_reader(*meta_), fs::durable_reader(*data_));
  if (!r.clean()) {
    std::string msg = std::to_string(r.findings.size() + r.dropped) + " findings";
    for (size_t i = 0; i < r.findings.size() && i < 3; ++i) msg += "; " + r.findings[i].kind + ": " + r.findings[i].message;
    s.violation("fs.fsck", "fsck of the shut-down cluster (round " + std::to_string(round_) + "): " + msg);
    return false;
  }
  return true;
}

std::string check_ops(const Params& p) {
  return p.list("ops").empty() ? "at /params/ops: the workload needs at least one operation kind" : "";
}

std::vector<std::string> all_op_kinds() {
  std::vector<std::string> v;
  for (int k = 0; k < FsOp::kKinds; ++k) v.push_back(FsOp::kind_name(static_cast<FsOp::Kind>(k)));
  return v;
}

std::vector<ParamSpec> cluster_params(bool faults) {
  std::vector<ParamSpec> ps = {
      count_param("mounts", faults ? 5 : 3, 1, 16, "mounts, one per node (node 0 also runs the server unless voters > 0)"),
      int_param("voters", 0, 0, 15,
                "voting mounts (nodes 0..voters-1) that elect the server among themselves; 0: node 0 always serves"),
      duration_param("heartbeat_timeout", 1 * kSecond, 100 * kMillisecond, 60 * kSecond,
                     "with voters: how long followers wait for the leader's heartbeat before electing another"),
      count_param("tasks_per_mount", 2, 1, 8, "workload tasks per mount (operations of one mount run concurrently)"),
      int_param("meta_blocks", 8192, 1041, 1 << 20, "metadata device size in 4 KiB blocks"),
      int_param("data_blocks", 8192, 2, 1 << 20, "data device size in 4 KiB blocks"),
      bool_param("allow_enospc", false, "accept ENOSPC from any operation as 'not done'"),
      duration_param("commit_interval", 100 * kMillisecond, 1 * kMillisecond, 10 * kSecond, "each mount's commit timer"),
      int_param("dirty_items_max", 64, 1, 100000, "dirty items that make an operation commit"),
      int_param("btree_fill", 1100, 0, 4060, "entry bytes per block of the forest's trees (0: whole blocks)"),
      int_param("log_finalize_items", 96, 1, 1 << 20, "items in open log trees that start a log merge"),
      int_param("merge_blocks_per_commit", 8, 1, 1 << 20, "new fs tree blocks one merge piece may write"),
      int_param("merge_requests_per_client", 2, 1, 64, "merge pieces one client may hold at once"),
      int_param("merge_batch_requests", 8, 1, 1024, "merge pieces handed out between two splices"),
      duration_param("reconnect_timeout", 1 * kSecond, 10 * kMillisecond, 60 * kSecond,
                     "how long the server waits for a lost client (and for recovery after it starts)"),
      duration_param("workload_end", faults ? 6 * kSecond : 2 * kSecond, 1 * kSecond, 600 * kSecond,
                     "operations stop after this, once every mount has done 12 since the faults healed (with "
                     "rounds: in each round, from its start)"),
      count_param("rounds", 1, 1, 1000,
                  "the run repeats this many rounds, each workload_end long with its own fault window (times "
                  "from the round's start); between two, every mount reads the whole namespace, the cluster "
                  "shuts down (every mount unmounts), fsck checks the images and every node boots again"),
      enum_list_param("ops", all_op_kinds(), all_op_kinds(), "operation kinds the workload draws from, uniformly"),
      duration_param("unmount_interval", 0, 0, 600 * kSecond,
                     "an administrator unmounts one mount about this often and mounts its node again after "
                     "0.2-2 s (0: never)"),
  };
  if (faults) {
    ps.push_back(duration_param("server_kill_interval", 0, 0, 600 * kSecond,
                                "with voters: the serving node is crashed about this often (0: never)"));
    ps.push_back(duration_param("client_cut_interval", 0, 0, 600 * kSecond,
                                "a mount that does not serve is cut off, paused or crashed for 0.5-2 reconnect "
                                "timeouts about this often (0: never)"));
    for (ParamSpec& p : nemesis_params(kFaultCrash | kFaultPartition | kFaultPause | kFaultDiskErrors, 100 * kMillisecond,
                                       4 * kSecond)) {
      ps.push_back(std::move(p));
    }
  }
  return ps;
}

std::vector<std::string> cluster_bugs(bool faults) {
  using simfs::fs::Bug;
  std::vector<std::string> bugs;
  // (recover_new_mode needs a server failover in the middle of an invalidation: the failover
  // scenarios' business. no_resend_replay needs a broken connection: faults.)
  for (Bug b : {Bug::kInvalidateBeforeCommit, Bug::kIncompatibleGrant, Bug::kReplyBeforeDurable,
                Bug::kItemSeqIgnoresWriteSeq, Bug::kInvalidateKeepsMode, Bug::kFarewellKeepsLocks,
                Bug::kInvalidateNoWakeup, Bug::kLeakOnDelete, Bug::kTruncateNoReserve, Bug::kBloomSkipsDeletions,
                Bug::kMergeResumeSkips, Bug::kMergeDropsDeletions, Bug::kMergeOverlappingRanges}) {
    bugs.push_back(simfs::fs::bug_name(b));
  }
  if (faults) bugs.push_back(simfs::fs::bug_name(Bug::kNoResendReplay));
  // Needs two mounts changing one inode's orphan record in transactions opened out of order:
  // crashes and partitions make those long-lived.
  if (faults) bugs.push_back(simfs::fs::bug_name(Bug::kOrphanSeqIgnoresInodeLock));
  // Needs a client reclaimed while it holds a merge piece: crashes.
  if (faults) bugs.push_back(simfs::fs::bug_name(Bug::kMergeReclaimLeaks));
  // Needs a mount whose tree stays open across a whole merge while another deletes a key it
  // wrote: cluster_smoke's steady commits close that window (0 in 60 seeds).
  if (faults) bugs.push_back(simfs::fs::bug_name(Bug::kMergeFinalizeOneAtATime));
  return bugs;
}

const std::vector<std::string> kClusterInvariants = {"fs.op_result", "fs.durability", "fs.state", "fs.fsck",
                                                     "fs.enospc", "fs.liveness", "lock.server_state",
                                                     "lock.compatible", "lock.dirty_answer", "lock.departed", "net.in_order",
                                                     "merge.disjoint", "sim.deadlock"};

}  // namespace

std::unique_ptr<Scenario> make_cluster_scenario(const ScenarioOptions& o, bool faults) {
  return std::make_unique<ClusterScenario>(o, faults);
}
std::vector<ParamSpec> cluster_scenario_params(bool faults) { return cluster_params(faults); }
std::vector<ParamSpec> cluster_scenario_params_with(bool faults,
                                                    const std::vector<std::pair<std::string, ParamValue>>& defaults) {
  std::vector<ParamSpec> ps = cluster_params(faults);
  for (const auto& [name, v] : defaults) {
    auto p = std::find_if(ps.begin(), ps.end(), [&](const ParamSpec& q) { return q.name == name; });
    FS_ASSERT(p != ps.end());
    p->def = v;
  }
  return ps;
}
std::vector<std::string> quorum_scenario_invariants(const std::vector<std::string>& extra) {
  std::vector<std::string> v = kClusterInvariants;
  for (const char* q : {"quorum.term_monotone", "quorum.one_leader", "quorum.fenced_before_serving",
                        "recovery.recovered_or_reclaimed"}) {
    v.push_back(q);
  }
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}
std::vector<std::string> cluster_scenario_bugs(bool faults) { return cluster_bugs(faults); }
const std::vector<std::string>& cluster_scenario_invariants() { return kClusterInvariants; }
std::string check_cluster_params(const Params& p, bool faults) {
  if (p.integer("voters") > p.integer("mounts")) return "at /params/voters: more voters than mounts";
  std::string e = check_ops(p);
  return e.empty() && faults ? check_fault_window(p) : e;
}

ScenarioInfo cluster_smoke_scenario_info() {
  return ScenarioInfo{
      "cluster_smoke",
      "three mounts on three nodes share one filesystem (node 0 also serves), two workload tasks each on one "
      "namespace, no faults: every operation judged against one POSIX model",
      kClusterInvariants,
      cluster_bugs(false),
      [](const ScenarioOptions& o) { return std::make_unique<ClusterScenario>(o, /*faults=*/false); },
      cluster_params(false),
      [](const Params& p) { return check_cluster_params(p, false); }};
}

ScenarioInfo multi_mount_scenario_info() {
  return ScenarioInfo{
      "multi_mount",
      "five mounts share one filesystem under crashes of any node (the server's too), pauses, partitions "
      "between clients and the server, and metadata disk faults; only a lost mount's uncommitted "
      "transactions may vanish",
      kClusterInvariants,
      cluster_bugs(true),
      [](const ScenarioOptions& o) { return std::make_unique<ClusterScenario>(o, /*faults=*/true); },
      cluster_params(true),
      [](const Params& p) { return check_cluster_params(p, true); }};
}

}  // namespace scenarios
