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
    : disk_(disk), fsid_(fsid), capacity_blocks_(capacity_blocks), slots_(disk.block_count()) {
  // One metadata block is one device block; a mismatch is a configuration bug.
  FS_ASSERT(disk.block_size() == kBlockSize);
  FS_ASSERT(capacity_blocks > 0);
}

void BlockCache::lru_unlink(CachedBlock& b) {
  (b.lru_prev ? b.lru_prev->lru_next : lru_head_) = b.lru_next;
  (b.lru_next ? b.lru_next->lru_prev : lru_tail_) = b.lru_prev;
  b.lru_prev = b.lru_next = nullptr;
}

void BlockCache::lru_append(CachedBlock& b) {
  b.lru_prev = lru_tail_;
  b.lru_next = nullptr;
  (lru_tail_ ? lru_tail_->lru_next : lru_head_) = &b;
  lru_tail_ = &b;
}

void BlockCache::touch(CachedBlock& b) {
  if (lru_tail_ == &b) return;
  lru_unlink(b);
  lru_append(b);
}

void BlockCache::insert(const BlockPtr& b) {
  BlockPtr* s = slot(b->ref.blkno);
  FS_ASSERT(s);  // read() and create() only cache blocks of the device
  if (*s) {
    // Replaces a clean copy of another version (create() never replaces a dirty block).
    FS_ASSERT(!(*s)->dirty);
    lru_unlink(**s);
  } else {
    ++cached_;
  }
  *s = b;
  lru_append(*b);
  if (b->dirty) dirty_.insert(b->ref.blkno);
}

void BlockCache::erase(BlockPtr* s) {
  lru_unlink(**s);
  if ((*s)->dirty) dirty_.erase((*s)->ref.blkno);
  s->reset();
  --cached_;
}

void BlockCache::set_dirty(CachedBlock& b, bool dirty) {
  b.dirty = dirty;
  if (dirty) {
    dirty_.insert(b.ref.blkno);
  } else {
    dirty_.erase(b.ref.blkno);
  }
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

  if (BlockPtr* s = slot(ref.blkno); s && *s) {
    CachedBlock& b = **s;
    if (b.ref == ref && b.magic == magic) {
      touch(b);
      if (want_payload) encode_if_stale(b);
      *out = *s;
      return sim::kOk;
    }
    // Our own dirty block is the newest version there is: the caller's ref is the stale one.
    if (b.dirty) return stale();
    // A clean copy of another version: someone may have rewritten the block; look again.
    erase(s);
  }

  std::vector<uint8_t> buf(kBlockSize);
  if (sim::Errno e = disk_.read(ref.blkno, buf); e != sim::kOk) return e;
  BlockCheck c = check_block(buf, {magic, fsid_, ref.blkno, ref.seq});
  if (c != BlockCheck::kOk) return c == BlockCheck::kBadChecksum ? EIO : stale();
  stale_.erase(ref.blkno);

  // The read parked: another task may have cached or dirtied the block meanwhile.
  if (BlockPtr* s = slot(ref.blkno); s && *s) {
    if ((*s)->ref == ref && (*s)->magic == magic) {
      touch(**s);
      if (want_payload) encode_if_stale(**s);
      *out = *s;
      return sim::kOk;
    }
    if ((*s)->dirty) return stale();
    erase(s);
  }
  auto b = std::make_shared<CachedBlock>();
  b->ref = ref;
  b->magic = magic;
  b->data = std::move(buf);
  insert(b);
  *out = b;
  evict_if_over_capacity();
  return sim::kOk;
}

BlockPtr BlockCache::create(BlockRef ref, BlockMagic magic) {
  FS_ASSERT(!ref.empty());
  // Overwriting a dirty block at the same blkno would lose its changes: the allocator must
  // never hand out a block that is dirty in this transaction.
  BlockPtr* s = slot(ref.blkno);
  FS_ASSERT(s && (!*s || !(*s)->dirty));
  auto b = std::make_shared<CachedBlock>();
  b->ref = ref;
  b->magic = magic;
  b->data.assign(kBlockSize, 0);
  b->dirty = true;
  b->dirty_gen = 1;
  insert(b);
  stale_.erase(ref.blkno);
  evict_if_over_capacity();
  return b;
}

void BlockCache::mark_dirty(const BlockPtr& b) {
  // Only a block this cache still holds can be written back.
  BlockPtr* s = slot(b->ref.blkno);
  FS_ASSERT(s && *s == b);
  set_dirty(*b, true);
  ++b->dirty_gen;
  touch(*b);
}

void BlockCache::evict_if_over_capacity() {
  // Least recently used first, skipping the blocks that cannot go (dirty: the only copy;
  // shared: in use). Those are few and recent, so the walk is short.
  CachedBlock* lru = lru_head_;
  while (cached_ > capacity_blocks_) {
    BlockPtr* s = nullptr;
    for (; lru; lru = lru->lru_next) {
      s = slot(lru->ref.blkno);
      if (!(*s)->dirty && s->use_count() == 1) break;
    }
    if (!lru) return;  // everything pinned: over capacity until writeback
    lru = lru->lru_next;
    erase(s);
  }
}

void BlockCache::drop_clean() {
  // Along the LRU list, which holds exactly the cached blocks (the slots are the whole device).
  for (CachedBlock* b = lru_head_; b;) {
    CachedBlock* next = b->lru_next;
    if (!b->dirty) erase(slot(b->ref.blkno));
    b = next;
  }
}

bool BlockCache::forget(uint64_t blkno) {
  BlockPtr* s = slot(blkno);
  if (!s || !*s) return false;
  erase(s);
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
  written.reserve(dirty_.size());
  for (uint64_t blkno : dirty_) {
    const BlockPtr& b = *slot(blkno);
    written.push_back({b, b->dirty_gen});
  }
  for (Written& w : written) {
    // Seal and copy with no park in between: the write parks, and another task may modify the
    // block meanwhile (it then stays dirty, see below).
    CachedBlock& b = *w.block;
    encode_if_stale(b);
    put_header(b.data, {0, static_cast<uint32_t>(b.magic), fsid_, b.ref.seq, b.ref.blkno});
    seal_block(b.data);
    w.gen = b.dirty_gen;
    // The device copies the image before the write parks, so no copy of our own is needed
    // (sim/block_device.h); every read checks the block again.
    if (sim::Errno e = disk_.write(w.block->ref.blkno, b.data); e != sim::kOk) return e;
  }
  // Every block the new super (or the server's record of a mount's commit) references must be
  // durable before it is.
  if (sim::Errno e = disk_.flush(); e != sim::kOk) return e;
  if (super) {
    if (sim::Errno e = disk_.write(kSuperBlkno, encode_super(*super), /*fua=*/true); e != sim::kOk) return e;
  }
  for (const Written& w : written) {
    // Modified again during the writeback: stays dirty for the next one.
    // A block forgotten meanwhile is no longer ours to mark.
    if (w.block->dirty_gen == w.gen) {
      BlockPtr* s = slot(w.block->ref.blkno);
      if (*s == w.block) {
        set_dirty(*w.block, false);
      } else {
        w.block->dirty = false;
      }
    }
  }
  evict_if_over_capacity();
  return sim::kOk;
}

}  // namespace simfs::fs
