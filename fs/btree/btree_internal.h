// Internals shared by the Btree's translation units (btree.cc: lookups and single-item changes;
// btree_merge.cc: the log-merge helpers). Not part of the Btree's interface: include it only
// from those two files.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "fs/base/assert.h"
#include "fs/btree/btree.h"

namespace simfs::fs::btree_detail {

// Index of the first entry with a key >= key, or entries.size().
inline size_t lower_index(const BtreeNode& n, const Key& key) {
  auto it = std::lower_bound(n.entries.begin(), n.entries.end(), key,
                             [](const BtreeEntry& e, const Key& k) { return e.key() < k; });
  return static_cast<size_t>(it - n.entries.begin());
}

// Index of the first entry with a key > key, or entries.size().
inline size_t upper_index(const BtreeNode& n, const Key& key) {
  auto it = std::upper_bound(n.entries.begin(), n.entries.end(), key,
                             [](const Key& k, const BtreeEntry& e) { return k < e.key(); });
  return static_cast<size_t>(it - n.entries.begin());
}

// The child a parent search for `key` follows: the first whose largest key is >= key, or the
// last child for a key beyond them all (where an insert of that key would go).
inline size_t child_index(const BtreeNode& n, const Key& key) {
  return std::min(lower_index(n, key), n.entries.size() - 1);
}

// How many entries go to the left half when splitting `n` (at least 2 entries). Picking the
// boundary closest to the byte midpoint leaves the halves differing by at most one entry, so
// each half holds at least (total - largest entry) / 2 bytes: above the low water whenever the
// total is over the fill limit and no entry exceeds half of it (BtreeConfig::valid()).
inline size_t split_point(const BtreeNode& n) {
  FS_ASSERT(n.entries.size() >= 2);
  size_t total = n.bytes_used();
  size_t best = 1, best_diff = SIZE_MAX, prefix = 0;
  for (size_t m = 1; m < n.entries.size(); ++m) {
    prefix += n.entry_bytes(n.entries[m - 1]);
    size_t diff = 2 * prefix > total ? 2 * prefix - total : total - 2 * prefix;
    if (diff < best_diff) {
      best = m;
      best_diff = diff;
    }
  }
  return best;
}

inline std::pair<BtreeNode, BtreeNode> split_node(BtreeNode n) {
  size_t m = split_point(n);
  BtreeNode left, right;
  left.level = right.level = n.level;
  left.entries.assign(std::make_move_iterator(n.entries.begin()),
                      std::make_move_iterator(n.entries.begin() + static_cast<ptrdiff_t>(m)));
  right.entries.assign(std::make_move_iterator(n.entries.begin() + static_cast<ptrdiff_t>(m)),
                       std::make_move_iterator(n.entries.end()));
  return {std::move(left), std::move(right)};
}

inline BtreeEntry parent_entry(const Key& key, BlockRef child) {
  BtreeEntry e;
  e.item.key = key;
  e.child = child;
  return e;
}

}  // namespace simfs::fs::btree_detail

namespace simfs::fs {

// A node on the path from the root to the leaf being modified.
struct Btree::Level {
  BtreeNode node;
  BlockRef ref;
  BlockPtr block;
  size_t child = 0;  // parents: index of the entry followed downwards
};

// A run of items for one leaf (Op::kBatch): put_batch stores each as given; merge applies the
// highest-seq item of each key if it is newer than the tree's, erasing for a deletion.
struct Btree::BatchEdit {
  enum class Mode { kPut, kMerge };
  Mode mode = Mode::kPut;
  std::span<const Item> items;
  size_t consumed = 0;  // items taken from the front of `items`
  size_t added = 0;     // keys inserted
  size_t changed = 0;   // keys inserted, replaced or erased
};

// New contents for a block: `origin` is the block it replaces (empty for a new one).
struct Btree::Out {
  BtreeNode node;
  BlockRef origin;
  BlockPtr block;
};

// What a multi-operation change (merge) needs to undo the operations it already completed when
// a later one fails, so that the whole call changes nothing. While one is active, Writer
// records what it overwrites in place and what it allocates, and defers its frees: a block
// handed to the allocator could be reused or forgotten by the cache before the undo needs it.
struct Btree::Undo {
  struct Saved {
    BlockPtr block;
    std::shared_ptr<const BtreeNode> node;
    bool payload_stale = false;
  };
  BtreeRoot root;
  std::set<uint64_t> txn_blocks;        // Btree::txn_blocks_ when the change began
  std::vector<uint64_t> allocated;      // blocks written by completed operations, in order
  std::vector<uint64_t> freed;          // frees to hand to the allocator once the change stands
  std::map<uint64_t, Saved> saved;      // pre-existing blocks changed in place: their old node
};

// Collects an operation's block changes so that nothing touches the cache until every read and
// allocation has succeeded: apply() makes them, abort() gives back what was allocated.
class Btree::Writer {
 public:
  explicit Writer(Btree& t) : t_(t) {}

  // Chooses where `out` is written: in place if its origin was allocated in this transaction,
  // else in a newly allocated block (and the origin is freed). False when allocation fails.
  bool place(Out out, BlockRef* ref) {
    FS_ASSERT(!out.node.entries.empty());
    if (!out.origin.empty() && out.block && t_.txn_blocks_.contains(out.origin.blkno)) {
      *ref = out.origin;
    } else {
      uint64_t blkno = t_.alloc_.alloc();
      if (blkno == 0) return false;
      allocated_.push_back(blkno);
      *ref = BlockRef{blkno, t_.alloc_.next_seq()};
      if (!out.origin.empty()) retire(out.origin);
      out.block = nullptr;
    }
    writes_.push_back({*ref, std::move(out)});
    return true;
  }

  void retire(BlockRef ref) {
    if (!ref.empty()) freed_.push_back(ref.blkno);
  }

  // Nothing was written yet, so the blocks this operation got can go straight back.
  sim::Errno abort(sim::Errno e) {
    for (uint64_t blkno : allocated_) t_.alloc_.free(blkno);
    allocated_.clear();
    return e;
  }

  void apply() {
    Undo* undo = t_.undo_;
    for (auto& [ref, out] : writes_) {
      BlockPtr b = out.block ? out.block : t_.cache_.create(ref, btree_magic(out.node.level));
      FS_ASSERT(b->ref == ref && b->magic == btree_magic(out.node.level));
      if (undo && out.block && undo->txn_blocks.contains(ref.blkno) && !undo->saved.contains(ref.blkno)) {
        undo->saved[ref.blkno] = {b, b->node, b->payload_stale};
      }
      b->node = std::make_shared<const BtreeNode>(std::move(out.node));
      b->payload_stale = true;  // encoded at writeback (or when someone reads the payload)
      t_.cache_.mark_dirty(b);
    }
    for (uint64_t blkno : allocated_) {
      t_.txn_blocks_.insert(blkno);
      if (undo) undo->allocated.push_back(blkno);
    }
    for (uint64_t blkno : freed_) {
      t_.txn_blocks_.erase(blkno);
      if (undo) {
        undo->freed.push_back(blkno);
      } else {
        t_.alloc_.free(blkno);
      }
    }
  }

 private:
  Btree& t_;
  std::vector<uint64_t> allocated_;
  std::vector<uint64_t> freed_;
  std::vector<std::pair<BlockRef, Out>> writes_;
};

}  // namespace simfs::fs
