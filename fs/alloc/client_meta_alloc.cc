#include "fs/alloc/client_meta_alloc.h"

#include <algorithm>

#include "fs/base/assert.h"

namespace simfs::fs {

ClientMetaAlloc::ClientMetaAlloc(BlockCache& cache, std::function<uint64_t()> next_seq)
    : cache_(cache), next_seq_(std::move(next_seq)) {}

sim::Errno ClientMetaAlloc::load(const AllocListHead& avail, const AllocListHead& freed) {
  avail_.clear();
  freed_.clear();
  list_blocks_.clear();
  txn_alloc_.clear();
  sim::Errno e = load_alloc_list(cache_, avail, &avail_, &list_blocks_);
  if (!e) e = load_alloc_list(cache_, freed, &freed_, &list_blocks_);
  // Lists are written lowest first; hand out the lowest first.
  std::reverse(avail_.begin(), avail_.end());
  return e;
}

BtreeAllocator ClientMetaAlloc::btree_allocator() {
  return BtreeAllocator{[this] { return alloc(); }, [this](uint64_t b) { free(b); }, [this] { return next_seq(); }};
}

uint64_t ClientMetaAlloc::alloc() {
  if (avail_.empty()) return 0;
  const uint64_t b = avail_.back();
  avail_.pop_back();
  txn_alloc_.insert(b);
  return b;
}

void ClientMetaAlloc::free(uint64_t blkno) {
  if (txn_alloc_.erase(blkno)) {
    cache_.forget(blkno);  // never durable: nothing on disk refers to it
    avail_.push_back(blkno);
    return;
  }
  if (reuse_before_commit_) {  // BUG (planted): the durable tree still references blkno
    avail_.push_back(blkno);
    return;
  }
  freed_.push_back(blkno);
}

sim::Errno ClientMetaAlloc::prepare_commit(AllocListHead* avail, AllocListHead* freed) {
  // The lists the durable record names are replaced by the ones written now.
  for (uint64_t b : list_blocks_) freed_.push_back(b);
  list_blocks_.clear();
  std::vector<uint64_t> freed_blocks, avail_blocks;
  const size_t nf = alloc_list_blocks_for(freed_.size());
  if (avail_.size() < nf) return ENOSPC;
  for (size_t i = 0; i < nf; ++i) freed_blocks.push_back(alloc());
  // The avail list's own blocks come out of avail, shrinking what it must hold.
  size_t na = 0;
  while (na * kAllocListEntriesMax < avail_.size() - std::min(avail_.size(), na)) ++na;
  if (avail_.size() < na) return ENOSPC;
  for (size_t i = 0; i < na; ++i) avail_blocks.push_back(alloc());
  std::vector<uint64_t> avail_sorted(avail_.rbegin(), avail_.rend());
  auto seq = [this] { return next_seq(); };
  *freed = write_alloc_list(cache_, freed_, freed_blocks, seq);
  *avail = write_alloc_list(cache_, avail_sorted, avail_blocks, seq);
  list_blocks_ = freed_blocks;
  list_blocks_.insert(list_blocks_.end(), avail_blocks.begin(), avail_blocks.end());
  return 0;
}

void ClientMetaAlloc::committed() { txn_alloc_.clear(); }

}  // namespace simfs::fs
