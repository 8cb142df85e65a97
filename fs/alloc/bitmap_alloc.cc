#include "fs/alloc/bitmap_alloc.h"

#include <algorithm>

#include "fs/format/items.h"

namespace simfs::fs {

namespace {

bool test_bit(const std::vector<uint8_t>& bm, uint32_t i) { return (bm[i / 8] >> (i % 8)) & 1; }
void set_bit(std::vector<uint8_t>& bm, uint32_t i) { bm[i / 8] = static_cast<uint8_t>(bm[i / 8] | (1u << (i % 8))); }
void clear_bit(std::vector<uint8_t>& bm, uint32_t i) { bm[i / 8] = static_cast<uint8_t>(bm[i / 8] & ~(1u << (i % 8))); }
bool all_clear(const std::vector<uint8_t>& bm) {
  return std::all_of(bm.begin(), bm.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

BitmapAlloc::BitmapAlloc(BlockCache& cache, BtreeAllocator meta, uint64_t allocator_id, AllocRoot root)
    : tree_(cache, std::move(meta), root.root), id_(allocator_id), free_count_(root.total_len) {}

sim::Errno BitmapAlloc::alloc(uint64_t* blkno) {
  if (free_count_ == 0) return ENOSPC;
  sim::Errno e = alloc_from(cursor_region_, blkno);
  if (e == ENOSPC && cursor_region_ != 0) e = alloc_from(0, blkno);
  // The count says a block is free but no bitmap has one: the two disagree on disk.
  if (e == ENOSPC) return EIO;
  return e;
}

sim::Errno BitmapAlloc::alloc_from(uint64_t first_region, uint64_t* blkno) {
  Item it;
  sim::Errno e = tree_.next(bitmap_key(id_, first_region), &it);
  if (e == ENOENT || (e == 0 && (it.key.zone != kZoneAlloc || it.key.ino != id_ || it.key.type != kTypeBitmap)))
    return ENOSPC;
  if (e) return e;
  if (it.value.size() != kBitmapBytes) return EIO;
  for (uint32_t i = 0; i < kBitmapRegionBlocks; ++i) {
    if (!test_bit(it.value, i)) continue;
    clear_bit(it.value, i);
    uint64_t region = it.key.first;
    e = all_clear(it.value) ? tree_.erase(it.key) : tree_.update(it);
    if (e) return e;
    *blkno = region * kBitmapRegionBlocks + i;
    cursor_region_ = region;
    --free_count_;
    return 0;
  }
  return EIO;  // an item with no free bit is never stored
}

sim::Errno BitmapAlloc::free_range(uint64_t start, uint64_t len) {
  // Two passes: read and check every region first, so a double free anywhere in the range
  // changes nothing at all.
  std::vector<std::pair<Item, bool>> regions;  // new contents, and whether the item exists
  for (uint64_t at = start, left = len; left > 0;) {
    const uint64_t region = at / kBitmapRegionBlocks;
    const uint32_t first = static_cast<uint32_t>(at % kBitmapRegionBlocks);
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(left, kBitmapRegionBlocks - first));
    Item it;
    sim::Errno e = tree_.lookup(bitmap_key(id_, region), &it);
    const bool exists = e == 0;
    if (e == ENOENT) {
      it = Item{bitmap_key(id_, region), 0, false, std::vector<uint8_t>(kBitmapBytes, 0)};
    } else if (e) {
      return e;
    } else if (it.value.size() != kBitmapBytes) {
      return EIO;
    }
    for (uint32_t i = first; i < first + n; ++i) {
      if (test_bit(it.value, i)) return EIO;  // double free
      set_bit(it.value, i);
    }
    regions.emplace_back(std::move(it), exists);
    at += n;
    left -= n;
  }
  for (auto& [it, exists] : regions) {
    // Only an allocation failure (ENOSPC) can stop this pass; the caller's commit then fails
    // and the mount stops, so a partly applied range never reaches the disk.
    sim::Errno e = exists ? tree_.update(it) : tree_.insert(it);
    if (e) return e;
  }
  free_count_ += len;
  return 0;
}

sim::Errno BitmapAlloc::take(uint64_t want, std::vector<Run>* out) {
  uint64_t region = 0;
  bool wrapped = false;
  // Bounded: each pass consumes a region item or stops.
  while (want > 0 && free_count_ > 0) {
    Item it;
    sim::Errno e = tree_.next(bitmap_key(id_, region), &it);
    const bool none = e == ENOENT || (e == 0 && (it.key.zone != kZoneAlloc || it.key.ino != id_ ||
                                                  it.key.type != kTypeBitmap));
    if (none) {
      if (wrapped) return EIO;  // the count says blocks are free, but no bitmap has one
      wrapped = true;
      region = 0;
      continue;
    }
    if (e) return e;
    if (it.value.size() != kBitmapBytes) return EIO;
    uint64_t taken = 0;
    for (uint32_t i = 0; i < kBitmapRegionBlocks && want > 0; ++i) {
      if (!test_bit(it.value, i)) continue;
      clear_bit(it.value, i);
      const uint64_t b = it.key.first * kBitmapRegionBlocks + i;
      if (!out->empty() && out->back().start + out->back().len == b) {
        ++out->back().len;
      } else {
        out->push_back(Run{b, 1});
      }
      --want;
      ++taken;
    }
    if (taken == 0) return EIO;  // an item with no free bit is never stored
    e = all_clear(it.value) ? tree_.erase(it.key) : tree_.update(it);
    if (e) return e;
    free_count_ -= taken;
    region = it.key.first + 1;
  }
  return 0;
}

sim::Errno BitmapAlloc::collect(std::vector<Run>* out) {
  const Key first = bitmap_key(id_, 0), last = bitmap_key(id_, UINT64_MAX);
  bool bad = false;
  sim::Errno e = tree_.for_each(first, last, [&](const Item& it) {
    if (it.value.size() != kBitmapBytes) {
      bad = true;
      return false;
    }
    for (uint32_t i = 0; i < kBitmapRegionBlocks; ++i) {
      if (!test_bit(it.value, i)) continue;
      const uint64_t b = it.key.first * kBitmapRegionBlocks + i;
      if (!out->empty() && out->back().start + out->back().len == b) {
        ++out->back().len;
      } else {
        out->push_back(Run{b, 1});
      }
    }
    return true;
  });
  if (e) return e;
  return bad ? EIO : 0;
}

sim::Errno BitmapAlloc::free_runs(const std::vector<Run>& runs) {
  for (const Run& r : runs) {
    if (sim::Errno e = free_range(r.start, r.len)) return e;
  }
  return 0;
}

sim::Errno BitmapAlloc::is_free(uint64_t blkno, bool* out) {
  Item it;
  sim::Errno e = tree_.lookup(bitmap_key(id_, blkno / kBitmapRegionBlocks), &it);
  if (e == ENOENT) {
    *out = false;
    return 0;
  }
  if (e) return e;
  if (it.value.size() != kBitmapBytes) return EIO;
  *out = test_bit(it.value, static_cast<uint32_t>(blkno % kBitmapRegionBlocks));
  return 0;
}

}  // namespace simfs::fs
