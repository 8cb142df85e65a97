// The VFS: file data (extents, reads, writes, truncation, fsync and sync).
#include <algorithm>
#include <cstring>

#include "fs/vfs/vfs_op.h"

namespace simfs::fs {

using namespace vfs_internal;

// ---- file data ----

sim::Errno Vfs::load_extent(uint64_t ino, uint64_t region, ExtentMap* out) {
  std::vector<uint8_t> v;
  sim::Errno e = get(extent_key(ino, region), &v);
  if (e == ENOENT) {
    out->fill(0);
    return 0;
  }
  if (e) return io(e);
  return decode_extent(v, out) ? 0 : EIO;
}

void Vfs::store_extent(uint64_t ino, uint64_t region, const ExtentMap& m) {
  if (extent_empty(m))
    del(extent_key(ino, region));
  else
    put(extent_key(ino, region), encode_extent(m));
}

sim::Errno Vfs::truncate_blocks(uint64_t ino, uint64_t old_size, uint64_t new_size) {
  if (new_size >= old_size) return 0;  // extending is sparse: nothing to map
  // Blocks wholly past the new end are freed; the block holding the new end keeps its head and
  // gets a zeroed tail, so a later extension reads zeros there, never old bytes.
  const uint64_t keep_blocks = (new_size + kDataBlockSize - 1) / kDataBlockSize;
  Key pos = extent_key(ino, keep_blocks / kExtentRegionBlocks);
  const Key last = type_last(ino, kTypeExtent);
  for (;;) {
    Item it;
    sim::Errno e = next(pos, last, &it);
    if (e == ENOENT) break;
    if (e) return io(e);
    ExtentMap map;
    if (!decode_extent(it.value, &map)) return EIO;
    const uint64_t base = it.key.first * kExtentRegionBlocks;
    for (uint32_t i = 0; i < kExtentRegionBlocks; ++i) {
      if (map[i] && base + i >= keep_blocks) {
        if ((e = m_.free_data(map[i]))) return e;
        map[i] = 0;
      }
    }
    store_extent(ino, it.key.first, map);
    if (it.key == last) break;
    pos = key_successor(it.key);
  }
  if (new_size % kDataBlockSize) {
    const uint64_t blk = new_size / kDataBlockSize;
    ExtentMap map;
    sim::Errno e = load_extent(ino, blk / kExtentRegionBlocks, &map);
    if (e) return e;
    if (map[blk % kExtentRegionBlocks]) {
      // Writing zeros from new_size to the block's end goes through the normal write path.
      InodeValue v;
      if ((e = get_inode(ino, &v))) return e;
      std::vector<uint8_t> zeros(kDataBlockSize - new_size % kDataBlockSize, 0);
      v.size = new_size;
      return do_write(ino, v, new_size, zeros);
    }
  }
  return 0;
}

sim::Errno Vfs::do_write(uint64_t ino, InodeValue& inode, uint64_t off, std::span<const uint8_t> data) {
  std::vector<uint8_t> block(kDataBlockSize);
  uint64_t done = 0;
  while (done < data.size()) {
    const uint64_t at = off + done;
    const uint64_t blk = at / kDataBlockSize;
    const uint32_t in = static_cast<uint32_t>(at % kDataBlockSize);
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(kDataBlockSize - in, data.size() - done));
    const uint64_t region = blk / kExtentRegionBlocks;
    ExtentMap map;
    sim::Errno e = load_extent(ino, region, &map);
    if (e) return e;
    uint64_t& slot = map[blk % kExtentRegionBlocks];
    const uint64_t old = slot;
    // Start from the old contents for a partial block (zeros past the old end of file).
    std::fill(block.begin(), block.end(), 0);
    if ((in != 0 || n != kDataBlockSize) && old) {
      if ((e = m_.data_disk().read(old, block))) return EIO;
      const uint64_t blk_start = blk * kDataBlockSize;
      if (inode.size < blk_start + kDataBlockSize) {
        const uint64_t valid = inode.size > blk_start ? inode.size - blk_start : 0;
        std::fill(block.begin() + static_cast<long>(valid), block.end(), 0);
      }
    }
    std::memcpy(block.data() + in, data.data() + done, n);
    // Copy on write: a block the durable state maps is never overwritten, so a crash before
    // the commit leaves the old contents intact. A block new in this transaction is rewritten.
    uint64_t target = old;
    if (!old || !m_.data_block_is_new(old)) {
      if ((e = m_.alloc_data(&target))) return e;
    }
    if ((e = m_.data_disk().write(target, block))) return EIO;
    if (target != old) {
      slot = target;
      if (old && (e = m_.free_data(old))) return e;
      store_extent(ino, region, map);
    }
    done += n;
  }
  inode.size = std::max(inode.size, off + data.size());
  return 0;
}

