// Several mounts of one filesystem against the single-copy POSIX model (oracle/posix_model.h),
// as a RapidCheck stateful test (rapidcheck/state.h): a random cluster of 2 to 4 nodes
// (fs/testing/cluster_world.h: node 0 serves, every node mounts), and a random sequence of
// commands, each aimed at one mount:
// - Op: one VFS operation (an FsOp of any kind, sync included), judged by the cluster checker
//   (oracle/cluster_checker.h) against the model at its linearization point (when it returns);
// - Commit: the mount commits its transaction (Mount::commit; sometimes forced, even if empty);
// - Crash: a client node (never the server's) loses power; once the server has fenced and
//   reclaimed its mount, the node comes back with a new mount (a new rid). The checker learns
//   which transactions were durable and when the mount is gone, as the server reports them, and
//   judges whether only the lost mount's uncommitted transactions vanished.
// Checked besides every answer: after every command the lock server's own state is consistent
// and the modes the mounts hold are pairwise compatible; no connection saw a protocol
// violation. At the end every mount reads the whole namespace and must see exactly the model
// (ClusterChecker::check_view); then every mount unmounts (nothing may be lost), the server
// keeps no lock state for them, and fsck finds the images clean.
//
// The commands run one at a time, from a task outside the nodes (ClusterWorld's test task), so
// the order in which they return is the order the model applies them; what is concurrent is
// the cluster under them (lock invalidations, commits, merges, reclaim). A failing command
// throws CommandFailed, which the task catches and turns into the failure string the property
// asserts on outside the simulation.
//
// Shrinking: RapidCheck drops commands and lowers each one's mount, kind and arguments; an
// FsOp names its targets by indices reduced modulo what exists when it runs, and every command
// is valid on any mount, so every shrunk sequence is runnable. The mount count shrinks towards 2.
//
// The companion test plants a bug (fs/base/bugs.h) and shows that the property fails.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fs/fsck/fsck.h"
#include "fs/lock/lock_mode.h"
#include "fs/testing/cluster_world.h"
#include "oracle/cluster_checker.h"
#include "sim/errors.h"
#include "sim/sync.h"

namespace simfs::fs {
namespace {

using oracle::ClusterChecker;
using oracle::ClusterVerdict;
using oracle::FsOp;
using testing::ClusterWorld;

// RapidCheck's model state: how many mounts the cluster has (commands name one of them). The
// POSIX model lives in the checker, in Sut: it must learn from the filesystem what no
// prediction can know (the inode numbers it hands out, which transactions became durable).
struct Model {
  int mounts = 2;
};

struct Sut {
  ClusterWorld& w;
  int mounts;
  ClusterChecker checker;
  // What the server's reports (mount_gone) made the checker say, outside any command.
  std::string async_failure;
  size_t commands_run = 0;

  uint64_t rid(int i) { return w.rid_of(i); }

