// Forest: the filesystem's items as one sorted set, read from the fs tree and the log trees
// written over it (scoutfs-design §2). A later write of a key always carries a higher seq, so
// for each key the item with the highest seq across the trees is the current one, and a
// winning deletion item means the key does not exist.
//
// Contract:
// - Read-only. The trees are borrowed and may change between calls (a commit writes the open
//   log tree, a merge rewrites the fs tree); set_trees() when the set itself changes.
// - Equal seqs for one key name the same write (a partly merged log tree and the fs tree both
//   hold it), so either copy may be returned.
// - Errors: ENOENT when no live item matches; read errors (EIO, ESTALE) from the trees.
#pragma once

#include <vector>

#include "fs/btree/btree.h"

namespace simfs::fs {

// The btree config of the forest's trees (fs, logs and log trees) for a super's btree_fill.
// Valid (BtreeConfig::valid) for 0 and for kBtreeFillMin .. kBtreeEntriesBytesMax.
inline BtreeConfig forest_btree_config(uint32_t btree_fill) {
  BtreeConfig c;
  if (btree_fill != 0) c.entries_bytes_max = btree_fill;
  return c;
}
inline bool btree_fill_valid(uint32_t btree_fill) {
  return btree_fill == 0 || (btree_fill >= kBtreeFillMin && btree_fill <= kBtreeEntriesBytesMax);
}

class Forest {
 public:
  void set_trees(std::vector<Btree*> trees) { trees_ = std::move(trees); }
  const std::vector<Btree*>& trees() const { return trees_; }

  // The live item at key.
  sim::Errno lookup(const Key& key, Item* out);
  // The first live item with from <= key <= last.
  sim::Errno next(const Key& from, const Key& last, Item* out);
  // Every live item with first <= key <= last, in key order (one walk of each tree).
  sim::Errno read_range(const Key& first, const Key& last, std::vector<Item>* out);

 private:
  std::vector<Btree*> trees_;
};

}  // namespace simfs::fs
