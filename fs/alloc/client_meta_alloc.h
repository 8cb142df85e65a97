// ClientMetaAlloc: a mount's transaction allocator for metadata blocks — the avail and freed
// alloc lists of its log tree record (scoutfs-design §3, "Client allocators"). The server fills
// avail (GET_LOG_TREES) and takes freed away; between those the mount allocates from avail only,
// so its commits never touch the server's free space.
//
// Contract:
// - load() reads the lists the record names; the list blocks themselves are the mount's (the
//   record references them), and the next prepare_commit() frees them into the freed list.
// - alloc() returns 0 when avail is empty: the caller fails with ENOSPC, and the mount commits
//   to get a refill.
// - free(blkno): a block allocated in this transaction was never durable and goes straight back
//   to avail (and out of the block cache); any other goes to freed, and is not reused by anyone
//   before the server has taken the freed list from a durable record and its own commit that
//   frees it is durable.
// - prepare_commit() writes both lists (their blocks taken from avail) and gives their heads;
//   after the server has recorded them (COMMIT_LOG_TREES answered), committed().
#pragma once

#include <cstdint>
#include <set>
#include <vector>

#include "fs/alloc/alloc_list.h"
#include "fs/block/block_cache.h"
#include "fs/btree/btree.h"
#include "fs/format/format.h"

namespace simfs::fs {

class ClientMetaAlloc {
 public:
  // `next_seq` gives block seqs (random per copy in scoutfs; here a per-mount counter mixed
  // with the mount's id, so two mounts never write the same {blkno, seq}).
  ClientMetaAlloc(BlockCache& cache, std::function<uint64_t()> next_seq);

  sim::Errno load(const AllocListHead& avail, const AllocListHead& freed);
  BtreeAllocator btree_allocator();
  uint64_t alloc();
  void free(uint64_t blkno);
  uint64_t next_seq() { return next_seq_(); }

  size_t avail_count() const { return avail_.size(); }
  size_t freed_count() const { return freed_.size(); }
  // Blocks prepare_commit() itself needs for the two lists (plus the avail it leaves).
  size_t commit_blocks_needed() const {
    return alloc_list_blocks_for(freed_.size() + list_blocks_.size() + 2) + alloc_list_blocks_for(avail_.size()) + 1;
  }

  // ENOSPC when avail cannot hold the lists' own blocks.
  sim::Errno prepare_commit(AllocListHead* avail, AllocListHead* freed);
  void committed();

  // Planted bug "reuse_before_commit" (fs/base/bugs.h): freed blocks go straight back to avail.
  void plant_reuse_before_commit() { reuse_before_commit_ = true; }
  const std::vector<uint64_t>& avail() const { return avail_; }
  const std::vector<uint64_t>& freed() const { return freed_; }

 private:
  BlockCache& cache_;
  std::function<uint64_t()> next_seq_;
  std::vector<uint64_t> avail_;        // handed out from the back
  std::vector<uint64_t> freed_;        // in entry order as they will be written
  std::vector<uint64_t> list_blocks_;  // the blocks of the lists the durable record names
  std::set<uint64_t> txn_alloc_;
  bool reuse_before_commit_ = false;
};

}  // namespace simfs::fs
