#include "fs/format/quorum_block.h"

#include <algorithm>

#include "fs/base/assert.h"

namespace simfs::fs {

namespace {

void encode_event(sim::ByteWriter& w, const QuorumEvent& e) {
  w.u64(e.term);
  w.u64(e.rid);
  w.u64(static_cast<uint64_t>(e.time));  // two's complement, like every signed field
}

QuorumEvent decode_event(sim::ByteReader& r) {
  QuorumEvent e;
  e.term = r.u64();
  e.rid = r.u64();
  e.time = static_cast<sim::Time>(r.u64());
  return e;
}

std::string event_invalid(const char* name, const QuorumEvent& e, uint64_t term) {
  if (e.empty() && (e.rid != 0 || e.time != 0)) return std::string(name) + " is empty but has a rid or time";
  if (e.term > term) {
    return std::string(name) + " term " + std::to_string(e.term) + " is above the slot's term " + std::to_string(term);
  }
  return "";
}

}  // namespace

std::string quorum_block_invalid(const QuorumBlock& b) {
  if (b.slot >= kQuorumSlotsMax) return "slot " + std::to_string(b.slot) + " out of range";
  if (b.vote_slot >= kQuorumSlotsMax) return "vote_slot " + std::to_string(b.vote_slot) + " out of range";
  if (b.vote_term > b.term) {
    return "vote_term " + std::to_string(b.vote_term) + " is above the slot's term " + std::to_string(b.term);
  }
  if (b.vote_term == 0 && b.vote_slot != 0) return "vote_slot set without a vote";
  for (std::string why : {event_invalid("elect", b.elect, b.term), event_invalid("fence", b.fence, b.term),
                          event_invalid("stop", b.stop, b.term)}) {
    if (!why.empty()) return why;
  }
  // A slot writes FENCE and STOP only for the term it was elected in, after writing its ELECT.
  if (b.fence.term > b.elect.term) return "fence term above elect term";
  if (b.stop.term > b.elect.term) return "stop term above elect term";
  return "";
}

std::vector<uint8_t> encode_quorum_block(const QuorumBlock& b) {
  FS_ASSERT(quorum_block_invalid(b).empty());
  std::vector<uint8_t> block(kBlockHeaderBytes, 0);
  {
    sim::ByteWriter w(block);
    w.u64(b.term);
    w.u64(b.vote_term);
    w.u32(b.vote_slot);
    encode_event(w, b.elect);
    encode_event(w, b.fence);
    encode_event(w, b.stop);
  }
  FS_ASSERT(block.size() == kBlockHeaderBytes + kQuorumPayloadBytes);
  block.resize(kBlockSize, 0);
  BlockHeader h;
  h.magic = static_cast<uint32_t>(BlockMagic::kQuorum);
  h.fsid = b.fsid;
  h.seq = b.seq;
  h.blkno = quorum_slot_blkno(b.slot);
  put_header(block, h);
  seal_block(block);
  return block;
}

const char* quorum_block_check_name(QuorumBlockCheck c) {
  switch (c) {
    case QuorumBlockCheck::kOk: return "ok";
    case QuorumBlockCheck::kTruncated: return "truncated";
    case QuorumBlockCheck::kOversized: return "oversized";
    case QuorumBlockCheck::kZeroed: return "zeroed";
    case QuorumBlockCheck::kBadChecksum: return "bad_checksum";
    case QuorumBlockCheck::kWrongMagic: return "wrong_magic";
    case QuorumBlockCheck::kWrongFsid: return "wrong_fsid";
    case QuorumBlockCheck::kWrongSlot: return "wrong_slot";
    case QuorumBlockCheck::kInvalid: return "invalid";
  }
  return "?";
}

QuorumBlockCheck decode_quorum_block(std::span<const uint8_t> block, uint64_t fsid, uint32_t slot,
                                     QuorumBlock* out) {
  FS_ASSERT(slot < kQuorumSlotsMax);
  // check_block() takes whole blocks only; the length is the first thing a reader can get wrong.
  if (block.size() < kBlockSize) return QuorumBlockCheck::kTruncated;
  if (block.size() > kBlockSize) return QuorumBlockCheck::kOversized;
  switch (check_block(block, {BlockMagic::kQuorum, fsid, quorum_slot_blkno(slot), std::nullopt})) {
    case BlockCheck::kOk: break;
    case BlockCheck::kZeroed: return QuorumBlockCheck::kZeroed;
    case BlockCheck::kBadChecksum: return QuorumBlockCheck::kBadChecksum;
    case BlockCheck::kWrongMagic: return QuorumBlockCheck::kWrongMagic;
    case BlockCheck::kWrongFsid: return QuorumBlockCheck::kWrongFsid;
    case BlockCheck::kWrongBlkno: return QuorumBlockCheck::kWrongSlot;
    case BlockCheck::kWrongSeq: return QuorumBlockCheck::kInvalid;  // not asked for: cannot happen
  }
  const BlockHeader h = get_header(block);
  QuorumBlock b;
  b.fsid = h.fsid;
  b.slot = slot;
  b.seq = h.seq;
  const auto payload = block.subspan(kBlockHeaderBytes);
  sim::ByteReader r(payload);
  b.term = r.u64();
  b.vote_term = r.u64();
  b.vote_slot = r.u32();
  b.elect = decode_event(r);
  b.fence = decode_event(r);
  b.stop = decode_event(r);
  // The payload always fits; running out would mean the encoder and decoder differ.
  FS_ASSERT(r.ok() && r.position() == kQuorumPayloadBytes);
  // Only zeros follow the payload, so an accepted block re-encodes to exactly these bytes.
  const auto tail = payload.subspan(kQuorumPayloadBytes);
  if (!std::all_of(tail.begin(), tail.end(), [](uint8_t x) { return x == 0; })) return QuorumBlockCheck::kInvalid;
  if (!quorum_block_invalid(b).empty()) return QuorumBlockCheck::kInvalid;
  *out = b;
  return QuorumBlockCheck::kOk;
}

std::string quorum_block_string(const QuorumBlock& b) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  std::string s = "slot=" + n(b.slot) + " seq=" + n(b.seq) + " term=" + n(b.term);
  s += " vote=" + (b.vote_term ? n(b.vote_term) + "->" + n(b.vote_slot) : std::string("none"));
  s += " elect=" + n(b.elect.term);
  if (!b.elect.empty()) s += "/rid " + n(b.elect.rid) + "/t " + std::to_string(b.elect.time);
  s += " fence=" + n(b.fence.term) + " stop=" + n(b.stop.term);
  return s;
}

}  // namespace simfs::fs
