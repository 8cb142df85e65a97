// Log trees across the client-server seam: a mount's commits go into its open log tree; the
// server finalizes the open trees together, merges them into the fs tree a budgeted step per
// server commit, and frees them; a crash mid-merge resumes where the durable merge status says;
// deletion items hide merged items until their own merge erases them. fsck runs on the durable
// images throughout.
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

std::vector<Server::LogRecord> records(FsWorld& w) {
  std::vector<Server::LogRecord> out;
  EXPECT_EQ(w.server->log_records(&out), 0);
  return out;
}

uint64_t logged_items(FsWorld& w) {
  uint64_t n = 0;
  for (const Server::LogRecord& r : records(w)) n += r.v.item_count;
  return n;
}

TEST(LogTrees, FinalizeMergeAndFreeAsCommitsGoBy) {
  FsWorld w(1);
  w.server_cfg.log_finalize_items = 40;
  w.server_cfg.merge_blocks_per_commit = 6;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    for (int i = 0; i < 400; ++i) {
      uint64_t ino = 0;
      ASSERT_EQ(w.vfs->create(kRootIno, name(i), 0644, &ino), 0);
      if (i % 8 == 7) {
        ASSERT_EQ(w.vfs->sync(), 0);
        w.s.sched().sleep(5 * sim::kMillisecond);  // the server's merge ticks meanwhile
      }
      if (i % 50 == 49) expect_fsck_clean(w);
    }
    const ServerStats& st = w.server->stats();
    EXPECT_GE(st.finalized, 5u);
    EXPECT_GE(st.merges, 3u);
    EXPECT_GT(st.merged_items, 500u);
    EXPECT_GT(tree_items(w.server->fs_tree()), 500u) << "merged items live in the fs tree";
    // Everything merged: the fs tree alone holds every item, and no log tree is left with items.
    ASSERT_EQ(w.merge_logs(), 0);
    EXPECT_EQ(logged_items(w), 0u);
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

TEST(LogTrees, CrashMidMergeResumesWhereTheStatusSays) {
  FsWorld w(2);
  w.server_cfg.log_finalize_items = 60;
  w.server_cfg.merge_blocks_per_commit = 1;  // a merge takes many server commits
  Key resume;
  int created = 0;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    // Create and sync until a merge is part way through; then wait for its next step to be
    // durable.
    for (int i = 0; i < 400; ++i) {
      uint64_t ino = 0;
      ASSERT_EQ(w.vfs->create(kRootIno, name(i), 0644, &ino), 0);
      ++created;
      ASSERT_EQ(w.vfs->sync(), 0);
      const auto& st = w.server->merge_status();
      if (st && st->next != Key::min()) break;
    }
    ASSERT_TRUE(w.server->merge_running());
    const uint64_t seq = w.server->stable_super().seq;
    while (w.server->stable_super().seq == seq) w.s.sched().sleep(sim::kMillisecond);
    // Work after the last commit is lost in the crash.
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs->create(kRootIno, "lost", 0644, &ino), 0);
    // What the durable status says is where the next server resumes.
    w.server->stop();
    resume = w.server->merge_status()->next;
  });
  expect_fsck_clean(w);
  w.run([&] {
    ASSERT_EQ(w.remount(), 0);
    ASSERT_TRUE(w.server->merge_running());
    EXPECT_EQ(w.server->merge_status()->next, resume);
    uint64_t ino = 0;
    EXPECT_EQ(w.vfs->lookup(kRootIno, "lost", &ino), ENOENT);
    for (int i = 0; i < created; ++i) ASSERT_EQ(w.vfs->lookup(kRootIno, name(i), &ino), 0) << name(i);
    // The server carries the merge on to the end by itself.
    for (int i = 0; i < 2000 && w.server->merge_running(); ++i) w.s.sched().sleep(10 * sim::kMillisecond);
    EXPECT_FALSE(w.server->merge_running());
    EXPECT_GE(w.server->stats().merges, 1u);
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
  w.server_cfg.log_finalize_items = 1 << 20;  // merges only when asked
  std::vector<uint64_t> inos(40);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    for (int i = 0; i < 40; ++i) ASSERT_EQ(w.vfs->create(kRootIno, name(i), 0644, &inos[static_cast<size_t>(i)]), 0);
    ASSERT_EQ(w.merge_logs(), 0);
    for (int i = 0; i < 40; i += 2) ASSERT_EQ(w.vfs->unlink(kRootIno, name(i)), 0);
    w.drain_orphans();
    ASSERT_EQ(w.vfs->sync(), 0);
    // The fs tree still holds the deleted inodes; the log tree's deletion items hide them.
    Item it;
    EXPECT_EQ(w.server->fs_tree().lookup(inode_key(inos[0]), &it), 0);
    bool hidden = false;
    for (const Server::LogRecord& r : records(w)) {
      Btree t(w.mount->cache(), BtreeAllocator{[] { return uint64_t{0}; }, [](uint64_t) {}, [] { return uint64_t{0}; }},
              r.v.root);
      if (r.v.root.height && t.lookup(inode_key(inos[0]), &it) == 0) hidden |= it.deletion;
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
    ASSERT_EQ(w.merge_logs(), 0);
    Item it;
    EXPECT_EQ(w.server->fs_tree().lookup(inode_key(inos[0]), &it), ENOENT) << "the merge erased it";
    EXPECT_EQ(w.server->fs_tree().lookup(inode_key(inos[1]), &it), 0);
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
    EXPECT_EQ(w.server->stable_super().btree_fill, kBtreeFillMin);
    EXPECT_EQ(w.server->fs_tree().config().entries_bytes_max, kBtreeFillMin);
    for (int i = 0; i < 600; ++i) {
      uint64_t ino = 0;
      ASSERT_EQ(w.vfs->create(kRootIno, name(i), 0644, &ino), 0);
      ASSERT_EQ(w.vfs->setxattr(ino, "user.x", std::string(100, 'x')), 0);
      if (i % 3 == 0) {
        ASSERT_EQ(w.vfs->unlink(kRootIno, name(i / 2)), 0);  // i / 2: each one once
      }
    }
    w.drain_orphans();
    ASSERT_EQ(w.merge_logs(), 0);
    EXPECT_GE(w.server->fs_tree().root().height, 3);
  });
  expect_fsck_clean(w);
  w.run([&] {
    ASSERT_EQ(w.remount(), 0);
    EXPECT_EQ(w.server->fs_tree().config().entries_bytes_max, kBtreeFillMin);
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
