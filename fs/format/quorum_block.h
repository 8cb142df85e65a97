// The quorum slot block: one per voting slot, at quorum_slot_blkno(slot), written only by the
// member holding that slot and read by every member (to find the greatest term at startup and
// the earlier leaders to fence) and by clients (to find the server). fs/quorum/ decides what to
// write; this file only says how it is laid out.
//
// Contract:
// - A whole kBlockSize block: a BlockHeader (magic kQuorum, the filesystem's fsid, a seq the
//   writer bumps on every write, blkno = quorum_slot_blkno(slot)), the payload below, zeros.
//   The crc32c covers every byte after the crc field, so any damaged byte is caught.
// - The payload is the slot's persistent election state: the greatest term it has seen, the
//   term it last voted in and for which slot, and the latest event of each kind (ELECT, FENCE,
//   STOP). Keeping only the latest of each kind is enough: the readers compare a slot's latest
//   ELECT with its latest STOP, and look for the greatest FENCE over all slots.
// - encode_quorum_block() asserts quorum_block_invalid(b) == "" (a caller bug otherwise), and
//   decode_quorum_block() accepts exactly what the encoder can produce: any accepted block
//   re-encodes to the same bytes. Decoding never reads past the input, whatever its length.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fs/format/format.h"
#include "sim/time.h"

namespace simfs::fs {

// One event of a slot's log. term 0 means "never happened", and then rid and time are 0 too.
struct QuorumEvent {
  uint64_t term = 0;
  uint64_t rid = 0;     // the mount that wrote it
  sim::Time time = 0;   // the writer's clock when it wrote it (for traces and humans only)
  bool operator==(const QuorumEvent&) const = default;
  bool empty() const { return term == 0; }
};

struct QuorumBlock {
  // From the block header.
  uint64_t fsid = 0;
  uint32_t slot = 0;  // < kQuorumSlotsMax; the header's blkno is quorum_slot_blkno(slot)
  uint64_t seq = 0;   // bumped by the writer on every write of this slot's block
  // Payload.
  uint64_t term = 0;       // the greatest term this slot has seen: it never decreases
  uint64_t vote_term = 0;  // the term of its last vote (0: never voted); <= term
  uint32_t vote_slot = 0;  // the slot it voted for in vote_term (itself as a candidate); 0 if none
  QuorumEvent elect;  // it won an election: term is the term it leads, rid the mount serving
  QuorumEvent fence;  // as leader, its server was up: every leader before elect.term was fenced
  QuorumEvent stop;   // its server stopped: term is the elect.term it stopped serving
  bool operator==(const QuorumBlock&) const = default;
};

// Bytes of payload after the header: term, vote_term, vote_slot, three events.
constexpr size_t kQuorumEventBytes = 3 * 8;
constexpr size_t kQuorumPayloadBytes = 8 + 8 + 4 + 3 * kQuorumEventBytes;  // 92

// "" or why the block could not have been written by a correct member: slot or vote_slot out
// of range, a vote or event term above the slot's term, FENCE or STOP above ELECT (both are
// written for the term the slot was elected in), a non-empty rid or time on an empty event, a
// vote_slot without a vote.
std::string quorum_block_invalid(const QuorumBlock& b);

// A whole kBlockSize block, sealed. Precondition: quorum_block_invalid(b) == "".
std::vector<uint8_t> encode_quorum_block(const QuorumBlock& b);

enum class QuorumBlockCheck {
  kOk,
  kTruncated,    // fewer than kBlockSize bytes
  kOversized,    // more than kBlockSize bytes
  kZeroed,       // all zeros: the slot was never written (a fresh filesystem)
  kBadChecksum,  // bytes damaged, or not a metadata block at all
  kWrongMagic,   // an intact block of another kind
  kWrongFsid,    // an intact quorum block of another filesystem
  kWrongSlot,    // an intact quorum block written for another slot (a misdirected write)
  kInvalid,      // intact, but not something encode_quorum_block writes (see quorum_block_invalid,
                 // or bytes after the payload that are not zero)
};
const char* quorum_block_check_name(QuorumBlockCheck c);

// Checks in a fixed order (length, zeroed, crc, magic, fsid, slot, payload), so the first thing
// wrong is the one reported, and decodes into *out only on kOk. Any length is accepted as input.
// Precondition: slot < kQuorumSlotsMax.
QuorumBlockCheck decode_quorum_block(std::span<const uint8_t> block, uint64_t fsid, uint32_t slot,
                                     QuorumBlock* out);

// "slot=1 seq=4 term=7 vote=7->2 elect=7/rid 12/t 500 fence=7 stop=0", for test failures and traces.
std::string quorum_block_string(const QuorumBlock& b);

}  // namespace simfs::fs
