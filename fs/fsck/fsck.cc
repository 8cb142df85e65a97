#include "fs/fsck/fsck.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "fs/format/btree_block.h"
#include "fs/btree/btree_check.h"
#include "fs/forest/forest.h"
#include "fs/format/format.h"
#include "fs/format/items.h"
#include "fs/alloc/meta_alloc.h"
#include "sim/bytes.h"
#include "sim/errors.h"
#include "sim/trace.h"

namespace simfs::fs {

ImageReader durable_reader(const sim::BlockDevice& dev) {
  ImageReader r;
  r.block_count = dev.config().block_count;
  r.block_size = dev.config().block_size;
  r.read = [&dev](uint64_t blkno, std::span<uint8_t> out) {
    if (blkno >= dev.config().block_count || out.size() != dev.config().block_size) return false;
    dev.peek_durable(blkno, out);
    return true;
  };
  return r;
}

ImageReader image_reader(const sim::DeviceImage& img) {
  ImageReader r;
  r.block_count = img.block_count;
  r.block_size = img.block_size;
  r.read = [&img](uint64_t blkno, std::span<uint8_t> out) {
    if (blkno >= img.block_count || out.size() != img.block_size) return false;
    auto it = img.blocks.find(blkno);
    if (it == img.blocks.end() || it->second.size() != out.size()) {
      std::fill(out.begin(), out.end(), uint8_t{0});
    } else {
      std::copy(it->second.begin(), it->second.end(), out.begin());
    }
    return true;
  };
  return r;
}

namespace {

// Data block 0 is never handed out (0 means a hole), as metadata block 0 is never used.
constexpr uint64_t kDataBlknoFirst = 1;

const char* check_kind(BlockCheck c) {
  switch (c) {
    case BlockCheck::kOk: return "";
    case BlockCheck::kZeroed: return "block.zeroed";
    case BlockCheck::kBadChecksum: return "block.checksum";
    case BlockCheck::kWrongMagic: return "block.magic";
    case BlockCheck::kWrongFsid: return "block.fsid";
    case BlockCheck::kWrongBlkno: return "block.blkno";
    case BlockCheck::kWrongSeq: return "block.seq";
  }
  return "block.checksum";
}

std::string num(uint64_t v) { return std::to_string(v); }
std::string range_string(uint64_t start, uint64_t len) {
  return len == 1 ? "block " + num(start) : "blocks " + num(start) + ".." + num(start + len - 1) + " (" + num(len) + ")";
}

// Who claims a block. For the partition sweeps; `a` and `b` say more (tree level, inode, file block).
enum class Owner : uint8_t {
  kFsTree,
  kLogsTree,
  kLogTree,
  kMetaBitmapTree,
  kDataBitmapTree,
  kAvailListBlock,
  kFreedListBlock,
  kAvail,
  kFreed,
  kMetaFree,
  kExtent,
  kDataFree,
};

struct Claim {
  uint64_t start = 0;
  uint64_t len = 0;
  Owner owner = Owner::kFsTree;
  uint64_t a = 0;  // kExtent: inode
  uint64_t b = 0;  // kExtent: first file block
  auto key() const { return std::tie(start, len, owner, a, b); }
  bool operator<(const Claim& o) const { return key() < o.key(); }
};

std::string owner_string(const Claim& c) {
  switch (c.owner) {
    case Owner::kFsTree: return "an fs tree block";
    case Owner::kLogsTree: return "a logs tree block";
    case Owner::kLogTree: return "a log tree block";
    case Owner::kMetaBitmapTree: return "a meta bitmap tree block";
    case Owner::kDataBitmapTree: return "a data bitmap tree block";
    case Owner::kAvailListBlock: return "an avail list block";
    case Owner::kFreedListBlock: return "a freed list block";
    case Owner::kAvail: return "on the avail list";
    case Owner::kFreed: return "on the freed list";
    case Owner::kMetaFree: return "free in the meta bitmap";
    case Owner::kExtent: return "mapped by inode " + num(c.a) + " at file block " + num(c.b);
    case Owner::kDataFree: return "free in the data bitmap";
  }
  return "?";
}

struct TreeWalk {
  std::string name;
  Owner owner;
  bool complete = true;
  std::vector<Item> items;
  BtreeConfig config = {};  // fill bounds check_tree holds the tree to
};

class Fsck {
 public:
  Fsck(const ImageReader& meta, const ImageReader& data, const FsckOptions& opts)
      : meta_(meta), data_(data), opts_(opts) {}

  FsckReport run() {
    if (read_super()) {
      walk_metadata();
      r_.referenced.push_back(kSuperBlkno);
      r_.referenced.insert(r_.referenced.end(), visited_.begin(), visited_.end());
      check_meta_partition();
      if (items_complete()) {
        merge_forest();
        check_namespace();
      } else {
        r_.notes.push_back("namespace checks skipped: part of the fs tree or a log tree could not be read");
      }
      check_data_partition();
    }
    return std::move(r_);
  }

 private:
  void add(const std::string& kind, uint64_t block, std::optional<Key> key, std::string msg) {
    if (++r_.kinds[kind] > opts_.max_per_kind) {
      ++r_.dropped;
      return;
    }
    r_.findings.push_back(FsckFinding{kind, block, key, std::move(msg)});
  }

  bool read_meta(uint64_t blkno, std::vector<uint8_t>* out) {
    out->assign(kBlockSize, 0);
    return blkno < meta_.block_count && meta_.read && meta_.read(blkno, *out);
  }

