#include "fs/format/quorum_block.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <vector>

#include "fs/format/crc32c.h"

namespace simfs::fs {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint64_t kFsid = 0x1122334455667788ull;

uint64_t le64(const Bytes& b, size_t off) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b.at(off + static_cast<size_t>(i));
  return v;
}

QuorumBlock sample_block() {
  QuorumBlock b;
  b.fsid = kFsid;
  b.slot = 2;
  b.seq = 9;
  b.term = 0x0102030405060708ull;
  b.vote_term = 7;
  b.vote_slot = 1;
  b.elect = {6, 0xAAAA, 123456789};
  b.fence = {6, 0xAAAA, 123456999};
  b.stop = {5, 0xBBBB, -1};  // a negative time survives (two's complement)
  return b;
}

// Any block a correct member could write: terms of votes and events at or below the slot's
// term, FENCE and STOP at or below ELECT, empty events all zero.
QuorumBlock any_valid_block() {
  using rc::gen::arbitrary;
  using rc::gen::inRange;
  QuorumBlock b;
  b.fsid = *arbitrary<uint64_t>();
  b.slot = *inRange<uint32_t>(0, kQuorumSlotsMax);
  b.seq = *arbitrary<uint64_t>();
  b.term = *arbitrary<uint64_t>();
  auto upto = [](uint64_t hi) {
    // Often 0 (never happened) or hi itself (the current term), else anything in between.
    switch (*inRange(0, 3)) {
      case 0: return uint64_t{0};
      case 1: return hi;
      default: return hi == UINT64_MAX ? *arbitrary<uint64_t>() : *inRange<uint64_t>(0, hi + 1);
    }
  };
  auto event = [](uint64_t term) {
    QuorumEvent e;
    e.term = term;
    if (term != 0) {
      e.rid = *arbitrary<uint64_t>();
      e.time = *arbitrary<int64_t>();
    }
    return e;
  };
  b.vote_term = upto(b.term);
  if (b.vote_term != 0) b.vote_slot = *inRange<uint32_t>(0, kQuorumSlotsMax);
  b.elect = event(upto(b.term));
  b.fence = event(upto(b.elect.term));
  b.stop = event(upto(b.elect.term));
  RC_ASSERT(quorum_block_invalid(b) == "");
  return b;
}

QuorumBlockCheck decode(const Bytes& bytes, const QuorumBlock& like, QuorumBlock* out) {
  return decode_quorum_block(bytes, like.fsid, like.slot, out);
}

// Reseal after editing payload bytes by hand, so only the payload check can object.
void reseal(Bytes& b) { seal_block(b); }

// ---- layout ----

TEST(QuorumBlock, PayloadFitsAndLayoutIsFixed) {
  EXPECT_LE(kBlockHeaderBytes + kQuorumPayloadBytes, kBlockSize);
  const QuorumBlock q = sample_block();
  const Bytes b = encode_quorum_block(q);
  ASSERT_EQ(b.size(), kBlockSize);
  const BlockHeader h = get_header(b);
  EXPECT_EQ(h.magic, static_cast<uint32_t>(BlockMagic::kQuorum));
  EXPECT_EQ(h.fsid, kFsid);
  EXPECT_EQ(h.seq, 9u);
  EXPECT_EQ(h.blkno, quorum_slot_blkno(2));
  EXPECT_EQ(h.crc, crc32c(std::span<const uint8_t>(b).subspan(kCrcBytes)));
  EXPECT_EQ(le64(b, 32), q.term);
  EXPECT_EQ(le64(b, 40), 7u);  // vote_term
  EXPECT_EQ(Bytes(b.begin() + 48, b.begin() + 52), (Bytes{1, 0, 0, 0}));  // vote_slot u32
  EXPECT_EQ(le64(b, 52), 6u);       // elect.term
  EXPECT_EQ(le64(b, 60), 0xAAAAu);  // elect.rid
  EXPECT_EQ(le64(b, 68), 123456789u);
  EXPECT_EQ(le64(b, 76), 6u);  // fence.term
  EXPECT_EQ(le64(b, 100), 5u);  // stop.term
  EXPECT_EQ(le64(b, 116), UINT64_MAX);  // stop.time -1
  for (size_t i = kBlockHeaderBytes + kQuorumPayloadBytes; i < kBlockSize; ++i) ASSERT_EQ(b[i], 0) << i;
}

TEST(QuorumBlock, SampleRoundTrips) {
  const QuorumBlock q = sample_block();
  QuorumBlock out;
  EXPECT_EQ(decode(encode_quorum_block(q), q, &out), QuorumBlockCheck::kOk);
  EXPECT_EQ(out, q) << quorum_block_string(out);
}

