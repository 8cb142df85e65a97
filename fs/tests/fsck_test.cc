// fsck: a filesystem made by the VFS is clean; each kind of damage, made on purpose in the
// durable image, is reported under its kind; damaged, random and truncated input never crashes
// or hangs it.
#include "fs/fsck/fsck.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fs/format/btree_block.h"
#include "fs/format/format.h"
#include "fs/format/items.h"
#include "fs/testing/fs_world.h"

namespace simfs::fs {
namespace {

using testing::FsWorld;

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::string kinds_of(const FsckReport& r) {
  std::string s;
  for (const auto& [k, n] : r.kinds) s += k + "=" + std::to_string(n) + " ";
  return s;
}

sim::DeviceImage image_of(const sim::BlockDevice& dev) {
  std::ostringstream out;
  dev.save_image(out);
  sim::DeviceImage img;
  EXPECT_EQ(sim::parse_device_image(out.str(), &img), "");
  return img;
}

// The durable images of a filesystem with a bit of everything, after several commits.
struct Images {
  sim::DeviceImage meta, data;
  uint64_t file = 0, sparse = 0, linked = 0, orphan = 0, dir = 0, symlink = 0;

  FsckReport check(FsckOptions o = {}) const {
    ImageReader m = image_reader(meta), d = image_reader(data);
    return fsck(m, d, o);
  }
};

// With `merge`, every log tree is merged into the fs tree at the end (tests that edit fs tree
// items want that); without, the items stay spread over the fs tree and the log trees, with the
// server's merge part way through its finalized trees and the open tree holding items too.
Images make_images(uint64_t seed, int extra_files = 0, bool merge = true) {
  FsWorld w(seed);
  Images im;
  if (!merge) {
    w.server_cfg.log_finalize_items = 24;
    w.server_cfg.merge_blocks_per_commit = 1;
  }
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    Vfs& v = *w.vfs;
    uint64_t sub = 0, x = 0;
    ASSERT_EQ(v.mkdir(kRootIno, "d", 0755, &im.dir), 0);
    ASSERT_EQ(v.mkdir(im.dir, "sub", 0755, &sub), 0);
    ASSERT_EQ(v.create(kRootIno, "f", 0644, &im.file), 0);
    std::vector<uint8_t> big(3 * kDataBlockSize + 123, 0x5a);
    ASSERT_EQ(v.write(im.file, 0, big), 0);
    ASSERT_EQ(v.setxattr(im.file, "user.a", "one"), 0);
    ASSERT_EQ(v.setxattr(im.file, "user.b", "two"), 0);
    ASSERT_EQ(v.sync(), 0);
    ASSERT_EQ(v.create(im.dir, "sparse", 0644, &im.sparse), 0);
    ASSERT_EQ(v.write(im.sparse, 0, bytes("head")), 0);
    ASSERT_EQ(v.write(im.sparse, 5 * kExtentRegionBytes + 17, bytes("tail")), 0);
    ASSERT_EQ(v.create(sub, "h", 0644, &im.linked), 0);
    ASSERT_EQ(v.write(im.linked, 0, bytes("linked")), 0);
    ASSERT_EQ(v.link(im.linked, kRootIno, "h2"), 0);
    ASSERT_EQ(v.link(im.linked, im.dir, "h3"), 0);
    ASSERT_EQ(v.symlink(im.dir, "l", "../f", &im.symlink), 0);
    ASSERT_EQ(v.sync(), 0);
    // Overwrite (copy on write), truncate, rename, unlink, rmdir.
    ASSERT_EQ(v.write(im.file, 100, bytes("again")), 0);
    ASSERT_EQ(v.truncate(im.file, 2 * kDataBlockSize + 5), 0);
    ASSERT_EQ(v.rename(kRootIno, "h2", im.dir, "h2moved"), 0);
    ASSERT_EQ(v.create(kRootIno, "gone", 0644, &x), 0);
    ASSERT_EQ(v.write(x, 0, bytes("bye")), 0);
    ASSERT_EQ(v.unlink(kRootIno, "gone"), 0);
    ASSERT_EQ(v.mkdir(kRootIno, "empty", 0755, &x), 0);
    ASSERT_EQ(v.rmdir(kRootIno, "empty"), 0);
    ASSERT_EQ(v.removexattr(im.file, "user.b"), 0);
    for (int i = 0; i < extra_files; ++i) {
      uint64_t f = 0;
      ASSERT_EQ(v.create(sub, "file-with-a-longish-name-" + std::to_string(i), 0644, &f), 0);
      ASSERT_EQ(v.setxattr(f, "user.n", std::to_string(i)), 0);
      if (i % 7 == 0) {
        ASSERT_EQ(v.write(f, 0, bytes("x")), 0);
      }
    }
    ASSERT_EQ(v.sync(), 0);
    // An open orphan: unlinked while open, still holding data.
    ASSERT_EQ(v.create(kRootIno, "orphan", 0644, &im.orphan), 0);
    ASSERT_EQ(v.write(im.orphan, 0, bytes("still here")), 0);
    ASSERT_EQ(v.open(im.orphan), 0);
    ASSERT_EQ(v.unlink(kRootIno, "orphan"), 0);
    ASSERT_EQ(v.sync(), 0);
    if (!merge) {
      // A few more files until the merge is part way through and the open tree holds items too;
      // the images are the durable state of that moment (the server stops writing).
      auto mid_merge = [&] {
        std::vector<Server::LogRecord> recs;
        EXPECT_EQ(w.server->log_records(&recs), 0);
        const auto& st = w.server->merge_status();
        return st && st->next != Key::min() && !recs.empty() && !recs.back().v.finalized &&
               recs.back().v.item_count > 0;
      };
      for (int i = 0; i < 400 && !mid_merge(); ++i) {
        uint64_t f = 0;
        ASSERT_EQ(v.create(kRootIno, "more-" + std::to_string(i), 0644, &f), 0);
        ASSERT_EQ(v.sync(), 0);
      }
      ASSERT_TRUE(mid_merge());
      return;
    }
    // The tests below edit items in the fs tree: merge the log trees into it.
    w.drain_orphans();
    ASSERT_EQ(w.merge_logs(), 0);
  });
  im.meta = image_of(w.meta);
  im.data = image_of(w.data);
  return im;
}

// ---- editing images ----