  // ---- super ----

  bool read_super() {
    if (meta_.block_size != kBlockSize) {
      add("image.geometry", 0, std::nullopt,
          "metadata image block size " + num(meta_.block_size) + ", expected " + num(kBlockSize));
      return false;
    }
    if (data_.block_size != kDataBlockSize) {
      add("image.geometry", 0, std::nullopt,
          "data image block size " + num(data_.block_size) + ", expected " + num(kDataBlockSize));
    }
    std::vector<uint8_t> b;
    if (!read_meta(kSuperBlkno, &b)) {
      add("super.unreadable", kSuperBlkno, std::nullopt,
          "the super block cannot be read (the metadata image has " + num(meta_.block_count) + " blocks)");
      return false;
    }
    BlockCheck c = decode_super(b, std::nullopt, &sb_);
    if (c != BlockCheck::kOk) {
      add("super.unreadable", kSuperBlkno, std::nullopt,
          std::string("the super block fails its check: ") + block_check_name(c) + " (" +
              sim::errno_name(block_check_errno(c)) + ")");
      return false;
    }
    if (sb_.format_version != kFormatVersion) {
      add("super.version", kSuperBlkno, std::nullopt,
          "format version " + num(sb_.format_version) + ", this fsck reads version " + num(kFormatVersion));
      return false;
    }
    if (sb_.format_hash != format_hash()) {
      add("super.hash", kSuperBlkno, std::nullopt,
          "format hash " + sim::hex64(sb_.format_hash) + " differs from this build's " + sim::hex64(format_hash()));
      return false;
    }
    if (sb_.meta_blocks_total != meta_.block_count) {
      add("super.geometry", kSuperBlkno, std::nullopt,
          "meta_blocks_total " + num(sb_.meta_blocks_total) + " but the metadata image has " + num(meta_.block_count) +
              " blocks");
    }
    if (sb_.data_blocks_total != data_.block_count) {
      add("super.geometry", kSuperBlkno, std::nullopt,
          "data_blocks_total " + num(sb_.data_blocks_total) + " but the data image has " + num(data_.block_count) +
              " blocks");
    }
    if (!btree_fill_valid(sb_.btree_fill)) {
      add("super.geometry", kSuperBlkno, std::nullopt,
          "btree_fill " + num(sb_.btree_fill) + " is neither 0 nor within " + num(kBtreeFillMin) + ".." +
              num(kBtreeEntriesBytesMax) + " (trees are checked against whole blocks)");
    } else {
      forest_config_ = forest_btree_config(sb_.btree_fill);
    }
    if (sb_.quorum_slot_count > kQuorumSlotsMax) {
      add("super.geometry", kSuperBlkno, std::nullopt,
          "quorum_slot_count " + num(sb_.quorum_slot_count) + " exceeds " + num(kQuorumSlotsMax));
    }
    meta_hi_ = std::min(sb_.meta_blocks_total, meta_.block_count);
    data_hi_ = std::min(sb_.data_blocks_total, data_.block_count);
    r_.counts.meta_blocks = sb_.meta_blocks_total;
    r_.counts.data_blocks = sb_.data_blocks_total;
    if (meta_hi_ <= kMetaBlknoFirstAllocatable) {
      add("super.geometry", kSuperBlkno, std::nullopt, "no allocatable metadata blocks");
      return false;
    }
    // Fields reserved for later slices must still be empty: this fsck does not know their rules.
    auto reserved = [&](bool empty, const char* what) {
      if (!empty) add("super.reserved", kSuperBlkno, std::nullopt, std::string(what) + " is reserved and must be empty");
    };
    reserved(sb_.meta_alloc[1] == AllocRoot{}, "meta_alloc[1]");
    reserved(sb_.server_meta_avail[1] == AllocListHead{}, "server_meta_avail[1]");
    reserved(sb_.server_meta_freed[1] == AllocListHead{}, "server_meta_freed[1]");
    return true;
  }

  // ---- walking trees and lists ----

  void claim_meta(uint64_t blkno, uint64_t len, Owner owner) { meta_claims_.push_back(Claim{blkno, len, owner, 0, 0}); }

  // A reference to an allocatable block; false (with a finding) when it points elsewhere.
  bool ref_in_range(BlockRef ref, const std::string& what) {
    if (ref.blkno >= kMetaBlknoFirstAllocatable && ref.blkno < meta_hi_) return true;
    add("meta.out_of_range", ref.blkno, std::nullopt,
        what + " references block " + num(ref.blkno) + ", outside the allocatable range " +
            num(kMetaBlknoFirstAllocatable) + ".." + num(meta_hi_ ? meta_hi_ - 1 : 0));
    return false;
  }

  // Reads and verifies a referenced block; reports the first thing wrong.
  bool read_ref(BlockRef ref, BlockMagic magic, const std::string& what, std::vector<uint8_t>* out) {
    if (!read_meta(ref.blkno, out)) {
      add("block.unreadable", ref.blkno, std::nullopt, what + " block " + num(ref.blkno) + " cannot be read");
      return false;
    }
    BlockCheck c = check_block(*out, BlockExpect{magic, sb_.fsid, ref.blkno, ref.seq});
    if (c != BlockCheck::kOk) {
      add(check_kind(c), ref.blkno, std::nullopt,
          what + " block " + num(ref.blkno) + " (seq " + num(ref.seq) + "): " + block_check_name(c) + " (" +
              sim::errno_name(block_check_errno(c)) + ")");
      return false;
    }
    if (ref.seq > sb_.server_seq) {
      add("seq.future", ref.blkno, std::nullopt,
          what + " block " + num(ref.blkno) + " has seq " + num(ref.seq) + " beyond the super's server_seq " +
              num(sb_.server_seq));
    }
    return true;
  }