  // The lock server's state and the modes the mounts hold: "" or the violation.
  std::string check_locks() {
    if (std::string e = w.server().locks().check(); !e.empty()) return "lock server state: " + e;
    std::map<Key, std::vector<std::pair<uint64_t, LockMode>>> held;
    for (int i = 0; i < mounts; ++i) {
      if (!w.stack(i).has_mount() || w.mount_of(i).failed()) continue;
      for (const auto& [k, mode] : w.mount_of(i).locks().held_locks()) held[k].emplace_back(rid(i), mode);
    }
    for (const auto& [k, hs] : held) {
      for (size_t a = 0; a < hs.size(); ++a) {
        for (size_t b = a + 1; b < hs.size(); ++b) {
          if (!lock_grant_compatible(hs[a].first, hs[a].second, hs[b].first, hs[b].second))
            return "mounts " + std::to_string(hs[a].first) + " and " + std::to_string(hs[b].first) + " hold " +
                   lock_mode_name(hs[a].second) + " and " + lock_mode_name(hs[b].second) + " on lock " + key_string(k);
        }
      }
    }
    return "";
  }
};

struct CommandFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Command = rc::state::Command<Model, Sut>;
using Commands = rc::state::Commands<Command>;

std::string verdict(const ClusterVerdict& v) { return v.invariant.empty() ? "" : v.invariant + ": " + v.message; }

// A command does its work in exec(), which returns "" or the violation it saw; the checks every
// command is followed by run after it.
struct ClusterCommand : Command {
  void run(const Model&, Sut& sut) const final {
    ++sut.commands_run;
    std::string failure = exec(sut);
    if (failure.empty()) failure = sut.async_failure;
    // A protocol violation one of the connections reported (a seq gap, a message that does
    // not decode) fails the command that was running, like a wrong answer.
    if (failure.empty() && !sut.w.violations.empty()) failure = "protocol violation: " + sut.w.violations.front();
    if (failure.empty()) return;
    std::ostringstream os;
    os << "command " << sut.commands_run << " (";
    show(os);
    os << "): " << failure;
    throw CommandFailed(os.str());
  }
  virtual std::string exec(Sut& sut) const = 0;
};

// One VFS operation on mount `m`, judged by the checker.
struct Op : ClusterCommand {
  Op(int m, const FsOp& o) : mount(m), op(o) {}
  std::string exec(Sut& sut) const override {
    return verdict(sut.checker.run(sut.rid(mount), sut.w.vfs(mount), sut.w.mount_of(mount), op));
  }
  void show(std::ostream& os) const override { os << "mount " << mount << ": " << op.describe(); }
  int mount;
  FsOp op;
};

// Mount `m` commits its open transaction.
struct Commit : ClusterCommand {
  Commit(int m, bool f) : mount(m), force(f) {}
  std::string exec(Sut& sut) const override {
    if (sim::Errno e = sut.w.mount_of(mount).commit(force)) return std::string("commit failed with ") + sim::errno_name(e);
    return "";
  }
  void show(std::ostream& os) const override { os << "mount " << mount << ": commit" << (force ? " (forced)" : ""); }
  int mount;
  bool force;
};

// Client node `node` loses power; the server reclaims its mount (after reconnect_timeout), then
// the node mounts again with a new rid.
struct Crash : ClusterCommand {
  explicit Crash(int n) : node(n) {}
  std::string exec(Sut& sut) const override {
    ClusterWorld& w = sut.w;
    const uint64_t old = sut.rid(node);
    w.crash(node);
    // The server fences the node (cutting its devices) and reclaims the mount; only then may
    // the node mount again (a fence arriving later would cut the new mount).
    for (int waited = 0; std::find(w.gone.begin(), w.gone.end(), old) == w.gone.end(); ++waited) {
      if (waited == 600) return "the server did not reclaim the crashed mount " + std::to_string(old) + " within 30 s";
      w.sleep(50 * sim::kMillisecond);
    }
    if (!sut.async_failure.empty()) return sut.async_failure;
    w.crash(node);  // nothing runs there: this only lifts the fence
    if (sim::Errno e = w.mount(node)) return std::string("remount failed with ") + sim::errno_name(e);
    sut.checker.mounted(sut.rid(node));
    return "";
  }
  void show(std::ostream& os) const override { os << "crash node " << node << " and remount"; }
  int node;
};

// Operations on several mounts at once (a task each): they race through lock requests and
// invalidations, and the checker applies each to the model as it returns.
struct Parallel : ClusterCommand {
  explicit Parallel(std::vector<std::pair<int, FsOp>> o) : ops(std::move(o)) {}
  std::string exec(Sut& sut) const override {
    auto results = std::make_shared<std::vector<sim::Completion<std::string>>>(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      sut.w.s.spawn("op." + std::to_string(i), [&sut, results, i, m = ops[i].first, op = ops[i].second] {
        (*results)[i].set(verdict(sut.checker.run(sut.rid(m), sut.w.vfs(m), sut.w.mount_of(m), op)));
      });
    }
    std::string failure;
    for (size_t i = 0; i < ops.size(); ++i) {
      const std::string& f = (*results)[i].wait();
      if (failure.empty() && !f.empty()) failure = "operation " + std::to_string(i + 1) + ": " + f;
    }
    return failure;
  }
  void show(std::ostream& os) const override {
    os << "at once:";
    for (const auto& [m, op] : ops) os << " [mount " << m << ": " << op.describe() << "]";
  }
  std::vector<std::pair<int, FsOp>> ops;
};

// An operation's kind is drawn with inRange, which RapidCheck scales with the case's size: small
// cases hold only the namespace operations at the front of FsOp::Kind (create, mkdir, unlink,
// rmdir, rename), where cross-mount bugs show up soonest; the later kinds come in as cases grow.
// Called inside gen::exec, so the kind and arguments shrink towards 0.
FsOp draw_op() {
  FsOp op;
  op.kind = static_cast<FsOp::Kind>(*rc::gen::inRange<int>(0, FsOp::kKinds));
  op.a = *rc::gen::inRange<uint32_t>(0, 64);
  op.b = *rc::gen::inRange<uint32_t>(0, 64);
  op.c = *rc::gen::inRange<uint32_t>(0, 64);
  op.d = *rc::gen::inRange<uint32_t>(0, 64);
  op.len = *rc::gen::inRange<uint32_t>(0, 9000);
  return op;
}

// The next command: mostly single operations, now and then a few at once, a sync, a commit,
// or (when `crashes`) a crash of a client node. The mount shrinks towards 0; a command's kind
// does not change in shrinking (dropping it is RapidCheck's other move).
auto gen_command(bool crashes) {
  return [crashes](const Model& m) {
    return rc::gen::exec([crashes, mounts = m.mounts]() -> std::shared_ptr<const Command> {
      enum { kOp, kParallel, kSync, kCommit, kCrash };
      const int what = *rc::gen::weightedElement<int>(
          {{20, kOp}, {4, kParallel}, {2, kSync}, {2, kCommit}, {crashes ? 1 : 0, kCrash}});
      if (what == kCrash) return std::make_shared<Crash>(*rc::gen::inRange<int>(1, mounts));
      if (what == kParallel) {
        std::vector<std::pair<int, FsOp>> ops(static_cast<size_t>(*rc::gen::inRange<int>(2, 5)));
        for (auto& [mount, op] : ops) {
          mount = *rc::gen::inRange<int>(0, mounts);
          op = draw_op();
        }
        return std::make_shared<Parallel>(std::move(ops));
      }
      const int mount = *rc::gen::inRange<int>(0, mounts);
      if (what == kCommit) return std::make_shared<Commit>(mount, *rc::gen::arbitrary<bool>());
      FsOp op = draw_op();
      if (what == kSync) op.kind = FsOp::kSync;
      return std::make_shared<Op>(mount, op);
    });
  };
}

// After the commands: every mount sees the model, then unmounts; the images must be clean.
std::string finish(Sut& sut) {
  ClusterWorld& w = sut.w;
  for (int i = 0; i < sut.mounts; ++i) {
    if (std::string f = verdict(sut.checker.check_view(sut.rid(i), w.vfs(i))); !f.empty()) return f;
  }
  std::vector<uint64_t> unmounted;
  for (int i = sut.mounts; i-- > 0;) {  // the server's node last
    unmounted.push_back(sut.rid(i));
    if (sim::Errno e = w.mount_of(i).unmount()) return "mount " + std::to_string(sut.rid(i)) + ": unmount failed with " + sim::errno_name(e);
    if (!sut.async_failure.empty()) return "at unmount: " + sut.async_failure;
  }
  for (uint64_t rid : unmounted) {
    if (w.server().locks().has_entries(rid))
      return "the lock server keeps state for unmounted rid " + std::to_string(rid);
  }
  // Everything is durable now: a new mount must read the model from the devices. (The checker
  // took out of it every operation of a departed mount whose transaction it was not told became
  // durable.) On node 1, restarted first: an unmounted Mount's background tasks may still be
  // parked inside it, so it may be destroyed only with its node's tasks.
  w.crash(1);
  if (sim::Errno e = w.mount(1)) return std::string("mounting again after the unmounts failed with ") + sim::errno_name(e);
  sut.checker.mounted(sut.rid(1));
  if (std::string f = verdict(sut.checker.check_view(sut.rid(1), w.vfs(1))); !f.empty()) return "after remounting: " + f;
  if (sim::Errno e = w.mount_of(1).unmount()) return std::string("the last unmount failed with ") + sim::errno_name(e);
  if (!w.violations.empty()) return "protocol violation: " + w.violations.front();
  const FsckReport r = fsck(durable_reader(w.meta), durable_reader(w.data));
  if (!r.clean()) {
    std::string msg = "fsck: " + std::to_string(r.findings.size() + r.dropped) + " findings";
    for (size_t i = 0; i < r.findings.size() && i < 3; ++i) msg += "; " + r.findings[i].kind + ": " + r.findings[i].message;
    return msg;
  }
  return "";
}

// Runs the commands on a fresh cluster of `mounts` mounts. Returns "" or the first violation.
std::string run_commands(uint64_t seed, int mounts, const Commands& commands, BugSet bugs = {}) {
  ClusterWorld w(seed, mounts);
  w.plant(bugs);
  Sut sut{w, mounts, {}, {}, 0};
  w.on_durable = [&sut](uint64_t rid, uint64_t seq) { sut.checker.transaction_durable(rid, seq); };
  w.on_gone = [&sut](uint64_t rid) {
    if (std::string f = verdict(sut.checker.mount_gone(rid)); !f.empty() && sut.async_failure.empty())
      sut.async_failure = f;
  };
  std::string failure = "the test task did not finish";
  bool done = false;
  w.s.spawn("test", [&] {
    failure = [&]() -> std::string {
      if (sim::Errno e = w.mkfs_and_mount(mounts)) return "mkfs/mount failed: " + std::string(sim::errno_name(e));
      for (int i = 0; i < mounts; ++i) sut.checker.mounted(sut.rid(i));
      try {
        rc::state::runAll(commands, Model{mounts}, sut);
      } catch (const CommandFailed& e) {
        return e.what();
      }
      if (std::string f = finish(sut); !f.empty()) return "after the last command: " + f;
      return "";
    }();
    // Every node down, so that the background tasks end and the run is quiescent.
    for (int i = 0; i < mounts; ++i) w.crash(i);
    done = true;
  });
  // A bound on virtual time: a mount stuck behind a lock that is never granted is a failure.
  const sim::Simulation::RunResult r = w.s.run(w.s.now() + 20 * 60 * sim::kSecond);
  w.on_durable = nullptr;
  w.on_gone = nullptr;
  if (!done) {
    w.s.shutdown();  // unwinds the stuck tasks while `sut` still exists
    return failure + " (the run stopped: " + (r.message.empty() ? "time limit" : r.message) + ")";
  }
  if (r.outcome != sim::Simulation::Outcome::kQuiescent && failure.empty()) return "the run ended with: " + r.message;
  return failure;
}

// The property, for a given generator: a cluster size, a simulation seed and a sequence.
std::string cluster_property(bool crashes, BugSet bugs) {
  const int mounts = *rc::gen::inRange<int>(2, 5);
  const uint64_t seed = *rc::gen::inRange<uint64_t>(1, 1000);
  const Commands commands = *rc::state::gen::commands(Model{mounts}, gen_command(crashes));
  const std::string failure = run_commands(seed, mounts, commands, bugs);
  if (failure.empty()) return "";
  return std::to_string(mounts) + " mounts, simulation seed " + std::to_string(seed) + ": " + failure;
}

RC_GTEST_PROP(ClusterModel, MountsAgreeWithOneModel, ()) {
  const std::string failure = cluster_property(/*crashes=*/false, {});
  if (!failure.empty()) RC_FAIL(failure);
}

RC_GTEST_PROP(ClusterModel, MountsAgreeWithOneModelAcrossClientCrashes, ()) {
  const std::string failure = cluster_property(/*crashes=*/true, {});
  if (!failure.empty()) RC_FAIL(failure);
}

// A fixed, long sequence on four mounts, every kind of command in it, so that every kind of
// operation meets log merges, lock bouncing and reclaims whatever RapidCheck generates.
TEST(ClusterModel, LongDeterministicSequence) {
  constexpr int kMounts = 4;
  uint64_t x = 20261122;
  auto next = [&x](uint32_t n) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(x >> 33) % n;
  };
  auto op = [&next] {
    FsOp o;
    o.kind = static_cast<FsOp::Kind>(next(FsOp::kKinds));
    o.a = next(64);
    o.b = next(64);
    o.c = next(64);
    o.d = next(64);
    o.len = next(9000);
    return o;
  };
  Commands commands;
  for (int i = 0; i < 1200; ++i) {
    const uint32_t k = next(100);
    if (k < 2) {
      commands.push_back(std::make_shared<Crash>(1 + static_cast<int>(next(kMounts - 1))));
    } else if (k < 6) {
      commands.push_back(std::make_shared<Commit>(static_cast<int>(next(kMounts)), next(2) == 1));
    } else if (k < 20) {
      std::vector<std::pair<int, FsOp>> ops(2 + next(3));
      for (auto& [m, o] : ops) {
        m = static_cast<int>(next(kMounts));
        o = op();
      }
      commands.push_back(std::make_shared<Parallel>(std::move(ops)));
    } else {
      commands.push_back(std::make_shared<Op>(static_cast<int>(next(kMounts)), op()));
    }
  }
  EXPECT_EQ(run_commands(7, kMounts, commands), "");
}

// The property can fail: with a planted bug, RapidCheck finds (and shrinks) a sequence that
// breaks it. Run through RapidCheck's checker directly (with the suite's RC_PARAMS: its seed and
// case count) rather than rc::check, so that the expected failure is not reported as one of the
// run's failing properties; the shrunk counterexample is printed all the same.
struct QuietListener : rc::detail::TestListener {
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool) override {}
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
};