std::vector<uint8_t>& block(sim::DeviceImage& img, uint64_t blkno) {
  auto it = img.blocks.find(blkno);
  if (it == img.blocks.end()) it = img.blocks.emplace(blkno, std::vector<uint8_t>(img.block_size, 0)).first;
  return it->second;
}

SuperBlock super_of(sim::DeviceImage& img) {
  SuperBlock sb;
  EXPECT_EQ(decode_super(block(img, kSuperBlkno), std::nullopt, &sb), BlockCheck::kOk);
  return sb;
}

void put_super(sim::DeviceImage& img, const SuperBlock& sb) { block(img, kSuperBlkno) = encode_super(sb); }

BtreeNode node_at(sim::DeviceImage& img, uint64_t blkno) {
  BtreeNode n;
  std::string why;
  EXPECT_TRUE(decode_node(std::span<const uint8_t>(block(img, blkno)).subspan(kBlockHeaderBytes), &n, &why)) << why;
  return n;
}

void put_node(sim::DeviceImage& img, uint64_t blkno, const BtreeNode& n) {
  std::vector<uint8_t>& b = block(img, blkno);
  encode_node(n, std::span<uint8_t>(b).subspan(kBlockHeaderBytes));
  seal_block(b);
}

// The path of blocks from the root to the leaf where `key` is or would be.
std::vector<uint64_t> path_to(sim::DeviceImage& img, const BtreeRoot& root, const Key& key) {
  std::vector<uint64_t> path;
  BlockRef ref = root.ref;
  for (int level = root.height - 1; level >= 0; --level) {
    path.push_back(ref.blkno);
    if (level == 0) break;
    BtreeNode n = node_at(img, ref.blkno);
    auto it = std::find_if(n.entries.begin(), n.entries.end(), [&](const BtreeEntry& e) { return !(e.key() < key); });
    ref = it == n.entries.end() ? n.entries.back().child : it->child;
  }
  return path;
}

// Edits the leaf holding `key` in place (same blkno and seq, resealed) and keeps the parent keys
// exact, so the tree stays structurally sound: the damage is only what `edit` does.
void edit_leaf(sim::DeviceImage& img, const BtreeRoot& root, const Key& key,
               const std::function<void(std::vector<BtreeEntry>&)>& edit) {
  std::vector<uint64_t> path = path_to(img, root, key);
  ASSERT_FALSE(path.empty());
  BtreeNode leaf = node_at(img, path.back());
  edit(leaf.entries);
  ASSERT_FALSE(leaf.entries.empty());
  put_node(img, path.back(), leaf);
  Key max = leaf.last_key();
  for (size_t i = path.size() - 1; i-- > 0;) {
    BtreeNode p = node_at(img, path[i]);
    for (BtreeEntry& e : p.entries) {
      if (e.child.blkno == path[i + 1]) e.item.key = max;
    }
    put_node(img, path[i], p);
    max = p.last_key();
  }
}

void erase_item(sim::DeviceImage& img, const BtreeRoot& root, const Key& key) {
  edit_leaf(img, root, key, [&](std::vector<BtreeEntry>& es) {
    auto it = std::find_if(es.begin(), es.end(), [&](const BtreeEntry& e) { return e.key() == key; });
    ASSERT_NE(it, es.end()) << key_string(key);
    es.erase(it);
  });
}

void change_item(sim::DeviceImage& img, const BtreeRoot& root, const Key& key,
                 const std::function<void(std::vector<uint8_t>&)>& change) {
  edit_leaf(img, root, key, [&](std::vector<BtreeEntry>& es) {
    auto it = std::find_if(es.begin(), es.end(), [&](const BtreeEntry& e) { return e.key() == key; });
    ASSERT_NE(it, es.end()) << key_string(key);
    change(it->item.value);
  });
}

void change_inode(Images& im, uint64_t ino, const std::function<void(InodeValue&)>& change) {
  change_item(im.meta, super_of(im.meta).fs_root, inode_key(ino), [&](std::vector<uint8_t>& v) {
    InodeValue iv;
    ASSERT_TRUE(decode_inode(v, &iv));
    change(iv);
    v = encode_inode(iv);
  });
}

// All items of a tree, in key order.
std::vector<Item> items_of(sim::DeviceImage& img, const BtreeRoot& root) {
  std::vector<Item> out;
  std::function<void(BlockRef, int)> walk = [&](BlockRef ref, int level) {
    BtreeNode n = node_at(img, ref.blkno);
    for (const BtreeEntry& e : n.entries) {
      if (level == 0) out.push_back(e.item);
      else walk(e.child, level - 1);
    }
  };
  if (root.height) walk(root.ref, root.height - 1);
  return out;
}

ExtentMap extent_of(Images& im, uint64_t ino, uint64_t region) {
  for (const Item& it : items_of(im.meta, super_of(im.meta).fs_root)) {
    if (it.key == extent_key(ino, region)) {
      ExtentMap m;
      EXPECT_TRUE(decode_extent(it.value, &m));
      return m;
    }
  }
  ADD_FAILURE() << "no extent " << ino << "/" << region;
  return {};
}

// Sets or clears one bit of a bitmap item and keeps total_len in step, so only the partition
// itself is wrong.
void set_free_bit(Images& im, bool meta, uint64_t blk, bool free) {
  SuperBlock sb = super_of(im.meta);
  AllocRoot& ar = meta ? sb.meta_alloc[0] : sb.data_alloc;
  const Key k = bitmap_key(meta ? kAllocMeta : kAllocData, blk / kBitmapRegionBlocks);
  change_item(im.meta, ar.root, k, [&](std::vector<uint8_t>& v) {
    ASSERT_EQ(v.size(), kBitmapBytes);
    const uint32_t i = static_cast<uint32_t>(blk % kBitmapRegionBlocks);
    const bool was = (v[i / 8] >> (i % 8)) & 1;
    ASSERT_NE(was, free) << "block " << blk;
    v[i / 8] = static_cast<uint8_t>(free ? v[i / 8] | (1u << (i % 8)) : v[i / 8] & ~(1u << (i % 8)));
  });
  ar.total_len = free ? ar.total_len + 1 : ar.total_len - 1;
  put_super(im.meta, sb);
}

