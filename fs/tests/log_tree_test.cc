// The mount's log trees: commits write into the open log tree, which is finalized, merged into
// the fs tree a budgeted step per commit, and freed; a crash mid-merge resumes where the durable
// record says; deletion items hide items already merged until their own merge erases them. fsck
// runs on the durable images throughout.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fs/fsck/fsck.h"
#include "fs/testing/fs_world.h"

namespace simfs::fs {
namespace {

using testing::FsWorld;

void expect_fsck_clean(FsWorld& w) {
  FsckReport r = fsck(durable_reader(w.meta), durable_reader(w.data));
  EXPECT_TRUE(r.clean()) << format_report(r);
}

std::string name(int i) { return "f" + std::to_string(i); }

size_t tree_items(Btree& t) {
  size_t n = 0;
  EXPECT_EQ(t.for_each(Key::min(), Key::max(), [&](const Item&) { return ++n, true; }), sim::kOk);
  return n;
}

TEST(LogTrees, FinalizeMergeAndFreeAsCommitsGoBy) {
  FsWorld w(1);
  w.run([&] {
    MountConfig cfg = FsWorld::test_config();
    cfg.log_finalize_items = 40;
    cfg.merge_blocks_per_commit = 6;
    ASSERT_EQ(w.mkfs_and_mount(cfg), 0);
    for (int i = 0; i < 400; ++i) {
      uint64_t ino = 0;
      ASSERT_EQ(w.vfs->create(kRootIno, name(i), 0644, &ino), 0);
      if (i % 8 == 7) {
        ASSERT_EQ(w.vfs->sync(), 0);
        // At most the open tree and one finalized tree; the open one never far past the limit.
        ASSERT_LE(w.mount->log_trees().size(), 2u);
        ASSERT_LE(w.mount->log_trees().back().v.item_count, cfg.log_finalize_items + 8 * 5u);
      }
      if (i % 50 == 49) expect_fsck_clean(w);
    }
    const MountStats& st = w.mount->stats();
    EXPECT_GE(st.log_finalized, 20u);
    EXPECT_GE(st.log_merged, st.log_finalized - 1);
    EXPECT_GT(st.merged_items, 1000u);
    EXPECT_GT(tree_items(w.mount->fs_tree()), 1000u) << "merged items live in the fs tree";
    // Everything merged: the fs tree alone holds every item, the log trees' blocks are free.
    sim::LockGuard g(w.mount->mutex());
    const uint64_t free_before = w.mount->statfs().meta_blocks_free;
    ASSERT_EQ(w.mount->merge_logs(), 0);
    ASSERT_EQ(w.mount->log_trees().size(), 1u);
    EXPECT_EQ(w.mount->log_trees().back().v.item_count, 0u);
    ASSERT_EQ(w.mount->commit(), 0);  // frees become free a commit later
    EXPECT_GE(w.mount->statfs().meta_blocks_free + 8, free_before);
    expect_fsck_clean(w);
  });
  w.run([&] {
    ASSERT_EQ(w.remount(), 0);
    for (int i = 0; i < 400; ++i) {
      uint64_t ino = 0;
      ASSERT_EQ(w.vfs->lookup(kRootIno, name(i), &ino), 0) << name(i);
    }
  });
}

TEST(LogTrees, CrashMidMergeResumesWhereTheRecordSays) {
  FsWorld w(2);
  Key resume;
  uint64_t nr = 0;
  int created = 0;
  w.run([&] {
    MountConfig cfg = FsWorld::test_config();
    cfg.log_finalize_items = 60;
    cfg.merge_blocks_per_commit = 1;  // a merge takes many commits
    ASSERT_EQ(w.mkfs_and_mount(cfg), 0);
    // Sync until a finalized tree is part way through its merge.
    for (int i = 0; i < 300; ++i) {
      uint64_t ino = 0;
      ASSERT_EQ(w.vfs->create(kRootIno, name(i), 0644, &ino), 0);
      ++created;
      ASSERT_EQ(w.vfs->sync(), 0);
      const auto& logs = w.mount->log_trees();
      if (logs.size() == 2 && logs.front().v.merge_next != Key::min()) break;
    }
    const auto& logs = w.mount->log_trees();
    ASSERT_EQ(logs.size(), 2u);
    resume = logs.front().v.merge_next;
    nr = logs.front().nr;
    // Work after the last commit is lost in the crash.
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs->create(kRootIno, "lost", 0644, &ino), 0);
    w.crash();
  });
  expect_fsck_clean(w);
  w.run([&] {
    MountConfig cfg = FsWorld::test_config();
    cfg.log_finalize_items = 60;
    cfg.merge_blocks_per_commit = 1;
    ASSERT_EQ(w.remount(cfg), 0);
    const auto& logs = w.mount->log_trees();
    ASSERT_EQ(logs.size(), 2u);
    EXPECT_EQ(logs.front().nr, nr);
    EXPECT_TRUE(logs.front().v.finalized);
    EXPECT_EQ(logs.front().v.merge_next, resume);
    uint64_t ino = 0;
    EXPECT_EQ(w.vfs->lookup(kRootIno, "lost", &ino), ENOENT);
    for (int i = 0; i < created; ++i) ASSERT_EQ(w.vfs->lookup(kRootIno, name(i), &ino), 0) << name(i);
    // Idle commits carry the merge on to the end.
    sim::LockGuard g(w.mount->mutex());
    for (int i = 0; i < 200 && w.mount->log_trees().size() > 1; ++i) ASSERT_EQ(w.mount->commit(), 0);
    EXPECT_EQ(w.mount->log_trees().size(), 1u);
    EXPECT_GE(w.mount->stats().log_merged, 1u);
  });
  expect_fsck_clean(w);
  w.run([&] {
    ASSERT_EQ(w.remount(), 0);
    uint64_t ino = 0;
    for (int i = 0; i < created; ++i) ASSERT_EQ(w.vfs->lookup(kRootIno, name(i), &ino), 0) << name(i);
  });
}

TEST(LogTrees, DeletionItemsHideMergedItemsUntilTheirOwnMerge) {
  FsWorld w(3);
  std::vector<uint64_t> inos(40);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    for (int i = 0; i < 40; ++i) ASSERT_EQ(w.vfs->create(kRootIno, name(i), 0644, &inos[static_cast<size_t>(i)]), 0);
    {
      sim::LockGuard g(w.mount->mutex());
      ASSERT_EQ(w.mount->merge_logs(), 0);
    }
    for (int i = 0; i < 40; i += 2) ASSERT_EQ(w.vfs->unlink(kRootIno, name(i)), 0);
    ASSERT_EQ(w.vfs->sync(), 0);
    // The fs tree still holds the unlinked inodes; a log tree's deletion items hide them (the
    // deletions may have finalized the open tree already, but its merge has not started).
    Item it;
    EXPECT_EQ(w.mount->fs_tree().lookup(inode_key(inos[0]), &it), 0);
    bool hidden = false;
    for (const Mount::LogTree& l : w.mount->log_trees()) {
      if (l.tree->lookup(inode_key(inos[0]), &it) == 0) hidden |= it.deletion;
    }
    EXPECT_TRUE(hidden);
    uint64_t ino = 0;
    EXPECT_EQ(w.vfs->lookup(kRootIno, name(0), &ino), ENOENT);
    EXPECT_EQ(w.vfs->lookup(kRootIno, name(1), &ino), 0);
  });
  expect_fsck_clean(w);
  w.run([&] {
    ASSERT_EQ(w.remount(), 0);
    uint64_t ino = 0;
    EXPECT_EQ(w.vfs->lookup(kRootIno, name(0), &ino), ENOENT);
    sim::LockGuard g(w.mount->mutex());
    ASSERT_EQ(w.mount->merge_logs(), 0);
    Item it;
    EXPECT_EQ(w.mount->fs_tree().lookup(inode_key(inos[0]), &it), ENOENT) << "the merge erased it";
    EXPECT_EQ(w.mount->fs_tree().lookup(inode_key(inos[1]), &it), 0);
  });
  expect_fsck_clean(w);
}

