// Allocators against set models (RapidCheck): BitmapAlloc's free set, and MetaAlloc's rule
// that a block freed in a transaction is never handed out again before that transaction's
// commit is durable, with every block in exactly one place (the partition fsck checks).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fs/alloc/bitmap_alloc.h"
#include "fs/block/block_cache.h"
#include "fs/format/items.h"
#include "fs/alloc/meta_alloc.h"
#include "fs/testing/disk_world.h"

namespace simfs::fs {
namespace {

using testing::DiskWorld;

// Tree blocks for a BitmapAlloc under test come from the top of the device.
struct TopAllocator {
  uint64_t next = 0;
  uint64_t seq = 0;
  BtreeAllocator get() {
    return {[this] { return next--; }, [](uint64_t) {}, [this] { return ++seq; }};
  }
};

RC_GTEST_PROP(BitmapAllocModel, MatchesAFreeSet, ()) {
  const uint64_t span = 3 * kBitmapRegionBlocks;  // ranges cross region boundaries
  struct Op {
    int kind;  // 0 alloc, 1 free range, 2 probe
    uint64_t start, len;
  };
  const auto ops = *rc::gen::container<std::vector<Op>>(rc::gen::apply(
      [](int k, uint64_t s, uint64_t l) { return Op{k, s, l}; }, rc::gen::inRange(0, 3),
      rc::gen::inRange<uint64_t>(0, span), rc::gen::inRange<uint64_t>(1, 600)));
  std::string failure;
  DiskWorld w(1, 8192);
  w.run([&] {
    BlockCache cache(*w.h, 7, 4096);
    TopAllocator top{8191};
    BitmapAlloc bm(cache, top.get(), kAllocData, AllocRoot{});
    std::set<uint64_t> model;  // free blocks
    for (const Op& op : ops) {
      if (op.kind == 0) {
        uint64_t b = 0;
        sim::Errno e = bm.alloc(&b);
        if (model.empty()) {
          if (e != ENOSPC) failure = "alloc on an empty bitmap returned " + std::string(sim::errno_name(e));
        } else if (e) {
          failure = "alloc failed with " + std::string(sim::errno_name(e)) + " with " + std::to_string(model.size()) + " free";
        } else if (!model.erase(b)) {
          failure = "alloc handed out block " + std::to_string(b) + ", which is not free";
        }
      } else if (op.kind == 1) {
        const uint64_t len = std::min(op.len, span - op.start);
        bool any_free = false;
        for (uint64_t b = op.start; b < op.start + len; ++b) any_free |= model.count(b) > 0;
        sim::Errno e = bm.free_range(op.start, len);
        if (any_free != (e == EIO)) {
          failure = "free_range(" + std::to_string(op.start) + "," + std::to_string(len) + ") returned " +
                    sim::errno_name(e) + (any_free ? " over an already free block" : "");
        }
        if (!e)
          for (uint64_t b = op.start; b < op.start + len; ++b) model.insert(b);
      } else {
        bool f = false;
        if (bm.is_free(op.start, &f) || f != (model.count(op.start) > 0))
          failure = "is_free(" + std::to_string(op.start) + ") disagrees with the model";
      }
      if (failure.empty() && bm.free_count() != model.size())
        failure = "free_count " + std::to_string(bm.free_count()) + ", model " + std::to_string(model.size());
      if (!failure.empty()) return;
    }
  });
  RC_ASSERT(failure == "");
}

// MetaAlloc through whole transactions: alloc and free blocks as a btree would, commit now
// and then (writeback of a real super), and check the rules after every step.
RC_GTEST_PROP(MetaAllocModel, NoReuseBeforeCommitAndAPartition, ()) {
  struct Op {
    int kind;  // 0 alloc, 1 free a used block, 2 free a block allocated this transaction, 3 commit
    uint64_t pick;
  };
  const auto ops = *rc::gen::container<std::vector<Op>>(rc::gen::apply(
      [](int k, uint64_t p) { return Op{k, p}; }, rc::gen::inRange(0, 4), rc::gen::inRange<uint64_t>(0, 1u << 20)));
  std::string failure;
  const uint64_t blocks = 2048;
  DiskWorld w(2, blocks);
  w.run([&] {
    BlockCache cache(*w.h, 9, 4096);
    SuperBlock sb;
    sb.fsid = 9;
    sb.format_hash = format_hash();
    sb.meta_blocks_total = blocks;
    auto meta = std::make_unique<MetaAlloc>(cache, sb);
    meta->mkfs_seed_avail(kMetaBlknoFirstAllocatable, MetaAlloc::kAvailTarget);
    const uint64_t rest = kMetaBlknoFirstAllocatable + MetaAlloc::kAvailTarget;
    if (meta->mkfs_free_range(rest, blocks - rest)) {
      failure = "mkfs_free_range failed";
      return;
    }
    std::set<uint64_t> used;          // handed to "the tree" and durable (or to be)
    std::set<uint64_t> txn_new;       // allocated in this transaction, still used
    std::set<uint64_t> freed_txn;     // freed this transaction: must not come back before commit
    std::set<uint64_t> freed_prev;    // freed by the last commit: must not come back before the next
    auto commit = [&]() -> bool {
      sb.seq += 1;
      if (sim::Errno e = meta->prepare_commit(&sb)) {
        failure = std::string("prepare_commit: ") + sim::errno_name(e);
        return false;
      }
      if (sim::Errno e = cache.writeback(sb)) {
        failure = std::string("writeback: ") + sim::errno_name(e);
        return false;
      }
      meta->committed();
      freed_prev = std::move(freed_txn);
      freed_txn.clear();
      for (uint64_t b : txn_new) used.insert(b);
      txn_new.clear();
      return true;
    };
    if (!commit()) return;
    for (const Op& op : ops) {
      if (op.kind == 0) {
        // Everything freed since the last durable commit, the bitmap tree's own copied-away
        // blocks included: none of it may come back in this transaction.
        std::set<uint64_t> not_yet(meta->freed_this_txn().begin(), meta->freed_this_txn().end());
        not_yet.insert(meta->pending_freed().begin(), meta->pending_freed().end());
        const uint64_t b = meta->alloc();
        if (b == 0) continue;  // out of space is allowed; the partition check still runs
        if (freed_txn.count(b) || freed_prev.count(b) || not_yet.count(b))
          failure = "block " + std::to_string(b) + " was handed out again before the commit that freed it was durable";
        else if (used.count(b) || txn_new.count(b))
          failure = "block " + std::to_string(b) + " was handed out while in use";
        else
          txn_new.insert(b);
        // A block the tree writes: give it contents, as a btree would.
        if (failure.empty()) {
          BlockPtr p = cache.create(BlockRef{b, meta->next_seq()}, BlockMagic::kBtreeLeaf);
          cache.mark_dirty(p);
        }
      } else if (op.kind == 1 && !used.empty()) {
        auto it = std::next(used.begin(), static_cast<long>(op.pick % used.size()));
        meta->free(*it);
        freed_txn.insert(*it);
        used.erase(it);
      } else if (op.kind == 2 && !txn_new.empty()) {
        auto it = std::next(txn_new.begin(), static_cast<long>(op.pick % txn_new.size()));
        meta->free(*it);  // never durable: may come straight back
        txn_new.erase(it);
      } else if (op.kind == 3) {
        // Blocks still dirty are "tree" blocks: they must be written with the commit.
        if (!commit()) return;
      }
      if (!failure.empty()) return;
      // The partition: every allocatable block is in exactly one place.
      std::map<uint64_t, int> where;
      for (uint64_t b : used) ++where[b];
      for (uint64_t b : txn_new) ++where[b];
      for (uint64_t b : meta->freed_this_txn()) ++where[b];
      for (uint64_t b : meta->pending_freed()) ++where[b];
      for (uint64_t b : meta->avail()) ++where[b];
      for (uint64_t b : meta->list_blocks()) ++where[b];
      uint64_t in_bitmap = 0;
      for (uint64_t b = kMetaBlknoFirstAllocatable; b < blocks; ++b) {
        bool f = false;
        if (meta->bitmap().is_free(b, &f)) {
          failure = "is_free failed";
          return;
        }
        if (f) {
          ++in_bitmap;
          ++where[b];
        }
      }
      for (const auto& [b, n] : where) {
        if (n > 1) {
          failure = "block " + std::to_string(b) + " is in " + std::to_string(n) + " places at once";
          return;
        }
      }
      if (in_bitmap != meta->bitmap().free_count()) {
        failure = "bitmap count " + std::to_string(meta->bitmap().free_count()) + " but " + std::to_string(in_bitmap) + " bits set";
        return;
      }
    }
  });
  RC_ASSERT(failure == "");
}

}  // namespace
}  // namespace simfs::fs