// The lowest block marked free in a bitmap.
uint64_t first_free(Images& im, bool meta) {
  SuperBlock sb = super_of(im.meta);
  for (const Item& it : items_of(im.meta, meta ? sb.meta_alloc[0].root : sb.data_alloc.root)) {
    for (uint32_t i = 0; i < kBitmapRegionBlocks; ++i) {
      if ((it.value[i / 8] >> (i % 8)) & 1) return it.key.first * kBitmapRegionBlocks + i;
    }
  }
  ADD_FAILURE() << "nothing free";
  return 0;
}

// ---- clean ----

TEST(Fsck, VfsMadeFilesystemIsClean) {
  Images im = make_images(1);
  FsckReport r = im.check();
  EXPECT_TRUE(r.clean()) << format_report(r);
  EXPECT_EQ(r.counts.directories, 3u);  // root, d, sub
  EXPECT_EQ(r.counts.symlinks, 1u);
  EXPECT_EQ(r.counts.files, 4u);  // f, sparse, h (three links), the orphan
  EXPECT_EQ(r.counts.orphans, 1u);
  EXPECT_EQ(r.counts.xattrs, 1u);
  EXPECT_GT(r.counts.meta_referenced, 0u);
  EXPECT_GT(r.counts.meta_avail, 0u);
  EXPECT_GT(r.counts.data_mapped, 0u);
  EXPECT_EQ(r.counts.data_mapped + r.counts.data_free, r.counts.data_blocks - 1);
  EXPECT_EQ(r.counts.meta_referenced + r.counts.meta_free + r.counts.meta_avail + r.counts.meta_freed,
            r.counts.meta_blocks - kMetaBlknoFirstAllocatable);
}

TEST(Fsck, TallerTreesAreClean) {
  Images im = make_images(2, 300);
  EXPECT_GE(super_of(im.meta).fs_root.height, 2);
  FsckReport r = im.check();
  EXPECT_TRUE(r.clean()) << format_report(r);
}

TEST(Fsck, CleanOnALiveDeviceThroughDurableReader) {
  FsWorld w(3);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    uint64_t f = 0;
    ASSERT_EQ(w.vfs->create(kRootIno, "a", 0644, &f), 0);
    ASSERT_EQ(w.vfs->sync(), 0);
    // Uncommitted changes are not durable: fsck sees the last commit, which is consistent.
    ASSERT_EQ(w.vfs->create(kRootIno, "b", 0644, &f), 0);
    ASSERT_EQ(w.vfs->write(f, 0, bytes("pending")), 0);
    FsckReport r = fsck(durable_reader(w.meta), durable_reader(w.data));
    EXPECT_TRUE(r.clean()) << format_report(r);
    EXPECT_EQ(r.counts.files, 1u);
  });
}

TEST(Fsck, RecoveredOrphansLeaveACleanFilesystem) {
  FsWorld w(4);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    uint64_t f = 0;
    ASSERT_EQ(w.vfs->create(kRootIno, "o", 0644, &f), 0);
    ASSERT_EQ(w.vfs->write(f, 0, std::vector<uint8_t>(3 * kDataBlockSize, 1)), 0);
    ASSERT_EQ(w.vfs->open(f), 0);
    ASSERT_EQ(w.vfs->unlink(kRootIno, "o"), 0);
    ASSERT_EQ(w.vfs->sync(), 0);
    w.crash();
    ASSERT_EQ(w.remount(), 0);  // queues the orphan for deletion
    w.drain_orphans();
    ASSERT_EQ(w.vfs->sync(), 0);
    FsckReport r = fsck(durable_reader(w.meta), durable_reader(w.data));
    EXPECT_TRUE(r.clean()) << format_report(r);
    EXPECT_EQ(r.counts.orphans, 0u);
  });
}

// ---- damage, one kind at a time ----

TEST(Fsck, BadChecksumInAReferencedBlock) {
  Images im = make_images(5);
  const uint64_t root = super_of(im.meta).fs_root.ref.blkno;
  block(im.meta, root)[200] ^= 0x10;
  FsckReport r = im.check();
  EXPECT_TRUE(r.has("block.checksum")) << format_report(r);
  ASSERT_FALSE(r.findings.empty());
  EXPECT_EQ(r.findings[0].kind, "block.checksum");
  EXPECT_EQ(r.findings[0].block, root);
  // What is under the unreadable block is unknown: no guesses about leaks or the namespace.
  EXPECT_FALSE(r.has("meta.leak"));
  EXPECT_FALSE(r.has("inode.nlink"));
}

TEST(Fsck, StaleReferenceIsReportedByWhatIsWrong) {
  Images im = make_images(6);
  SuperBlock sb = super_of(im.meta);
  sb.fs_root.ref.seq += 1000;  // an intact block of another version
  sb.server_seq += 2000;
  put_super(im.meta, sb);
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "block.seq=1 ") << format_report(r);
}

TEST(Fsck, LeakedMetadataBlock) {
  Images im = make_images(7);
  const uint64_t b = first_free(im, true);
  set_free_bit(im, true, b, false);  // neither free nor referenced
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "meta.leak=1 ") << format_report(r);
  EXPECT_EQ(r.findings[0].block, b);
}

TEST(Fsck, ReferencedBlockMarkedFree) {
  Images im = make_images(8);
  const uint64_t root = super_of(im.meta).fs_root.ref.blkno;
  set_free_bit(im, true, root, true);
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "meta.double=1 ") << format_report(r);
  EXPECT_EQ(r.findings[0].block, root);
}

TEST(Fsck, BlockReferencedByTwoParents) {
  Images im = make_images(9, 300);
  SuperBlock sb = super_of(im.meta);
  ASSERT_GE(sb.fs_root.height, 2);
  // Point the root's second child reference at its first child: the first child is referenced
  // twice and the second child's whole subtree is lost (leaked).
  BtreeNode root = node_at(im.meta, sb.fs_root.ref.blkno);
  ASSERT_GE(root.entries.size(), 2u);
  root.entries[1].child = root.entries[0].child;
  put_node(im.meta, sb.fs_root.ref.blkno, root);
  FsckReport r = im.check();
  EXPECT_TRUE(r.has("meta.double")) << format_report(r);
  EXPECT_TRUE(r.has("meta.leak")) << format_report(r);
  EXPECT_TRUE(r.has("btree.structure")) << format_report(r);
}

