#include "fs/format/btree_block.h"

#include <algorithm>

#include "fs/base/assert.h"
#include "sim/bytes.h"

namespace simfs::fs {
namespace {

void put_u16(sim::ByteWriter& w, uint16_t v) {
  w.u8(static_cast<uint8_t>(v));
  w.u8(static_cast<uint8_t>(v >> 8));
}

uint16_t get_u16(sim::ByteReader& r) {
  uint16_t lo = r.u8();
  uint16_t hi = r.u8();
  return static_cast<uint16_t>(lo | (hi << 8));
}

}  // namespace

size_t BtreeNode::bytes_used() const {
  size_t n = 0;
  for (const BtreeEntry& e : entries) n += entry_bytes(e);
  return n;
}

void encode_node(const BtreeNode& node, std::span<uint8_t> payload) {
  FS_ASSERT(payload.size() == kBlockSize - kBlockHeaderBytes);
  FS_ASSERT(node.bytes_used() <= kBtreeEntriesBytesMax);
  std::vector<uint8_t> out;
  out.reserve(payload.size());
  sim::ByteWriter w(out);
  w.u8(node.level);
  w.u8(0);
  put_u16(w, static_cast<uint16_t>(node.entries.size()));
  for (const BtreeEntry& e : node.entries) {
    encode_key(w, e.item.key);
    if (node.leaf()) {
      FS_ASSERT(e.item.value.size() <= kBtreeValueBytesMax);
      w.u64(e.item.seq);
      w.u8(e.item.deletion ? kItemFlagDeletion : 0);
      put_u16(w, static_cast<uint16_t>(e.item.value.size()));
      out.insert(out.end(), e.item.value.begin(), e.item.value.end());
    } else {
      encode_ref(w, e.child);
    }
  }
  FS_ASSERT(out.size() == kBtreeNodeHeaderBytes + node.bytes_used());
  std::copy(out.begin(), out.end(), payload.begin());
  std::fill(payload.begin() + static_cast<ptrdiff_t>(out.size()), payload.end(), uint8_t{0});
}

bool decode_node(std::span<const uint8_t> payload, BtreeNode* out, std::string* problem) {
  sim::ByteReader r(payload);
  BtreeNode node;
  node.level = r.u8();
  uint8_t reserved = r.u8();
  uint16_t count = get_u16(r);
  if (reserved != 0) {
    *problem = "reserved header byte is nonzero";
    return false;
  }
  if (node.level >= kBtreeHeightMax) {
    *problem = "level " + std::to_string(node.level) + " is beyond the height limit";
    return false;
  }
  node.entries.resize(count);
  for (BtreeEntry& e : node.entries) {
    e.item.key = decode_key(r);
    if (node.leaf()) {
      e.item.seq = r.u64();
      uint8_t flags = r.u8();
      uint16_t len = get_u16(r);
      if (!r.ok()) break;
      if ((flags & ~kItemFlagDeletion) != 0) {
        *problem = "unknown item flags " + std::to_string(flags);
        return false;
      }
      if (len > kBtreeValueBytesMax || r.position() + len > payload.size()) {
        *problem = "value length " + std::to_string(len) + " too large";
        return false;
      }
      e.item.deletion = (flags & kItemFlagDeletion) != 0;
      auto at = payload.begin() + static_cast<ptrdiff_t>(r.position());
      e.item.value.assign(at, at + len);
      for (uint16_t i = 0; i < len; ++i) r.u8();
    } else {
      e.child = decode_ref(r);
    }
  }
  if (!r.ok() || r.position() > kBtreeNodeHeaderBytes + kBtreeEntriesBytesMax) {
    *problem = "entries run past the end of the block";
    return false;
  }
  // Encoding zeroes the tail, so stray bytes there mean the count or a length is wrong.
  for (size_t i = r.position(); i < payload.size(); ++i) {
    if (payload[i] != 0) {
      *problem = "nonzero bytes after the last entry";
      return false;
    }
  }
  *out = std::move(node);
  return true;
}

}  // namespace simfs::fs
