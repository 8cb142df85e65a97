// Vfs: POSIX semantics of each operation, one behaviour per test, on a freshly made filesystem.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fs/testing/fs_world.h"

namespace simfs::fs {
namespace {

using testing::FsWorld;

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string str(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }

TEST(Vfs, CreateLookupGetattr) {
  FsWorld w(1);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    Vfs& v = *w.vfs;
    uint64_t ino = 0, found = 0;
    ASSERT_EQ(v.create(kRootIno, "a", 0644, &ino), 0);
    EXPECT_GE(ino, kFirstIno);
    EXPECT_EQ(v.lookup(kRootIno, "a", &found), 0);
    EXPECT_EQ(found, ino);
    Attr a;
    ASSERT_EQ(v.getattr(ino, &a), 0);
    EXPECT_EQ(a.mode, kModeReg | 0644);
    EXPECT_EQ(a.nlink, 1u);
    EXPECT_EQ(v.create(kRootIno, "a", 0644, &found), EEXIST);
    EXPECT_EQ(v.lookup(kRootIno, "b", &found), ENOENT);
    EXPECT_EQ(v.lookup(ino, "x", &found), ENOTDIR);
    EXPECT_EQ(v.create(kRootIno, std::string(256, 'n'), 0644, &found), ENAMETOOLONG);
    EXPECT_EQ(v.create(kRootIno, "a/b", 0644, &found), EINVAL);
  });
}

TEST(Vfs, CommittedStateSurvivesRemountAndUncommittedIsLostInCrash) {
  FsWorld w(2);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    uint64_t a = 0, b = 0, found = 0;
    ASSERT_EQ(w.vfs->create(kRootIno, "kept", 0644, &a), 0);
    ASSERT_EQ(w.vfs->write(a, 0, bytes("hello")), 0);
    ASSERT_EQ(w.vfs->fsync(a), 0);
    ASSERT_EQ(w.vfs->create(kRootIno, "lost", 0644, &b), 0);
    w.crash();
    ASSERT_EQ(w.remount(), 0);
    EXPECT_EQ(w.vfs->lookup(kRootIno, "kept", &found), 0);
    EXPECT_EQ(w.vfs->lookup(kRootIno, "lost", &found), ENOENT);
    std::vector<uint8_t> out;
    ASSERT_EQ(w.vfs->read(a, 0, 100, &out), 0);
    EXPECT_EQ(str(out), "hello");
    // Inode numbers are not reused even though "lost" never became durable... within a mount.
    uint64_t c = 0;
    ASSERT_EQ(w.vfs->create(kRootIno, "c", 0644, &c), 0);
    EXPECT_GT(c, a);
  });
}

TEST(Vfs, WriteReadOverwriteSparseAndTruncate) {
  FsWorld w(3);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    Vfs& v = *w.vfs;
    uint64_t f = 0;
    ASSERT_EQ(v.create(kRootIno, "f", 0644, &f), 0);
    std::vector<uint8_t> big(3 * kDataBlockSize + 100);
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
    ASSERT_EQ(v.write(f, 10, big), 0);
    ASSERT_EQ(v.sync(), 0);
    ASSERT_EQ(v.write(f, 20, bytes("XYZ")), 0);  // overwrite after commit: copy on write
    std::vector<uint8_t> out;
    ASSERT_EQ(v.read(f, 0, 100000, &out), 0);
    ASSERT_EQ(out.size(), 10 + big.size());
    for (size_t i = 0; i < 10; ++i) EXPECT_EQ(out[i], 0);
    EXPECT_EQ(out[20], 'X');
    EXPECT_EQ(out[30], big[20]);
    // Sparse extension far away.
    ASSERT_EQ(v.write(f, 1000000, bytes("end")), 0);
    Attr a;
    ASSERT_EQ(v.getattr(f, &a), 0);
    EXPECT_EQ(a.size, 1000003u);
    ASSERT_EQ(v.read(f, 500000, 10, &out), 0);
    EXPECT_EQ(out, std::vector<uint8_t>(10, 0));
    // Truncate into the middle of a block, then extend: the tail reads as zeros.
    ASSERT_EQ(v.truncate(f, 15), 0);
    ASSERT_EQ(v.truncate(f, 5000), 0);
    ASSERT_EQ(v.read(f, 0, 5000, &out), 0);
    ASSERT_EQ(out.size(), 5000u);
    EXPECT_EQ(out[14], big[4]);
    for (size_t i = 15; i < out.size(); ++i) ASSERT_EQ(out[i], 0) << i;
    uint64_t d = 0;
    ASSERT_EQ(v.mkdir(kRootIno, "d", 0755, &d), 0);
    EXPECT_EQ(v.write(d, 0, bytes("x")), EISDIR);
    EXPECT_EQ(v.read(d, 0, 1, &out), EISDIR);
  });
}