TEST(QuorumBlock, AnEmptySlotRoundTrips) {
  QuorumBlock q;
  q.fsid = kFsid;
  q.slot = kQuorumSlotsMax - 1;
  QuorumBlock out;
  EXPECT_EQ(decode(encode_quorum_block(q), q, &out), QuorumBlockCheck::kOk);
  EXPECT_EQ(out, q);
}

// ---- rejection, one reason each ----

TEST(QuorumBlock, ShortAndLongInputsAreRejectedByLength) {
  const QuorumBlock q = sample_block();
  const Bytes good = encode_quorum_block(q);
  QuorumBlock out = {};
  const QuorumBlock untouched = out;
  const size_t payload_end = kBlockHeaderBytes + kQuorumPayloadBytes;
  for (size_t n : {size_t{0}, size_t{1}, kBlockHeaderBytes, payload_end, size_t{kBlockSize} - 1}) {
    EXPECT_EQ(decode(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)), q, &out),
              QuorumBlockCheck::kTruncated)
        << n;
  }
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_EQ(decode(longer, q, &out), QuorumBlockCheck::kOversized);
  EXPECT_EQ(out, untouched);  // nothing is decoded from a rejected block
}

TEST(QuorumBlock, ZeroedSlotIsReportedAsNeverWritten) {
  QuorumBlock out;
  EXPECT_EQ(decode_quorum_block(Bytes(kBlockSize, 0), kFsid, 0, &out), QuorumBlockCheck::kZeroed);
}

TEST(QuorumBlock, DamageIsABadChecksum) {
  const QuorumBlock q = sample_block();
  Bytes b = encode_quorum_block(q);
  b[kBlockSize - 1] ^= 0x01;  // a byte of the zero tail is covered too
  QuorumBlock out;
  EXPECT_EQ(decode(b, q, &out), QuorumBlockCheck::kBadChecksum);
}

TEST(QuorumBlock, AnotherFilesystemsBlockIsWrongFsid) {
  const QuorumBlock q = sample_block();
  QuorumBlock out;
  EXPECT_EQ(decode_quorum_block(encode_quorum_block(q), kFsid + 1, q.slot, &out), QuorumBlockCheck::kWrongFsid);
}

TEST(QuorumBlock, AnotherSlotsBlockIsWrongSlot) {
  const QuorumBlock q = sample_block();
  QuorumBlock out;
  EXPECT_EQ(decode_quorum_block(encode_quorum_block(q), kFsid, q.slot + 1, &out), QuorumBlockCheck::kWrongSlot);
}

TEST(QuorumBlock, ASuperBlockIsWrongMagic) {
  SuperBlock sb;
  sb.fsid = kFsid;
  Bytes b = encode_super(sb);
  // Claim the quorum slot's block number, so only the magic differs.
  BlockHeader h = get_header(b);
  h.blkno = quorum_slot_blkno(0);
  put_header(b, h);
  reseal(b);
  QuorumBlock out;
  EXPECT_EQ(decode_quorum_block(b, kFsid, 0, &out), QuorumBlockCheck::kWrongMagic);
}

TEST(QuorumBlock, IntactButImpossibleContentsAreInvalid) {
  const QuorumBlock q = sample_block();
  QuorumBlock out;
  {
    Bytes b = encode_quorum_block(q);
    b[kBlockHeaderBytes + kQuorumPayloadBytes] = 1;  // the tail must be zero
    reseal(b);
    EXPECT_EQ(decode(b, q, &out), QuorumBlockCheck::kInvalid);
  }
  {
    Bytes b = encode_quorum_block(q);
    for (size_t i = 0; i < 8; ++i) b[32 + i] = 0;  // term 0: the vote and the events are above it
    reseal(b);
    EXPECT_EQ(decode(b, q, &out), QuorumBlockCheck::kInvalid);
  }
  {
    Bytes b = encode_quorum_block(q);
    b[48] = static_cast<uint8_t>(kQuorumSlotsMax);  // vote for a slot that cannot exist
    reseal(b);
    EXPECT_EQ(decode(b, q, &out), QuorumBlockCheck::kInvalid);
  }
}

