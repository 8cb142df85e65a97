// Scenario "single_mount": the filesystem of fs/ on one node with a metadata and a data
// device, running a random mix of VFS operations under crashes, power loss, pauses and
// metadata disk faults. Every operation is judged against the POSIX model (oracle/
// fs_checker.h), and every recovery must bring back exactly the last durable commit (or the
// one in flight). fsck checks the durable images after every crash and at the end.
//
// Faults: the nemesis crashes and pauses the node, cuts power, and injects read/write errors
// and read bit flips on the metadata device (whose blocks are checksummed). The data device
// gets no bit flips: file data carries no checksum (as in scoutfs), so a flipped data read is
// indistinguishable from a bug. A mount that stops after an I/O error is restarted by the
// scenario, as an administrator would.
//
// Planted bugs (--bug): the fs-level ones of fs/base/bugs.h (reuse_before_commit, no_data_flush,
// rename_dir_nlink, rmdir_not_empty, leak_on_delete), and no_restart: a mount that stopped on an I/O error is
// never restarted, so nothing completes after the faults heal.
#include <memory>
#include <string>

#include "fs/cluster/node_stack.h"
#include "fs/fsck/fsck.h"
#include "fs/server/mkfs.h"
#include "fs/vfs/vfs.h"
#include "oracle/fs_checker.h"
#include "scenarios/nemesis.h"
#include "scenarios/scenario.h"
#include "sim/block_device.h"
#include "sim/network.h"

namespace scenarios {
namespace {

namespace fs = simfs::fs;
using oracle::FsChecker;
using oracle::FsOp;
using sim::kMillisecond;
using sim::kSecond;
using sim::Site;
using sim::Stream;

constexpr uint64_t kMinOpsAfterHeal = 50;
// After the workload, time for the heal, the last operations and the final checks.
constexpr sim::Duration kTimeLimitSlack = 5 * kSecond;

// Operation kinds by parameter name ("weight_<kind>").
std::string weight_param(int kind) { return std::string("weight_") + FsOp::kind_name(static_cast<FsOp::Kind>(kind)); }
constexpr uint64_t kLiveCheckEvery = 64;

constexpr Site kSiteKind{"fs.op.kind", Stream::kWorkload};
constexpr Site kSiteArg{"fs.op.arg", Stream::kWorkload};
constexpr Site kSiteLen{"fs.op.len", Stream::kWorkload};
constexpr Site kSiteThink{"fs.think", Stream::kWorkload};

class SingleMountScenario final : public Scenario {
 public:
  explicit SingleMountScenario(const ScenarioOptions& o);
  void setup(sim::Simulation& sim) override;
  sim::Time time_limit() const override { return workload_end_ + kTimeLimitSlack; }
  void finish(sim::Simulation& sim) override;
  std::vector<const sim::BlockDevice*> devices() const override { return {meta_.get(), data_.get()}; }
  uint64_t messages_sent() const override { return net_ ? net_->messages_sent() : 0; }

 private:
  void boot(sim::Node& node);
  bool fsck_clean(const char* when);
  bool mount_with_retries(sim::Node& node);
  // A stopped filesystem (mount or server) on `node`: crash it and have it restarted.
  void restart_node(sim::Node& node);
  void workload(sim::Node& node);
  FsOp next_op();
  bool faults_possible() const { return !nemesis_ || !nemesis_->healed(); }
  fs::NodeStackConfig stack_config() const {
    fs::NodeStackConfig c;
    c.fsid = kFsid;
    c.server_address = sim::Address{0, fs::kServerPort};
    c.mount.commit_interval = params_.duration("commit_interval");
    c.mount.dirty_items_max = static_cast<size_t>(params_.integer("dirty_items_max"));
    c.mount.bugs = fs::BugSet::from_name(bug_);
    c.server.log_finalize_items = static_cast<uint64_t>(params_.integer("log_finalize_items"));
    c.server.merge_blocks_per_commit = static_cast<size_t>(params_.integer("merge_blocks_per_commit"));
    c.server.bugs = c.mount.bugs;
    return c;
  }
  fs::Mount& mount() { return stack_->mount(); }
  fs::Vfs& vfs() { return stack_->vfs(); }

  std::string bug_;
  Params params_;
  sim::Time workload_end_ = 0;
  // Operation mix: weights by FsOp::Kind. With all weights equal the kind is drawn uniformly,
  // exactly as before weights existed (same choice, so default runs keep their digests).
  uint64_t weights_[FsOp::kKinds] = {};
  uint64_t weight_total_ = 0;
  bool uniform_mix_ = true;
  sim::Simulation* sim_ = nullptr;
  static constexpr uint64_t kFsid = 0x51f5;
  std::unique_ptr<sim::BlockDevice> meta_, data_;
  std::unique_ptr<sim::Network> net_;
  std::unique_ptr<fs::NodeStack> stack_;
  std::unique_ptr<Nemesis> nemesis_;