TEST(Vfs, DirectoriesReaddirAndRmdir) {
  FsWorld w(4);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    Vfs& v = *w.vfs;
    uint64_t d = 0, x = 0, y = 0;
    ASSERT_EQ(v.mkdir(kRootIno, "d", 0755, &d), 0);
    ASSERT_EQ(v.create(d, "x", 0644, &x), 0);
    ASSERT_EQ(v.create(d, "y", 0644, &y), 0);
    std::vector<DirEntry> ents;
    ASSERT_EQ(v.readdir(d, 0, 100, &ents), 0);
    ASSERT_EQ(ents.size(), 2u);
    EXPECT_EQ(ents[0].name, "x");
    EXPECT_EQ(ents[1].name, "y");
    // Stable positions: removing x does not move y.
    ASSERT_EQ(v.unlink(d, "x"), 0);
    ASSERT_EQ(v.readdir(d, ents[1].pos, 100, &ents), 0);
    ASSERT_EQ(ents.size(), 1u);
    EXPECT_EQ(ents[0].name, "y");
    EXPECT_EQ(v.rmdir(kRootIno, "d"), ENOTEMPTY);
    EXPECT_EQ(v.unlink(kRootIno, "d"), EISDIR);
    EXPECT_EQ(v.rmdir(d, "y"), ENOTDIR);
    Attr a;
    ASSERT_EQ(v.getattr(kRootIno, &a), 0);
    EXPECT_EQ(a.nlink, 3u);
    ASSERT_EQ(v.unlink(d, "y"), 0);
    ASSERT_EQ(v.rmdir(kRootIno, "d"), 0);
    ASSERT_EQ(v.getattr(kRootIno, &a), 0);
    EXPECT_EQ(a.nlink, 2u);
    w.drain_orphans();  // deleted once no mount has it open: here, at once
    EXPECT_EQ(v.getattr(d, &a), ENOENT);
  });
}

TEST(Vfs, RenameCases) {
  FsWorld w(5);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    Vfs& v = *w.vfs;
    uint64_t a = 0, b = 0, d = 0, e = 0, sub = 0, found = 0;
    ASSERT_EQ(v.create(kRootIno, "a", 0644, &a), 0);
    ASSERT_EQ(v.create(kRootIno, "b", 0644, &b), 0);
    ASSERT_EQ(v.mkdir(kRootIno, "d", 0755, &d), 0);
    ASSERT_EQ(v.mkdir(kRootIno, "e", 0755, &e), 0);
    ASSERT_EQ(v.mkdir(d, "sub", 0755, &sub), 0);
    EXPECT_EQ(v.rename(kRootIno, "a", kRootIno, "b", kRenameNoReplace), EEXIST);
    ASSERT_EQ(v.rename(kRootIno, "a", kRootIno, "b"), 0);  // replaces b
    EXPECT_EQ(v.lookup(kRootIno, "b", &found), 0);
    EXPECT_EQ(found, a);
    Attr at;
    w.drain_orphans();
    EXPECT_EQ(v.getattr(b, &at), ENOENT);  // the replaced inode is gone
    EXPECT_EQ(v.rename(kRootIno, "d", sub, "x"), EINVAL);  // into its own subtree
    EXPECT_EQ(v.rename(kRootIno, "d", kRootIno, "b"), ENOTDIR);
    EXPECT_EQ(v.rename(kRootIno, "b", kRootIno, "e"), EISDIR);
    EXPECT_EQ(v.rename(kRootIno, "e", kRootIno, "d"), ENOTEMPTY);
    ASSERT_EQ(v.rename(kRootIno, "e", d, "e2"), 0);
    ASSERT_EQ(v.getattr(d, &at), 0);
    EXPECT_EQ(at.nlink, 4u);  // ., sub, e2
    ASSERT_EQ(v.getattr(kRootIno, &at), 0);
    EXPECT_EQ(at.nlink, 3u);  // ., d
    EXPECT_EQ(v.rename(kRootIno, "missing", kRootIno, "z"), ENOENT);
  });
}