TEST(Fsck, WrongLevelField) {
  Images im = make_images(26, 300);
  SuperBlock sb = super_of(im.meta);
  ASSERT_GE(sb.fs_root.height, 2);
  BtreeNode root = node_at(im.meta, sb.fs_root.ref.blkno);
  root.level = static_cast<uint8_t>(root.level + 1);
  put_node(im.meta, sb.fs_root.ref.blkno, root);
  FsckReport r = im.check();
  EXPECT_TRUE(r.has("btree.structure")) << format_report(r);
  EXPECT_NE(format_report(r).find("level field"), std::string::npos) << format_report(r);
}

TEST(Fsck, MissingReaddirItem) {
  Images im = make_images(10);
  SuperBlock sb = super_of(im.meta);
  // The entry "f" in the root: find its position through its backref.
  Key rd;
  for (const Item& it : items_of(im.meta, sb.fs_root)) {
    if (it.key.type == kTypeLink && it.key.ino == im.file) rd = readdir_key(it.key.first, it.key.second);
  }
  erase_item(im.meta, sb.fs_root, rd);
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "dirent.no_readdir=1 ") << format_report(r);
}

TEST(Fsck, DirentNamingAnotherInode) {
  Images im = make_images(11);
  SuperBlock sb = super_of(im.meta);
  Key dk;
  for (const Item& it : items_of(im.meta, sb.fs_root)) {
    DirentValue d;
    if (it.key.type == kTypeDirent && decode_dirent(it.value, &d) && d.ino == im.file) dk = it.key;
  }
  change_item(im.meta, sb.fs_root, dk, [&](std::vector<uint8_t>& v) {
    DirentValue d;
    ASSERT_TRUE(decode_dirent(v, &d));
    d.ino = 999999;
    v = encode_dirent(d);
  });
  FsckReport r = im.check();
  EXPECT_TRUE(r.has("dirent.dangling")) << format_report(r);
  EXPECT_TRUE(r.has("dirent.no_backref")) << format_report(r);
  EXPECT_TRUE(r.has("dirent.readdir_mismatch")) << format_report(r);
  EXPECT_TRUE(r.has("link.no_dirent")) << format_report(r);
}

TEST(Fsck, WrongNlink) {
  Images im = make_images(12);
  change_inode(im, im.linked, [](InodeValue& v) { v.nlink = 2; });  // it has three links
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "inode.nlink=1 ") << format_report(r);
  change_inode(im, im.dir, [](InodeValue& v) { v.nlink = 2; });  // it has one subdirectory
  r = im.check();
  EXPECT_EQ(kinds_of(r), "inode.nlink=2 ") << format_report(r);
}

TEST(Fsck, ExtentPastEndOfFile) {
  Images im = make_images(13);
  change_inode(im, im.file, [](InodeValue& v) { v.size = kDataBlockSize; });  // it maps 3 blocks
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "extent.past_eof=1 ") << format_report(r);
}

TEST(Fsck, DataBlockMappedTwice) {
  Images im = make_images(14);
  SuperBlock sb = super_of(im.meta);
  const ExtentMap other = extent_of(im, im.linked, 0);
  ASSERT_NE(other[0], 0u);
  change_item(im.meta, sb.fs_root, extent_key(im.file, 0), [&](std::vector<uint8_t>& v) {
    ExtentMap m;
    ASSERT_TRUE(decode_extent(v, &m));
    m[1] = other[0];  // the block of m[1] is now mapped by nobody
    v = encode_extent(m);
  });
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "data.double=1 data.leak=1 ") << format_report(r);
}

TEST(Fsck, DataBlockMappedAndFree) {
  Images im = make_images(15);
  const ExtentMap m = extent_of(im, im.file, 0);
  set_free_bit(im, false, m[0], true);
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "data.double=1 ") << format_report(r);
}

TEST(Fsck, LeakedDataBlock) {
  Images im = make_images(16);
  set_free_bit(im, false, first_free(im, false), false);
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "data.leak=1 ") << format_report(r);
}

TEST(Fsck, AllocatorCountDisagreesWithBitmap) {
  Images im = make_images(17);
  SuperBlock sb = super_of(im.meta);
  sb.data_alloc.total_len += 1;
  sb.meta_alloc[0].total_len -= 1;
  put_super(im.meta, sb);
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "data.total_len=1 meta.total_len=1 ") << format_report(r);
}

TEST(Fsck, MissingOrphanItem) {
  Images im = make_images(18);
  erase_item(im.meta, super_of(im.meta).fs_root, orphan_key(im.orphan));
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "orphan.missing=1 ") << format_report(r);
}

TEST(Fsck, OrphanItemOfALinkedInode) {
  Images im = make_images(19);
  change_inode(im, im.orphan, [](InodeValue& v) { v.nlink = 1; });
  FsckReport r = im.check();
  EXPECT_TRUE(r.has("orphan.linked")) << format_report(r);
  EXPECT_TRUE(r.has("inode.nlink")) << format_report(r);
}

TEST(Fsck, SymlinkWithoutTarget) {
  Images im = make_images(20);
  erase_item(im.meta, super_of(im.meta).fs_root, symlink_key(im.symlink));
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "symlink.missing=1 ") << format_report(r);
}

TEST(Fsck, NextInoBehindAnInode) {
  Images im = make_images(21);
  SuperBlock sb = super_of(im.meta);
  sb.next_ino = im.orphan;
  put_super(im.meta, sb);
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "super.next_ino=1 ") << format_report(r);
}

TEST(Fsck, InodeCountDisagreesWithTheTree) {
  Images im = make_images(23);
  SuperBlock sb = super_of(im.meta);
  sb.inode_count += 1;
  put_super(im.meta, sb);
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "super.inode_count=1 ") << format_report(r);
}

