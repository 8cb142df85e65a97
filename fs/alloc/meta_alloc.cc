#include "fs/alloc/meta_alloc.h"

#include <algorithm>

#include "fs/alloc/alloc_list.h"
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

sim::Errno MetaAlloc::alloc_for_list(size_t n, std::vector<uint64_t>* out) {
  std::vector<BitmapAlloc::Run> runs;
  in_bitmap_op_ = true;
  sim::Errno e = bitmap_.take(n, &runs);
  in_bitmap_op_ = false;
  for (const BitmapAlloc::Run& r : runs)
    for (uint64_t b = r.start; b < r.start + r.len; ++b) out->push_back(b);
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

sim::Errno MetaAlloc::load() {
  avail_.clear();
  pending_freed_.clear();
  list_blocks_.clear();
  sim::Errno e = load_alloc_list(cache_, sb_.server_meta_avail[0], &avail_, &list_blocks_);
  if (!e) e = load_alloc_list(cache_, sb_.server_meta_freed[0], &pending_freed_, &list_blocks_);
  std::reverse(avail_.begin(), avail_.end());  // written lowest first; handed out lowest first
  return e;
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
  std::vector<uint64_t> freed_blocks, avail_blocks;
  // The avail list's blocks come out of avail itself, so some counts have no exact answer
  // (1013 left: 2 list blocks leave 1011 entries, which need 3; 3 leave 1010, which need 2).
  // Then one avail block moves to the freed list (free again after this commit) and we retry.
  size_t nf = 0, na = 0;
  for (int tries = 0; tries < 8; ++tries) {
    nf = alloc_list_blocks_for(freed_.size());
    const size_t rest = avail_.size() - std::min(avail_.size(), nf);
    na = 0;
    while (na * kAllocListEntriesMax < rest - std::min(rest, na)) ++na;
    if (rest < na || alloc_list_blocks_for(rest - na) == na) break;
    freed_.push_back(take_avail());
  }
  if (avail_.size() < nf) e = ENOSPC;
  for (size_t i = 0; i < nf && !e; ++i) freed_blocks.push_back(take_avail());
  if (!e && avail_.size() < na) e = ENOSPC;
  for (size_t i = 0; i < na && !e; ++i) avail_blocks.push_back(take_avail());
  refill_allowed_ = true;
  if (e) return e;
  std::vector<uint64_t> avail_sorted(avail_.rbegin(), avail_.rend());
  auto seq = [this] { return next_seq(); };
  sb->server_meta_freed[0] = write_alloc_list(cache_, freed_, freed_blocks, seq);
  sb->server_meta_avail[0] = write_alloc_list(cache_, avail_sorted, avail_blocks, seq);
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