TEST(QuorumBlock, InvalidSaysWhy) {
  QuorumBlock q = sample_block();
  EXPECT_EQ(quorum_block_invalid(q), "");
  q.vote_term = q.term + 1;
  EXPECT_NE(quorum_block_invalid(q), "");
  q = sample_block();
  q.stop.term = q.elect.term + 1;
  EXPECT_NE(quorum_block_invalid(q), "");
  q = sample_block();
  q.fence = {0, 5, 0};
  EXPECT_NE(quorum_block_invalid(q), "");
  q = sample_block();
  q.vote_term = 0;
  EXPECT_NE(quorum_block_invalid(q), "");  // vote_slot 1 without a vote
  q.vote_slot = 0;
  EXPECT_EQ(quorum_block_invalid(q), "");
}

TEST(QuorumBlock, CheckNamesAreDistinct) {
  EXPECT_STREQ(quorum_block_check_name(QuorumBlockCheck::kOk), "ok");
  EXPECT_STREQ(quorum_block_check_name(QuorumBlockCheck::kTruncated), "truncated");
  EXPECT_STREQ(quorum_block_check_name(QuorumBlockCheck::kWrongSlot), "wrong_slot");
}

// ---- properties ----

RC_GTEST_PROP(QuorumBlockProp, ValidBlocksRoundTrip, ()) {
  const QuorumBlock q = any_valid_block();
  const Bytes b = encode_quorum_block(q);
  RC_ASSERT(b.size() == kBlockSize);
  QuorumBlock out;
  RC_ASSERT(decode(b, q, &out) == QuorumBlockCheck::kOk);
  RC_ASSERT(out == q);
  RC_ASSERT(encode_quorum_block(out) == b);
}

// Any single corrupted byte is rejected, or decodes to a block that re-encodes to exactly the
// corrupted bytes (the crc makes the second case impossible, but the property does not lean
// on it: a decoder that accepted a mutation would have to be faithful to it).
RC_GTEST_PROP(QuorumBlockProp, ASingleCorruptedByteIsRejectedOrFaithful, ()) {
  const QuorumBlock q = any_valid_block();
  Bytes b = encode_quorum_block(q);
  const size_t at = *rc::gen::inRange<size_t>(0, kBlockSize);
  const auto flip = static_cast<uint8_t>(*rc::gen::inRange(1, 256));  // never 0: the byte changes
  b[at] ^= flip;
  QuorumBlock out;
  const QuorumBlockCheck c = decode(b, q, &out);
  RC_TAG(quorum_block_check_name(c));
  if (c == QuorumBlockCheck::kOk) RC_ASSERT(encode_quorum_block(out) == b);
}

// Payload bytes chosen at random and sealed, so the crc passes and only the decoder's own
// checks stand between them and acceptance: whatever it accepts re-encodes identically.
RC_GTEST_PROP(QuorumBlockProp, SealedArbitraryPayloadIsRejectedOrFaithful, ()) {
  const QuorumBlock q = any_valid_block();
  Bytes b = encode_quorum_block(q);
  const auto n = *rc::gen::inRange<size_t>(1, 16);
  for (size_t i = 0; i < n; ++i) {
    const size_t at = *rc::gen::inRange<size_t>(kBlockHeaderBytes, kBlockHeaderBytes + kQuorumPayloadBytes + 4);
    b[at] = *rc::gen::arbitrary<uint8_t>();
  }
  reseal(b);
  QuorumBlock out;
  const QuorumBlockCheck c = decode(b, q, &out);
  RC_TAG(quorum_block_check_name(c));
  RC_ASSERT(c == QuorumBlockCheck::kOk || c == QuorumBlockCheck::kInvalid);
  if (c == QuorumBlockCheck::kOk) RC_ASSERT(encode_quorum_block(out) == b);
}

// Inputs of any length and content: never a crash, never an out-of-bounds read (the ASan
// build), and anything accepted is faithful.
RC_GTEST_PROP(QuorumBlockProp, ArbitraryInputNeverCrashes, ()) {
  const bool full = *rc::gen::arbitrary<bool>();
  Bytes b = full ? *rc::gen::container<Bytes>(kBlockSize, rc::gen::arbitrary<uint8_t>())
                 : *rc::gen::arbitrary<Bytes>();
  QuorumBlock out;
  const QuorumBlockCheck c = decode_quorum_block(b, kFsid, 0, &out);
  if (b.size() < kBlockSize) RC_ASSERT(c == QuorumBlockCheck::kTruncated);
  if (b.size() > kBlockSize) RC_ASSERT(c == QuorumBlockCheck::kOversized);
  if (c == QuorumBlockCheck::kOk) RC_ASSERT(encode_quorum_block(out) == b);
}

}  // namespace
}  // namespace simfs::fs