TEST(Vfs, LinksSymlinksAndXattrs) {
  FsWorld w(6);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    Vfs& v = *w.vfs;
    uint64_t f = 0, d = 0, s = 0;
    ASSERT_EQ(v.create(kRootIno, "f", 0644, &f), 0);
    ASSERT_EQ(v.mkdir(kRootIno, "d", 0755, &d), 0);
    ASSERT_EQ(v.link(f, d, "g"), 0);
    EXPECT_EQ(v.link(d, kRootIno, "dd"), EPERM);
    Attr a;
    ASSERT_EQ(v.getattr(f, &a), 0);
    EXPECT_EQ(a.nlink, 2u);
    ASSERT_EQ(v.unlink(kRootIno, "f"), 0);
    ASSERT_EQ(v.getattr(f, &a), 0);
    EXPECT_EQ(a.nlink, 1u);
    ASSERT_EQ(v.symlink(kRootIno, "s", "d/g", &s), 0);
    std::string target;
    ASSERT_EQ(v.readlink(s, &target), 0);
    EXPECT_EQ(target, "d/g");
    EXPECT_EQ(v.readlink(f, &target), EINVAL);
    ASSERT_EQ(v.setxattr(f, "user.a", "1"), 0);
    ASSERT_EQ(v.setxattr(f, "user.b", "2"), 0);
    EXPECT_EQ(v.setxattr(f, "user.a", "x", kXattrCreate), EEXIST);
    EXPECT_EQ(v.setxattr(f, "user.c", "x", kXattrReplace), ENODATA);
    std::string val;
    ASSERT_EQ(v.getxattr(f, "user.a", &val), 0);
    EXPECT_EQ(val, "1");
    std::vector<std::string> names;
    ASSERT_EQ(v.listxattr(f, &names), 0);
    EXPECT_EQ(names, (std::vector<std::string>{"user.a", "user.b"}));
    ASSERT_EQ(v.removexattr(f, "user.a"), 0);
    EXPECT_EQ(v.getxattr(f, "user.a", &val), ENODATA);
  });
}