TEST(Fsck, DirectoryCycleIsUnreachable) {
  Images im = make_images(22);
  SuperBlock sb = super_of(im.meta);
  // Move d's entry from the root into d itself: d names itself and nothing reaches it.
  uint64_t pos = 0;
  for (const Item& it : items_of(im.meta, sb.fs_root)) {
    if (it.key.type == kTypeLink && it.key.ino == im.dir) pos = it.key.second;
  }
  ASSERT_NE(pos, 0u);
  const Key dk = dirent_key(kRootIno, name_hash("d"), pos);
  std::vector<uint8_t> val;
  for (const Item& it : items_of(im.meta, sb.fs_root))
    if (it.key == dk) val = it.value;
  ASSERT_FALSE(val.empty());
  auto move = [&](const Key& from, const Key& to, std::vector<uint8_t> v) {
    erase_item(im.meta, super_of(im.meta).fs_root, from);
    edit_leaf(im.meta, super_of(im.meta).fs_root, to, [&](std::vector<BtreeEntry>& es) {
      BtreeEntry e;
      e.item = Item{to, 1, false, v};
      es.insert(std::upper_bound(es.begin(), es.end(), to, [](const Key& k, const BtreeEntry& x) { return k < x.key(); }), e);
    });
  };
  // A position d has not handed out yet, so only the cycle is wrong.
  InodeValue dv;
  for (const Item& it : items_of(im.meta, sb.fs_root))
    if (it.key == inode_key(im.dir)) {
      ASSERT_TRUE(decode_inode(it.value, &dv));
    }
  const uint64_t np = dv.next_readdir_pos;
  change_inode(im, im.dir, [](InodeValue& v) { ++v.next_readdir_pos; });
  DirentValue d;
  ASSERT_TRUE(decode_dirent(val, &d));
  d.pos = np;
  move(dk, dirent_key(im.dir, name_hash("d"), np), encode_dirent(d));
  move(readdir_key(kRootIno, pos), readdir_key(im.dir, np), encode_dirent(d));
  move(link_key(im.dir, kRootIno, pos), link_key(im.dir, im.dir, np), encode_link("d"));
  // The root lost a subdirectory and d gained one.
  change_inode(im, kRootIno, [](InodeValue& v) { --v.nlink; });
  change_inode(im, im.dir, [](InodeValue& v) { ++v.nlink; });
  FsckReport r = im.check();
  EXPECT_TRUE(r.has("dir.unreachable")) << format_report(r);
  EXPECT_EQ(r.kinds["dir.unreachable"], 2u) << format_report(r);  // d and sub
  EXPECT_EQ(kinds_of(r), "dir.unreachable=2 ") << format_report(r);
}

TEST(Fsck, MissingRootAndBadSuper) {
  Images im = make_images(23);
  Images copy = im;
  erase_item(copy.meta, super_of(copy.meta).fs_root, inode_key(kRootIno));
  FsckReport r = copy.check();
  EXPECT_TRUE(r.has("root.missing")) << format_report(r);
  EXPECT_TRUE(r.has("item.no_inode")) << format_report(r);

  copy = im;
  SuperBlock sb = super_of(copy.meta);
  sb.format_hash ^= 1;
  put_super(copy.meta, sb);
  EXPECT_EQ(kinds_of(copy.check()), "super.hash=1 ");

  copy = im;
  block(copy.meta, kSuperBlkno)[40] ^= 1;
  EXPECT_EQ(kinds_of(copy.check()), "super.unreadable=1 ");

  copy = im;
  sb = super_of(copy.meta);
  sb.data_blocks_total += 5;
  put_super(copy.meta, sb);
  EXPECT_EQ(kinds_of(copy.check()), "super.geometry=1 ");
}

TEST(Fsck, AvailListCountsAreChecked) {
  Images im = make_images(24);
  SuperBlock sb = super_of(im.meta);
  ASSERT_GT(sb.server_meta_avail[0].total_nr, 0u);
  sb.server_meta_avail[0].total_nr += 1;
  put_super(im.meta, sb);
  FsckReport r = im.check();
  EXPECT_EQ(kinds_of(r), "alloclist.count=1 ") << format_report(r);
}

TEST(Fsck, FindingsAreCappedPerKind) {
  Images im = make_images(25);
  SuperBlock sb = super_of(im.meta);
  // Clear every free bit of the first meta bitmap item without fixing total_len: many leaks
  // (reported as ranges) and one count mismatch.
  change_item(im.meta, sb.meta_alloc[0].root, bitmap_key(kAllocMeta, 0), [](std::vector<uint8_t>& v) {
    for (size_t i = 0; i < v.size(); i += 2) v[i] = 0;
  });
  FsckOptions o;
  o.max_per_kind = 3;
  FsckReport r = im.check(o);
  EXPECT_TRUE(r.has("meta.leak"));
  EXPECT_TRUE(r.has("meta.total_len"));
  EXPECT_GT(r.kinds["meta.leak"], 3u);
  EXPECT_EQ(r.findings.size(), 4u);
  EXPECT_EQ(r.dropped, r.kinds["meta.leak"] - 3);
}

// ---- random workloads stay clean ----

