// The allocators: the metadata and data bitmap trees (a set bit is a free block) and the
// server's avail and freed lists of metadata blocks. Each is read into claims for the partition
// sweep (partition_check.cc), which is where a block both free and in use shows up; here each
// structure is checked on its own: its items or entries well formed and within the device, and
// its counts (a list head's total_nr and first_nr, an allocator root's total_len) true.
//
// Reports: alloc.bad_item, meta.out_of_range, data.out_of_range, meta.total_len,
// data.total_len, alloclist.count, alloclist.malformed, and what walk_tree reports for the
// bitmap trees (tree_walk.cc).
#include "fs/alloc/meta_alloc.h"
#include "fs/fsck/checkers.h"
#include "sim/bytes.h"

namespace simfs::fs::fsck_internal {

namespace {

// Walks an alloc list, claiming its blocks and its entries; counts the entries claimed.
void walk_list(FsckContext& cx, const AllocListHead& head, const std::string& name, Owner block_owner,
               Owner entry_owner, uint64_t* entries) {
  BlockRef ref = head.ref;
  if (ref.empty() && (head.total_nr != 0 || head.first_nr != 0)) {
    cx.add("alloclist.count", 0, std::nullopt,
           name + ": empty list with total_nr " + num(head.total_nr) + " and first_nr " + num(head.first_nr));
  }
  const uint64_t max_blocks = head.total_nr / kAllocListEntriesMax + 1;
  uint64_t blocks = 0, total = 0;
  while (!ref.empty()) {
    if (++blocks > max_blocks) {
      cx.add("alloclist.count", ref.blkno, std::nullopt,
             name + ": more blocks than total_nr " + num(head.total_nr) + " allows (a cycle or a wrong count)");
      cx.lists_complete = false;
      return;
    }
    if (!cx.ref_in_range(ref, name)) {
      cx.lists_complete = false;
      return;
    }
    cx.claim_meta(ref.blkno, 1, block_owner);
    if (!cx.visited.insert(ref.blkno).second) {
      cx.lists_complete = false;  // reported as meta.double; do not follow it round again
      return;
    }
    ++cx.report.counts.meta_referenced;
    std::vector<uint8_t> b;
    if (!cx.read_ref(ref, BlockMagic::kAllocList, name, &b)) {
      cx.lists_complete = false;
      return;
    }
    sim::ByteReader rd(std::span<const uint8_t>(b).subspan(kBlockHeaderBytes));
    BlockRef next = decode_ref(rd);
    const uint32_t n = rd.u32();
    if (n == 0 || n > kAllocListEntriesMax) {
      cx.add("alloclist.malformed", ref.blkno, std::nullopt,
             name + " block " + num(ref.blkno) + " holds " + num(n) + " entries (1.." + num(kAllocListEntriesMax) + ")");
      cx.lists_complete = false;
      return;
    }
    if (blocks == 1 && n != head.first_nr) {
      cx.add("alloclist.count", ref.blkno, std::nullopt,
             name + ": first_nr " + num(head.first_nr) + " but the first block holds " + num(n));
    }
    for (uint32_t i = 0; i < n; ++i) {
      const uint64_t e = rd.u64();
      ++total;
      if (e < kMetaBlknoFirstAllocatable || e >= cx.meta_hi) {
        cx.add("meta.out_of_range", ref.blkno, std::nullopt,
               name + " holds block " + num(e) + ", outside the allocatable range");
        continue;
      }
      cx.claim_meta(e, 1, entry_owner);
      ++*entries;
    }
    ref = next;
  }
  if (total != head.total_nr) {
    cx.add("alloclist.count", head.ref.blkno, std::nullopt,
           name + ": total_nr " + num(head.total_nr) + " but the list holds " + num(total));
  }
}

// One bitmap allocator: what its tree holds and what its root says.
struct Bitmap {
  const TreeWalk* walk;
  uint64_t alloc_id;   // the items' ino (kAllocMeta, kAllocData)
  uint64_t lo, hi;     // the blocks it may mark free
  Owner owner;         // claims its free blocks
  std::string prefix;  // of its finding kinds: "meta", "data"
  std::string total_field;  // the root's total_len, as messages name it
  uint64_t total_len;
};

// Reads a bitmap tree's items into runs of free blocks; returns the set bits counted.
uint64_t bitmap_runs(FsckContext& cx, const Bitmap& bm, std::vector<Claim>* claims) {
  const TreeWalk& w = *bm.walk;
  uint64_t bits = 0;
  std::set<uint64_t> regions;
  const uint64_t regions_max = bm.hi / kBitmapRegionBlocks;  // the last region that can hold a block < hi
  for (const Item& it : w.items) {
    const Key& k = it.key;
    if (it.deletion || k.zone != kZoneAlloc || k.ino != bm.alloc_id || k.type != kTypeBitmap || k.second != 0 ||
        it.value.size() != kBitmapBytes) {
      cx.add("alloc.bad_item", 0, k, w.name + " holds an item that is not a " + bm.prefix + " bitmap");
      continue;
    }
    if (k.first > regions_max) {
      cx.add(bm.prefix + ".out_of_range", 0, k, w.name + ": bitmap region " + num(k.first) + " lies past the device");
      continue;
    }
    if (!regions.insert(k.first).second) continue;  // a repeated key: btree.structure says so
    const uint64_t base = k.first * kBitmapRegionBlocks;
    uint64_t here = 0;
    for (uint32_t i = 0; i < kBitmapRegionBlocks; ++i) {
      if (!((it.value[i / 8] >> (i % 8)) & 1)) continue;
      ++here;
      const uint64_t blk = base + i;
      if (blk < bm.lo || blk >= bm.hi) {
        cx.add(bm.prefix + ".out_of_range", blk, k,
               w.name + ": block " + num(blk) + " is marked free but is not allocatable");
        continue;
      }
      if (!claims->empty() && claims->back().owner == bm.owner && claims->back().start + claims->back().len == blk) {
        ++claims->back().len;
      } else {
        claims->push_back(Claim{blk, 1, bm.owner, 0, 0});
      }
    }
    if (here == 0) cx.add("alloc.bad_item", 0, k, w.name + ": a bitmap item with no free block");
    bits += here;
  }
  return bits;
}

// A bitmap's free blocks, claimed, and checked against its root's total_len (when the whole tree
// was read: otherwise the count is short for want of blocks, not wrong).
uint64_t check_bitmap(FsckContext& cx, const Bitmap& bm, std::vector<Claim>* claims) {
  const uint64_t free = bitmap_runs(cx, bm, claims);
  if (bm.walk->complete && free != bm.total_len) {
    cx.add(bm.prefix + ".total_len", kSuperBlkno, std::nullopt,
           bm.total_field + " " + num(bm.total_len) + " but the bitmap has " + num(free) + " free blocks");
  }
  return free;
}

}  // namespace

// A mount's allocators, held in its log tree record: its metadata avail and freed lists (their
// blocks and entries are claimed like the server's) and its data bitmap trees (their blocks are
// metadata; their set bits are free data blocks, like the core data bitmap's).
void check_log_allocators(FsckContext& cx, const LogWalk& l) {
  FsckCounts& counts = cx.report.counts;
  const std::string name = l.walk.name;
  walk_list(cx, l.v.meta_avail, name + " avail list", Owner::kAvailListBlock, Owner::kAvail, &counts.meta_avail);
  walk_list(cx, l.v.meta_freed, name + " freed list", Owner::kFreedListBlock, Owner::kFreed, &counts.meta_freed);
  const AllocRoot* roots[2] = {&l.v.data_avail, &l.v.data_freed};
  const char* which[2] = {"data_avail", "data_freed"};
  for (int i = 0; i < 2; ++i) {
    TreeWalk w{name + " " + which[i] + " tree", Owner::kDataBitmapTree, true, {}};
    walk_tree(cx, roots[i]->root, &w);
    counts.data_free += check_bitmap(cx,
                                     Bitmap{&w, kAllocData, kDataBlknoFirst, cx.data_hi, Owner::kDataFree, "data",
                                            name + " " + which[i] + ".total_len", roots[i]->total_len},
                                     &cx.data_claims);
  }
}

void check_allocators(FsckContext& cx) {
  const SuperBlock& sb = cx.sb;
  FsckCounts& counts = cx.report.counts;
  cx.meta_bitmap = TreeWalk{"meta bitmap tree", Owner::kMetaBitmapTree, true, {}};
  cx.data_bitmap = TreeWalk{"data bitmap tree", Owner::kDataBitmapTree, true, {}};
  walk_tree(cx, sb.meta_alloc[0].root, &cx.meta_bitmap);
  walk_tree(cx, sb.data_alloc.root, &cx.data_bitmap);
  walk_list(cx, sb.server_meta_avail[0], "avail list", Owner::kAvailListBlock, Owner::kAvail, &counts.meta_avail);
  walk_list(cx, sb.server_meta_freed[0], "freed list", Owner::kFreedListBlock, Owner::kFreed, &counts.meta_freed);
  counts.meta_free = check_bitmap(cx,
                                  Bitmap{&cx.meta_bitmap, kAllocMeta, kMetaBlknoFirstAllocatable, cx.meta_hi,
                                         Owner::kMetaFree, "meta", "meta_alloc[0].total_len", sb.meta_alloc[0].total_len},
                                  &cx.meta_claims);
  counts.data_free = check_bitmap(cx,
                                  Bitmap{&cx.data_bitmap, kAllocData, kDataBlknoFirst, cx.data_hi, Owner::kDataFree,
                                         "data", "data_alloc.total_len", sb.data_alloc.total_len},
                                  &cx.data_claims);
  for (const LogWalk& l : cx.log_trees) check_log_allocators(cx, l);
  // A merge piece's blocks are its own until the server splices or takes them back (a client
  // may have written into any of them).
  for (const auto& r : cx.merge_requests) {
    walk_list(cx, r.v.avail, "merge request " + num(r.key.first) + " avail list", Owner::kAvailListBlock, Owner::kAvail,
              &counts.meta_avail);
  }
}

}  // namespace simfs::fs::fsck_internal
