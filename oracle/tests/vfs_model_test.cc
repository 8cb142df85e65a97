// The VFS against the POSIX reference model (oracle/posix_model.h), as a RapidCheck stateful
// test (rapidcheck/state.h): RapidCheck generates a sequence of commands — Op (one VFS
// operation, an FsOp of any kind) and Crash — runs it with rc::state::runAll, and on a failure
// shrinks the sequence (dropping commands, then lowering each one's kind and arguments) to a
// minimal one. Checked:
// - every operation returns what the model says (errno, and the bytes of a read);
// - after each Crash (power loss, then remount and orphan recovery) the filesystem equals the
//   model as of the last durable commit, or as of the commit in flight when it crashed;
// - every fsync'd file is intact after a crash: fsync and sync commit everything (fs/vfs.h), so
//   each inode not changed since the last fsync/sync must come back exactly as it was then;
// - at the end, the live filesystem equals the model, and unmount then a crash loses nothing.
//
// Where the model lives: RapidCheck's Model (what apply() advances while generating) is empty.
// The POSIX model must learn from the filesystem what no prediction can know: the inode numbers
// it hands out, and when it committed (with a small dirty_items_max it commits in the middle of
// the sequence), which decides what a crash may lose. So the model is FsChecker
// (oracle/fs_checker.h), which the commands drive next to the filesystem, in Sut. Commands need
// no preconditions: an FsOp names its targets by indices reduced modulo what exists when it
// runs, so every sequence — shrunk or not — is valid.
//
// The commands run inside the simulation (FsWorld::run, a task on the simulated node), where an
// exception must not escape: a failing command throws CommandFailed, which the task catches and
// turns into the failure string the test asserts on outside.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "fs/testing/fs_world.h"
#include "oracle/fs_checker.h"

namespace simfs::fs {
namespace {

using oracle::FsChecker;
using oracle::FsOp;
using oracle::ModelInode;
using testing::FsWorld;

// RapidCheck's model state: empty, see the header comment.
struct Model {};

// The filesystem under test, with the model that judges it.
struct Sut {
  FsWorld& w;
  MountConfig cfg;
  FsChecker checker;
  // Inodes as the last successful fsync/sync left them, dropped as soon as an operation changes
  // them: each must survive any crash unchanged.
  oracle::InodeMap synced;
  size_t commands_run = 0;

  // After an operation: forget the synced inodes it changed (or removed).
  void forget_changed() {
    const auto& now = checker.model().inodes();
    std::erase_if(synced, [&](const auto& entry) {
      auto it = now.find(entry.first);
      return it == now.end() || *it->second != *entry.second;
    });
  }

  // After a successful fsync or sync: every inode is durable as it stands. (Those already in
  // `synced` are unchanged, so only the others need copying.)
  void synced_all() {
    for (const auto& [ino, node] : checker.model().inodes()) synced.try_emplace(ino, node);
  }

  // Power loss, remount, and the recovered filesystem judged. Returns "" or the violation.
  std::string crash_and_recover() {
    checker.crash_seen(w.mount->stats());
    w.crash();
    if (sim::Errno e = w.remount(cfg)) return "remount after crash failed: " + std::string(sim::errno_name(e));
    if (std::string f = checker.check_recovered(*w.vfs); !f.empty()) return f;
    // check_recovered continues from the recovered filesystem: checker.model() is it now.
    const auto& now = checker.model().inodes();
    for (const auto& [ino, was] : synced) {
      auto it = now.find(ino);
      if (it == now.end() || *it->second != *was)
        return "inode " + std::to_string(ino) + " (" + describe(*was) +
               "), unchanged since the last fsync/sync, came back from the crash " +
               (it == now.end() ? std::string("gone") : "as " + describe(*it->second));
    }
    return "";
  }

