// ClusterChecker's durability judgement, shown to fire: a mount's change that another mount
// observed may not vanish with it. The checker learns what became durable from the server; a
// test that withholds that news (a deliberately faulty input) must see fs.durability when the
// writer's mount is reclaimed, and one that passes it on must not.
#include <gtest/gtest.h>

#include "fs/testing/cluster_world.h"
#include "oracle/cluster_checker.h"

namespace oracle {
namespace {

using simfs::fs::testing::ClusterWorld;

FsOp op(FsOp::Kind k) {
  FsOp o;
  o.kind = k;
  o.len = 16;
  return o;
}

// Mount on node 1 creates and writes a file; the mount on node 2 reads it (its lock makes node
// 1 commit first). Node 1 then crashes and the server reclaims it. Returns the checker's
// verdict on that reclaim; `tell_durable` says whether the checker hears of node 1's durable
// transactions.
ClusterVerdict observed_then_lost(bool tell_durable) {
  ClusterWorld w(7, 3);
  ClusterChecker checker;
  ClusterVerdict verdict, step;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(3), 0);
    const uint64_t writer = w.rid_of(1), reader = w.rid_of(2);
    checker.mounted(writer);
    checker.mounted(reader);
    for (FsOp::Kind k : {FsOp::kCreate, FsOp::kWrite}) {
      step = checker.run(writer, w.vfs(1), w.mount_of(1), op(k));
      ASSERT_TRUE(step.invariant.empty()) << step.message;
    }
    step = checker.run(reader, w.vfs(2), w.mount_of(2), op(FsOp::kRead));
    ASSERT_TRUE(step.invariant.empty()) << step.message;
    ASSERT_FALSE(w.durable.empty()) << "the read should have made the writer commit";
    if (tell_durable) {
      for (const auto& [rid, seq] : w.durable) checker.transaction_durable(rid, seq);
    }
    w.crash(1);
    for (int i = 0; i < 400 && w.gone.empty(); ++i) w.sleep(10 * sim::kMillisecond);
    ASSERT_EQ(w.gone.size(), 1u);
    ASSERT_EQ(w.gone[0], writer);
    verdict = checker.mount_gone(writer);
    // And the survivor's view still matches the model only when nothing was lost.
    if (verdict.invariant.empty()) {
      ClusterVerdict view = checker.check_view(reader, w.vfs(2));
      EXPECT_TRUE(view.invariant.empty()) << view.message;
    }
  });
  return verdict;
}

TEST(ClusterChecker, ObservedChangeOfALostMountIsADurabilityViolation) {
  ClusterVerdict v = observed_then_lost(/*tell_durable=*/false);
  EXPECT_EQ(v.invariant, "fs.durability") << v.message;
}

TEST(ClusterChecker, DurableChangeOfALostMountStays) {
  ClusterVerdict v = observed_then_lost(/*tell_durable=*/true);
  EXPECT_TRUE(v.invariant.empty()) << v.invariant << ": " << v.message;
}

// Mount on node 1 creates and writes a file and unmounts; the checker hears of the farewell
// (as the server reports it) but none of the durability news (withheld: a faulty input). A
// farewell comes only after the mount's last commit is durable, so the checker keeps the
// writes, and mount 2's whole view must show them. With `bug` planted (the unmount skips its
// commit) the writes are really gone, and the view says so.
ClusterVerdict view_after_farewell(const std::string& bug) {
  ClusterWorld w(11, 3);
  if (!bug.empty()) w.plant(simfs::fs::BugSet::from_name(bug));
  ClusterChecker checker;
  ClusterVerdict verdict;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(3), 0);
    const uint64_t writer = w.rid_of(1), reader = w.rid_of(2);
    checker.mounted(writer);
    checker.mounted(reader);
    for (FsOp::Kind k : {FsOp::kCreate, FsOp::kWrite}) {
      ClusterVerdict step = checker.run(writer, w.vfs(1), w.mount_of(1), op(k));
      ASSERT_TRUE(step.invariant.empty()) << step.message;
    }
    ASSERT_EQ(w.mount_of(1).unmount(), 0);
    ASSERT_EQ(w.gone.size(), 1u);
    checker.farewell(writer);
    ClusterVerdict gone = checker.mount_gone(writer);
    ASSERT_TRUE(gone.invariant.empty()) << gone.message;
    verdict = checker.check_view(reader, w.vfs(2));
  });
  return verdict;
}

TEST(ClusterChecker, AMountThatLeftByItsFarewellLosesNothing) {
  ClusterVerdict v = view_after_farewell("");
  EXPECT_TRUE(v.invariant.empty()) << v.invariant << ": " << v.message;
}

TEST(ClusterChecker, AnUnmountThatSkippedItsLastCommitShowsInTheNextView) {
  ClusterVerdict v = view_after_farewell("unmount_skips_commit");
  EXPECT_EQ(v.invariant, "fs.state") << v.message;
}

}  // namespace
}  // namespace oracle
