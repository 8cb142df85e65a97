// The super block: that both images have the block sizes this build reads, that the super
// decodes and was written by this format, and that its geometry fits the images. Everything
// else is found from the super, so a super that cannot be trusted stops the check here.
// It also fixes what the later checkers hold the images to: the blocks checked (meta_hi,
// data_hi) and the fill bounds of the fs, logs and log trees (forest_config).
//
// Reports: image.geometry, super.unreadable, super.version, super.hash, super.geometry,
// super.reserved.
#include <algorithm>

#include "fs/fsck/checkers.h"
#include "fs/forest/forest.h"
#include "sim/errors.h"
#include "sim/trace.h"

namespace simfs::fs::fsck_internal {

namespace {

// Fields reserved for later slices must still be empty: this fsck does not know their rules.
void check_reserved(FsckContext& cx) {
  const SuperBlock& sb = cx.sb;
  auto reserved = [&](bool empty, const char* what) {
    if (!empty) cx.add("super.reserved", kSuperBlkno, std::nullopt, std::string(what) + " is reserved and must be empty");
  };
  reserved(sb.meta_alloc[1] == AllocRoot{}, "meta_alloc[1]");
  reserved(sb.server_meta_avail[1] == AllocListHead{}, "server_meta_avail[1]");
  reserved(sb.server_meta_freed[1] == AllocListHead{}, "server_meta_freed[1]");
}

}  // namespace

bool check_super(FsckContext& cx) {
  const ImageReader& meta = cx.meta;
  const ImageReader& data = cx.data;
  SuperBlock& sb = cx.sb;
  if (meta.block_size != kBlockSize) {
    cx.add("image.geometry", 0, std::nullopt,
           "metadata image block size " + num(meta.block_size) + ", expected " + num(kBlockSize));
    return false;
  }
  if (data.block_size != kDataBlockSize) {
    cx.add("image.geometry", 0, std::nullopt,
           "data image block size " + num(data.block_size) + ", expected " + num(kDataBlockSize));
  }
  std::vector<uint8_t> b;
  if (!cx.read_meta(kSuperBlkno, &b)) {
    cx.add("super.unreadable", kSuperBlkno, std::nullopt,
           "the super block cannot be read (the metadata image has " + num(meta.block_count) + " blocks)");
    return false;
  }
  BlockCheck c = decode_super(b, std::nullopt, &sb);
  if (c != BlockCheck::kOk) {
    cx.add("super.unreadable", kSuperBlkno, std::nullopt,
           std::string("the super block fails its check: ") + block_check_name(c) + " (" +
               sim::errno_name(block_check_errno(c)) + ")");
    return false;
  }
  if (sb.format_version != kFormatVersion) {
    cx.add("super.version", kSuperBlkno, std::nullopt,
           "format version " + num(sb.format_version) + ", this fsck reads version " + num(kFormatVersion));
    return false;
  }
  if (sb.format_hash != format_hash()) {
    cx.add("super.hash", kSuperBlkno, std::nullopt,
           "format hash " + sim::hex64(sb.format_hash) + " differs from this build's " + sim::hex64(format_hash()));
    return false;
  }
  if (sb.meta_blocks_total != meta.block_count) {
    cx.add("super.geometry", kSuperBlkno, std::nullopt,
           "meta_blocks_total " + num(sb.meta_blocks_total) + " but the metadata image has " + num(meta.block_count) +
               " blocks");
  }
  if (sb.data_blocks_total != data.block_count) {
    cx.add("super.geometry", kSuperBlkno, std::nullopt,
           "data_blocks_total " + num(sb.data_blocks_total) + " but the data image has " + num(data.block_count) +
               " blocks");
  }
  if (!btree_fill_valid(sb.btree_fill)) {
    cx.add("super.geometry", kSuperBlkno, std::nullopt,
           "btree_fill " + num(sb.btree_fill) + " is neither 0 nor within " + num(kBtreeFillMin) + ".." +
               num(kBtreeEntriesBytesMax) + " (trees are checked against whole blocks)");
  } else {
    cx.forest_config = forest_btree_config(sb.btree_fill);
  }
  if (sb.quorum_slot_count > kQuorumSlotsMax) {
    cx.add("super.geometry", kSuperBlkno, std::nullopt,
           "quorum_slot_count " + num(sb.quorum_slot_count) + " exceeds " + num(kQuorumSlotsMax));
  }
  cx.meta_hi = std::min(sb.meta_blocks_total, meta.block_count);
  cx.data_hi = std::min(sb.data_blocks_total, data.block_count);
  cx.report.counts.meta_blocks = sb.meta_blocks_total;
  cx.report.counts.data_blocks = sb.data_blocks_total;
  if (cx.meta_hi <= kMetaBlknoFirstAllocatable) {
    cx.add("super.geometry", kSuperBlkno, std::nullopt, "no allocatable metadata blocks");
    return false;
  }
  check_reserved(cx);
  return true;
}

}  // namespace simfs::fs::fsck_internal