  void walk_tree(const BtreeRoot& root, TreeWalk* w) {
    if (root.height > kBtreeHeightMax || (root.height == 0) != root.ref.empty()) {
      add("btree.structure", root.ref.blkno, std::nullopt,
          w->name + ": root height " + num(root.height) + " with " + (root.ref.empty() ? "no block" : "a block"));
      w->complete = false;
      return;
    }
    if (root.height == 0) return;
    walk_node(root.ref, static_cast<uint8_t>(root.height - 1), w);
    if (!w->complete) {
      r_.notes.push_back(w->name + ": structure check skipped: blocks could not be read");
      return;
    }
    const CheckReadFn read = [this](BlockRef ref, BlockMagic magic, std::vector<uint8_t>* out) -> sim::Errno {
      if (!read_meta(ref.blkno, out)) return EIO;
      return block_check_errno(check_block(*out, BlockExpect{magic, sb_.fsid, ref.blkno, ref.seq}));
    };
    std::string problem = check_tree(read, root, w->config);
    if (!problem.empty()) add("btree.structure", 0, std::nullopt, w->name + ": " + problem);
  }

  void walk_node(BlockRef ref, uint8_t level, TreeWalk* w) {
    if (!ref_in_range(ref, w->name)) {
      w->complete = false;
      return;
    }
    claim_meta(ref.blkno, 1, w->owner);
    // A block seen before was walked then; the second claim is reported by the partition sweep.
    if (!visited_.insert(ref.blkno).second) return;
    ++r_.counts.meta_referenced;
    std::vector<uint8_t> b;
    if (!read_ref(ref, btree_magic(level), w->name, &b)) {
      w->complete = false;
      return;
    }
    BtreeNode n;
    std::string why;
    if (!decode_node(std::span<const uint8_t>(b).subspan(kBlockHeaderBytes), &n, &why)) {
      add("btree.malformed", ref.blkno, std::nullopt, w->name + " block " + num(ref.blkno) + ": " + why);
      w->complete = false;
      return;
    }
    if (n.level != level) {
      // Its entries are of the other kind: not followed (check_tree would say the same).
      add("btree.structure", ref.blkno, std::nullopt,
          w->name + " block " + num(ref.blkno) + ": level field " + num(n.level) + " where level " + num(level) +
              " belongs");
      w->complete = false;
      return;
    }
    if (level == 0) {
      for (BtreeEntry& e : n.entries) {
        if (e.item.seq > sb_.server_seq) {
          add("seq.future", ref.blkno, e.item.key,
              w->name + " item has seq " + num(e.item.seq) + " beyond the super's server_seq " + num(sb_.server_seq));
        }
        w->items.push_back(std::move(e.item));
      }
      return;
    }
    for (const BtreeEntry& e : n.entries) walk_node(e.child, static_cast<uint8_t>(level - 1), w);
  }

  // Walks an alloc list, claiming its blocks and its entries.
  void walk_list(const AllocListHead& head, const std::string& name, Owner block_owner, Owner entry_owner,
                 uint64_t* entries, bool* complete) {
    BlockRef ref = head.ref;
    if (ref.empty() && (head.total_nr != 0 || head.first_nr != 0)) {
      add("alloclist.count", 0, std::nullopt,
          name + ": empty list with total_nr " + num(head.total_nr) + " and first_nr " + num(head.first_nr));
    }
    const uint64_t max_blocks = head.total_nr / kAllocListEntriesMax + 1;
    uint64_t blocks = 0, total = 0;
    while (!ref.empty()) {
      if (++blocks > max_blocks) {
        add("alloclist.count", ref.blkno, std::nullopt,
            name + ": more blocks than total_nr " + num(head.total_nr) + " allows (a cycle or a wrong count)");
        *complete = false;
        return;
      }
      if (!ref_in_range(ref, name)) {
        *complete = false;
        return;
      }
      claim_meta(ref.blkno, 1, block_owner);
      if (!visited_.insert(ref.blkno).second) {
        *complete = false;  // reported as meta.double; do not follow it round again
        return;
      }
      ++r_.counts.meta_referenced;
      std::vector<uint8_t> b;
      if (!read_ref(ref, BlockMagic::kAllocList, name, &b)) {
        *complete = false;
        return;
      }
      sim::ByteReader rd(std::span<const uint8_t>(b).subspan(kBlockHeaderBytes));
      BlockRef next = decode_ref(rd);
      const uint32_t n = rd.u32();
      if (n == 0 || n > kAllocListEntriesMax) {
        add("alloclist.malformed", ref.blkno, std::nullopt, name + " block " + num(ref.blkno) + " holds " + num(n) +
                                                                " entries (1.." + num(kAllocListEntriesMax) + ")");
        *complete = false;
        return;
      }
      if (blocks == 1 && n != head.first_nr) {
        add("alloclist.count", ref.blkno, std::nullopt,
            name + ": first_nr " + num(head.first_nr) + " but the first block holds " + num(n));
      }
      for (uint32_t i = 0; i < n; ++i) {
        const uint64_t e = rd.u64();
        ++total;
        if (e < kMetaBlknoFirstAllocatable || e >= meta_hi_) {
          add("meta.out_of_range", ref.blkno, std::nullopt, name + " holds block " + num(e) + ", outside the allocatable range");
          continue;
        }
        claim_meta(e, 1, entry_owner);
        ++*entries;
      }
      ref = next;
    }
    if (total != head.total_nr) {
      add("alloclist.count", head.ref.blkno, std::nullopt,
          name + ": total_nr " + num(head.total_nr) + " but the list holds " + num(total));
    }
  }

