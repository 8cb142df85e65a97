#include "fs/block/block_cache.h"

#include "fs/format/btree_block.h"

#include "fs/base/assert.h"

namespace simfs::fs {

sim::Errno read_super(sim::DiskHandle& disk, std::optional<uint64_t> fsid, SuperBlock* out) {
  std::vector<uint8_t> buf(kBlockSize);
  if (sim::Errno e = disk.read(kSuperBlkno, buf); e != sim::kOk) return e;
  return block_check_errno(decode_super(buf, fsid, out));
}

BlockCache::BlockCache(sim::DiskHandle& disk, uint64_t fsid, size_t capacity_blocks)
    : disk_(disk), fsid_(fsid), capacity_blocks_(capacity_blocks) {
  // One metadata block is one device block; a mismatch is a configuration bug.
  FS_ASSERT(disk.block_size() == kBlockSize);
  FS_ASSERT(capacity_blocks > 0);
}

size_t BlockCache::dirty_count() const {
  size_t n = 0;
  for (const auto& [blkno, b] : blocks_) n += b->dirty ? 1 : 0;
  return n;
}

bool BlockCache::note_stale(BlockRef ref) {
  auto it = stale_.find(ref.blkno);
  if (it != stale_.end() && it->second == ref.seq) return true;
  if (it == stale_.end() && stale_.size() >= kStaleRefsMax) stale_.erase(stale_.begin());
  stale_[ref.blkno] = ref.seq;
  return false;
}

namespace {
void encode_if_stale(CachedBlock& b) {
  if (!b.payload_stale) return;
  encode_node(*b.node, b.payload());
  b.payload_stale = false;
}
}  // namespace

sim::Errno BlockCache::read(BlockRef ref, BlockMagic magic, BlockPtr* out, bool want_payload) {
  FS_ASSERT(!ref.empty());
  auto stale = [&] { return note_stale(ref) ? EIO : ESTALE; };

  if (auto it = blocks_.find(ref.blkno); it != blocks_.end()) {
    CachedBlock& b = *it->second;
    if (b.ref == ref && b.magic == magic) {
      touch(b);
      if (want_payload) encode_if_stale(b);
      *out = it->second;
      return sim::kOk;
    }
    // Our own dirty block is the newest version there is: the caller's ref is the stale one.
    if (b.dirty) return stale();
    // A clean copy of another version: someone may have rewritten the block; look again.
    blocks_.erase(it);
  }

  std::vector<uint8_t> buf(kBlockSize);
  if (sim::Errno e = disk_.read(ref.blkno, buf); e != sim::kOk) return e;
  BlockCheck c = check_block(buf, {magic, fsid_, ref.blkno, ref.seq});
  if (c != BlockCheck::kOk) return c == BlockCheck::kBadChecksum ? EIO : stale();
  stale_.erase(ref.blkno);

  // The read parked: another task may have cached or dirtied the block meanwhile.
  if (auto it = blocks_.find(ref.blkno); it != blocks_.end()) {
    if (it->second->ref == ref && it->second->magic == magic) {
      touch(*it->second);
      if (want_payload) encode_if_stale(*it->second);
      *out = it->second;
      return sim::kOk;
    }
    if (it->second->dirty) return stale();
    blocks_.erase(it);
  }
  auto b = std::make_shared<CachedBlock>();
  b->ref = ref;
  b->magic = magic;
  b->data = std::move(buf);
  touch(*b);
  blocks_[ref.blkno] = b;
  *out = b;
  evict_if_over_capacity();
  return sim::kOk;
}

BlockPtr BlockCache::create(BlockRef ref, BlockMagic magic) {
  FS_ASSERT(!ref.empty());
  // Overwriting a dirty block at the same blkno would lose its changes: the allocator must
  // never hand out a block that is dirty in this transaction.
  auto it = blocks_.find(ref.blkno);
  FS_ASSERT(it == blocks_.end() || !it->second->dirty);
  auto b = std::make_shared<CachedBlock>();
  b->ref = ref;
  b->magic = magic;
  b->data.assign(kBlockSize, 0);
  b->dirty = true;
  b->dirty_gen = 1;
  touch(*b);
  blocks_[ref.blkno] = b;
  stale_.erase(ref.blkno);
  evict_if_over_capacity();
  return b;
}

void BlockCache::mark_dirty(const BlockPtr& b) {
  auto it = blocks_.find(b->ref.blkno);
  // Only a block this cache still holds can be written back.
  FS_ASSERT(it != blocks_.end() && it->second == b);
  b->dirty = true;
  ++b->dirty_gen;
  touch(*b);
}

void BlockCache::evict_if_over_capacity() {
  // Each pass removes one block or stops; bounded by the number of cached blocks.
  for (size_t pass = blocks_.size(); pass > 0 && blocks_.size() > capacity_blocks_; --pass) {
    auto victim = blocks_.end();
    for (auto it = blocks_.begin(); it != blocks_.end(); ++it) {
      const BlockPtr& b = it->second;
      if (b->dirty || b.use_count() > 1) continue;  // dirty: only copy; shared: in use
      if (victim == blocks_.end() || b->last_use < victim->second->last_use) victim = it;
    }
    if (victim == blocks_.end()) return;  // everything pinned: over capacity until writeback
    blocks_.erase(victim);
  }
}

void BlockCache::drop_clean() {
  for (auto it = blocks_.begin(); it != blocks_.end();) {
    if (!it->second->dirty) {
      it = blocks_.erase(it);
    } else {
      ++it;
    }
  }
}

bool BlockCache::forget(uint64_t blkno) {
  auto it = blocks_.find(blkno);
  if (it == blocks_.end()) return false;
  blocks_.erase(it);
  return true;
}

sim::Errno BlockCache::writeback(const SuperBlock& super) {
  FS_ASSERT(super.fsid == fsid_);
  return write_all(&super);
}

sim::Errno BlockCache::write_dirty() { return write_all(nullptr); }

sim::Errno BlockCache::write_all(const SuperBlock* super) {
  sim::LockGuard guard(writeback_mu_);

  struct Written {
    BlockPtr block;
    uint64_t gen;
  };
  std::vector<Written> written;
  for (auto& [blkno, b] : blocks_) {
    if (b->dirty) written.push_back({b, b->dirty_gen});
  }
  for (Written& w : written) {
    // Seal and copy with no park in between: the write parks, and another task may modify the
    // block meanwhile (it then stays dirty, see below).
    CachedBlock& b = *w.block;
    encode_if_stale(b);
    put_header(b.data, {0, static_cast<uint32_t>(b.magic), fsid_, b.ref.seq, b.ref.blkno});
    seal_block(b.data);
    w.gen = b.dirty_gen;
    std::vector<uint8_t> image = b.data;
    FS_ASSERT(check_block(image, {w.block->magic, fsid_, w.block->ref.blkno, w.block->ref.seq}) ==
              BlockCheck::kOk);
    if (sim::Errno e = disk_.write(w.block->ref.blkno, image); e != sim::kOk) return e;
  }
  // Every block the new super (or the server's record of a mount's commit) references must be
  // durable before it is.
  if (sim::Errno e = disk_.flush(); e != sim::kOk) return e;
  if (super) {
    if (sim::Errno e = disk_.write(kSuperBlkno, encode_super(*super), /*fua=*/true); e != sim::kOk) return e;
  }
  for (const Written& w : written) {
    // Modified again during the writeback: stays dirty for the next one.
    if (w.block->dirty_gen == w.gen) w.block->dirty = false;
  }
  evict_if_over_capacity();
  return sim::kOk;
}

}  // namespace simfs::fs