TEST(Vfs, OpenUnlinkedFileIsAnOrphanUntilCloseOrRemount) {
  FsWorld w(7);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    Vfs& v = *w.vfs;
    uint64_t f = 0, g = 0;
    ASSERT_EQ(v.create(kRootIno, "f", 0644, &f), 0);
    ASSERT_EQ(v.write(f, 0, bytes("data")), 0);
    ASSERT_EQ(v.open(f), 0);
    ASSERT_EQ(v.unlink(kRootIno, "f"), 0);
    std::vector<uint8_t> out;
    ASSERT_EQ(v.read(f, 0, 10, &out), 0);
    EXPECT_EQ(str(out), "data");
    Attr a;
    w.drain_orphans();
    EXPECT_EQ(v.getattr(f, &a), 0) << "still open: not deleted";
    ASSERT_EQ(v.close(f), 0);
    w.drain_orphans();
    EXPECT_EQ(v.getattr(f, &a), ENOENT);
    // Again, but crash while it is open: the next mount deletes it.
    ASSERT_EQ(v.create(kRootIno, "g", 0644, &g), 0);
    ASSERT_EQ(v.write(g, 0, std::vector<uint8_t>(3 * kDataBlockSize, 1)), 0);
    ASSERT_EQ(v.open(g), 0);
    ASSERT_EQ(v.unlink(kRootIno, "g"), 0);
    ASSERT_EQ(v.sync(), 0);
    const uint64_t free_before = v.statfs().data_blocks_free;
    w.crash();
    ASSERT_EQ(w.remount(), 0);
    w.drain_orphans();
    EXPECT_EQ(w.vfs->getattr(g, &a), ENOENT);
    ASSERT_EQ(w.vfs->sync(), 0);
    EXPECT_EQ(w.vfs->statfs().data_blocks_free, free_before + 3);
  });
}

TEST(Vfs, FullDataDeviceGivesEnospcAndDeletesGiveSpaceBack) {
  FsWorld w(8, 4096, 64);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    Vfs& v = *w.vfs;
    uint64_t f = 0, g = 0;
    ASSERT_EQ(v.create(kRootIno, "f", 0644, &f), 0);
    ASSERT_EQ(v.write(f, 0, std::vector<uint8_t>(60 * kDataBlockSize, 2)), 0);
    ASSERT_EQ(v.create(kRootIno, "g", 0644, &g), 0);
    EXPECT_EQ(v.write(g, 0, std::vector<uint8_t>(10 * kDataBlockSize, 3)), ENOSPC);
    ASSERT_EQ(v.unlink(kRootIno, "f"), 0);
    EXPECT_EQ(v.write(g, 0, std::vector<uint8_t>(10 * kDataBlockSize, 3)), 0);
  });
}

TEST(Vfs, ManyFilesForceSplitsAndCommitsAndSurviveRemount) {
  FsWorld w(9);
  w.run([&] {
    MountConfig cfg = FsWorld::test_config();
    cfg.dirty_items_max = 200;
    ASSERT_EQ(w.mkfs_and_mount(cfg), 0);
    uint64_t d = 0, ino = 0;
    ASSERT_EQ(w.vfs->mkdir(kRootIno, "d", 0755, &d), 0);
    for (int i = 0; i < 600; ++i) ASSERT_EQ(w.vfs->create(d, "file" + std::to_string(i), 0644, &ino), 0) << i;
    for (int i = 0; i < 600; i += 3) ASSERT_EQ(w.vfs->unlink(d, "file" + std::to_string(i)), 0) << i;
    EXPECT_GT(w.mount->stats().commits, 3u);
    ASSERT_EQ(w.vfs->sync(), 0);
    ASSERT_EQ(w.mount->unmount(), 0);
    ASSERT_EQ(w.remount(cfg), 0);
    std::vector<DirEntry> ents;
    ASSERT_EQ(w.vfs->readdir(d, 0, 10000, &ents), 0);
    EXPECT_EQ(ents.size(), 400u);
  });
}

TEST(Vfs, FullMetadataDeviceGivesEnospcAndDeletesGiveSpaceBack) {
  // A metadata device just big enough for mkfs: files with xattrs fill it.
  FsWorld w(10, 1100, 4096);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    Vfs& v = *w.vfs;
    uint64_t ino = 0;
    int made = 0;
    sim::Errno e = 0;
    for (; made < 100000; ++made) {
      e = v.create(kRootIno, "f" + std::to_string(made), 0644, &ino);
      if (!e) e = v.setxattr(ino, "user.pad", std::string(200, 'x'));
      if (e) break;
    }
    ASSERT_EQ(e, ENOSPC) << "after " << made << " files";
    EXPECT_GT(made, 100);
    EXPECT_EQ(w.mount->failed(), 0) << "running out of space must not stop the mount";
    // Deletes still work, and give the space back.
    for (int i = 0; i < made / 2; ++i) ASSERT_EQ(v.unlink(kRootIno, "f" + std::to_string(i)), 0) << i;
    ASSERT_EQ(v.sync(), 0);
    EXPECT_EQ(v.create(kRootIno, "again", 0644, &ino), 0);
    // And all of it survives a remount.
    ASSERT_EQ(w.mount->unmount(), 0);
    ASSERT_EQ(w.remount(), 0);
    std::vector<DirEntry> ents;
    ASSERT_EQ(w.vfs->readdir(kRootIno, 0, 1000000, &ents), 0);
    EXPECT_EQ(ents.size(), static_cast<size_t>(made - made / 2 + 1));
  });
}

