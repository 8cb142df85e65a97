// The quorum datagram: how one QuorumMessage travels between voting slots. Datagrams may be
// lost, duplicated, reordered or (from a misconfigured neighbour) belong to another filesystem,
// so the codec carries the fsid and checks everything it reads.
//
// Layout (little-endian, 26 bytes): magic u32 "QMSG", fsid u64, type u8, term u64, from u32,
// a reserved byte that must be zero. No checksum: the simulated network loses, duplicates and
// delays datagrams but does not damage them.
//
// Contract: decode_quorum_message() accepts exactly what encode_quorum_message() produces for
// this fsid, a term above 0 and a slot below slot_count, and returns a reason otherwise (the receiver drops the
// datagram and traces the reason). It never reads past its input.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fs/quorum/election_core.h"

namespace simfs::fs {

constexpr uint32_t kQuorumMessageMagic = 0x47534d51;  // "QMSG"
constexpr size_t kQuorumMessageBytes = 4 + 8 + 1 + 8 + 4 + 1;

std::vector<uint8_t> encode_quorum_message(uint64_t fsid, const QuorumMessage& m);

// "" and *out set, or why the bytes are not a quorum message of this filesystem's slots.
std::string decode_quorum_message(std::span<const uint8_t> bytes, uint64_t fsid, uint32_t slot_count,
                                  QuorumMessage* out);

}  // namespace simfs::fs