// A small fill limit (SuperBlock::btree_fill) makes the fs tree three levels deep from a few
// hundred files; fsck holds the trees to that limit, and a remount keeps it.
TEST(LogTrees, SmallFillLimitMakesDeepTreesThatStayWithinIt) {
  FsWorld w(4);
  w.btree_fill = kBtreeFillMin;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    EXPECT_EQ(w.mount->super().btree_fill, kBtreeFillMin);
    EXPECT_EQ(w.mount->fs_tree().config().entries_bytes_max, kBtreeFillMin);
    for (int i = 0; i < 600; ++i) {
      uint64_t ino = 0;
      ASSERT_EQ(w.vfs->create(kRootIno, name(i), 0644, &ino), 0);
      ASSERT_EQ(w.vfs->setxattr(ino, "user.x", std::string(100, 'x')), 0);
      if (i % 3 == 0) {
        ASSERT_EQ(w.vfs->unlink(kRootIno, name(i / 2)), 0);  // i / 2: each one once
      }
    }
    sim::LockGuard g(w.mount->mutex());
    ASSERT_EQ(w.mount->merge_logs(), 0);
    EXPECT_GE(w.mount->fs_tree().root().height, 3);
  });
  expect_fsck_clean(w);
  w.run([&] {
    ASSERT_EQ(w.remount(), 0);
    EXPECT_EQ(w.mount->fs_tree().config().entries_bytes_max, kBtreeFillMin);
    uint64_t ino = 0;
    EXPECT_EQ(w.vfs->lookup(kRootIno, name(599), &ino), 0);
  });
}

TEST(LogTrees, FillLimitOutOfRangeIsRefused) {
  FsWorld w(5);
  w.run([&] {
    EXPECT_EQ(mkfs(NodeEnv(w.n), *w.mh, *w.dh, 1, kBtreeFillMin - 1), EINVAL);
    EXPECT_EQ(mkfs(NodeEnv(w.n), *w.mh, *w.dh, 1, kBtreeEntriesBytesMax + 1), EINVAL);
    EXPECT_EQ(mkfs(NodeEnv(w.n), *w.mh, *w.dh, 1, kBtreeEntriesBytesMax), 0);
  });
}

}  // namespace
}  // namespace simfs::fs