TEST(Vfs, TruncateIntoADurableBlockOnAFullDeviceIsEnospcNotAStoppedMount) {
  FsWorld w(13, 4096, 48);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    Vfs& v = *w.vfs;
    uint64_t f = 0;
    ASSERT_EQ(v.create(kRootIno, "f", 0644, &f), 0);
    // Fill the data device completely.
    sim::Errno e = 0;
    for (uint64_t blk = 0; e == 0 && blk < 100; ++blk) e = v.write(f, blk * kDataBlockSize, std::vector<uint8_t>(kDataBlockSize, 1));
    ASSERT_EQ(e, ENOSPC);
    ASSERT_EQ(v.sync(), 0);
    ASSERT_EQ(v.statfs().data_blocks_free, 0u);
    // Cutting into the middle of a durable block needs a copy of it: no block, so ENOSPC, and
    // the filesystem goes on.
    EXPECT_EQ(v.truncate(f, 5 * kDataBlockSize + 10), ENOSPC);
    EXPECT_EQ(w.mount->failed(), 0);
    // A block-aligned cut needs nothing; after it commits, the mid-block cut has room.
    ASSERT_EQ(v.truncate(f, 6 * kDataBlockSize), 0);
    ASSERT_EQ(v.sync(), 0);
    ASSERT_EQ(v.truncate(f, 5 * kDataBlockSize + 10), 0);
    Attr a;
    ASSERT_EQ(v.getattr(f, &a), 0);
    EXPECT_EQ(a.size, 5 * kDataBlockSize + 10);
  });
}

TEST(Vfs, TimerCommitsWithoutSync) {
  FsWorld w(11);
  w.run([&] {
    MountConfig cfg = FsWorld::test_config();
    cfg.timer = true;
    cfg.commit_interval = 50 * sim::kMillisecond;
    ASSERT_EQ(w.mkfs_and_mount(cfg), 0);
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs->create(kRootIno, "f", 0644, &ino), 0);
    const uint64_t before = w.mount->stats().commits;
    sim::this_task::sleep(120 * sim::kMillisecond);
    EXPECT_GT(w.mount->stats().commits, before);
    // Durable without any sync: a crash keeps it.
    w.crash();
    ASSERT_EQ(w.remount(), 0);
    uint64_t found = 0;
    EXPECT_EQ(w.vfs->lookup(kRootIno, "f", &found), 0);
    EXPECT_EQ(found, ino);
    w.mount->unmount();
  });
}

TEST(Vfs, DirtyThresholdCommitsInsideALongRunOfOperations) {
  FsWorld w(12);
  w.run([&] {
    MountConfig cfg = FsWorld::test_config();
    cfg.dirty_items_max = 50;
    ASSERT_EQ(w.mkfs_and_mount(cfg), 0);
    uint64_t ino = 0;
    for (int i = 0; i < 100; ++i) ASSERT_EQ(w.vfs->create(kRootIno, "f" + std::to_string(i), 0644, &ino), 0);
    // Each create dirties 4 new items (inode, dirent, readdir, backref; the root inode stays
    // dirty): a commit every 13 creates, none of them asked for.
    EXPECT_GE(w.mount->stats().commits, 7u);
  });
}

}  // namespace
}  // namespace simfs::fs
