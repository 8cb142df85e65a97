#include "fs/quorum/quorum_message_codec.h"

#include "sim/bytes.h"

namespace simfs::fs {

std::vector<uint8_t> encode_quorum_message(uint64_t fsid, const QuorumMessage& m) {
  std::vector<uint8_t> out;
  out.reserve(kQuorumMessageBytes);
  sim::ByteWriter w(out);
  w.u32(kQuorumMessageMagic);
  w.u64(fsid);
  w.u8(static_cast<uint8_t>(m.type));
  w.u64(m.term);
  w.u32(m.from);
  w.u8(0);
  return out;
}

std::string decode_quorum_message(std::span<const uint8_t> bytes, uint64_t fsid, uint32_t slot_count,
                                  QuorumMessage* out) {
  if (bytes.size() != kQuorumMessageBytes) {
    return "length " + std::to_string(bytes.size()) + ", want " + std::to_string(kQuorumMessageBytes);
  }
  sim::ByteReader r(bytes);
  if (r.u32() != kQuorumMessageMagic) return "bad magic";
  if (r.u64() != fsid) return "another filesystem's message";
  const uint8_t type = r.u8();
  if (type > static_cast<uint8_t>(QuorumMsgType::kResignation)) return "unknown type " + std::to_string(type);
  const uint64_t term = r.u64();
  const uint32_t from = r.u32();
  const uint8_t reserved = r.u8();
  if (reserved != 0) return "reserved byte set";
  if (term == 0) return "term 0";
  if (from >= slot_count) return "from slot " + std::to_string(from) + " of " + std::to_string(slot_count);
  out->type = static_cast<QuorumMsgType>(type);
  out->term = term;
  out->from = from;
  return "";
}

}  // namespace simfs::fs
