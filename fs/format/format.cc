#include "fs/format/format.h"

#include <algorithm>

#include "fs/base/assert.h"
#include "fs/format/crc32c.h"

namespace simfs::fs {

// ---- refs and roots ----

void encode_ref(sim::ByteWriter& w, const BlockRef& r) {
  w.u64(r.blkno);
  w.u64(r.seq);
}

BlockRef decode_ref(sim::ByteReader& r) {
  BlockRef ref;
  ref.blkno = r.u64();
  ref.seq = r.u64();
  return ref;
}

void encode_btree_root(sim::ByteWriter& w, const BtreeRoot& r) {
  encode_ref(w, r.ref);
  w.u8(r.height);
}

BtreeRoot decode_btree_root(sim::ByteReader& r) {
  BtreeRoot root;
  root.ref = decode_ref(r);
  root.height = r.u8();
  return root;
}

void encode_alloc_root(sim::ByteWriter& w, const AllocRoot& a) {
  encode_btree_root(w, a.root);
  w.u64(a.total_len);
}

AllocRoot decode_alloc_root(sim::ByteReader& r) {
  AllocRoot a;
  a.root = decode_btree_root(r);
  a.total_len = r.u64();
  return a;
}

void encode_list_head(sim::ByteWriter& w, const AllocListHead& h) {
  encode_ref(w, h.ref);
  w.u64(h.total_nr);
  w.u32(h.first_nr);
}

AllocListHead decode_list_head(sim::ByteReader& r) {
  AllocListHead h;
  h.ref = decode_ref(r);
  h.total_nr = r.u64();
  h.first_nr = r.u32();
  return h;
}


// ---- block header ----

void put_header(std::span<uint8_t> block, const BlockHeader& h) {
  FS_ASSERT(block.size() >= kBlockHeaderBytes);
  std::vector<uint8_t> buf;
  buf.reserve(kBlockHeaderBytes - kCrcBytes);
  sim::ByteWriter w(buf);
  w.u32(h.magic);
  w.u64(h.fsid);
  w.u64(h.seq);
  w.u64(h.blkno);
  FS_ASSERT(buf.size() == kBlockHeaderBytes - kCrcBytes);
  std::copy(buf.begin(), buf.end(), block.begin() + kCrcBytes);
}

BlockHeader get_header(std::span<const uint8_t> block) {
  sim::ByteReader r(block.first(std::min(block.size(), kBlockHeaderBytes)));
  BlockHeader h;
  h.crc = r.u32();
  h.magic = r.u32();
  h.fsid = r.u64();
  h.seq = r.u64();
  h.blkno = r.u64();
  return h;
}

uint32_t block_crc(std::span<const uint8_t> block) {
  FS_ASSERT(block.size() >= kCrcBytes);
  return crc32c(block.subspan(kCrcBytes));
}

void seal_block(std::span<uint8_t> block) {
  uint32_t crc = block_crc(block);
  for (size_t i = 0; i < kCrcBytes; ++i) block[i] = static_cast<uint8_t>(crc >> (8 * i));
}

const char* block_check_name(BlockCheck c) {
  switch (c) {
    case BlockCheck::kOk: return "ok";
    case BlockCheck::kZeroed: return "zeroed";
    case BlockCheck::kBadChecksum: return "bad_checksum";
    case BlockCheck::kWrongMagic: return "wrong_magic";
    case BlockCheck::kWrongFsid: return "wrong_fsid";
    case BlockCheck::kWrongBlkno: return "wrong_blkno";
    case BlockCheck::kWrongSeq: return "wrong_seq";
  }
  return "?";
}

BlockCheck check_block(std::span<const uint8_t> block, const BlockExpect& want) {
  // A short buffer is a caller bug, not a disk state: there is no error kind for it.
  FS_ASSERT(block.size() == kBlockSize);
  // The checksum first: a block that matches it is not a zeroed one unless its stored crc is 0,
  // so the scan for zeroes runs only then or on a mismatch (every block read passes here).
  BlockHeader h = get_header(block);
  const bool crc_ok = h.crc == block_crc(block);
  if ((!crc_ok || h.crc == 0) && std::all_of(block.begin(), block.end(), [](uint8_t b) { return b == 0; })) {
    return BlockCheck::kZeroed;
  }
  if (!crc_ok) return BlockCheck::kBadChecksum;
  if (h.magic != static_cast<uint32_t>(want.magic)) return BlockCheck::kWrongMagic;
  if (want.fsid && h.fsid != *want.fsid) return BlockCheck::kWrongFsid;
  if (h.blkno != want.blkno) return BlockCheck::kWrongBlkno;
  if (want.seq && h.seq != *want.seq) return BlockCheck::kWrongSeq;
  return BlockCheck::kOk;
}

sim::Errno block_check_errno(BlockCheck c) {
  switch (c) {
    case BlockCheck::kOk: return sim::kOk;
    case BlockCheck::kBadChecksum: return EIO;
    case BlockCheck::kZeroed:
    case BlockCheck::kWrongMagic:
    case BlockCheck::kWrongFsid:
    case BlockCheck::kWrongBlkno:
    case BlockCheck::kWrongSeq: return ESTALE;
  }
  return EIO;
}

// ---- format description and hash ----

// One line per encoded field, in encoding order: "<struct> <field> <type>". Types are u8, u32,
// u64 (little-endian) or another struct named here. Change this whenever an encoder changes.
const std::string_view kFormatDescription =
    "simfs metadata format 3\n"
    "block_size 4096\n"
    "super_blkno 1\n"
    "quorum_blknos 2..16\n"
    "header crc u32 (crc32c of bytes 4..block_size)\n"
    "header magic u32\n"
    "header fsid u64\n"
    "header seq u64\n"
    "header blkno u64\n"
    "ref blkno u64\n"
    "ref seq u64\n"
    "btree_root ref ref\n"
    "btree_root height u8\n"
    "alloc_root root btree_root\n"
    "alloc_root total_len u64\n"
    "alloc_list_head ref ref\n"
    "alloc_list_head total_nr u64\n"
    "alloc_list_head first_nr u32\n"
    "super format_version u64\n"
    "super format_hash u64\n"
    "super next_ino u64\n"
    "super inode_count u64\n"
    "super server_seq u64\n"
    "super meta_blocks_total u64\n"
    "super data_blocks_total u64\n"
    "super quorum_slot_count u32\n"
    "super fs_root btree_root\n"
    "super logs_root btree_root\n"
    "super meta_alloc[2] alloc_root\n"
    "super data_alloc alloc_root\n"
    "super server_meta_avail[2] alloc_list_head\n"
    "super server_meta_freed[2] alloc_list_head\n"
    "super btree_fill u32 (fs, logs and log trees: entry bytes per block, 0 = whole block, else >= 1100)\n"
    "super clients_root btree_root\n"
    "super server_term u64\n"
    "magic btree_leaf 0x53464C54 btree_parent 0x53465054\n"
    "key zone u8, ino u64, type u8, first u64, second u64\n"
    "btree_block level u8, reserved u8, count u16, then entries\n"
    "btree_leaf_item key, seq u64, flags u8 (bit 0 deletion), value_len u16, value\n"
    "btree_parent_entry key (largest key of the child), child ref\n"
    "alloc_list_block magic 0x5346414C, next ref, count u32 (1..505), count u64 blknos\n"
    "bitmap_item key {3, allocator, 9, region, 0}, value 512 bytes, set bit = free, 4096 blocks per region\n"
    "inode_item key {1, ino, 1, 0, 0}: mode u32, uid u32, gid u32, nlink u32, size u64, atime u64, mtime u64, "
    "ctime u64, next_readdir_pos u64\n"
    "xattr_item key {1, ino, 2, name_hash, index}: name u16+bytes, value u16+bytes\n"
    "dirent_item key {1, dir, 3, name_hash, pos}: ino u64, pos u64, dtype u8, name u16+bytes\n"
    "readdir_item key {1, dir, 4, pos, 0}: same as dirent\n"
    "link_item key {1, ino, 5, dir, pos}: name u16+bytes\n"
    "extent_item key {1, ino, 6, region (32 blocks), 0}: runs u8, runs x {start u8, len u8, blkno u64}\n"
    "symlink_item key {1, ino, 7, 0, 0}: target u16+bytes\n"
    "orphan_item key {2, ino, 8, 0, 0}: empty\n"
    "log_tree_item (logs tree) key {4, rid, 10, nr, 0}: root btree_root, item_count u64, max_seq u64, "
    "flags u8 (bit 0 finalized), merge_next key, meta_avail alloc_list_head, meta_freed alloc_list_head, "
    "data_avail alloc_root, data_freed alloc_root, get_trans_seq u64, commit_trans_seq u64, finalize_seq u64, "
    "first_seq u64, inode_delta u64 (two's complement), bloom 8 x u64\n"
    "lock_bloom 512 bits (bit b: word b/64, bit b%64), 3 bits per lock key: bits 16i..16i+15 of "
    "splitmix64 chain of (zone<<8|type, ino, first, second), mod 512, i = 0..2\n"
    "merge_status_item (logs tree) key {4, 0, 12, 0, 0}: input_seq u64, next key\n"
    "merge_request_item (logs tree) key {4, 0, 13, id, 0}: rid u64, nonce u64, input_seq u64, start key, end key, "
    "subtree btree_root, level u8 (0 = the whole fs tree), flags u8 (bit 0 abandoned), avail alloc_list_head\n"
    "mounted_client_item (clients tree) key {5, rid, 11, 0, 0}: node u32, flags u64 (bit 0 voter)\n"
    "log_tree items: a later seq wins over the fs tree and other log trees; deletion items hide keys\n"
    "name_hash fnv1a64(name) >> 1\n"
    "data_block_size 4096, data block 0 unused\n";

uint64_t format_hash() {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
  for (char c : kFormatDescription) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;  // FNV-1a 64 prime
  }
  return h;
}

