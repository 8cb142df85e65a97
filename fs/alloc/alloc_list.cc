#include "fs/alloc/alloc_list.h"

#include <algorithm>

#include "fs/base/assert.h"
#include "sim/bytes.h"

namespace simfs::fs {

sim::Errno load_alloc_list(BlockCache& cache, const AllocListHead& head, std::vector<uint64_t>* entries,
                           std::vector<uint64_t>* blocks) {
  BlockRef ref = head.ref;
  size_t nblocks = 0;
  const size_t first = entries->size();
  while (!ref.empty()) {
    if (++nblocks > head.total_nr / kAllocListEntriesMax + 1) return EIO;  // a cycle or a lying head
    BlockPtr b;
    sim::Errno e = cache.read(ref, BlockMagic::kAllocList, &b);
    if (e) return e;
    sim::ByteReader r(b->payload());
    BlockRef next{r.u64(), r.u64()};
    uint32_t n = r.u32();
    if (n == 0 || n > kAllocListEntriesMax) return EIO;
    for (uint32_t i = 0; i < n; ++i) entries->push_back(r.u64());
    if (blocks) blocks->push_back(ref.blkno);
    ref = next;
  }
  return entries->size() - first == head.total_nr ? 0 : EIO;
}

AllocListHead write_alloc_list(BlockCache& cache, const std::vector<uint64_t>& entries,
                               const std::vector<uint64_t>& blocks, const std::function<uint64_t()>& next_seq) {
  FS_ASSERT(blocks.size() == alloc_list_blocks_for(entries.size()));
  AllocListHead head;
  head.total_nr = entries.size();
  BlockRef next;
  for (size_t k = blocks.size(); k-- > 0;) {
    const size_t first = k * kAllocListEntriesMax;
    const size_t n = std::min(kAllocListEntriesMax, entries.size() - first);
    BlockRef ref{blocks[k], next_seq()};
    BlockPtr b = cache.create(ref, BlockMagic::kAllocList);
    std::vector<uint8_t> payload;
    sim::ByteWriter w(payload);
    w.u64(next.blkno);
    w.u64(next.seq);
    w.u32(static_cast<uint32_t>(n));
    for (size_t i = 0; i < n; ++i) w.u64(entries[first + i]);
    std::copy(payload.begin(), payload.end(), b->payload().begin());
    cache.mark_dirty(b);
    next = ref;
    head.first_nr = static_cast<uint32_t>(n);
  }
  head.ref = next;
  return head;
}

}  // namespace simfs::fs
