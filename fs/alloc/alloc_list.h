// Alloc lists: a singly linked list of metadata blocks, each holding block numbers (seed 001,
// scoutfs-design §3). Transactions allocate only from such lists, so allocating never needs a
// btree change (which would itself allocate). The server keeps its own pair of lists in the
// super; every mount keeps an avail and a freed list in its log tree record.
//
// Contract:
// - write_alloc_list() writes `entries` into the blocks named by `blocks` (as many as
//   alloc_list_blocks_for(entries.size())), each with a fresh seq from `next_seq`, as dirty
//   blocks in the cache; the head names the first. Writing order is back to front, so each
//   block can name the next.
// - load_alloc_list() reads a list back in entry order and also reports the blocks that hold
//   it. EIO for a damaged block, a wrong count or a list longer than its head claims (a cycle
//   cannot loop), and read errors as BlockCache::read.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "fs/block/block_cache.h"
#include "fs/format/format.h"

namespace simfs::fs {

// Block numbers per alloc-list block: payload is next ref (16), count (u32), then u64s.
constexpr size_t kAllocListEntriesMax = (kBlockSize - kBlockHeaderBytes - kBlockRefBytes - 4) / 8;  // 505

constexpr size_t alloc_list_blocks_for(size_t entries) {
  return (entries + kAllocListEntriesMax - 1) / kAllocListEntriesMax;
}

sim::Errno load_alloc_list(BlockCache& cache, const AllocListHead& head, std::vector<uint64_t>* entries,
                           std::vector<uint64_t>* blocks);
AllocListHead write_alloc_list(BlockCache& cache, const std::vector<uint64_t>& entries,
                               const std::vector<uint64_t>& blocks, const std::function<uint64_t()>& next_seq);

}  // namespace simfs::fs
