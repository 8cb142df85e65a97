#include "fs/server/mkfs.h"

#include "fs/alloc/bitmap_alloc.h"
#include "fs/alloc/meta_alloc.h"
#include "fs/block/block_cache.h"
#include "fs/btree/btree.h"
#include "fs/forest/forest.h"
#include "fs/format/format.h"
#include "fs/format/items.h"

namespace simfs::fs {

namespace {
// Data block 0 is never handed out, like metadata block 0, so 0 can mean "hole".
constexpr uint64_t kDataBlknoFirst = 1;
}  // namespace

sim::Errno mkfs(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, uint64_t fsid, uint32_t btree_fill) {
  if (!btree_fill_valid(btree_fill)) return EINVAL;
  const uint64_t meta_blocks = meta.block_count();
  const uint64_t data_blocks = data.block_count();
  const uint64_t first = kMetaBlknoFirstAllocatable;
  const uint64_t carve = MetaAlloc::kAvailTarget;
  if (meta_blocks < first + 4 * carve || data_blocks < 2) return ENOSPC;
  if (data.block_size() != kDataBlockSize) return EINVAL;

  SuperBlock sb;
  sb.fsid = fsid;
  sb.format_hash = format_hash();
  sb.next_ino = kFirstIno;
  sb.inode_count = 1;
  sb.meta_blocks_total = meta_blocks;
  sb.data_blocks_total = data_blocks;
  sb.btree_fill = btree_fill;

  BlockCache cache(meta, fsid, 1024);
  MetaAlloc alloc(cache, sb);
  // The bitmap tree needs blocks before it can hold anything: the first avail blocks are carved
  // off directly, then the rest of the device is made free in the bitmap.
  alloc.mkfs_seed_avail(first, carve);
  if (sim::Errno e = alloc.mkfs_free_range(first + carve, meta_blocks - first - carve)) return e;
  BitmapAlloc data_alloc(cache, alloc.btree_allocator(), kAllocData, AllocRoot{});
  if (sim::Errno e = data_alloc.free_range(kDataBlknoFirst, data_blocks - kDataBlknoFirst)) return e;
  Btree fs_tree(cache, alloc.btree_allocator(), BtreeRoot{}, forest_btree_config(btree_fill));
  InodeValue root;
  root.mode = kModeDir | 0755;
  root.nlink = 2;
  root.atime_ns = root.mtime_ns = root.ctime_ns = static_cast<uint64_t>(env.now());
  if (sim::Errno e = fs_tree.insert(Item{inode_key(kRootIno), alloc.next_seq(), false, encode_inode(root)})) return e;

  SuperBlock next = sb;
  if (sim::Errno e = alloc.prepare_commit(&next)) return e;
  next.seq = 1;
  next.fs_root = fs_tree.root();
  next.data_alloc = data_alloc.alloc_root();
  if (sim::Errno e = cache.writeback(next)) return e;
  env.event("fs_mkfs", {{"fsid", fsid}, {"meta_blocks", meta_blocks}, {"data_blocks", data_blocks}});
  return 0;
}

}  // namespace simfs::fs
