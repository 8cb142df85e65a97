// A mount reopens an unlinked inode it has open while another mount waits to delete it. The
// delete takes the inode's open lock for writing, so the server invalidates this mount's READ,
// and the invalidation waits for this mount's last close. A second open here must not wait on
// that invalidation: the task that would make the last close may be the one opening (the
// liveness failure cluster_smoke found, seed 0x4615e70816e98019). Once every open is closed,
// the delete goes ahead and the inode is gone for everyone.
#include <gtest/gtest.h>

#include <vector>

#include "fs/cluster/tests/cluster_test_util.h"

namespace simfs::fs {
namespace {

using cluster_test::NodeOp;
using cluster_test::run_on;
using testing::ClusterWorld;

TEST(OpenWhileDeleting, ReopenOfAnUnlinkedOpenInodeDoesNotWaitForTheDelete) {
  ClusterWorld w(3, 3);
  NodeOp reopen;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({1, 2}), 0);
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs(1).create(kRootIno, "f", 0644, &ino), 0);
    ASSERT_EQ(w.vfs(1).open(ino), 0);
    // Mount 2 unlinks it: its orphan worker wants the open lock WRITE, so mount 1's READ is
    // being invalidated, and waits for mount 1's close.
    ASSERT_EQ(w.vfs(2).unlink(kRootIno, "f"), 0);
    ASSERT_TRUE(w.wait_until([&] { return cluster_test::invalidating(w.mount_of(1)); }, 5 * sim::kSecond));
    // Mount 1 opens it again, in a task of its node: this must return while the delete waits.
    run_on(w, 1, "reopen", [&] { return w.vfs(1).open(ino); }, &reopen);
    EXPECT_TRUE(w.wait_until([&] { return reopen.done; }, 5 * sim::kSecond)) << "the reopen waits on the delete";
    EXPECT_EQ(reopen.rc, 0);
    // Both closes: then the delete goes ahead, and mount 1 cannot open it any more.
    ASSERT_EQ(w.vfs(1).close(ino), 0);
    ASSERT_EQ(w.vfs(1).close(ino), 0);
    EXPECT_TRUE(w.wait_until([&] { return !cluster_test::invalidating(w.mount_of(1)); }, 5 * sim::kSecond));
    EXPECT_EQ(w.vfs(1).open(ino), ENOENT);
    EXPECT_TRUE(w.violations.empty());
  });
}

}  // namespace
}  // namespace simfs::fs
