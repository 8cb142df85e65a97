// BlockCache: the metadata block layer. Reads blocks through references and verifies them,
// caches them, tracks which are dirty, and writes them back with the ordering that makes a
// commit atomic.
//
// Contract:
// - read(ref, magic) returns the block only if it is intact (crc) and is the block the reference
//   names (magic, fsid, blkno, seq). Damaged bytes or a device error give EIO. An intact block
//   that is not the named one gives ESTALE: the caller's reference is out of date, and it should
//   re-read its roots and retry. The same reference found stale twice in a row gives EIO: roots
//   that still lead to it after a re-read mean the structure on disk is inconsistent.
// - create(ref, magic) starts a new dirty block (a copy-on-write destination) without reading.
//   Callers modify payload() and then call mark_dirty(); the header is filled in at writeback.
// - write_dirty() writes every dirty block and issues FLUSH (a mount's commit: the server's record
//   of it must only name durable blocks).
// - writeback(super) writes every dirty block, issues FLUSH, and only then writes the super with
//   FUA. The super is the single switch from the old stable state to the new one, so a crash at
//   any point leaves either the whole old or the whole new state reachable. On any error the
//   blocks stay dirty and the super is not written (or its write failed): the caller decides.
// - Clean, unshared blocks are evicted least-recently-used first when over capacity. Dirty
//   blocks are never evicted: they are the only copy.
// - Runs inside simulation tasks; read and writeback park for I/O. One writeback at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "fs/format/format.h"
#include "sim/block_device.h"
#include "sim/errors.h"
#include "sim/sync.h"

namespace simfs::fs {

struct BtreeNode;

// One cached metadata block. `data` is always kBlockSize bytes, header included.
struct CachedBlock {
  BlockRef ref;
  BlockMagic magic;
  std::vector<uint8_t> data;
  bool dirty = false;
  uint64_t dirty_gen = 0;  // bumped by every mark_dirty, so writeback can tell later changes
  // The cache's LRU list (least recently used first), intrusive so a use costs no allocation
  // and no tree update. Owned by BlockCache.
  CachedBlock* lru_prev = nullptr;
  CachedBlock* lru_next = nullptr;
  // Btree blocks also keep their decoded node, so lookups do not decode the block every time
  // and changes are encoded once, at writeback, however often the block changes before it.
  // payload_stale: `node` is newer than `data`; read() and writeback() encode it first.
  std::shared_ptr<const BtreeNode> node;
  bool payload_stale = false;

  std::span<uint8_t> payload() { return std::span<uint8_t>(data).subspan(kBlockHeaderBytes); }
  std::span<const uint8_t> payload() const { return std::span<const uint8_t>(data).subspan(kBlockHeaderBytes); }
};
using BlockPtr = std::shared_ptr<CachedBlock>;

// Reads and checks the super block. `fsid` is unknown on first mount (nullopt).
// Returns EIO for damage or device errors, ESTALE for an intact block that is not our super.
sim::Errno read_super(sim::DiskHandle& disk, std::optional<uint64_t> fsid, SuperBlock* out);

class BlockCache {
 public:
  BlockCache(sim::DiskHandle& disk, uint64_t fsid, size_t capacity_blocks);
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // want_payload = false: the caller uses only CachedBlock::node when it is set (the btree),
  // so a stale payload need not be encoded.
  sim::Errno read(BlockRef ref, BlockMagic magic, BlockPtr* out, bool want_payload = true);
  BlockPtr create(BlockRef ref, BlockMagic magic);
  void mark_dirty(const BlockPtr& b);
  // Drops a block without writing it back: for a block freed in the transaction that created it,
  // which was never durable and which nothing durable references. Its number may be reused by
  // create() at once. (A writeback already in flight may still write the old contents, which is
  // harmless: the block is free, and a later writeback of a reuse lands after it.)
  // Returns false if the block was not cached.
  bool forget(uint64_t blkno);
  sim::Errno writeback(const SuperBlock& super);
  // The same without a super: a mount's commit writes its blocks, then asks the server to
  // record them (the server's own commit writes the super).
  sim::Errno write_dirty();
  // Drops every clean block (a mount whose view of other mounts' blocks may be stale after a
  // crash of theirs). Dirty blocks stay.
  void drop_clean();

  size_t cached_count() const { return cached_; }
  size_t dirty_count() const { return dirty_.size(); }
  uint64_t fsid() const { return fsid_; }

 private:
  sim::Errno write_all(const SuperBlock* super);
  // Every change of slots_ and of a block's dirty flag goes through these, which keep lru_,
  // dirty_ and cached_ in step with slots_.
  void touch(CachedBlock& b);
  void lru_unlink(CachedBlock& b);
  void lru_append(CachedBlock& b);
  void insert(const BlockPtr& b);
  void erase(BlockPtr* slot);  // *slot holds a block
  // The slot of a block number, or null beyond the device (a damaged reference).
  BlockPtr* slot(uint64_t blkno) { return blkno < slots_.size() ? &slots_[blkno] : nullptr; }
  void set_dirty(CachedBlock& b, bool dirty);
  void evict_if_over_capacity();
  // Remembers a stale ref; returns true if it had been seen stale already.
  bool note_stale(BlockRef ref);

  // Bounds the stale-ref memory: each entry is a reference some caller has not yet retried.
  static constexpr size_t kStaleRefsMax = 1024;

  sim::DiskHandle& disk_;
  uint64_t fsid_;
  size_t capacity_blocks_;
  // One slot per device block: a lookup is an index, not a tree walk (a map lookup was a tenth
  // of a populate). Metadata devices are thousands to a few million blocks, 16 bytes a slot.
  std::vector<BlockPtr> slots_;
  size_t cached_ = 0;
  // Why these two indexes: a scan of every cached block per eviction and per commit was a fifth of a
  // multi_mount run, with thousands of cached blocks and a few dirty ones.
  CachedBlock* lru_head_ = nullptr;      // every cached block, least recently used first
  CachedBlock* lru_tail_ = nullptr;
  std::set<uint64_t> dirty_;             // blknos of the dirty blocks
  std::map<uint64_t, uint64_t> stale_;   // blkno -> seq of the last stale ref seen there
  sim::Mutex writeback_mu_;
};

}  // namespace simfs::fs