// ---- super block ----

std::vector<uint8_t> encode_super(const SuperBlock& sb) {
  FS_ASSERT(sb.quorum_slot_count <= kQuorumSlotsMax);
  std::vector<uint8_t> block(kBlockHeaderBytes, 0);
  {
    sim::ByteWriter w(block);
    w.u64(sb.format_version);
    w.u64(sb.format_hash);
    w.u64(sb.next_ino);
    w.u64(sb.inode_count);
    w.u64(sb.server_seq);
    w.u64(sb.meta_blocks_total);
    w.u64(sb.data_blocks_total);
    w.u32(sb.quorum_slot_count);
    encode_btree_root(w, sb.fs_root);
    encode_btree_root(w, sb.logs_root);
    for (const AllocRoot& a : sb.meta_alloc) encode_alloc_root(w, a);
    encode_alloc_root(w, sb.data_alloc);
    for (const AllocListHead& h : sb.server_meta_avail) encode_list_head(w, h);
    for (const AllocListHead& h : sb.server_meta_freed) encode_list_head(w, h);
    w.u32(sb.btree_fill);
    encode_btree_root(w, sb.clients_root);
    w.u64(sb.server_term);
  }
  FS_ASSERT(block.size() == kBlockHeaderBytes + kSuperPayloadBytes);
  block.resize(kBlockSize, 0);
  BlockHeader h;
  h.magic = static_cast<uint32_t>(BlockMagic::kSuper);
  h.fsid = sb.fsid;
  h.seq = sb.seq;
  h.blkno = kSuperBlkno;
  put_header(block, h);
  seal_block(block);
  // Paired assertion: what we are about to hand to the disk must pass the reader's check.
  FS_ASSERT(check_block(block, {BlockMagic::kSuper, sb.fsid, kSuperBlkno, sb.seq}) == BlockCheck::kOk);
  return block;
}

