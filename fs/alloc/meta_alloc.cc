#include "fs/alloc/meta_alloc.h"

#include <algorithm>

#include "fs/base/assert.h"
#include "sim/bytes.h"

namespace simfs::fs {

MetaAlloc::MetaAlloc(BlockCache& cache, const SuperBlock& sb)
    : cache_(cache), sb_(sb), seq_(sb.server_seq), bitmap_(cache, btree_allocator(), 0, sb.meta_alloc[0]) {}

BtreeAllocator MetaAlloc::btree_allocator() {
  return BtreeAllocator{[this] { return alloc(); }, [this](uint64_t b) { free(b); }, [this] { return next_seq(); }};
}

uint64_t MetaAlloc::take_avail() {
  uint64_t b = avail_.back();
  avail_.pop_back();
  txn_alloc_.insert(b);
  return b;
}

uint64_t MetaAlloc::alloc() {
  if (avail_.size() < kAvailReserve && refill_allowed_ && !in_bitmap_op_) {
    // A failed refill leaves whatever it got; the reserve below still serves the caller.
    (void)refill(kAvailTarget);
  }
  if (avail_.empty()) return 0;
  return take_avail();
}

void MetaAlloc::free(uint64_t blkno) {
  if (txn_alloc_.erase(blkno)) {
    // Never durable, so nothing on disk refers to it: reusable at once.
    cache_.forget(blkno);
    avail_.push_back(blkno);
    return;
  }
  if (reuse_before_commit_) {  // BUG (planted): the durable tree still references blkno
    avail_.push_back(blkno);
    return;
  }
  freed_.push_back(blkno);
}

sim::Errno MetaAlloc::refill(size_t target) {
  in_bitmap_op_ = true;
  sim::Errno e = 0;
  std::vector<uint64_t> got;
  while (avail_.size() + got.size() < target && bitmap_.free_count() > 0) {
    uint64_t b = 0;
    e = bitmap_.alloc(&b);
    if (e) break;
    got.push_back(b);
  }
  in_bitmap_op_ = false;
  // Lowest block numbers are handed out first: keep the back of avail the lowest.
  std::sort(got.begin(), got.end(), std::greater<>());
  avail_.insert(avail_.begin(), got.begin(), got.end());
  return e;
}

void MetaAlloc::mkfs_seed_avail(uint64_t start, uint64_t len) {
  for (uint64_t b = start + len; b-- > start;) avail_.push_back(b);
}

sim::Errno MetaAlloc::mkfs_free_range(uint64_t start, uint64_t len) {
  in_bitmap_op_ = true;
  sim::Errno e = bitmap_.free_range(start, len);
  in_bitmap_op_ = false;
  return e;
}

sim::Errno MetaAlloc::load_list(const AllocListHead& head, std::vector<uint64_t>* out) {
  BlockRef ref = head.ref;
  size_t blocks = 0;
  while (!ref.empty()) {
    if (++blocks > head.total_nr / kAllocListEntriesMax + 1) return EIO;  // a cycle or a lying head
    BlockPtr b;
    sim::Errno e = cache_.read(ref, BlockMagic::kAllocList, &b);
    if (e) return e;
    sim::ByteReader r(b->payload());
    BlockRef next{r.u64(), r.u64()};
    uint32_t n = r.u32();
    if (n == 0 || n > kAllocListEntriesMax) return EIO;
    for (uint32_t i = 0; i < n; ++i) out->push_back(r.u64());
    list_blocks_.push_back(ref.blkno);
    ref = next;
  }
  return out->size() == head.total_nr ? 0 : EIO;
}

sim::Errno MetaAlloc::load() {
  avail_.clear();
  pending_freed_.clear();
  list_blocks_.clear();
  sim::Errno e = load_list(sb_.server_meta_avail[0], &avail_);
  if (!e) e = load_list(sb_.server_meta_freed[0], &pending_freed_);
  std::reverse(avail_.begin(), avail_.end());  // written lowest first; handed out lowest first
  return e;
}

sim::Errno MetaAlloc::write_list(const std::vector<uint64_t>& entries, std::vector<uint64_t>& blocks,
                                 AllocListHead* head) {
  // Written back to front so each block can name the one after it.
  *head = AllocListHead{};
  head->total_nr = entries.size();
  BlockRef next;
  size_t nblocks = blocks.size();
  for (size_t k = nblocks; k-- > 0;) {
    size_t first = k * kAllocListEntriesMax;
    size_t n = std::min(kAllocListEntriesMax, entries.size() - first);
    BlockRef ref{blocks[k], next_seq()};
    BlockPtr b = cache_.create(ref, BlockMagic::kAllocList);
    std::vector<uint8_t> payload;
    sim::ByteWriter w(payload);
    w.u64(next.blkno);
    w.u64(next.seq);
    w.u32(static_cast<uint32_t>(n));
    for (size_t i = 0; i < n; ++i) w.u64(entries[first + i]);
    std::copy(payload.begin(), payload.end(), b->payload().begin());
    cache_.mark_dirty(b);
    next = ref;
    head->first_nr = static_cast<uint32_t>(n);
  }
  head->ref = next;
  return 0;
}

sim::Errno MetaAlloc::prepare_commit(SuperBlock* sb) {
  // 1. What the last durable commit freed is free now: give it to the bitmap.
  std::vector<uint64_t> merge = std::move(pending_freed_);
  pending_freed_.clear();
  std::sort(merge.begin(), merge.end());
  in_bitmap_op_ = true;
  sim::Errno e = 0;
  for (size_t i = 0; i < merge.size() && !e;) {
    size_t j = i + 1;
    while (j < merge.size() && merge[j] == merge[j - 1] + 1) ++j;
    e = bitmap_.free_range(merge[i], j - i);
    i = j;
  }
  in_bitmap_op_ = false;
  if (e) return e;
  // 2. Enough avail for the list blocks, taken now while the bitmap may still change.
  if (avail_.size() < kAvailReserve) {
    e = refill(kAvailTarget);
    if (e) return e;
  }
  // 3. The old list blocks are still referenced by the durable super.
  for (uint64_t b : list_blocks_) free(b);
  list_blocks_.clear();
  // 4. Lists: freed first (its contents are final), then avail, whose blocks come out of it.
  refill_allowed_ = false;
  auto blocks_for = [](size_t n) { return (n + kAllocListEntriesMax - 1) / kAllocListEntriesMax; };
  std::vector<uint64_t> freed_blocks, avail_blocks;
  size_t nf = blocks_for(freed_.size());
  if (avail_.size() < nf) e = ENOSPC;
  for (size_t i = 0; i < nf && !e; ++i) freed_blocks.push_back(take_avail());
  size_t na = 0;
  while (!e && na * kAllocListEntriesMax < avail_.size() - std::min(avail_.size(), na)) ++na;
  if (!e && avail_.size() < na) e = ENOSPC;
  for (size_t i = 0; i < na && !e; ++i) avail_blocks.push_back(take_avail());
  refill_allowed_ = true;
  if (e) return e;
  std::vector<uint64_t> avail_sorted(avail_.rbegin(), avail_.rend());
  write_list(freed_, freed_blocks, &sb->server_meta_freed[0]);
  write_list(avail_sorted, avail_blocks, &sb->server_meta_avail[0]);
  list_blocks_ = freed_blocks;
  list_blocks_.insert(list_blocks_.end(), avail_blocks.begin(), avail_blocks.end());
  sb->meta_alloc[0] = bitmap_.alloc_root();
  sb->server_seq = seq_;  // after the list blocks took their seqs
  return 0;
}

void MetaAlloc::committed() {
  pending_freed_ = std::move(freed_);
  freed_.clear();
  txn_alloc_.clear();
  bitmap_.committed();
}

}  // namespace simfs::fs
