// Crash-point sweep (SQLite style): run one fixed workload, and for each k crash the node while
// its k-th device write (metadata or data) is in flight — the write itself may land, be lost or
// be torn. Then fsck the durable images, restart, remount and check that the filesystem is
// exactly the last durable commit or the commit in flight, readable through the whole namespace. Every k is tried until
// the workload finishes without reaching k writes.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fs/cluster/node_stack.h"
#include "fs/fsck/fsck.h"
#include "fs/server/mkfs.h"
#include "fs/vfs/vfs.h"
#include "oracle/fs_checker.h"
#include "sim/block_device.h"
#include "sim/network.h"
#include "sim/simulation.h"
#include "sim/tests/test_util.h"

namespace simfs::fs {
namespace {

using oracle::FsChecker;
using oracle::FsOp;

std::vector<FsOp> workload() {
  // Every kind of operation, with a sync every eleven, from a fixed generator.
  std::vector<FsOp> ops;
  uint64_t x = 99;
  for (int i = 0; i < 240; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    FsOp op;
    op.kind = static_cast<FsOp::Kind>((x >> 59) % FsOp::kKinds);
    if (i % 11 == 10) op.kind = FsOp::kSync;
    if (i < 6 || i % 7 == 3) op.kind = i % 2 ? FsOp::kMkdir : FsOp::kCreate;
    if (i % 5 == 2) op.kind = FsOp::kWrite;
    op.a = static_cast<uint32_t>(x >> 8) % 64;
    op.b = static_cast<uint32_t>(x >> 16) % 64;
    op.c = static_cast<uint32_t>(x >> 24) % 64;
    op.d = static_cast<uint32_t>(x >> 32) % 64;
    op.len = static_cast<uint32_t>(x >> 40) % 9000;
    ops.push_back(op);
  }
  return ops;
}

sim::BlockDeviceConfig dev(uint64_t blocks) {
  sim::BlockDeviceConfig c;
  c.block_size = kBlockSize;
  c.block_count = blocks;
  return c;
}

struct Outcome {
  bool crashed = false;  // the k-th write happened (so there is a higher k to try)
  bool mid_merge = false;  // a finalized log tree was waiting for (the rest of) its merge
  std::string failure;
};

Outcome crash_at_write(uint64_t k, const std::vector<FsOp>& ops, size_t dirty_items_max) {
  sim::Simulation s(k);
  sim::Node& n = s.add_node("n");
  sim::BlockDevice meta(s, 0, "meta", dev(2048)), data(s, 1, "data", dev(2048));
  sim::Network net(s);
  // The server and the mount on one node; the crash takes both.
  NodeStackConfig nc;
  nc.fsid = 0xfeed;
  nc.server_address = sim::Address{0, kServerPort};
  nc.mount.timer = false;
  nc.mount.dirty_items_max = dirty_items_max;
  // Log trees finalize and merge every few commits, so crash points also land mid-merge.
  nc.server.log_finalize_items = 32;
  nc.server.merge_blocks_per_commit = 4;
  nc.server.merge_poll = 5 * sim::kMillisecond;
  NodeStack stack(n, net, meta, data, nc);
  sim::testing::ShutdownGuard guard{s};
  FsChecker checker;
  Outcome out;
  uint64_t writes = 0;
  bool done = false;
  auto observe = [&](uint64_t) {
    if (++writes == k) {
      out.crashed = true;
      out.mid_merge = stack.server() && stack.server()->merge_running();
      n.crash();
    }
  };
  n.set_boot([&](sim::Node& node) {
    stack.attach();
    if (sim::Errno e = mkfs(NodeEnv(node), stack.meta_handle(), stack.data_handle(), 0xfeed)) {
      out.failure = "mkfs failed: " + std::string(sim::errno_name(e));
      return;
    }
    if (sim::Errno e = stack.start_server(); e || (e = stack.mount(1))) {
      out.failure = "mount failed: " + std::string(sim::errno_name(e));
      return;
    }
    meta.set_write_observer(observe);
    data.set_write_observer(observe);
    for (const FsOp& op : ops) {
      out.failure = checker.step(stack.vfs(), stack.mount(), op);
      if (!out.failure.empty()) return;
    }
    if (sim::Errno e = stack.mount().unmount()) out.failure = "unmount failed: " + std::string(sim::errno_name(e));
    done = true;
    node.crash();  // the server's workers end with the node
  });
  n.start();
  auto r = s.run(sim::kTimeNever);
  if (r.outcome != sim::Simulation::Outcome::kQuiescent) out.failure += " run: " + r.message;
  if (done) out.crashed = false;  // it crashed on purpose at the end, not at write k
  if (!out.failure.empty() || !out.crashed) return out;

  // Recovery, on the restarted node, with the dead mount's view of what was durable.
  meta.set_write_observer(nullptr);
  data.set_write_observer(nullptr);
  checker.crash_seen(stack.mount().stats());
  stack.forget();
  {
    FsckReport r = fsck(durable_reader(meta), durable_reader(data));
    if (!r.clean()) {
      out.failure = "fsck after the crash: " + format_report(r);
      return out;
    }
  }
  n.set_boot([&](sim::Node& node) {
    stack.attach();
    if (sim::Errno e = stack.start_server(); e || (e = stack.mount(2))) {
      out.failure = "remount failed: " + std::string(sim::errno_name(e));
      return;
    }
    out.failure = checker.check_recovered(stack.vfs());
    // The recovered filesystem must also work: write, commit, and read it back.
    for (size_t i = 0; i < 12 && out.failure.empty(); ++i) out.failure = checker.step(stack.vfs(), stack.mount(), ops[i]);
    if (out.failure.empty()) out.failure = checker.check_live(stack.vfs());
    stack.mount().unmount();
    node.crash();
  });
  n.restart();
  r = s.run(sim::kTimeNever);
  if (r.outcome != sim::Simulation::Outcome::kQuiescent) out.failure += " recovery run: " + r.message;
  stack.forget();
  return out;
}

// The sanitizer build (Debug, about 25 times slower) crashes at every third write only, so the
// suite stays inside its time limit there; the normal build tries every write.
#ifdef SIMFS_SANITIZE_BUILD
constexpr uint64_t kStride = 3;
#else
constexpr uint64_t kStride = 1;
#endif

// Every crash point (every kStride-th) must recover; returns how many there were, and how many
// were mid-merge.
uint64_t sweep(const std::vector<FsOp>& ops, size_t dirty_items_max, uint64_t* mid_merge) {
  uint64_t tried = 0;
  *mid_merge = 0;
  for (uint64_t k = 1; k < 5000; k += kStride) {
    Outcome o = crash_at_write(k, ops, dirty_items_max);
    EXPECT_EQ(o.failure, "") << "crash at write " << k;
    if (!o.failure.empty() || !o.crashed) break;
    ++tried;
    *mid_merge += o.mid_merge;
  }
  return tried;
}

// One huge transaction (seed 004: any transaction size must recover): ~150 operations and
// no commit until the unmount, so the sweep crashes inside one large commit at every write.
TEST(CrashSweep, EveryWriteOfOneLargeTransaction) {
  std::vector<FsOp> ops;
  for (uint32_t i = 0; i < 150; ++i) {
    FsOp op;
    op.kind = i % 3 == 0 ? FsOp::kMkdir : i % 3 == 1 ? FsOp::kCreate : FsOp::kWrite;
    op.a = i, op.b = i / 3, op.c = i % 7, op.d = i, op.len = 3000 + i * 50;
    ops.push_back(op);
  }
  uint64_t mid_merge = 0;
  const uint64_t points = sweep(ops, 1000000, &mid_merge);
  EXPECT_GT(points, 100u / kStride);
  std::printf("crash points swept in one transaction: %llu\n", static_cast<unsigned long long>(points));
}

TEST(CrashSweep, EveryWriteOfAFixedWorkload) {
  const std::vector<FsOp> ops = workload();
  uint64_t mid_merge = 0;
  // Commits in the middle of operations too.
  const uint64_t points = sweep(ops, 12, &mid_merge);
  // The workload must be big enough for the sweep to mean something, and reach the log merge.
  EXPECT_GT(points, 100u / kStride);
  EXPECT_GT(mid_merge, 20u / kStride);
  RecordProperty("crash_points", static_cast<int>(points));
  std::printf("crash points swept: %llu (%llu with a log merge under way)\n", static_cast<unsigned long long>(points),
              static_cast<unsigned long long>(mid_merge));
}

}  // namespace
}  // namespace simfs::fs