// Random VFS operations with commits, crashes and remounts: the durable state is clean after
// every sync and every recovery.
RC_GTEST_PROP(FsckProperty, RandomWorkloadsStayClean, ()) {
  const auto seed = *rc::gen::inRange<uint64_t>(1, 1000000);
  const auto steps = *rc::gen::inRange(10, 120);
  const auto ops = *rc::gen::container<std::vector<int>>(static_cast<size_t>(steps), rc::gen::inRange(0, 16));
  const auto args = *rc::gen::container<std::vector<uint32_t>>(static_cast<size_t>(steps) * 3, rc::gen::arbitrary<uint32_t>());
  // Small devices too, so that operations run into ENOSPC.
  const uint64_t meta_blocks = *rc::gen::element<uint64_t>(1100, 4096);
  const uint64_t data_blocks = *rc::gen::element<uint64_t>(48, 4096);
  FsWorld w(seed, meta_blocks, data_blocks);
  std::string failure;
  uint64_t checks = 0, inodes = 0;
  w.run([&] {
    if (w.mkfs_and_mount() != 0) {
      failure = "mkfs";
      return;
    }
    std::vector<uint64_t> dirs{kRootIno}, files;
    std::vector<uint64_t> opened;
    auto check = [&](const char* when, int step) {
      FsckReport r = fsck(durable_reader(w.meta), durable_reader(w.data));
      ++checks;
      inodes = r.counts.inodes;
      if (!r.clean() && failure.empty()) {
        failure = std::string(when) + " at step " + std::to_string(step) + ":\n" + format_report(r);
      }
    };
    for (int i = 0; i < steps && failure.empty(); ++i) {
      Vfs& v = *w.vfs;
      const uint32_t a = args[3 * i], b = args[3 * i + 1], c = args[3 * i + 2];
      const uint64_t dir = dirs[a % dirs.size()];
      const std::string name = "n" + std::to_string(b % 8);
      uint64_t ino = 0;
      switch (ops[i]) {
        case 0:
          if (v.create(dir, name, 0644, &ino) == 0) files.push_back(ino);
          break;
        case 1:
          if (v.mkdir(dir, name, 0755, &ino) == 0) dirs.push_back(ino);
          break;
        case 2:
        case 3:
          if (!files.empty()) {
            std::vector<uint8_t> data(c % 20000 + 1, static_cast<uint8_t>(c));
            (void)v.write(files[b % files.size()], (a % 300000), data);
          }
          break;
        case 4:
          if (!files.empty()) (void)v.truncate(files[b % files.size()], c % 200000);
          break;
        case 5:
          (void)v.unlink(dir, name);
          break;
        case 6:
          (void)v.rmdir(dir, name);
          break;
        case 7:
          (void)v.rename(dir, name, dirs[c % dirs.size()], "n" + std::to_string(c % 8));
          break;
        case 8:
          if (!files.empty()) (void)v.link(files[b % files.size()], dir, "l" + std::to_string(c % 4));
          break;
        case 9:
          (void)v.symlink(dir, name, "target-" + std::to_string(c), &ino);
          break;
        case 10:
          if (!files.empty()) (void)v.setxattr(files[b % files.size()], "user.x" + std::to_string(c % 3), "v");
          break;
        case 11:
          if (!files.empty() && v.open(files[b % files.size()]) == 0) opened.push_back(files[b % files.size()]);
          if (!opened.empty() && c % 2) {
            (void)v.close(opened.back());
            opened.pop_back();
          }
          break;
        case 12:
        case 13:
          if (v.sync() != 0) failure = "sync failed";
          check("after sync", i);
          break;
        default:
          w.crash();
          opened.clear();
          check("after crash", i);
          if (w.remount() != 0) failure = "remount failed";
          check("after recovery", i);
          break;
      }
    }
    if (failure.empty() && w.vfs->sync() != 0) failure = "final sync failed";
    check("at the end", steps);
  });
  RC_TAG(checks > 3 ? "checks>3" : "checks<=3", inodes > 10 ? "inodes>10" : "inodes<=10");
  RC_ASSERT(failure == "");
}

// ---- random and damaged input: fsck always returns ----

const Images& shared_images() {
  static const Images im = make_images(99, 150);
  return im;
}

RC_GTEST_PROP(FsckProperty, RandomBytesNeverCrash, ()) {
  sim::DeviceImage meta, data;
  meta.block_size = data.block_size = kBlockSize;
  meta.block_count = *rc::gen::inRange<uint64_t>(0, 4096);
  data.block_count = *rc::gen::inRange<uint64_t>(0, 1 << 20);
  const auto nblocks = *rc::gen::inRange<size_t>(0, 40);
  for (size_t i = 0; i < nblocks && meta.block_count; ++i) {
    const uint64_t b = *rc::gen::inRange<uint64_t>(0, std::min<uint64_t>(meta.block_count, 64));
    std::vector<uint8_t> v = *rc::gen::container<std::vector<uint8_t>>(kBlockSize, rc::gen::arbitrary<uint8_t>());
    if (*rc::gen::arbitrary<bool>()) {
      // Make it look like ours often enough to get past the first check.
      put_header(v, BlockHeader{0, static_cast<uint32_t>(*rc::gen::element(BlockMagic::kSuper, BlockMagic::kBtreeLeaf,
                                                                            BlockMagic::kBtreeParent, BlockMagic::kAllocList)),
                                0x5eed, *rc::gen::inRange<uint64_t>(0, 100), b});
      seal_block(v);
    }
    meta.blocks[b] = std::move(v);
  }
  if (meta.block_count > kSuperBlkno && *rc::gen::arbitrary<bool>()) {
    // A valid super whose roots and lists point into the random blocks.
    SuperBlock sb;
    sb.fsid = 0x5eed;
    sb.format_hash = format_hash();
    sb.server_seq = *rc::gen::inRange<uint64_t>(0, 200);
    sb.next_ino = *rc::gen::inRange<uint64_t>(0, 100);
    sb.meta_blocks_total = meta.block_count;
    sb.data_blocks_total = data.block_count;
    auto ref = [] { return BlockRef{*rc::gen::inRange<uint64_t>(0, 80), *rc::gen::inRange<uint64_t>(0, 100)}; };
    auto root = [&] { return BtreeRoot{ref(), *rc::gen::inRange<uint8_t>(0, 24)}; };
    sb.fs_root = root();
    sb.meta_alloc[0] = AllocRoot{root(), *rc::gen::arbitrary<uint64_t>()};
    sb.data_alloc = AllocRoot{root(), *rc::gen::arbitrary<uint64_t>()};
    sb.server_meta_avail[0] = AllocListHead{ref(), *rc::gen::arbitrary<uint64_t>(), *rc::gen::arbitrary<uint32_t>()};
    sb.server_meta_freed[0] = AllocListHead{ref(), *rc::gen::inRange<uint64_t>(0, 5000), *rc::gen::arbitrary<uint32_t>()};
    meta.blocks[kSuperBlkno] = encode_super(sb);
  }
  FsckReport r = fsck(image_reader(meta), image_reader(data));
  RC_ASSERT(!r.clean());  // random bytes are never a filesystem
}

RC_GTEST_PROP(FsckProperty, GarbledItemsNeverCrashAndTheReportIsDeterministic, ()) {
  Images im = shared_images();
  const auto n = *rc::gen::inRange(1, 8);
  for (int i = 0; i < n; ++i) {
    const SuperBlock sb = super_of(im.meta);
    const BtreeRoot root = *rc::gen::element(sb.fs_root, sb.fs_root, sb.meta_alloc[0].root, sb.data_alloc.root);
    const std::vector<Item> items = items_of(im.meta, root);
    RC_PRE(!items.empty());
    const Item victim = items[*rc::gen::inRange<size_t>(0, items.size())];
    edit_leaf(im.meta, root, victim.key, [&](std::vector<BtreeEntry>& es) {
      for (BtreeEntry& e : es) {
        if (e.key() != victim.key) continue;
        switch (*rc::gen::inRange(0, 4)) {
          case 0:
            e.item.value = *rc::gen::container<std::vector<uint8_t>>(*rc::gen::inRange<size_t>(0, 120),
                                                                       rc::gen::arbitrary<uint8_t>());
            break;
          case 1:  // one byte of the value
            if (!e.item.value.empty()) e.item.value[*rc::gen::inRange<size_t>(0, e.item.value.size())] ^= 0xff;
            break;
          case 2:
            e.item.key.ino = *rc::gen::inRange<uint64_t>(0, 12);
            break;
          default:
            e.item.key.type = *rc::gen::inRange<uint8_t>(0, 12);
            break;
        }
      }
    });
  }
  const std::string a = format_report(im.check());
  RC_ASSERT(a == format_report(im.check()));
}