sim::Errno Vfs::write(uint64_t ino, uint64_t off, std::span<const uint8_t> data) {
  return retry_short_of_space([&] { return write_once(ino, off, data); });
}

sim::Errno Vfs::write_once(uint64_t ino, uint64_t off, std::span<const uint8_t> data) {
  Op op(*this);
  op.write(ino);
  const uint64_t blocks = data.empty() ? 0 : (off + data.size() - 1) / kDataBlockSize - off / kDataBlockSize + 1;
  sim::Errno e = op.begin(blocks / kExtentRegionBlocks + 3, blocks);
  InodeValue v;
  if (!e) e = get_reachable(ino, &v);
  if (!e && !is_reg(v.mode)) e = is_dir(v.mode) ? EISDIR : EINVAL;
  if (!e && (off > kFileSizeMax || data.size() > kFileSizeMax - off)) e = EFBIG;
  if (e || data.empty()) return op.finish(e);
  e = do_write(ino, v, off, data);
  if (e) return op.finish(e);
  v.mtime_ns = v.ctime_ns = m_.now_ns();
  put_inode(ino, v);
  return op.finish(0);
}

sim::Errno Vfs::read(uint64_t ino, uint64_t off, size_t len, std::vector<uint8_t>* out) {
  Op op(*this);
  op.read(ino);
  out->clear();
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_reachable(ino, &v);
  if (!e && !is_reg(v.mode)) e = is_dir(v.mode) ? EISDIR : EINVAL;
  if (e || off >= v.size) return op.finish(e);
  const uint64_t end = std::min<uint64_t>(v.size, off + len);
  out->resize(end - off, 0);
  std::vector<uint8_t> block(kDataBlockSize);
  ExtentMap map;
  uint64_t map_region = UINT64_MAX;
  const bool stale_region = m_.config().bugs.has(Bug::kReadStaleRegion);
  for (uint64_t at = off; at < end && !e;) {
    const uint64_t blk = at / kDataBlockSize;
    const uint32_t in = static_cast<uint32_t>(at % kDataBlockSize);
    const uint64_t n = std::min<uint64_t>(kDataBlockSize - in, end - at);
    if (blk / kExtentRegionBlocks != map_region && !(stale_region && map_region != UINT64_MAX)) {  // BUG (planted)
      map_region = blk / kExtentRegionBlocks;
      e = load_extent(ino, map_region, &map);
      if (e) break;
    }
    if (uint64_t b = map[blk % kExtentRegionBlocks]) {
      if (m_.data_disk().read(b, block)) {
        e = EIO;
        break;
      }
      std::memcpy(out->data() + (at - off), block.data() + in, n);
    }  // a hole reads as zeros
    at += n;
  }
  if (e) out->clear();
  return op.finish(e);
}

sim::Errno Vfs::fsync(uint64_t ino) {
  Op op(*this);
  op.read(ino);
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_reachable(ino, &v);
  if (!e) e = m_.commit();
  return op.finish(e);
}

sim::Errno Vfs::sync() {
  Op op(*this);
  sim::Errno e = op.begin(0);
  if (!e) e = m_.commit();
  return op.finish(e);
}

}  // namespace simfs::fs