  // Reads a bitmap tree's items into runs of free blocks; returns the set bits counted.
  uint64_t bitmap_runs(const TreeWalk& w, uint64_t alloc_id, uint64_t lo, uint64_t hi, Owner owner,
                       const std::string& prefix, std::vector<Claim>* claims) {
    uint64_t bits = 0;
    std::set<uint64_t> regions;
    const uint64_t regions_max = hi / kBitmapRegionBlocks;  // the last region that can hold a block < hi
    for (const Item& it : w.items) {
      const Key& k = it.key;
      if (it.deletion || k.zone != kZoneAlloc || k.ino != alloc_id || k.type != kTypeBitmap || k.second != 0 ||
          it.value.size() != kBitmapBytes) {
        add("alloc.bad_item", 0, k, w.name + " holds an item that is not a " + prefix + " bitmap");
        continue;
      }
      if (k.first > regions_max) {
        add(prefix + ".out_of_range", 0, k, w.name + ": bitmap region " + num(k.first) + " lies past the device");
        continue;
      }
      if (!regions.insert(k.first).second) continue;  // a repeated key: btree.structure says so
      const uint64_t base = k.first * kBitmapRegionBlocks;
      uint64_t here = 0;
      for (uint32_t i = 0; i < kBitmapRegionBlocks; ++i) {
        if (!((it.value[i / 8] >> (i % 8)) & 1)) continue;
        ++here;
        const uint64_t blk = base + i;
        if (blk < lo || blk >= hi) {
          add(prefix + ".out_of_range", blk, k, w.name + ": block " + num(blk) + " is marked free but is not allocatable");
          continue;
        }
        if (!claims->empty() && claims->back().owner == owner && claims->back().start + claims->back().len == blk) {
          ++claims->back().len;
        } else {
          claims->push_back(Claim{blk, 1, owner, 0, 0});
        }
      }
      if (here == 0) add("alloc.bad_item", 0, k, w.name + ": a bitmap item with no free block");
      bits += here;
    }
    return bits;
  }

  void walk_metadata() {
    fs_ = TreeWalk{"fs tree", Owner::kFsTree, true, {}, forest_config_};
    meta_bm_ = TreeWalk{"meta bitmap tree", Owner::kMetaBitmapTree, true, {}};
    data_bm_ = TreeWalk{"data bitmap tree", Owner::kDataBitmapTree, true, {}};
    walk_tree(sb_.fs_root, &fs_);
    walk_logs();
    walk_tree(sb_.meta_alloc[0].root, &meta_bm_);
    walk_tree(sb_.data_alloc.root, &data_bm_);
    walk_list(sb_.server_meta_avail[0], "avail list", Owner::kAvailListBlock, Owner::kAvail, &r_.counts.meta_avail,
              &lists_complete_);
    walk_list(sb_.server_meta_freed[0], "freed list", Owner::kFreedListBlock, Owner::kFreed, &r_.counts.meta_freed,
              &lists_complete_);
    r_.counts.meta_free = bitmap_runs(meta_bm_, kAllocMeta, kMetaBlknoFirstAllocatable, meta_hi_, Owner::kMetaFree,
                                      "meta", &meta_claims_);
    if (meta_bm_.complete && r_.counts.meta_free != sb_.meta_alloc[0].total_len) {
      add("meta.total_len", kSuperBlkno, std::nullopt,
          "meta_alloc[0].total_len " + num(sb_.meta_alloc[0].total_len) + " but the bitmap has " +
              num(r_.counts.meta_free) + " free blocks");
    }
    r_.counts.data_free =
        bitmap_runs(data_bm_, kAllocData, kDataBlknoFirst, data_hi_, Owner::kDataFree, "data", &data_claims_);
    if (data_bm_.complete && r_.counts.data_free != sb_.data_alloc.total_len) {
      add("data.total_len", kSuperBlkno, std::nullopt,
          "data_alloc.total_len " + num(sb_.data_alloc.total_len) + " but the bitmap has " + num(r_.counts.data_free) +
              " free blocks");
    }
  }

  // ---- the logs tree and log trees ----

