// FsckContext: recording findings, and reading and verifying referenced metadata blocks. Every
// walk reads its blocks through read_ref(), so a block anywhere in the image is judged the same
// way.
//
// Reports: block.unreadable, block.zeroed, block.checksum, block.magic, block.fsid, block.blkno,
// block.seq (a referenced block fails its check), seq.future (a block newer than the super),
// meta.out_of_range (a reference outside the allocatable blocks).
#include "fs/fsck/fsck_context.h"

#include "sim/errors.h"

namespace simfs::fs::fsck_internal {

namespace {

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

}  // namespace

std::string num(uint64_t v) { return std::to_string(v); }

std::string range_string(uint64_t start, uint64_t len) {
  return len == 1 ? "block " + num(start) : "blocks " + num(start) + ".." + num(start + len - 1) + " (" + num(len) + ")";
}

void FsckContext::add(const std::string& kind, uint64_t block, std::optional<Key> key, std::string msg) {
  if (++report.kinds[kind] > opts.max_per_kind) {
    ++report.dropped;
    return;
  }
  report.findings.push_back(FsckFinding{kind, block, key, std::move(msg)});
}

bool FsckContext::read_meta(uint64_t blkno, std::vector<uint8_t>* out) {
  out->assign(kBlockSize, 0);
  return blkno < meta.block_count && meta.read && meta.read(blkno, *out);
}

void FsckContext::claim_meta(uint64_t blkno, uint64_t len, Owner owner) {
  meta_claims.push_back(Claim{blkno, len, owner, 0, 0});
}

bool FsckContext::ref_in_range(BlockRef ref, const std::string& what) {
  if (ref.blkno >= kMetaBlknoFirstAllocatable && ref.blkno < meta_hi) return true;
  add("meta.out_of_range", ref.blkno, std::nullopt,
      what + " references block " + num(ref.blkno) + ", outside the allocatable range " +
          num(kMetaBlknoFirstAllocatable) + ".." + num(meta_hi ? meta_hi - 1 : 0));
  return false;
}

bool FsckContext::read_ref(BlockRef ref, BlockMagic magic, const std::string& what, std::vector<uint8_t>* out) {
  if (!read_meta(ref.blkno, out)) {
    add("block.unreadable", ref.blkno, std::nullopt, what + " block " + num(ref.blkno) + " cannot be read");
    return false;
  }
  BlockCheck c = check_block(*out, BlockExpect{magic, sb.fsid, ref.blkno, ref.seq});
  if (c != BlockCheck::kOk) {
    add(check_kind(c), ref.blkno, std::nullopt,
        what + " block " + num(ref.blkno) + " (seq " + num(ref.seq) + "): " + block_check_name(c) + " (" +
            sim::errno_name(block_check_errno(c)) + ")");
    return false;
  }
  // Blocks the server writes take its counter; a mount's blocks carry a seq of its own with the
  // top bit set (fs/client/mount.cc), which no counter reaches.
  if (ref.seq > sb.server_seq && !(ref.seq & kMountBlockSeqBit)) {
    add("seq.future", ref.blkno, std::nullopt,
        what + " block " + num(ref.blkno) + " has seq " + num(ref.seq) + " beyond the super's server_seq " +
            num(sb.server_seq));
  }
  return true;
}

bool FsckContext::items_complete() const {
  if (!fs.complete || !logs.complete) return false;
  for (const LogWalk& l : log_trees) {
    if (!l.walk.complete) return false;
  }
  return true;
}

}  // namespace simfs::fs::fsck_internal