BlockCheck decode_super(std::span<const uint8_t> block, std::optional<uint64_t> fsid, SuperBlock* out) {
  BlockCheck c = check_block(block, {BlockMagic::kSuper, fsid, kSuperBlkno, std::nullopt});
  if (c != BlockCheck::kOk) return c;
  BlockHeader h = get_header(block);
  sim::ByteReader r(block.subspan(kBlockHeaderBytes));
  SuperBlock sb;
  sb.fsid = h.fsid;
  sb.seq = h.seq;
  sb.format_version = r.u64();
  sb.format_hash = r.u64();
  sb.next_ino = r.u64();
  sb.inode_count = r.u64();
  sb.server_seq = r.u64();
  sb.meta_blocks_total = r.u64();
  sb.data_blocks_total = r.u64();
  sb.quorum_slot_count = r.u32();
  sb.fs_root = decode_btree_root(r);
  sb.logs_root = decode_btree_root(r);
  for (AllocRoot& a : sb.meta_alloc) a = decode_alloc_root(r);
  sb.data_alloc = decode_alloc_root(r);
  for (AllocListHead& lh : sb.server_meta_avail) lh = decode_list_head(r);
  for (AllocListHead& lh : sb.server_meta_freed) lh = decode_list_head(r);
  sb.btree_fill = r.u32();
  sb.clients_root = decode_btree_root(r);
  sb.server_term = r.u64();
  // The payload always fits in a block; running out would mean the encoder and decoder differ.
  FS_ASSERT(r.ok() && r.position() == kSuperPayloadBytes);
  *out = sb;
  return BlockCheck::kOk;
}

}  // namespace simfs::fs