  // Every log tree the logs tree records, walked and checked against its record.
  void walk_logs() {
    logs_ = TreeWalk{"logs tree", Owner::kLogsTree, true, {}, forest_config_};
    walk_tree(sb_.logs_root, &logs_);
    std::set<Key> seen;
    bool open_seen = false;  // for the rid being walked: its open tree (records are in key order)
    uint64_t rid = 0;
    for (const Item& rec : logs_.items) {
      const Key& k = rec.key;
      if (!seen.insert(k).second) continue;  // a repeated key: btree.structure says so
      LogTreeValue v;
      if (k.zone != kZoneLogs || k.type != kTypeLogTree || k.second != 0 || rec.deletion ||
          !decode_log_tree(rec.value, &v)) {
        add("logs.bad_record", 0, k, "a logs tree item that is not a log tree record, or does not decode");
        logs_.complete = false;  // its tree's items are unknown
        continue;
      }
      if (k.ino != rid) open_seen = false;
      rid = k.ino;
      // Only a mount's newest log tree takes writes; older ones wait to be merged.
      if (open_seen) {
        add("logs.order", 0, k, "log tree " + key_string(k) + " comes after its mount's open log tree");
      }
      if (!v.finalized) open_seen = true;
      if (!v.finalized && v.merge_next != Key::min()) {
        add("logs.merge_next", 0, k, "open log tree " + key_string(k) + " has a merge position (only finalized trees merge)");
      }
      if (v.max_seq > sb_.server_seq) {
        add("logs.seq", 0, k,
            "log tree record " + key_string(k) + " has max_seq " + num(v.max_seq) + " beyond the super's server_seq " +
                num(sb_.server_seq));
      }
      LogWalk lw{TreeWalk{"log tree " + num(k.ino) + "." + num(k.first), Owner::kLogTree, true, {}, forest_config_}, v};
      walk_tree(v.root, &lw.walk);
      if (lw.walk.complete) {
        uint64_t max_seq = 0;
        for (const Item& it : lw.walk.items) max_seq = std::max(max_seq, it.seq);
        if (lw.walk.items.size() != v.item_count) {
          add("logs.count", v.root.ref.blkno, k,
              lw.walk.name + " holds " + num(lw.walk.items.size()) + " items, its record says " + num(v.item_count));
        }
        if (max_seq != v.max_seq) {
          add("logs.seq", v.root.ref.blkno, k,
              lw.walk.name + "'s newest item has seq " + num(max_seq) + ", its record says " + num(v.max_seq));
        }
      }
      log_trees_.push_back(std::move(lw));
    }
  }

  bool items_complete() const {
    if (!fs_.complete || !logs_.complete) return false;
    for (const LogWalk& l : log_trees_) {
      if (!l.walk.complete) return false;
    }
    return true;
  }

  // The items the filesystem holds: per key, the highest seq across the fs tree and the log
  // trees, without the keys whose winner is a deletion.
  void merge_forest() {
    std::map<Key, const Item*> win;
    for (const Item& it : fs_.items) {
      if (it.deletion) {
        add("item.deletion", 0, it.key, "a deletion item in the fs tree (it holds no tombstones)");
        continue;
      }
      win.emplace(it.key, &it);  // a repeated key: btree.structure says so
    }
    // A finalized tree's items below its merge position are in the fs tree already: a put at
    // its seq or newer, a deletion as an absent key (or one written again later).
    for (const LogWalk& l : log_trees_) {
      if (!l.v.finalized) continue;
      for (const Item& it : l.walk.items) {
        if (!(it.key < l.v.merge_next)) break;  // items are in key order
        auto f = win.find(it.key);
        const bool held = f != win.end();
        const bool ok = it.deletion ? !held || f->second->seq > it.seq : held && f->second->seq >= it.seq;
        if (!ok) {
          add("logs.unmerged", 0, it.key,
              l.walk.name + (it.deletion ? ": a deletion" : ": an item") + " with seq " + num(it.seq) +
                  " below the merge position is not reflected in the fs tree");
        }
      }
    }
    for (const LogWalk& l : log_trees_) {
      for (const Item& it : l.walk.items) {
        auto [pos, fresh] = win.emplace(it.key, &it);
        if (!fresh && it.seq > pos->second->seq) pos->second = &it;
      }
    }
    live_.clear();
    for (const auto& [k, it] : win) {
      if (!it->deletion) live_.push_back(it);
    }
    r_.counts.items = live_.size();
  }

  // Every block in [lo, hi) must be claimed exactly once.
  void sweep(std::vector<Claim>& claims, uint64_t lo, uint64_t hi, const std::string& prefix, bool leaks,
             const std::string& leak_text) {
    std::sort(claims.begin(), claims.end());
    uint64_t covered = lo;
    Claim last{};
    for (const Claim& c : claims) {
      const uint64_t end = c.start + c.len;
      if (c.start > covered) {
        if (leaks) add(prefix + ".leak", covered, std::nullopt, range_string(covered, c.start - covered) + leak_text);
      } else if (c.start < covered) {
        const uint64_t dend = std::min(end, covered);
        add(prefix + ".double", c.start, std::nullopt,
            range_string(c.start, dend - c.start) + " is " + owner_string(last) + " and " + owner_string(c));
      }
      if (end > covered) {
        covered = end;
        last = c;
      }
    }
    if (covered < hi && leaks) add(prefix + ".leak", covered, std::nullopt, range_string(covered, hi - covered) + leak_text);
  }

  void check_meta_partition() {
    const bool complete = items_complete() && meta_bm_.complete && data_bm_.complete && lists_complete_;
    if (!complete) r_.notes.push_back("meta.leak check skipped: some metadata could not be read");
    sweep(meta_claims_, kMetaBlknoFirstAllocatable, meta_hi_, "meta", complete,
          " neither referenced, free in the meta bitmap, on the avail list nor on the freed list");
  }

  void check_data_partition() {
    const bool complete = items_complete() && data_bm_.complete;
    if (!complete) r_.notes.push_back("data.leak check skipped: the fs or log trees or the data bitmap could not be read");
    for (const Claim& c : data_claims_) {
      if (c.owner == Owner::kExtent) r_.counts.data_mapped += c.len;
    }
    sweep(data_claims_, kDataBlknoFirst, data_hi_, "data", complete, " neither mapped by an extent nor free in the data bitmap");
  }

