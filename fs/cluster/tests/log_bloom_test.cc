// The lock bloom of each log tree: a populate reads only the log trees whose bloom names its
// lock, and a tree that deletes the last items of a lock must name it too, or another mount
// keeps seeing what was deleted.
#include <gtest/gtest.h>

#include "fs/cluster/tests/cluster_test_util.h"

namespace simfs::fs {
namespace {

using namespace cluster_test;

TEST(LogBloom, APopulateSkipsTheLogTreesOfOtherLocks) {
  ClusterWorld w(1, 3);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(3), 0);
    // Mounts 1 and 2 each create a file in a lock group of its own and commit.
    uint64_t f1 = 0, f2 = 0;
    skip_to_new_group(w.mount_of(1));
    ASSERT_EQ(w.vfs(1).create(kRootIno, "one", 0644, &f1), 0);
    ASSERT_EQ(w.vfs(1).sync(), 0);
    skip_to_new_group(w.mount_of(2));
    ASSERT_EQ(w.vfs(2).create(kRootIno, "two", 0644, &f2), 0);
    ASSERT_EQ(w.vfs(2).sync(), 0);
    ASSERT_NE(inode_lock_key(f1), inode_lock_key(f2));
    // Mount 0 reads file two's group: mount 1's log tree holds nothing of it.
    const MountStats before = w.mount_of(0).stats();
    Attr a;
    ASSERT_EQ(w.vfs(0).getattr(f2, &a), 0);
    const MountStats after = w.mount_of(0).stats();
    EXPECT_GT(after.log_trees_skipped, before.log_trees_skipped);
    EXPECT_GT(after.log_trees_read, before.log_trees_read);  // mount 2's tree
    ASSERT_EQ(w.vfs(0).getattr(f1, &a), 0);
    EXPECT_TRUE(w.violations.empty());
  });
}

// Mount 1 creates a file; mount 2 unlinks and deletes it in one transaction, so mount 2's log
// tree holds only deletions under the file's lock; mount 0 then reads the inode's item from the
// stable forest, the way a populate of that lock does. Returns how many items it found.
size_t items_after_remote_delete(BugSet bugs) {
  ClusterWorld w(2, 3);
  size_t found = 99;
  w.plant(bugs);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(3), 0);
    uint64_t f = 0;
    skip_to_new_group(w.mount_of(1));
    ASSERT_EQ(w.vfs(1).create(kRootIno, "doomed", 0644, &f), 0);
    ASSERT_EQ(w.vfs(1).sync(), 0);
    const uint64_t deleted = w.vfs(2).orphans_deleted();
    ASSERT_EQ(w.vfs(2).unlink(kRootIno, "doomed"), 0);
    ASSERT_TRUE(w.wait_until([&] { return w.vfs(2).orphans_deleted() > deleted; }, sim::kSecond));
    ASSERT_EQ(w.vfs(2).sync(), 0);
    std::vector<Item> items;
    ASSERT_EQ(w.mount_of(0).read_stable(inode_key(f), inode_key(f), &items), 0);
    found = items.size();
  });
  return found;
}

TEST(LogBloom, AnInodeDeletedOnAnotherMountIsGone) { EXPECT_EQ(items_after_remote_delete({}), 0u); }

TEST(LogBloom, FailsWithBloomSkipsDeletions) {
  // The planted bug leaves the deleting tree out of the read: the inode comes back.
  EXPECT_EQ(items_after_remote_delete(BugSet::of(Bug::kBloomSkipsDeletions)), 1u);
}

}  // namespace
}  // namespace simfs::fs