void expect_property_fails(Bug bug) {
  rc::detail::TestMetadata metadata;
  metadata.id = metadata.description = std::string("ClusterModel with ") + bug_name(bug) + " planted";
  QuietListener listener;
  const rc::detail::TestResult result = rc::detail::checkTestable(
      [bug] {
        const std::string failure = cluster_property(/*crashes=*/false, BugSet::of(bug));
        if (!failure.empty()) RC_FAIL(failure);
      },
      metadata, rc::detail::configuration().testParams, listener);
  rc::detail::FailureResult failed;
  ASSERT_TRUE(result.match(failed)) << "no sequence exposed " << bug_name(bug);
  std::cout << "With " << bug_name(bug) << " planted (failing as it must): ";
  rc::detail::printResultMessage(result, std::cout);
  std::cout << "\n";
}

TEST(ClusterModel, FailsWithInvalidateBeforeCommit) { expect_property_fails(Bug::kInvalidateBeforeCommit); }
TEST(ClusterModel, FailsWithIncompatibleGrant) { expect_property_fails(Bug::kIncompatibleGrant); }
TEST(ClusterModel, FailsWithItemSeqIgnoresWriteSeq) { expect_property_fails(Bug::kItemSeqIgnoresWriteSeq); }

}  // namespace
}  // namespace simfs::fs