  // Oracle state: survives crashes.
  FsChecker checker_;
  bool formatted_ = false;
  bool recovery_pending_ = false;  // a mount died; the next one must be checked against it
  uint64_t ops_after_heal_ = 0;
  uint64_t ops_since_live_check_ = 0;
  bool stop_ = false;
};

SingleMountScenario::SingleMountScenario(const ScenarioOptions& o)
    : bug_(o.bug), params_(o.params), workload_end_(o.params.duration("workload_end")) {
  for (int k = 0; k < FsOp::kKinds; ++k) {
    weights_[k] = static_cast<uint64_t>(params_.integer(weight_param(k)));
    weight_total_ += weights_[k];
    uniform_mix_ = uniform_mix_ && weights_[k] == weights_[0];
  }
  checker_.allow_enospc(params_.flag("allow_enospc"));
}

FsOp SingleMountScenario::next_op() {
  sim::Chooser& c = sim_->chooser();
  FsOp op;
  if (uniform_mix_) {
    op.kind = static_cast<FsOp::Kind>(c.choose(kSiteKind, FsOp::kKinds));
  } else {
    // Weighted: one draw over the total; 0 maps to the first kind with a weight, so a shrunk
    // tape still names a kind the mix allows.
    uint64_t x = c.choose(kSiteKind, weight_total_);
    int k = 0;
    while (x >= weights_[k]) x -= weights_[k++];
    op.kind = static_cast<FsOp::Kind>(k);
  }
  op.a = static_cast<uint32_t>(c.choose(kSiteArg, 64));
  op.b = static_cast<uint32_t>(c.choose(kSiteArg, 64));
  op.c = static_cast<uint32_t>(c.choose(kSiteArg, 64));
  op.d = static_cast<uint32_t>(c.choose(kSiteArg, 64));
  op.len = static_cast<uint32_t>(c.choose(kSiteLen, 9000));
  return op;
}

bool SingleMountScenario::mount_with_retries(sim::Node& node) {
  // Transient read errors during the fault window are retried; outside it, a mount that fails
  // on a filesystem the last commit left consistent is a recovery bug. The server and the mount
  // both run on this node; every incarnation mounts with a new rid.
  for (int attempt = 0;; ++attempt) {
    sim::Errno e = stack_->server() ? 0 : stack_->start_server();
    if (!e) e = stack_->mount(node.incarnation() * 1000 + static_cast<uint64_t>(attempt) + 1);
    if (!e) return true;
    if (!(e == EIO && (faults_possible() || attempt < 3))) {
      sim_->violation("fs.durability", std::string("mounting after a crash failed with ") + sim::errno_name(e));
      return false;
    }
    if (stack_->server() && stack_->server()->stopped()) stack_->forget();
    sim_->sched().sleep(20 * kMillisecond);
  }
}

void SingleMountScenario::boot(sim::Node& node) {
  // The previous incarnation's mount is dead: remember what it had made durable.
  if (stack_->has_mount()) {
    if (!recovery_pending_) checker_.crash_seen(mount().stats());
    recovery_pending_ = true;
  }
  stack_->forget();
  // What the crash left on the disks must be consistent before anything reads it.
  if (formatted_ && !fsck_clean("after a crash")) return;
  stack_->attach();
  while (!formatted_) {
    sim::Errno e = fs::mkfs(fs::NodeEnv(node), stack_->meta_handle(), stack_->data_handle(), kFsid,
                            static_cast<uint32_t>(params_.integer("btree_fill")));
    if (!e) {
      formatted_ = true;
      break;
    }
    if (e != EIO) {
      sim_->violation("fs.durability", std::string("mkfs failed with ") + sim::errno_name(e));
      return;
    }
    sim_->sched().sleep(20 * kMillisecond);
  }
  if (!mount_with_retries(node)) return;
  if (recovery_pending_) {
    bool io = false;
    std::string f = checker_.check_recovered(vfs(), &io);
    if (!f.empty()) {
      sim_->violation("fs.durability", f);
      return;
    }
    if (io) {  // could not read it all under disk faults: restart and check again
      mount().fail(EIO);
      node.crash();
      return;
    }
    recovery_pending_ = false;
    sim_->event(node.id(), "fs_recovered", {{"ops", checker_.ops()}});
  }
  workload(node);
}

void SingleMountScenario::restart_node(sim::Node& node) {
  if (bug_ == "no_restart") return;  // BUG (planted): the stopped filesystem is never restarted
  sim::Simulation& s = *sim_;
  // The nemesis restarts crashed nodes until it heals; after that (an operation that ran out
  // of space midway stops the mount too) the administrator must.
  if (nemesis_->healed()) {
    s.spawn("admin.restart", [&s, &node] {
      s.sched().sleep(20 * kMillisecond);  // the crash completes from the loop, after this task starts
      if (!node.up()) node.restart();
    });
  }
  node.crash();
}

bool SingleMountScenario::fsck_clean(const char* when) {
  const fs::FsckReport r = fs::fsck(fs::durable_reader(*meta_), fs::durable_reader(*data_));
  if (r.clean()) return true;
  std::string msg = std::string("fsck ") + when + ": " + std::to_string(r.findings.size() + r.dropped) + " findings";
  for (size_t i = 0; i < r.findings.size() && i < 3; ++i) msg += "; " + r.findings[i].kind + ": " + r.findings[i].message;
  sim_->violation("fs.fsck", msg);
  return false;
}

void SingleMountScenario::workload(sim::Node& node) {
  sim::Simulation& s = *sim_;
  while (!stop_ && (s.now() < workload_end_ || (nemesis_->healed() && ops_after_heal_ < kMinOpsAfterHeal))) {
    s.sched().sleep(s.chooser().range(kSiteThink, 200 * sim::kMicrosecond, 4 * kMillisecond));
    if (mount().failed() && mount().stop_cause() == ENOSPC) {
      // Running out of space must fail the operation, not the filesystem.
      s.violation("fs.enospc", "an operation ran out of space half way and stopped the mount");
      return;
    }
    if (mount().failed()) {
      // The mount stopped on an I/O error: restart the node, as an administrator would.
      s.event(node.id(), "fs_mount_failed", {{"err", sim::errno_name(mount().failed())}});
      restart_node(node);
      return;
    }
    bool io = false;
    const uint64_t enospc_before = checker_.enospc_accepted();
    const FsOp op = next_op();
    const uint64_t call = s.event(node.id(), "op_call", {{"client", 0}, {"op", op.describe()}});
    std::string f = checker_.step(vfs(), mount(), op, &io);
    const uint64_t ret = s.event(node.id(), "op_return", {{"client", 0}, {"op", op.describe()}, {"ok", f.empty() && !io}});
    if (!f.empty()) {
      s.violation("fs.op_result", f, {call, ret});
      return;
    }
    // Only with allow_enospc (small devices): shows that a run reached the ENOSPC paths.
    if (checker_.enospc_accepted() != enospc_before) s.event(node.id(), "fs_enospc", {{"op", op.describe()}});
    if (!io && nemesis_->healed()) ++ops_after_heal_;
    if (++ops_since_live_check_ >= kLiveCheckEvery) {
      ops_since_live_check_ = 0;
      f = checker_.check_live(vfs(), &io);
      if (!f.empty()) {
        s.violation("fs.state", f);
        return;
      }
    }
  }
}

void SingleMountScenario::setup(sim::Simulation& s) {
  sim_ = &s;
  sim::BlockDeviceConfig mc;
  mc.block_size = fs::kBlockSize;
  mc.block_count = static_cast<uint64_t>(params_.integer("meta_blocks"));
  meta_ = std::make_unique<sim::BlockDevice>(s, 0, "meta", mc);
  sim::BlockDeviceConfig dc = mc;
  dc.block_count = static_cast<uint64_t>(params_.integer("data_blocks"));
  data_ = std::make_unique<sim::BlockDevice>(s, 1, "data", dc);
  net_ = std::make_unique<sim::Network>(s);
  checker_.allow_eio(true);  // allow_enospc is set from the parameters
  sim::Node& n = s.add_node("fs");
  stack_ = std::make_unique<fs::NodeStack>(n, *net_, *meta_, *data_, stack_config());
  // A server whose device failed stops; the node is restarted like a stopped mount's.
  stack_->config().on_server_stopped = [this, &n](sim::Errno e) {
    sim_->event(n.id(), "fs_server_failed", {{"err", sim::errno_name(e)}});
    restart_node(n);
  };
  n.set_boot([this](sim::Node& node) { boot(node); });
  n.start();
  NemesisConfig nc;
  apply_nemesis_params(params_, &nc);
  nc.nodes = {0};
  // Disk faults on the checksummed metadata device only (see the header comment).
  nemesis_ = std::make_unique<Nemesis>(s, nullptr, std::vector<sim::BlockDevice*>{meta_.get()}, nc);
  nemesis_->start();
}

void SingleMountScenario::finish(sim::Simulation& s) {
  if (ops_after_heal_ < kMinOpsAfterHeal) {
    s.violation("fs.liveness", "only " + std::to_string(ops_after_heal_) +
                                   " operations completed after the faults healed (want " +
                                   std::to_string(kMinOpsAfterHeal) + ")");
    return;
  }
  // Final check: unmount commits everything, and a crash right after loses nothing.
  stop_ = true;
  s.node(0).set_boot([this](sim::Node& node) { boot(node); });
  s.spawn("unmount", [this, &s] {
    if (!stack_->has_mount() || mount().failed()) return;
    sim::Node& n = s.node(0);
    if (sim::Errno e = mount().unmount()) {
      s.violation("fs.durability", std::string("unmount failed with ") + sim::errno_name(e));
      return;
    }
    n.crash();
    n.restart();
  });
  s.run(s.now() + 2 * kSecond);
}

std::vector<ParamSpec> single_mount_params() {
  std::vector<ParamSpec> ps = {
      // mkfs needs 17 fixed blocks plus 4 allocator batches of 256 (fs/mount.cc).
      int_param("meta_blocks", 4096, 1041, 1 << 20, "metadata device size in 4 KiB blocks"),
      int_param("data_blocks", 4096, 2, 1 << 20, "data device size in 4 KiB blocks (small: operations run into ENOSPC)"),
      bool_param("allow_enospc", false,
                 "accept ENOSPC from any operation as 'not done' (for small devices; off: ENOSPC is a mismatch)"),
      duration_param("commit_interval", 100 * kMillisecond, 1 * kMillisecond, 10 * kSecond, "the mount's commit timer"),
      int_param("dirty_items_max", 64, 1, 100000, "dirty items that make an operation commit"),
      // Small blocks: trees three or four levels deep, so splits, joins and root changes happen at
      // every level within a run.
      int_param("btree_fill", 1100, 0, 4060,
                "entry bytes per block of the fs, logs and log trees (0: whole 4 KiB blocks, else >= 1100)"),
      // Small, so that every run finalizes and merges log trees, and crashes land mid-merge.
      int_param("log_finalize_items", 48, 1, 1 << 20, "log tree items that finalize it for merging into the fs tree"),
      int_param("merge_blocks_per_commit", 6, 1, 1 << 20, "new fs tree blocks one commit's merge step may write"),
      duration_param("workload_end", 3 * kSecond, 0, 60 * kSecond,
                     "operations stop after this (and after 50 operations since the heal)"),
  };
  for (ParamSpec& p : nemesis_params(kFaultCrash | kFaultPowerLoss | kFaultDiskErrors | kFaultPause, 50 * kMillisecond,
                                     2 * kSecond)) {
    ps.push_back(std::move(p));
  }
  for (int k = 0; k < FsOp::kKinds; ++k) {
    ps.push_back(int_param(weight_param(k), 1, 0, 1000,
                           std::string("relative weight of ") + FsOp::kind_name(static_cast<FsOp::Kind>(k)) + " in the operation mix (0: never)"));
  }
  return ps;
}

}  // namespace

ScenarioInfo single_mount_scenario_info() {
  // The fs/ bugs one mount can show (the cluster's own need several mounts: multi_mount).
  using simfs::fs::Bug;
  std::vector<std::string> bugs;
  for (Bug b : {Bug::kReuseBeforeCommit, Bug::kNoDataFlush, Bug::kRenameDirNlink, Bug::kRmdirNotEmpty,
                Bug::kLeakOnDelete, Bug::kTruncateNoReserve, Bug::kMergeResumeSkips, Bug::kMergeDropsDeletions,
                Bug::kReadStaleRegion}) {
    bugs.push_back(simfs::fs::bug_name(b));
  }
  bugs.push_back("no_restart");
  return ScenarioInfo{
      "single_mount",
      "the filesystem on one node (metadata + data devices): random VFS operations against a POSIX model, with "
      "crashes, power loss, pauses and metadata disk faults",
      {"fs.op_result", "fs.state", "fs.durability", "fs.fsck", "fs.enospc", "fs.liveness", "sim.deadlock"},
      bugs,
      [](const ScenarioOptions& o) { return std::make_unique<SingleMountScenario>(o); },
      single_mount_params(),
      [](const Params& p) {
        if (std::string e = check_fault_window(p); !e.empty()) return e;
        uint64_t total = 0;
        for (int k = 0; k < FsOp::kKinds; ++k) total += static_cast<uint64_t>(p.integer(weight_param(k)));
        if (total == 0) return std::string("at /params/weight_create: every operation weight is 0: nothing to run");
        const int64_t fill = p.integer("btree_fill");
        if (fill != 0 && fill < simfs::fs::kBtreeFillMin) {
          return "at /params/btree_fill: " + std::to_string(fill) + " is below the smallest fill limit " +
                 std::to_string(simfs::fs::kBtreeFillMin) + " (or 0 for whole blocks)";
        }
        return std::string();
      }};
}

}  // namespace scenarios