  static std::string describe(const ModelInode& n) {
    const char* type = n.type == ModelInode::Type::kDir ? "dir" : n.type == ModelInode::Type::kFile ? "file" : "symlink";
    return std::string(type) + ", nlink " + std::to_string(n.nlink) + ", " + std::to_string(n.data.size()) +
           " bytes, " + std::to_string(n.entries.size()) + " entries, " + std::to_string(n.xattrs.size()) + " xattrs";
  }
};

struct CommandFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Command = rc::state::Command<Model, Sut>;
using Commands = rc::state::Commands<Command>;

// A command does its work in exec(), which returns "" or the violation it saw.
struct VfsCommand : Command {
  void run(const Model&, Sut& sut) const final {
    ++sut.commands_run;
    const std::string failure = exec(sut);
    if (failure.empty()) return;
    std::ostringstream os;
    os << "command " << sut.commands_run << " (";
    show(os);
    os << "): " << failure;
    throw CommandFailed(os.str());
  }
  virtual std::string exec(Sut& sut) const = 0;
};

// Whether an operation of this kind may change the model: FsChecker::step leaves it as it was
// for reads, open, close, fsync and sync.
bool may_change_model(FsOp::Kind kind) {
  switch (kind) {
    case FsOp::kRead:
    case FsOp::kOpen:
    case FsOp::kClose:
    case FsOp::kFsync:
    case FsOp::kSync:
      return false;
    default:
      return true;
  }
}

// One VFS operation, run on the filesystem and the model side by side.
struct Op : VfsCommand {
  explicit Op(const FsOp& o) : op(o) {}
  std::string exec(Sut& sut) const override {
    const uint64_t ops_before = sut.w.mount->stats().ops_done;
    if (std::string f = sut.checker.step(*sut.w.vfs, *sut.w.mount, op); !f.empty()) return f;
    if (may_change_model(op.kind)) sut.forget_changed();
    // An fsync or sync that ran (FsChecker skips fsync when there is no file) and returned what
    // the model expects (success) made everything durable.
    const bool ran = sut.w.mount->stats().ops_done != ops_before;
    if (ran && (op.kind == FsOp::kFsync || op.kind == FsOp::kSync)) sut.synced_all();
    return "";
  }
  void show(std::ostream& os) const override { os << op.describe(); }
  FsOp op;
};

// Power loss between two operations, then remount and recovery, judged against the model.
struct Crash : VfsCommand {
  std::string exec(Sut& sut) const override { return sut.crash_and_recover(); }
  void show(std::ostream& os) const override { os << "crash"; }
};

// The next command: a crash one time in 18 at every size, else an operation. The operation's
// kind is drawn with inRange, which RapidCheck scales with the case's size (as the generator
// before state.h did): small cases hold only the namespace operations at the front of
// FsOp::Kind (create, mkdir, unlink, rmdir, rename), where namespace bugs show up much sooner
// than with a uniform pick; the later kinds (fsync, sync, setattr last) come in as cases grow.
// Drawn inside gen::exec, so a kind shrinks towards create and the arguments towards 0 (a crash
// stays a crash; shrinking drops it instead).
rc::Gen<std::shared_ptr<const Command>> gen_command(const Model&) {
  return rc::gen::exec([]() -> std::shared_ptr<const Command> {
    if (*rc::gen::weightedElement<bool>({{FsOp::kKinds, false}, {1, true}})) return std::make_shared<Crash>();
    FsOp op;
    op.kind = static_cast<FsOp::Kind>(*rc::gen::inRange<int>(0, FsOp::kKinds));
    op.a = *rc::gen::inRange<uint32_t>(0, 64);
    op.b = *rc::gen::inRange<uint32_t>(0, 64);
    op.c = *rc::gen::inRange<uint32_t>(0, 64);
    op.d = *rc::gen::inRange<uint32_t>(0, 64);
    op.len = *rc::gen::inRange<uint32_t>(0, 20000);
    return std::make_shared<Op>(op);
  });
}

// Runs the commands on a fresh filesystem, then unmounts, crashes and checks that nothing was
// lost. Returns "" or the first violation.
std::string run_commands(uint64_t seed, const Commands& commands, size_t dirty_items_max) {
  FsWorld w(seed);
  std::string failure;
  w.run([&] {
    MountConfig cfg = FsWorld::test_config();
    cfg.dirty_items_max = dirty_items_max;
    if (sim::Errno e = w.mkfs_and_mount(cfg)) {
      failure = "mkfs/mount failed: " + std::string(sim::errno_name(e));
      return;
    }
    Sut sut{w, cfg, {}, {}, 0};
    try {
      rc::state::runAll(commands, Model{}, sut);
    } catch (const CommandFailed& e) {
      failure = e.what();
      return;
    }
    failure = sut.checker.check_live(*w.vfs);
    if (!failure.empty()) {
      failure = "after the last command: " + failure;
      return;
    }
    // Unmount commits everything: a crash right after must lose nothing.
    if (sim::Errno e = w.mount->unmount()) {
      failure = "unmount failed: " + std::string(sim::errno_name(e));
      return;
    }
    failure = sut.crash_and_recover();
    if (failure.empty()) failure = sut.checker.check_live(*w.vfs);
    if (!failure.empty()) failure = "after the final unmount and crash: " + failure;
  });
  return failure;
}

RC_GTEST_PROP(VfsModel, MatchesPosixModelAcrossCrashes, ()) {
  const Commands commands = *rc::state::gen::commands(Model{}, gen_command);
  const uint64_t seed = *rc::gen::inRange<uint64_t>(1, 1000);
  const size_t dirty_max = *rc::gen::element<size_t>(4, 50, 100000);
  const std::string failure = run_commands(seed, commands, dirty_max);
  if (!failure.empty())
    RC_FAIL("simulation seed " + std::to_string(seed) + ", dirty_items_max " + std::to_string(dirty_max) + ": " + failure);
}

// A fixed, long sequence with commits every few operations, so every kind of operation is
// exercised across many commits and crashes whatever RapidCheck happens to generate.
TEST(VfsModel, LongDeterministicSequence) {
  Commands commands;
  uint64_t x = 12345;
  for (int i = 0; i < 1500; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const uint32_t k = static_cast<uint32_t>(x >> 59) % (FsOp::kKinds + 1);
    if (k == FsOp::kKinds && (x >> 20) % 4 == 0) {
      commands.push_back(std::make_shared<Crash>());
      continue;
    }
    FsOp op;
    op.kind = static_cast<FsOp::Kind>(k % FsOp::kKinds);
    op.a = static_cast<uint32_t>(x >> 8) % 64;
    op.b = static_cast<uint32_t>(x >> 16) % 64;
    op.c = static_cast<uint32_t>(x >> 24) % 64;
    op.d = static_cast<uint32_t>(x >> 32) % 64;
    op.len = static_cast<uint32_t>(x >> 40) % 20000;
    commands.push_back(std::make_shared<Op>(op));
  }
  EXPECT_EQ(run_commands(7, commands, 30), "");
}

}  // namespace
}  // namespace simfs::fs
