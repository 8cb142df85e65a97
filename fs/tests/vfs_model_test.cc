// The VFS against the POSIX reference model (oracle/posix_model.h), with crashes at random
// points between operations: every result must match the model, and after each crash and
// remount the filesystem must equal the model as of the last durable commit. RapidCheck
// generates the operation lists and shrinks a failing one to a minimal sequence.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "fs/tests/fs_world.h"
#include "oracle/fs_checker.h"

namespace simfs::fs {
namespace {

using oracle::FsChecker;
using oracle::FsOp;
using testing::FsWorld;

// An op, or a crash (kind == kKinds).
struct Step {
  FsOp op;
  bool crash = false;
};

rc::Gen<Step> gen_step() {
  return rc::gen::apply(
      [](int kind, uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t len) {
        Step s;
        s.crash = kind == FsOp::kKinds;
        s.op.kind = static_cast<FsOp::Kind>(s.crash ? 0 : kind);
        s.op.a = a, s.op.b = b, s.op.c = c, s.op.d = d, s.op.len = len;
        return s;
      },
      rc::gen::inRange<int>(0, FsOp::kKinds + 1), rc::gen::inRange<uint32_t>(0, 64),
      rc::gen::inRange<uint32_t>(0, 64), rc::gen::inRange<uint32_t>(0, 64), rc::gen::inRange<uint32_t>(0, 64),
      rc::gen::inRange<uint32_t>(0, 20000));
}

std::string describe(const std::vector<Step>& steps, size_t upto) {
  std::string s;
  for (size_t i = 0; i <= upto && i < steps.size(); ++i) s += (steps[i].crash ? "crash" : steps[i].op.describe()) + " ";
  return s;
}

// Runs the steps; returns "" or the first violation.
std::string run_steps(uint64_t seed, const std::vector<Step>& steps, size_t dirty_items_max) {
  FsWorld w(seed);
  std::string failure;
  w.run([&] {
    MountConfig cfg = FsWorld::test_config();
    cfg.dirty_items_max = dirty_items_max;
    if (sim::Errno e = w.mkfs_and_mount(cfg)) {
      failure = "mkfs/mount failed: " + std::string(sim::errno_name(e));
      return;
    }
    FsChecker checker;
    for (size_t i = 0; i < steps.size() && failure.empty(); ++i) {
      if (steps[i].crash) {
        checker.crash_seen(w.mount->stats());
        w.crash();
        if (sim::Errno e = w.remount(cfg)) {
          failure = "remount after crash failed: " + std::string(sim::errno_name(e));
          break;
        }
        failure = checker.check_recovered(*w.vfs);
      } else {
        failure = checker.step(*w.vfs, *w.mount, steps[i].op);
      }
      if (!failure.empty()) failure += "\n  steps: " + describe(steps, i);
    }
    if (failure.empty()) failure = checker.check_live(*w.vfs);
    if (failure.empty()) {
      // Unmount commits everything: a crash right after must lose nothing.
      if (sim::Errno e = w.mount->unmount()) failure = "unmount failed: " + std::string(sim::errno_name(e));
      checker.crash_seen(w.mount->stats());
      w.crash();
      if (failure.empty() && w.remount(cfg)) failure = "remount after unmount failed";
      if (failure.empty()) failure = checker.check_recovered(*w.vfs);
      if (failure.empty()) failure = checker.check_live(*w.vfs);
    }
  });
  return failure;
}

RC_GTEST_PROP(VfsModel, MatchesPosixModelAcrossCrashes, ()) {
  const auto steps = *rc::gen::container<std::vector<Step>>(gen_step());
  const uint64_t seed = *rc::gen::inRange<uint64_t>(1, 1000);
  const size_t dirty_max = *rc::gen::element<size_t>(4, 50, 100000);
  const std::string failure = run_steps(seed, steps, dirty_max);
  RC_ASSERT(failure == "");
}

// A fixed, long sequence with commits every few operations, so every kind of operation is
// exercised across many commits and crashes whatever RapidCheck happens to generate.
TEST(VfsModel, LongDeterministicSequence) {
  std::vector<Step> steps;
  uint64_t x = 12345;
  for (int i = 0; i < 1500; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    Step s;
    const uint32_t k = static_cast<uint32_t>(x >> 59) % (FsOp::kKinds + 1);
    s.crash = k == FsOp::kKinds && (x >> 20) % 4 == 0;
    s.op.kind = static_cast<FsOp::Kind>(k % FsOp::kKinds);
    s.op.a = static_cast<uint32_t>(x >> 8) % 64;
    s.op.b = static_cast<uint32_t>(x >> 16) % 64;
    s.op.c = static_cast<uint32_t>(x >> 24) % 64;
    s.op.d = static_cast<uint32_t>(x >> 32) % 64;
    s.op.len = static_cast<uint32_t>(x >> 40) % 20000;
    steps.push_back(s);
  }
  EXPECT_EQ(run_steps(7, steps, 30), "");
}

}  // namespace
}  // namespace simfs::fs
