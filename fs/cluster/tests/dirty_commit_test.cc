// The commit an operation's dirty items start (dirty_items_max) runs in a task of its own, and
// the VFS says which transaction the operation's changes went into. Found by the swarm scenario
// (dirty_items_max 8, crashes): an operation that committed inline could have its changes
// durable and then die in the commit's GET_LOG_TREES round trip without returning, so the
// oracle, which records operations as they return, lost track of a durable change; and the
// mount's trans_seq() after the call named the next transaction, not the operation's.
#include <gtest/gtest.h>

#include "fs/cluster/tests/cluster_test_util.h"

namespace simfs::fs {
namespace {

using namespace cluster_test;

TEST(DirtyCommit, AnOperationOverTheLimitReturnsBeforeItsCommit) {
  ClusterWorld w(1, 1);
  w.stacks[0]->config().mount.dirty_items_max = 1;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(1), 0);
    Mount& m = w.mount_of(0);
    const uint64_t commits = m.stats().commits;
    const uint64_t trans = m.trans_seq();
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs(0).create(kRootIno, "f", 0644, &ino), 0);  // dirties several items
    EXPECT_EQ(m.stats().commits, commits) << "the operation committed before returning";
    EXPECT_EQ(w.vfs(0).held_trans_seq(), trans);
    // The commit's last step opens the next transaction.
    ASSERT_TRUE(w.wait_until([&] { return m.trans_seq() > trans; }, sim::kSecond));
    EXPECT_GT(m.stats().commits, commits);
    EXPECT_EQ(w.vfs(0).held_trans_seq(), trans) << "still the operation's own transaction";
    // A read holds no transaction.
    Attr a;
    ASSERT_EQ(w.vfs(0).getattr(ino, &a), 0);
    EXPECT_EQ(w.vfs(0).held_trans_seq(), 0u);
    EXPECT_TRUE(w.violations.empty());
  });
}

}  // namespace
}  // namespace simfs::fs
