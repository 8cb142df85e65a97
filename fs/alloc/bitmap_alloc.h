// BitmapAlloc: free device blocks recorded as bitmaps packed into fixed-size btree items
// (seed 001). Each item covers kBitmapRegionBlocks consecutive blocks; a set bit is a free
// block. A region with no free block has no item at all, so a full device costs no items.
//
// Contract:
// - alloc() hands out the lowest free block at or after a moving cursor (wrapping once), so
//   consecutive allocations are usually physically consecutive. ENOSPC when nothing is free.
// - free_range() marks blocks free. Freeing a block that is already free is corruption of the
//   caller's bookkeeping: it returns EIO and changes nothing, so a double free is never hidden.
//   (An ENOSPC from the tree part way through a multi-region range does leave the earlier
//   regions freed and free_count() stale; callers treat it as a failed commit.)
// - The tree's own blocks come from the BtreeAllocator given at construction, which must not be
//   this bitmap itself (the metadata allocator feeds its tree from its avail list instead; see
//   meta_alloc.h). Callers serialize; the tree must not change while a writeback is in flight.
// - free_count() is kept exactly, and persisted as AllocRoot::total_len.
#pragma once

#include <cstdint>
#include <vector>

#include "fs/btree/btree.h"
#include "fs/format/format.h"

namespace simfs::fs {

class BitmapAlloc {
 public:
  BitmapAlloc(BlockCache& cache, BtreeAllocator meta, uint64_t allocator_id, AllocRoot root);

  sim::Errno alloc(uint64_t* blkno);
  sim::Errno free_range(uint64_t start, uint64_t len);
  // Takes up to `want` free blocks (lowest regions from the cursor on, each region item changed
  // once) and appends them to *out as runs {start, len}. Fewer when fewer are free. For moving
  // free space between allocators (the server refilling a mount's data allocator).
  struct Run {
    uint64_t start = 0;
    uint64_t len = 0;
  };
  sim::Errno take(uint64_t want, std::vector<Run>* out);
  // Appends every free block as runs, changing nothing (the server emptying a dead mount's
  // allocator before freeing the tree itself).
  sim::Errno collect(std::vector<Run>* out);
  // Frees every run (as free_range: a double free is EIO and changes nothing of that run).
  sim::Errno free_runs(const std::vector<Run>& runs);
  // Is blkno marked free? (fsck and tests)
  sim::Errno is_free(uint64_t blkno, bool* out);

  uint64_t free_count() const { return free_count_; }
  AllocRoot alloc_root() const { return AllocRoot{tree_.root(), free_count_}; }
  Btree& tree() { return tree_; }
  void committed() { tree_.committed(); }

 private:
  sim::Errno alloc_from(uint64_t first_region, uint64_t* blkno);

  Btree tree_;
  uint64_t id_;
  uint64_t free_count_;
  uint64_t cursor_region_ = 0;
};

}  // namespace simfs::fs