  // ---- the namespace ----

  struct Ino {
    InodeValue v;
    bool valid = false;
    uint64_t backrefs = 0;
    uint64_t subdirs = 0;
    std::vector<uint64_t> parents;  // directories whose entries name this directory
    bool symlink = false;
    bool orphan = false;
  };
  struct Dirent {
    Key key;
    DirentValue d;
    const std::vector<uint8_t>* raw;
  };

  void check_namespace() {
    std::map<uint64_t, Ino> inodes;
    std::map<std::pair<uint64_t, uint64_t>, const std::vector<uint8_t>*> readdirs;  // (dir, pos)
    std::map<std::tuple<uint64_t, uint64_t, uint64_t>, std::string> links;         // (ino, dir, pos)
    std::vector<Dirent> dirents;
    std::vector<const Item*> extents;
    std::set<uint64_t> orphans, no_inode;

    for (const Item* itp : live_) {
      const Item& it = *itp;
      const Key& k = it.key;
      if (k.zone == kZoneFs && k.type == kTypeInode && k.first == 0 && k.second == 0) {
        Ino& i = inodes[k.ino];
        i.valid = decode_inode(it.value, &i.v);
        if (!i.valid) add("inode.corrupt", 0, k, "inode " + num(k.ino) + " does not decode");
        if (k.ino >= sb_.next_ino) {
          add("super.next_ino", 0, k, "inode " + num(k.ino) + " is not below the super's next_ino " + num(sb_.next_ino));
        }
      }
    }
    for (const Item* itp : live_) {
      const Item& it = *itp;
      const Key& k = it.key;
      if (k.zone == kZoneOrphan) {
        if (k.type != kTypeOrphan || k.first != 0 || k.second != 0 || !it.value.empty()) {
          add("item.unknown", 0, k, "an item in the orphan zone that is not an orphan item");
        } else {
          orphans.insert(k.ino);
        }
        continue;
      }
      if (k.zone != kZoneFs) {
        add("item.unknown", 0, k, "an item in zone " + num(k.zone) + " among the filesystem's items");
        continue;
      }
      if (k.type == kTypeInode) {
        if (k.first != 0 || k.second != 0) add("item.unknown", 0, k, "an inode item with a nonzero offset");
        continue;
      }
      if (!inodes.count(k.ino)) {
        if (no_inode.insert(k.ino).second) add("item.no_inode", 0, k, "items of inode " + num(k.ino) + ", which does not exist");
        continue;
      }
      switch (k.type) {
        case kTypeXattr: {
          XattrValue x;
          if (!decode_xattr(it.value, &x)) {
            add("xattr.corrupt", 0, k, "xattr of inode " + num(k.ino) + " does not decode");
          } else if (name_hash(x.name) != k.first) {
            add("xattr.corrupt", 0, k, "xattr '" + x.name + "' is filed under the wrong name hash");
          }
          ++r_.counts.xattrs;
          break;
        }
        case kTypeDirent: {
          Dirent d{k, {}, &it.value};
          if (!decode_dirent(it.value, &d.d)) {
            add("dirent.corrupt", 0, k, "entry in directory " + num(k.ino) + " does not decode");
          } else {
            dirents.push_back(std::move(d));
          }
          break;
        }
        case kTypeReaddir:
          if (k.second != 0) {
            add("item.unknown", 0, k, "a readdir item with a nonzero second");
          } else {
            readdirs[{k.ino, k.first}] = &it.value;
          }
          break;
        case kTypeLink: {
          std::string name;
          if (!decode_link(it.value, &name)) {
            add("link.corrupt", 0, k, "link backref of inode " + num(k.ino) + " does not decode");
          } else {
            links[{k.ino, k.first, k.second}] = name;
            ++inodes[k.ino].backrefs;
          }
          break;
        }
        case kTypeExtent:
          extents.push_back(&it);
          break;
        case kTypeSymlink: {
          std::string target;
          Ino& i = inodes[k.ino];
          if (k.first != 0 || k.second != 0) {
            add("item.unknown", 0, k, "a symlink item with a nonzero offset");
          } else if (!decode_symlink(it.value, &target)) {
            add("symlink.corrupt", 0, k, "symlink target of inode " + num(k.ino) + " does not decode");
            i.symlink = true;
          } else {
            i.symlink = true;
            if (i.valid && !is_lnk(i.v.mode)) {
              add("symlink.not_lnk", 0, k, "inode " + num(k.ino) + " has a symlink target but is not a symlink");
            } else if (i.valid && i.v.size != target.size()) {
              add("symlink.size", 0, k,
                  "symlink " + num(k.ino) + " has size " + num(i.v.size) + " but its target is " + num(target.size()) +
                      " bytes");
            }
          }
          break;
        }
        default:
          add("item.unknown", 0, k, "an item of unknown type " + num(k.type));
      }
    }

    // Entries: each has its readdir twin, its backref and its inode.
    std::map<std::pair<uint64_t, uint64_t>, uint64_t> entry_at;  // (dir, pos) -> ino
    std::map<uint64_t, std::vector<uint64_t>> children;          // dir -> subdirectories
    for (const Dirent& e : dirents) {
      const uint64_t dir = e.key.ino, pos = e.key.second;
      const Key& k = e.key;
      Ino& di = inodes[dir];
      const std::string where = "entry '" + e.d.name + "' in directory " + num(dir);
      ++r_.counts.dirents;
      if (di.valid && !is_dir(di.v.mode)) add("dirent.not_dir", 0, k, where + ": inode " + num(dir) + " is not a directory");
      if (name_hash(e.d.name) != k.first) add("dirent.hash", 0, k, where + " is filed under the wrong name hash");
      if (e.d.pos != pos || pos < kFirstReaddirPos || (di.valid && is_dir(di.v.mode) && pos >= di.v.next_readdir_pos)) {
        add("dirent.pos", 0, k,
            where + ": position " + num(e.d.pos) + " (key " + num(pos) + ") outside " + num(kFirstReaddirPos) + ".." +
                (di.valid ? num(di.v.next_readdir_pos) : std::string("?")));
      }
      entry_at.emplace(std::make_pair(dir, pos), e.d.ino);
      auto rd = readdirs.find({dir, pos});
      if (rd == readdirs.end()) {
        add("dirent.no_readdir", 0, k, where + " has no readdir item at position " + num(pos));
      } else if (*rd->second != *e.raw) {
        add("dirent.readdir_mismatch", 0, k, where + " differs from its readdir item at position " + num(pos));
      }
      auto ln = links.find({e.d.ino, dir, pos});
      if (ln == links.end()) {
        add("dirent.no_backref", 0, k, where + " has no link backref on inode " + num(e.d.ino));
      } else if (ln->second != e.d.name) {
        add("dirent.backref_name", 0, k, where + ": the backref on inode " + num(e.d.ino) + " names '" + ln->second + "'");
      }
      auto t = inodes.find(e.d.ino);
      if (t == inodes.end()) {
        add("dirent.dangling", 0, k, where + " names inode " + num(e.d.ino) + ", which does not exist");
        continue;
      }
      if (!t->second.valid) continue;
      if (e.d.dtype != static_cast<uint8_t>(t->second.v.mode >> 12)) {
        add("dirent.dtype", 0, k, where + ": type " + num(e.d.dtype) + " but inode " + num(e.d.ino) + " has mode " + num(t->second.v.mode));
      }
      if (is_dir(t->second.v.mode)) {
        t->second.parents.push_back(dir);
        ++di.subdirs;
        children[dir].push_back(e.d.ino);
      }
    }
    for (const auto& [at, raw] : readdirs) {
      (void)raw;
      if (!entry_at.count(at)) {
        add("readdir.no_dirent", 0, readdir_key(at.first, at.second),
            "readdir item at position " + num(at.second) + " of directory " + num(at.first) + " has no entry");
      }
    }
    for (const auto& [l, name] : links) {
      const auto [ino, dir, pos] = l;
      auto e = entry_at.find({dir, pos});
      if (e == entry_at.end() || e->second != ino) {
        add("link.no_dirent", 0, link_key(ino, dir, pos),
            "backref '" + name + "' of inode " + num(ino) + " names position " + num(pos) + " of directory " + num(dir) +
                ", where no entry names it");
      }
    }

    // The root, and reachability of every directory from it.
    auto root = inodes.find(kRootIno);
    if (root == inodes.end()) {
      add("root.missing", 0, inode_key(kRootIno), "the root directory has no inode");
    } else if (root->second.valid && !is_dir(root->second.v.mode)) {
      add("root.not_dir", 0, inode_key(kRootIno), "the root inode is not a directory");
    }
    std::set<uint64_t> reached;
    std::vector<uint64_t> todo;
    if (root != inodes.end()) {
      reached.insert(kRootIno);
      todo.push_back(kRootIno);
    }
    while (!todo.empty()) {
      const uint64_t d = todo.back();
      todo.pop_back();
      auto c = children.find(d);
      if (c == children.end()) continue;
      for (uint64_t sub : c->second) {
        if (reached.insert(sub).second) todo.push_back(sub);
      }
    }

    for (const auto& [ino, i] : inodes) {
      if (!i.valid) continue;
      const Key k = inode_key(ino);
      ++r_.counts.inodes;
      if (is_dir(i.v.mode)) {
        ++r_.counts.directories;
        const size_t want_parents = ino == kRootIno ? 0 : 1;
        if (i.parents.size() != want_parents) {
          add("dir.links", 0, k,
              "directory " + num(ino) + " is named by " + num(i.parents.size()) + " entries, expected " + num(want_parents));
        }
        if (!reached.count(ino)) add("dir.unreachable", 0, k, "directory " + num(ino) + " cannot be reached from the root");
        if (i.v.nlink != 2 + i.subdirs) {
          add("inode.nlink", 0, k,
              "directory " + num(ino) + " has nlink " + num(i.v.nlink) + " but " + num(i.subdirs) +
                  " subdirectories (expected " + num(2 + i.subdirs) + ")");
        }
      } else {
        if (is_lnk(i.v.mode)) {
          ++r_.counts.symlinks;
          if (!i.symlink) add("symlink.missing", 0, k, "symlink " + num(ino) + " has no target item");
        } else {
          ++r_.counts.files;
        }
        if (i.v.nlink != i.backrefs) {
          add("inode.nlink", 0, k, "inode " + num(ino) + " has nlink " + num(i.v.nlink) + " but " + num(i.backrefs) + " link backrefs");
        }
        if (i.v.nlink == 0 && !orphans.count(ino)) {
          add("orphan.missing", 0, k, "inode " + num(ino) + " has no links and no orphan item");
        }
      }
    }
    if (r_.counts.inodes != sb_.inode_count) {
      add("super.inode_count", 0, std::nullopt,
          "the super counts " + num(sb_.inode_count) + " inodes but the filesystem holds " + num(r_.counts.inodes));
    }
    for (uint64_t ino : orphans) {
      ++r_.counts.orphans;
      auto i = inodes.find(ino);
      if (i == inodes.end()) {
        add("orphan.no_inode", 0, orphan_key(ino), "orphan item for inode " + num(ino) + ", which does not exist");
      } else if (i->second.valid && i->second.v.nlink != 0) {
        add("orphan.linked", 0, orphan_key(ino), "orphan item for inode " + num(ino) + ", which has nlink " + num(i->second.v.nlink));
      }
    }

    // Extents: regular files only, inside the file, mapping data blocks in range.
    for (const Item* it : extents) {
      const Key& k = it->key;
      ++r_.counts.extent_items;
      const Ino& i = inodes[k.ino];
      if (i.valid && !is_reg(i.v.mode)) add("extent.not_reg", 0, k, "inode " + num(k.ino) + " has extents but is not a regular file");
      ExtentMap m;
      if (k.second != 0 || !decode_extent(it->value, &m)) {
        add("extent.corrupt", 0, k, "extent item of inode " + num(k.ino) + " does not decode");
        continue;
      }
      const uint64_t regions_max = kFileSizeMax / kExtentRegionBytes;
      if (k.first > regions_max) {
        add("extent.past_eof", 0, k, "extent region " + num(k.first) + " lies past the largest file size");
        continue;
      }
      const uint64_t base = k.first * kExtentRegionBlocks;
      const uint64_t eof_blocks = i.valid ? (i.v.size + kDataBlockSize - 1) / kDataBlockSize : UINT64_MAX;
      bool past = false;
      for (uint32_t j = 0; j < kExtentRegionBlocks; ++j) {
        const uint64_t b = m[j];
        if (!b) continue;
        if (base + j >= eof_blocks && !past) {
          past = true;
          add("extent.past_eof", 0, k,
              "inode " + num(k.ino) + " maps file block " + num(base + j) + " but its size " + num(i.v.size) + " ends at block " +
                  num(eof_blocks));
        }
        if (b < kDataBlknoFirst || b >= data_hi_) {
          add("data.out_of_range", b, k, "inode " + num(k.ino) + " maps data block " + num(b) + ", outside the device");
          continue;
        }
        if (!data_claims_.empty() && data_claims_.back().owner == Owner::kExtent && data_claims_.back().a == k.ino &&
            data_claims_.back().start + data_claims_.back().len == b &&
            data_claims_.back().b + data_claims_.back().len == base + j) {
          ++data_claims_.back().len;
        } else {
          data_claims_.push_back(Claim{b, 1, Owner::kExtent, k.ino, base + j});
        }
      }
    }
  }

