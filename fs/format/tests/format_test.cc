#include "fs/format/format.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <set>
#include <vector>

#include "fs/format/crc32c.h"

namespace simfs::fs {
namespace {

using Bytes = std::vector<uint8_t>;

uint64_t le64(const Bytes& b, size_t off) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b.at(off + static_cast<size_t>(i));
  return v;
}

SuperBlock sample_super() {
  SuperBlock sb;
  sb.fsid = 0x1122334455667788ull;
  sb.seq = 42;
  sb.format_hash = format_hash();
  sb.next_ino = 0x0102030405060708ull;
  sb.inode_count = 7;
  sb.server_seq = 99;
  sb.meta_blocks_total = 1 << 16;
  sb.data_blocks_total = 1 << 20;
  sb.quorum_slot_count = 3;
  sb.fs_root = {{100, 5}, 2};
  sb.logs_root = {{101, 6}, 1};
  sb.meta_alloc[0] = {{{102, 7}, 1}, 1000};
  sb.meta_alloc[1] = {{{103, 8}, 1}, 10};
  sb.data_alloc = {{{104, 9}, 3}, 1 << 19};
  sb.server_meta_avail[0] = {{105, 10}, 500, 500};
  sb.server_meta_avail[1] = {{106, 11}, 20, 20};
  sb.server_meta_freed[0] = {{107, 12}, 3, 3};
  sb.server_meta_freed[1] = {{108, 13}, 0xFFFFFFFFull, 0xFFFFFFFFu};
  sb.btree_fill = 0xFFFFFFFFu;  // not a valid limit, but the encoding does not judge
  sb.clients_root = {{109, 14}, 1};
  sb.server_term = 0xFFFFFFFFFFFFFFFFull;
  return sb;
}

SuperBlock any_super() {
  using rc::gen::arbitrary;
  auto u64 = [] { return *arbitrary<uint64_t>(); };
  auto ref = [&] { return BlockRef{u64(), u64()}; };
  auto broot = [&] { return BtreeRoot{ref(), *arbitrary<uint8_t>()}; };
  auto aroot = [&] { return AllocRoot{broot(), u64()}; };
  auto lhead = [&] { return AllocListHead{ref(), u64(), *arbitrary<uint32_t>()}; };
  SuperBlock sb;
  sb.fsid = u64();
  sb.seq = u64();
  sb.format_version = u64();
  sb.format_hash = u64();
  sb.next_ino = u64();
  sb.inode_count = u64();
  sb.server_seq = u64();
  sb.meta_blocks_total = u64();
  sb.data_blocks_total = u64();
  sb.quorum_slot_count = *rc::gen::inRange<uint32_t>(0, kQuorumSlotsMax + 1);
  sb.fs_root = broot();
  sb.logs_root = broot();
  for (auto& a : sb.meta_alloc) a = aroot();
  sb.data_alloc = aroot();
  for (auto& h : sb.server_meta_avail) h = lhead();
  for (auto& h : sb.server_meta_freed) h = lhead();
  sb.btree_fill = *arbitrary<uint32_t>();
  sb.clients_root = broot();
  sb.server_term = u64();
  return sb;
}

// ---- geometry ----

TEST(Format, FixedBlocksDoNotOverlap) {
  std::set<uint64_t> fixed{kSuperBlkno};
  for (uint32_t s = 0; s < kQuorumSlotsMax; ++s) {
    uint64_t b = quorum_slot_blkno(s);
    EXPECT_TRUE(fixed.insert(b).second) << "slot " << s;
    EXPECT_LT(b, kMetaBlknoFirstAllocatable);
    EXPECT_GT(b, 0u);
  }
  EXPECT_EQ(quorum_slot_blkno(kQuorumSlotsMax - 1), kQuorumBlknoLast);
  EXPECT_EQ(*fixed.rbegin() + 1, kMetaBlknoFirstAllocatable);
  EXPECT_LE(kBlockHeaderBytes + kSuperPayloadBytes, kBlockSize);
}

// ---- header ----

TEST(Format, HeaderLayoutIsLittleEndianAtFixedOffsets) {
  Bytes b(kBlockSize, 0);
  b[100] = 0xAB;  // payload byte: must be covered by the crc
  put_header(b, {0, static_cast<uint32_t>(BlockMagic::kBtree), 0x0807060504030201ull, 0x1817161514131211ull,
                 0x2827262524232221ull});
  seal_block(b);
  EXPECT_EQ(Bytes(b.begin() + 4, b.begin() + 8), (Bytes{0x54, 0x42, 0x46, 0x53}));  // "TBFS"
  EXPECT_EQ(Bytes(b.begin() + 8, b.begin() + 16), (Bytes{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(Bytes(b.begin() + 16, b.begin() + 24), (Bytes{0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18}));
  EXPECT_EQ(Bytes(b.begin() + 24, b.begin() + 32), (Bytes{0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28}));
  uint32_t crc = crc32c(std::span<const uint8_t>(b).subspan(4));
  EXPECT_EQ(Bytes(b.begin(), b.begin() + 4),
            (Bytes{static_cast<uint8_t>(crc), static_cast<uint8_t>(crc >> 8), static_cast<uint8_t>(crc >> 16),
                   static_cast<uint8_t>(crc >> 24)}));
  BlockHeader h = get_header(b);
  EXPECT_EQ(h.crc, crc);
  EXPECT_EQ(h.magic, static_cast<uint32_t>(BlockMagic::kBtree));
  EXPECT_EQ(h.fsid, 0x0807060504030201ull);
  EXPECT_EQ(h.seq, 0x1817161514131211ull);
  EXPECT_EQ(h.blkno, 0x2827262524232221ull);
}

RC_GTEST_PROP(Format, HeaderRoundTrips, (uint32_t magic, uint64_t fsid, uint64_t seq, uint64_t blkno)) {
  Bytes b(kBlockSize, 0);
  BlockHeader h{0, magic, fsid, seq, blkno};
  put_header(b, h);
  seal_block(b);
  h.crc = block_crc(b);
  RC_ASSERT(get_header(b) == h);
}

RC_GTEST_PROP(Format, RefRoundTrips, (uint64_t blkno, uint64_t seq)) {
  Bytes buf;
  sim::ByteWriter w(buf);
  encode_ref(w, {blkno, seq});
  RC_ASSERT(buf.size() == kBlockRefBytes);
  sim::ByteReader r(buf);
  RC_ASSERT(decode_ref(r) == (BlockRef{blkno, seq}));
  RC_ASSERT(r.ok());
}

TEST(Format, EmptyRefIsBlockZero) {
  EXPECT_TRUE(BlockRef{}.empty());
  EXPECT_FALSE((BlockRef{kSuperBlkno, 0}.empty()));
}

// ---- check_block ----

Bytes make_block(BlockMagic magic, uint64_t fsid, uint64_t seq, uint64_t blkno) {
  Bytes b(kBlockSize, 0);
  for (size_t i = kBlockHeaderBytes; i < b.size(); i += 7) b[i] = static_cast<uint8_t>(i);
  put_header(b, {0, static_cast<uint32_t>(magic), fsid, seq, blkno});
  seal_block(b);
  return b;
}

TEST(Format, CheckNamesTheFirstThingWrong) {
  const BlockExpect want{BlockMagic::kBtree, 7, 30, 5};
  EXPECT_EQ(check_block(make_block(BlockMagic::kBtree, 7, 5, 30), want), BlockCheck::kOk);
  EXPECT_EQ(check_block(Bytes(kBlockSize, 0), want), BlockCheck::kZeroed);
  EXPECT_EQ(check_block(make_block(BlockMagic::kAllocList, 7, 5, 30), want), BlockCheck::kWrongMagic);
  EXPECT_EQ(check_block(make_block(BlockMagic::kBtree, 8, 5, 30), want), BlockCheck::kWrongFsid);
  EXPECT_EQ(check_block(make_block(BlockMagic::kBtree, 7, 5, 31), want), BlockCheck::kWrongBlkno);
  EXPECT_EQ(check_block(make_block(BlockMagic::kBtree, 7, 6, 30), want), BlockCheck::kWrongSeq);
  // Damage wins over every identity mismatch: a damaged header cannot be trusted to say
  // which block it is.
  Bytes b = make_block(BlockMagic::kAllocList, 8, 6, 31);
  b[2000] ^= 0x10;
  EXPECT_EQ(check_block(b, want), BlockCheck::kBadChecksum);
  // Unknown fsid or seq are not checked.
  EXPECT_EQ(check_block(make_block(BlockMagic::kBtree, 8, 6, 30), {BlockMagic::kBtree, std::nullopt, 30, std::nullopt}),
            BlockCheck::kOk);
}

TEST(Format, CheckErrnoSeparatesDamageFromStaleness) {
  EXPECT_EQ(block_check_errno(BlockCheck::kOk), 0);
  EXPECT_EQ(block_check_errno(BlockCheck::kBadChecksum), EIO);
  for (BlockCheck c : {BlockCheck::kZeroed, BlockCheck::kWrongMagic, BlockCheck::kWrongFsid, BlockCheck::kWrongBlkno,
                       BlockCheck::kWrongSeq}) {
    EXPECT_EQ(block_check_errno(c), ESTALE) << block_check_name(c);
  }
  EXPECT_STREQ(block_check_name(BlockCheck::kWrongSeq), "wrong_seq");
}

// ---- super block ----

TEST(Format, SuperLayout) {
  SuperBlock sb = sample_super();
  Bytes b = encode_super(sb);
  ASSERT_EQ(b.size(), kBlockSize);
  BlockHeader h = get_header(b);
  EXPECT_EQ(h.magic, static_cast<uint32_t>(BlockMagic::kSuper));
  EXPECT_EQ(h.fsid, sb.fsid);
  EXPECT_EQ(h.seq, sb.seq);
  EXPECT_EQ(h.blkno, kSuperBlkno);
  EXPECT_EQ(le64(b, 32), kFormatVersion);
  EXPECT_EQ(le64(b, 40), format_hash());
  EXPECT_EQ(le64(b, 48), sb.next_ino);
  EXPECT_EQ(le64(b, 64), sb.server_seq);
  EXPECT_EQ(le64(b, 72), sb.meta_blocks_total);
  EXPECT_EQ(le64(b, 80), sb.data_blocks_total);
  // server_meta_freed[1].first_nr (all ones) ends at 313, then btree_fill (all ones) at 317,
  // clients_root at 317..333, and server_term (all ones) ends exactly at the documented payload
  // size; everything after it is zero.
  const size_t end = kBlockHeaderBytes + kSuperPayloadBytes;
  EXPECT_EQ(end, 342u);  // docs/format.md's table
  EXPECT_EQ(Bytes(b.begin() + 309, b.begin() + 313), Bytes(4, 0xFF));
  EXPECT_EQ(Bytes(b.begin() + 313, b.begin() + 317), Bytes(4, 0xFF));
  EXPECT_EQ(le64(b, 317), 109u);  // clients_root.ref.blkno
  EXPECT_EQ(Bytes(b.begin() + static_cast<long>(end) - 8, b.begin() + static_cast<long>(end)), Bytes(8, 0xFF));
  EXPECT_EQ(Bytes(b.begin() + static_cast<long>(end), b.end()), Bytes(kBlockSize - end, 0));
}

TEST(Format, SuperRoundTripsSample) {
  SuperBlock sb = sample_super();
  SuperBlock got;
  ASSERT_EQ(decode_super(encode_super(sb), sb.fsid, &got), BlockCheck::kOk);
  EXPECT_EQ(got, sb);
}

RC_GTEST_PROP(Format, SuperRoundTrips, ()) {
  SuperBlock sb = any_super();
  SuperBlock got;
  RC_ASSERT(decode_super(encode_super(sb), std::nullopt, &got) == BlockCheck::kOk);
  RC_ASSERT(got == sb);
}

RC_GTEST_PROP(Format, AnySingleBitFlipInASuperIsDetected, ()) {
  SuperBlock sb = any_super();
  Bytes b = encode_super(sb);
  size_t bit = *rc::gen::inRange<size_t>(0, size_t{kBlockSize} * 8);
  b[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  SuperBlock got = sample_super();
  RC_ASSERT(decode_super(b, sb.fsid, &got) == BlockCheck::kBadChecksum);
  RC_ASSERT(got == sample_super());  // a failed decode leaves the output alone
}

RC_GTEST_PROP(Format, AnySingleBitFlipInAnyBlockIsDetected, (uint64_t fsid, uint64_t seq, uint64_t blkno)) {
  Bytes b = make_block(BlockMagic::kBtree, fsid, seq, blkno);
  size_t bit = *rc::gen::inRange<size_t>(0, size_t{kBlockSize} * 8);
  b[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  RC_ASSERT(check_block(b, {BlockMagic::kBtree, fsid, blkno, seq}) == BlockCheck::kBadChecksum);
}

TEST(Format, SuperFromAnotherFilesystemIsStale) {
  SuperBlock sb = sample_super();
  SuperBlock got;
  EXPECT_EQ(decode_super(encode_super(sb), sb.fsid + 1, &got), BlockCheck::kWrongFsid);
}

TEST(Format, SuperAtTheWrongBlockIsStale) {
  // A btree reader that follows a bad ref to block 1 sees the super: intact, wrong kind.
  Bytes b = encode_super(sample_super());
  EXPECT_EQ(check_block(b, {BlockMagic::kBtree, std::nullopt, kSuperBlkno, std::nullopt}), BlockCheck::kWrongMagic);
  // A super misdirected to block 9 and read there.
  EXPECT_EQ(check_block(b, {BlockMagic::kSuper, std::nullopt, 9, std::nullopt}), BlockCheck::kWrongBlkno);
}

// ---- format hash ----

TEST(Format, HashIsPinned) {
  // If this fails, the format description changed: that is a format change. Bump
  // kFormatVersion if old images can no longer be read, update docs/format.md, then pin the
  // new value here.
  // Re-pinned when the allocator and item layouts joined the description (no durable images to
  // keep readable yet; later changes must bump kFormatVersion if old images matter), and again
  // when the log tree record joined it, and when the super gained btree_fill. Format 2: the
  // cluster (the mounted-clients tree and server term in the super; mounts' allocators and
  // transaction seqs in their log tree records; the merge status). Format 3: each log tree
  // record carries the lock bloom of its items. Format 4: merge request records (the log merge
  // handed to the clients).
  EXPECT_EQ(format_hash(), 0xa69df00d5a231565ull);
  EXPECT_NE(kFormatDescription.find("super server_meta_freed[2] alloc_list_head"), std::string_view::npos);
  EXPECT_NE(kFormatDescription.find("btree_leaf_item"), std::string_view::npos);
}

}  // namespace
}  // namespace simfs::fs