RC_GTEST_PROP(FsckProperty, DamagedValidImageNeverCrashesAndLiveDamageIsFound, ()) {
  Images im = shared_images();
  FsckReport clean = im.check();
  RC_ASSERT(clean.clean());
  const auto n = *rc::gen::inRange(1, 6);
  bool live_damage = false;
  for (int i = 0; i < n; ++i) {
    // Mostly blocks the filesystem uses (they are near the start), sometimes anywhere.
    const uint64_t b = *rc::gen::weightedOneOf<uint64_t>(
        {{3, rc::gen::inRange<uint64_t>(1, 400)}, {1, rc::gen::inRange<uint64_t>(0, im.meta.block_count)}});
    std::vector<uint8_t> before = block(im.meta, b);
    std::vector<uint8_t>& v = block(im.meta, b);
    switch (*rc::gen::inRange(0, 4)) {
      case 0:  // random bytes
        v = *rc::gen::container<std::vector<uint8_t>>(kBlockSize, rc::gen::arbitrary<uint8_t>());
        break;
      case 1: {  // bit rot
        const auto bit = *rc::gen::inRange<uint32_t>(0, kBlockSize * 8);
        v[bit / 8] = static_cast<uint8_t>(v[bit / 8] ^ (1u << (bit % 8)));
        break;
      }
      case 2:  // discarded
        std::fill(v.begin(), v.end(), uint8_t{0});
        break;
      default: {  // a misdirected write: another block's contents
        const uint64_t from = *rc::gen::inRange<uint64_t>(0, 400);
        v = block(im.meta, from);
        break;
      }
    }
    // Damage to a block of the durable filesystem (the super, a tree or list block) is found.
    if (v != before && std::binary_search(clean.referenced.begin(), clean.referenced.end(), b)) live_damage = true;
  }
  FsckReport r = im.check();
  if (live_damage) RC_ASSERT(!r.clean());
}

RC_GTEST_PROP(FsckProperty, TruncatedOrFailingImagesNeverCrash, ()) {
  const Images& im = shared_images();
  ImageReader meta = image_reader(im.meta), data = image_reader(im.data);
  const uint64_t full = meta.block_count;
  meta.block_count = *rc::gen::inRange<uint64_t>(0, full + 1);
  const uint64_t fail_from = *rc::gen::inRange<uint64_t>(0, full + 1);
  auto inner = meta.read;
  meta.read = [inner, fail_from](uint64_t b, std::span<uint8_t> out) { return b < fail_from && inner(b, out); };
  const uint64_t live_max = im.check().referenced.back();
  FsckReport r = fsck(meta, data);
  // A short image disagrees with the super's geometry; an unreadable live block is a finding.
  RC_ASSERT(r.clean() == (meta.block_count == full && fail_from > live_max));
}


// ---- log trees ----

// One log tree record of the durable image.
struct LogRecord {
  uint64_t rid = 0;
  uint64_t nr = 0;
  LogTreeValue v;
};

// Images whose items are spread over the fs tree, finalized log trees part way through their
// merge and the open log tree, with the records (finalized ones first, the open one last) and
// the merge status as the durable image has them. Built once; each test edits a copy.
struct LogImages {
  Images im;
  std::vector<LogRecord> logs;
  MergeStatusValue status;
};

const LogImages& log_images() {
  static const LogImages built = [] {
    LogImages l;
    l.im = make_images(40, 120, /*merge=*/false);
    for (const Item& it : items_of(l.im.meta, super_of(l.im.meta).logs_root)) {
      if (it.key == merge_status_key()) {
        EXPECT_TRUE(decode_merge_status(it.value, &l.status));
        continue;
      }
      LogRecord r{it.key.ino, it.key.first, {}};
      EXPECT_TRUE(decode_log_tree(it.value, &r.v));
      l.logs.push_back(r);
    }
    std::stable_partition(l.logs.begin(), l.logs.end(), [](const LogRecord& r) { return r.v.finalized; });
    return l;
  }();
  return built;
}

void change_log_record(Images& im, const LogRecord& l, const std::function<void(LogTreeValue&)>& change) {
  change_item(im.meta, super_of(im.meta).logs_root, log_tree_key(l.rid, l.nr), [&](std::vector<uint8_t>& v) {
    LogTreeValue lv;
    ASSERT_TRUE(decode_log_tree(v, &lv));
    change(lv);
    v = encode_log_tree(lv);
  });
}

TEST(Fsck, ItemsSpreadOverLogTreesAreClean) {
  auto [im, logs, status] = log_images();
  ASSERT_GE(logs.size(), 2u) << "the workload should leave a finalized tree mid-merge";
  EXPECT_TRUE(logs.front().v.finalized);
  EXPECT_NE(status.next, Key::min()) << "the merge should have started";
  EXPECT_FALSE(logs.back().v.finalized);
  EXPECT_GT(logs.back().v.item_count, 0u);
  EXPECT_GT(super_of(im.meta).fs_root.height, 0);
  FsckReport r = im.check();
  EXPECT_TRUE(r.clean()) << format_report(r);
  EXPECT_GT(r.counts.inodes, 100u);
}

