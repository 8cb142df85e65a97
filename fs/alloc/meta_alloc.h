// MetaAlloc: the metadata block allocator. It never recurses into itself: every btree block,
// its own bitmap tree's included, comes from a small in-memory avail list, which is refilled
// from the bitmap tree only while no bitmap-tree change is in progress.
//
// Durable state (in the super): the meta bitmap tree (free blocks), the avail list (blocks taken
// out of the bitmap, not yet used) and the freed list (blocks the last commit stopped
// referencing). Every allocatable block is in exactly one of: referenced by a tree or list,
// free in the bitmap, on the avail list, on the freed list. fsck checks that partition.
//
// Contract:
// - A block freed in a transaction is never handed out again before that transaction's commit
//   is durable: frees of blocks the durable state references go to the freed list, which the
//   next commit merges into the bitmap. A block allocated and freed within one transaction was
//   never durable; it goes straight back to avail and out of the block cache.
// - alloc() returns 0 when no block is left (callers fail with ENOSPC).
// - prepare_commit() fills the super's allocator fields and creates the list blocks; after the
//   writeback of that super succeeds, the caller calls committed().
// - Runs in one task at a time (the mount serializes), never during a writeback.
#pragma once

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "fs/alloc/alloc_list.h"
#include "fs/alloc/bitmap_alloc.h"
#include "fs/block/block_cache.h"
#include "fs/btree/btree.h"
#include "fs/format/format.h"

namespace simfs::fs {


class MetaAlloc {
 public:
  // Refill the avail list below this many blocks, to kAvailTarget: enough for any one btree
  // operation of the bitmap tree (two block paths of the tallest tree) with room to spare.
  static constexpr size_t kAvailReserve = 2 * kBtreeHeightMax + 8;
  static constexpr size_t kAvailTarget = 256;

  MetaAlloc(BlockCache& cache, const SuperBlock& sb);

  // Reads the avail and freed lists named by the super.
  sim::Errno load();

  // What every btree of the mount (this allocator's bitmap tree included) allocates through.
  BtreeAllocator btree_allocator();
  uint64_t alloc();
  void free(uint64_t blkno);
  uint64_t next_seq() { return ++seq_; }
  // The sequence counter's current value (the super's server_seq at the next commit). A
  // restarted server raises it past every seq it finds in use (raise_seq).
  uint64_t seq() const { return seq_; }
  void raise_seq(uint64_t at_least) { seq_ = std::max(seq_, at_least); }
  // Takes up to `n` blocks out of the bitmap for a mount's avail list (they leave the server's
  // free space in this commit and belong to the list that names them). Fewer when short.
  sim::Errno alloc_for_list(size_t n, std::vector<uint64_t>* out);

  // Blocks that can still be handed out: avail plus free in the bitmap.
  uint64_t free_blocks() const { return avail_.size() + bitmap_.free_count(); }
  // Blocks that become free once the next commit is durable.
  uint64_t pending_free_blocks() const { return pending_freed_.size() + freed_.size(); }

  // mkfs only: the first avail blocks are carved off directly (the bitmap tree needs blocks
  // before it can hold anything), then the rest of the device is made free in the bitmap.
  void mkfs_seed_avail(uint64_t start, uint64_t len);
  sim::Errno mkfs_free_range(uint64_t start, uint64_t len);

  sim::Errno prepare_commit(SuperBlock* sb);
  void committed();

  BitmapAlloc& bitmap() { return bitmap_; }
  // Planted bug "reuse_before_commit" (see mount.h).
  void plant_reuse_before_commit() { reuse_before_commit_ = true; }
  // fsck and tests.
  const std::vector<uint64_t>& avail() const { return avail_; }
  const std::vector<uint64_t>& pending_freed() const { return pending_freed_; }
  const std::vector<uint64_t>& freed_this_txn() const { return freed_; }
  const std::vector<uint64_t>& list_blocks() const { return list_blocks_; }

 private:
  sim::Errno refill(size_t target);
  uint64_t take_avail();

  BlockCache& cache_;
  SuperBlock sb_;
  uint64_t seq_;
  BitmapAlloc bitmap_;
  std::vector<uint64_t> avail_;          // handed out from the back
  std::vector<uint64_t> freed_;          // freed this transaction; durable state still uses them
  std::vector<uint64_t> pending_freed_;  // freed by the last durable commit: merged at the next
  std::set<uint64_t> txn_alloc_;         // allocated this transaction
  std::vector<uint64_t> list_blocks_;    // the list blocks the durable super references
  bool in_bitmap_op_ = false;
  bool refill_allowed_ = true;
  bool reuse_before_commit_ = false;
};

}  // namespace simfs::fs