  const ImageReader& meta_;
  const ImageReader& data_;
  FsckOptions opts_;
  FsckReport r_;
  SuperBlock sb_;
  uint64_t meta_hi_ = 0;  // blocks below this are checked (the smaller of the super's and the image's)
  uint64_t data_hi_ = 0;
  std::set<uint64_t> visited_;
  std::vector<Claim> meta_claims_, data_claims_;
  struct LogWalk {
    TreeWalk walk;
    LogTreeValue v;
  };
  BtreeConfig forest_config_ = {};  // fill bounds of the fs, logs and log trees (super.btree_fill)
  TreeWalk fs_, logs_, meta_bm_, data_bm_;
  std::vector<LogWalk> log_trees_;
  std::vector<const Item*> live_;  // merge_forest(): the filesystem's items, in key order
  bool lists_complete_ = true;
};

}  // namespace

FsckReport fsck(const ImageReader& meta, const ImageReader& data, const FsckOptions& opts) {
  return Fsck(meta, data, opts).run();
}

std::string format_report(const FsckReport& r) {
  const FsckCounts& c = r.counts;
  std::string s;
  uint64_t total = 0;
  for (const auto& [kind, n] : r.kinds) total += n;
  if (c.meta_blocks) {  // 0: the super could not be read, so nothing was counted
    s += "metadata: " + num(c.meta_blocks) + " blocks: " + num(c.meta_referenced) + " referenced, " + num(c.meta_free) +
         " free, " + num(c.meta_avail) + " avail, " + num(c.meta_freed) + " freed\n";
    s += "data: " + num(c.data_blocks) + " blocks: " + num(c.data_mapped) + " mapped, " + num(c.data_free) + " free\n";
    s += "namespace: " + num(c.inodes) + " inodes (" + num(c.directories) + " directories, " + num(c.files) + " files, " +
         num(c.symlinks) + " symlinks), " + num(c.dirents) + " entries, " + num(c.xattrs) + " xattrs, " +
         num(c.extent_items) + " extent items, " + num(c.orphans) + " orphans\n";
  }
  for (const std::string& n : r.notes) s += "note: " + n + "\n";
  for (const FsckFinding& f : r.findings) {
    s += f.kind;
    if (f.block) s += " block " + num(f.block);
    if (f.key) s += " key " + key_string(*f.key);
    s += ": " + f.message + "\n";
  }
  if (r.dropped) s += "(" + num(r.dropped) + " more findings not listed)\n";
  if (total == 0) {
    s += "clean: no findings\n";
  } else {
    s += num(total) + " findings:";
    for (const auto& [kind, n] : r.kinds) s += " " + kind + "=" + num(n);
    s += "\n";
  }
  return s;
}

}  // namespace simfs::fs
