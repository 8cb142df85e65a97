// Btree: a copy-on-write B+tree of items stored in metadata blocks through the BlockCache.
//
// Contract:
// - Items live in leaves, in key order; parents hold one entry per child whose key is exactly the
//   largest key in that child. Every leaf is at the same depth. Every block but the root holds
//   at least a quarter of its fill limit (config.entries_bytes_max); a root parent has at least
//   two children and a root leaf at least one item (an empty tree has no blocks at all).
// - Copy-on-write: blocks reachable from the root as it was at the last committed() are never
//   modified. The first change to such a block in a transaction copies it to a block number from
//   the allocator with a fresh seq, which changes every reference above it up to the root; the
//   old block goes to the allocator's free callback. Blocks allocated since committed() are
//   modified in place, so a transaction copies each block at most once.
// - The caller writes back the dirty blocks with a super that holds root() and then calls
//   committed(); until then root() is only in memory. Writers are serialized by the caller, and
//   must not modify the tree while a writeback of it is in flight.
// - Every operation either completes or returns an error with the tree unchanged: all reads and
//   allocations happen before the first block is modified. Errors: ENOENT (no such key),
//   EEXIST (insert of an existing key), EINVAL (value too long), ENOSPC (allocator empty),
//   EFBIG (tree would exceed kBtreeHeightMax), and EIO/ESTALE from BlockCache::read, in which
//   case the caller re-reads its roots and retries as the block layer describes.
// - Split and join keep the fill bounds above after every operation; check_tree (btree_check.h)
//   verifies them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <vector>

#include "fs/block_cache.h"
#include "fs/btree_block.h"
#include "fs/format.h"
#include "fs/key.h"
#include "sim/errors.h"

namespace simfs::fs {

struct BtreeConfig {
  // Fill limit of a block's entry area. Tests lower it so that a few items force splits.
  size_t entries_bytes_max = kBtreeEntriesBytesMax;
  size_t value_bytes_max = kBtreeValueBytesMax;

  // A block under this is joined with or refilled from a sibling.
  size_t low_water() const { return entries_bytes_max / 4; }
  // Splitting or refilling at the byte midpoint keeps both halves within bounds only if no entry
  // is larger than half a block; see split_point() in btree.cc.
  bool valid() const {
    return entries_bytes_max <= kBtreeEntriesBytesMax && value_bytes_max <= kBtreeValueBytesMax &&
           2 * (kBtreeLeafItemFixedBytes + value_bytes_max) <= entries_bytes_max &&
           2 * kBtreeParentEntryBytes <= entries_bytes_max;
  }
};

// Where new block numbers and seqs come from and where replaced blocks go.
// - alloc(): a free block number, or 0 when there is none (the operation fails with ENOSPC).
// - free(blkno): the tree no longer references blkno. It may be a block allocated in this
//   transaction (never durable) or one of the committed tree (reusable only once the commit
//   that stops referencing it is durable); telling them apart is the allocator's business.
//   A failed operation also gives back the blocks it allocated this way.
// - next_seq(): a seq never used before for any block version, so stale references are caught.
struct BtreeAllocator {
  std::function<uint64_t()> alloc;
  std::function<void(uint64_t)> free;
  std::function<uint64_t()> next_seq;
};

class Btree {
 public:
  Btree(BlockCache& cache, BtreeAllocator alloc, BtreeRoot root, BtreeConfig config = {});

  const BtreeRoot& root() const { return root_; }
  const BtreeConfig& config() const { return config_; }
  // The current root is now durable: its blocks are copied before their next change.
  void committed() { txn_blocks_.clear(); }

  sim::Errno lookup(const Key& key, Item* out);
  // The first item with a key >= key.
  sim::Errno next(const Key& key, Item* out);
  // The last item with a key <= key.
  sim::Errno prev(const Key& key, Item* out);
  // Calls fn for each item with first <= key <= last in key order until fn returns false.
  sim::Errno for_each(const Key& first, const Key& last, const std::function<bool(const Item&)>& fn);

  sim::Errno insert(const Item& item);
  // Replaces the seq, flag and value of an existing key.
  sim::Errno update(const Item& item);
  sim::Errno erase(const Key& key);

 private:
  enum class Op { kInsert, kUpdate, kErase };
  struct Level;
  struct Out;
  class Writer;

  sim::Errno read_node(BlockRef ref, uint8_t level, std::shared_ptr<const BtreeNode>* out, BlockPtr* block);
  sim::Errno prev_in(BlockRef ref, uint8_t level, const Key& key, Item* out);
  sim::Errno modify(Op op, const Item& item);

  BlockCache& cache_;
  BtreeAllocator alloc_;
  BtreeRoot root_;
  BtreeConfig config_;
  std::set<uint64_t> txn_blocks_;  // allocated since committed(): writable in place
};

}  // namespace simfs::fs