TEST(Fsck, LogTreeRecordThatDisagreesWithItsTree) {
  auto [im, logs, status] = log_images();
  ASSERT_GE(logs.size(), 2u);
  Images a = im;
  change_log_record(a, logs.back(), [](LogTreeValue& v) { v.item_count += 1; });
  FsckReport r = a.check();
  EXPECT_TRUE(r.has("logs.count")) << format_report(r);
  Images b = im;
  change_log_record(b, logs.front(), [](LogTreeValue& v) { v.max_seq -= 1; });
  r = b.check();
  EXPECT_TRUE(r.has("logs.seq")) << format_report(r);
  Images c = im;
  change_item(c.meta, super_of(c.meta).logs_root, log_tree_key(logs.back().rid, logs.back().nr),
              [](std::vector<uint8_t>& v) { v.pop_back(); });
  r = c.check();
  EXPECT_TRUE(r.has("logs.bad_record")) << format_report(r);
  EXPECT_FALSE(r.notes.empty()) << "namespace checks need every log tree";
}

TEST(Fsck, LogTreeItemUnderALockItsBloomDoesNotName) {
  auto [im, logs, status] = log_images();
  ASSERT_GE(logs.size(), 2u);
  EXPECT_TRUE(im.check().clean());
  // An empty bloom names no lock: every item of the tree is one that readers would skip.
  Images a = im;
  const LogRecord victim = logs.back();
  ASSERT_GT(victim.v.item_count, 0u);
  change_log_record(a, victim, [](LogTreeValue& v) { v.bloom = LockBloom{}; });
  FsckReport r = a.check();
  EXPECT_TRUE(r.has("logs.bloom")) << format_report(r);
}

TEST(Fsck, OlderLogTreeStillOpen) {
  auto [im, logs, status] = log_images();
  ASSERT_GE(logs.size(), 2u);
  change_log_record(im, logs.front(), [](LogTreeValue& v) {
    v.finalized = false;
    v.finalize_seq = 0;
  });
  FsckReport r = im.check();
  EXPECT_TRUE(r.has("logs.order")) << format_report(r);
}

TEST(Fsck, DeletionItemInALogTreeHidesTheItemBelow) {
  auto [im, logs, status] = log_images();
  ASSERT_GE(logs.size(), 2u);
  // Turn the open log tree's newest live inode item into a deletion: its entries now name an
  // inode that does not exist.
  const BtreeRoot root = logs.back().v.root;
  Key victim;
  bool found = false;
  for (const Item& it : items_of(im.meta, root)) {
    if (it.key.zone == kZoneFs && it.key.type == kTypeInode && !it.deletion && it.key.ino != kRootIno) {
      victim = it.key;
      found = true;
    }
  }
  ASSERT_TRUE(found);
  edit_leaf(im.meta, root, victim, [&](std::vector<BtreeEntry>& es) {
    for (BtreeEntry& e : es) {
      if (e.key() == victim) {
        e.item.deletion = true;
        e.item.value.clear();
      }
    }
  });
  FsckReport r = im.check();
  EXPECT_TRUE(r.has("dirent.dangling") || r.has("item.no_inode")) << format_report(r);
}

TEST(Fsck, LogTreeBlockAlsoInTheFsTree) {
  auto [im, logs, status] = log_images();
  ASSERT_GE(logs.size(), 2u);
  // The open log tree's root also referenced from the logs tree's view of the finalized tree.
  change_log_record(im, logs.front(), [&](LogTreeValue& v) {
    v.root = logs.back().v.root;
    v.item_count = logs.back().v.item_count;
    v.max_seq = logs.back().v.max_seq;
  });
  FsckReport r = im.check();
  EXPECT_TRUE(r.has("meta.double")) << format_report(r);
}


TEST(Fsck, SmallFillLimitImageIsCleanAndABadLimitIsReported) {
  FsWorld w(41);
  w.btree_fill = kBtreeFillMin;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    for (int i = 0; i < 300; ++i) {
      uint64_t f = 0;
      ASSERT_EQ(w.vfs->create(kRootIno, "file-" + std::to_string(i), 0644, &f), 0);
    }
    ASSERT_EQ(w.vfs->sync(), 0);
    ASSERT_EQ(w.merge_logs(), 0);
    ASSERT_GE(w.server->fs_tree().root().height, 3);
  });
  Images im;
  im.meta = image_of(w.meta);
  im.data = image_of(w.data);
  FsckReport r = im.check();
  EXPECT_TRUE(r.clean()) << format_report(r);
  // The same trees judged against whole blocks are underfull: fsck must use the super's limit.
  SuperBlock sb = super_of(im.meta);
  sb.btree_fill = 0;
  put_super(im.meta, sb);
  r = im.check();
  EXPECT_TRUE(r.has("btree.structure")) << format_report(r);
  sb.btree_fill = 17;
  put_super(im.meta, sb);
  r = im.check();
  EXPECT_TRUE(r.has("super.geometry")) << format_report(r);
}


TEST(Fsck, MergedPrefixMissingFromTheFsTree) {
  auto [im, logs, status] = log_images();
  ASSERT_GE(logs.size(), 2u);
  // An item the finalized tree has already merged, taken out of the fs tree: the forest still
  // reads it from the log tree, so only the merge-position check can see it.
  const BtreeRoot fs_root = super_of(im.meta).fs_root;
  std::map<Key, Item> fs_items;
  for (const Item& it : items_of(im.meta, fs_root)) fs_items[it.key] = it;
  bool found = false;
  Key victim;
  for (const Item& it : items_of(im.meta, logs.front().v.root)) {
    if (!(it.key < status.next)) break;
    auto f = fs_items.find(it.key);
    if (!it.deletion && f != fs_items.end() && f->second.seq == it.seq) {
      victim = it.key;
      found = true;
    }
  }
  ASSERT_TRUE(found) << "no merged item to remove";
  erase_item(im.meta, fs_root, victim);
  FsckReport r = im.check();
  EXPECT_TRUE(r.has("logs.unmerged")) << format_report(r);
}

TEST(Fsck, OpenLogTreeWithAMergePosition) {
  auto [im, logs, status] = log_images();
  ASSERT_GE(logs.size(), 2u);
  change_log_record(im, logs.back(), [](LogTreeValue& v) { v.merge_next = inode_key(5); });
  FsckReport r = im.check();
  EXPECT_TRUE(r.has("logs.merge_next")) << format_report(r);
  change_log_record(im, logs.back(), [](LogTreeValue& v) {
    v.merge_next = Key::min();
    v.max_seq = UINT64_MAX / 2;
  });
  r = im.check();
  EXPECT_TRUE(r.has("logs.seq")) << format_report(r);
}

}  // namespace
}  // namespace simfs::fs
