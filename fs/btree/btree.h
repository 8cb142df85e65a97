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

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "fs/block/block_cache.h"
#include "fs/format/btree_block.h"
#include "fs/format/format.h"
#include "fs/format/key.h"
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
  // A parent with a single child must count as under the low water, or it could stay that way
  // outside the root, and its child would then have no sibling to join when it runs low.
  bool valid() const {
    return entries_bytes_max <= kBtreeEntriesBytesMax && value_bytes_max <= kBtreeValueBytesMax &&
           2 * (kBtreeLeafItemFixedBytes + value_bytes_max) <= entries_bytes_max &&
           low_water() > kBtreeParentEntryBytes;
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

// The block at some level on the path to a key, and the keys it is responsible for (see
// Btree::parent_range).
struct ParentInfo {
  BlockRef ref;
  uint8_t level = 0;
  Key start;  // the first key routed to this block
  Key end;    // the last key routed to this block
};

struct MergeOptions {
  // Stop before the next key once this call has written at least this many new blocks. One
  // key's change may still take up to 2 * height + 1 blocks past the mark, and the first key is
  // always applied, so every call makes progress.
  size_t dirty_block_budget = SIZE_MAX;
  // For a tree that is a subtree of another (its root is the block ParentInfo names): never
  // split, collapse or empty the root, so the result can be spliced back at the same level with
  // set_parent. A change that would needs it stops the merge early instead (height_stop).
  bool keep_height = false;
};

struct MergeResult {
  Key next;                 // on ERANGE: the first key not yet merged
  bool height_stop = false; // on ERANGE: keep_height stopped it, not the budget
  size_t changed = 0;       // keys inserted, updated or erased
  size_t blocks_written = 0;  // new blocks this call allocated (counted against the budget)
};

// Where an incremental free_blocks() is: keys below `next` are freed.
struct FreeCursor {
  Key next = Key::min();
  bool done = false;
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
  // Calls fn for each item with first <= key <= last in key order until fn returns false. fn
  // may change the tree; it then sees the items of the leaf it is in as they were when the walk
  // reached that leaf, and the changed tree from the next leaf on.
  sim::Errno for_each(const Key& first, const Key& last, const std::function<bool(const Item&)>& fn);

  sim::Errno insert(const Item& item);
  // Replaces the seq, flag and value of an existing key.
  sim::Errno update(const Item& item);
  sim::Errno erase(const Key& key);
  // Puts a run of `items` (strictly increasing keys) that fall in one leaf, copying that leaf
  // once: each is inserted, or replaces the item with its key (deletion items are stored like
  // any other: log trees keep them). Always puts the first item; stops at the leaf's end or once
  // the leaf has grown by half a block. *applied: how many were put; *added: how many of those
  // were new keys. EINVAL for unsorted items or a long value; otherwise as insert(), and on an
  // error nothing changes.
  sim::Errno put_batch(std::span<const Item> items, size_t* applied, size_t* added);

  // ---- Log-merge helpers (btree_merge.cc; docs/format.md "Log-merge helpers") ----
  //
  // A log merge applies the items of finalized log trees to fs_root one parent block at a time:
  // parent_range names the unit, merge (with keep_height) rewrites a copy of that subtree,
  // set_parent splices the copy back, rebalance fixes the seam, and free_blocks releases the
  // input trees afterwards. Each changes nothing when it returns an error.

  // The block at `level` (default: the parents just above the leaves) on the path a search for
  // `key` follows, and the key range routed to it: start is Key::min() or the successor of the
  // previous sibling's key at the deepest level that has one; end is the block's own parent key,
  // or Key::max() on the right spine (keys past the largest go down the right spine). The ranges
  // of all blocks at one level partition the key space, and each contains its block's keys.
  // ENOENT if the tree is not taller than `level`; read errors as lookup().
  sim::Errno parent_range(const Key& key, ParentInfo* out, uint8_t level = 1);

  // Replaces the reference to the block at `level` covering `key` with `subtree`, a tree of
  // height level + 1 whose keys all lie in that block's range (parent_range), and copies the
  // path above it. The parent keys on the path become the subtree's largest key (parents keep
  // exact maxima). The replaced block and everything below it is not freed or read: the caller
  // built the subtree by copy-on-write from it (whose copies already freed what they replaced,
  // and whose unchanged blocks the subtree still shares) or frees it itself. The subtree's root
  // may be outside the fill bounds: call rebalance(start) next, with the range's start. (Not
  // just any key of the old range: if the subtree's largest key is now lower, the keys above it
  // route to the next sibling; the start still routes to the subtree, as do its own keys.) Key
  // ranges of the blocks around it move accordingly, so ranges handed out before a splice are
  // stale after it. The subtree's blocks count as committed here (changed again only by
  // copying). EINVAL: wrong height, empty subtree, or a key outside the range.
  sim::Errno set_parent(const Key& key, uint8_t level, const BtreeRoot& subtree);

  // Walks the path to `key` and brings every block on it within the fill bounds (split when
  // over, join or refill from a sibling when under a quarter; a root with one child collapses).
  // Copies the path only if something needs fixing. Enough after set_parent, which leaves at
  // most the spliced block out of bounds, by no more than one split or join.
  sim::Errno rebalance(const Key& key);

  // Applies `items`, sorted by key (duplicates allowed, e.g. one per input tree): per key the
  // item with the highest seq wins (the first of equal seqs); if the tree holds the key with a
  // seq at least as high it stays; otherwise a winning deletion erases the key (the tree keeps
  // no tombstones) and any other winner is inserted or updated, keeping its seq. The keys that
  // land in one leaf are applied with one copy of it (a run as put_batch). Returns 0 when
  // every item is merged, or ERANGE with result->next when options.dirty_block_budget or
  // options.keep_height stopped it between two keys: call again with the items from next on.
  // Any other error (EINVAL for unsorted items or a long value, ENOSPC, EFBIG, EIO, ESTALE)
  // undoes the whole call. The budget is checked between runs; one run writes at most one
  // path and its splits, as one key did.
  sim::Errno merge(std::span<const Item> items, const MergeOptions& options, MergeResult* result);

  // Frees the tree's blocks through the allocator, at most `budget` blocks per call (budget must
  // be at least the height: EINVAL), resuming at *cursor, which it advances (cursor->done when
  // the last block is gone; the tree is then empty). Leaves are freed without being read. Once
  // started, the tree must not be used for anything else until done. On a read error nothing
  // is freed and the cursor stays. Frees each block exactly once across the calls.
  sim::Errno free_blocks(FreeCursor* cursor, size_t budget, size_t* freed = nullptr);

 private:
  enum class Op { kInsert, kUpdate, kErase, kRebalance, kBatch };
  struct Level;
  struct BatchEdit;
  struct Out;
  struct Undo;
  class Writer;

  bool path_out_of_bounds(const std::vector<Level>& path) const;
  void finish_undo(bool keep);

  sim::Errno read_node(BlockRef ref, uint8_t level, std::shared_ptr<const BtreeNode>* out, BlockPtr* block);
  sim::Errno prev_in(BlockRef ref, uint8_t level, const Key& key, Item* out);
  sim::Errno modify(Op op, const Item& item, BatchEdit* batch = nullptr);
  bool edit_leaf(std::vector<BtreeEntry>& entries, const Key& end, BatchEdit* b) const;

  BlockCache& cache_;
  BtreeAllocator alloc_;
  BtreeRoot root_;
  BtreeConfig config_;
  std::set<uint64_t> txn_blocks_;  // allocated since committed(): writable in place
  Undo* undo_ = nullptr;           // set during merge(): see Undo in btree_internal.h
  bool keep_height_ = false;       // set during merge(): MergeOptions::keep_height
};

}  // namespace simfs::fs
