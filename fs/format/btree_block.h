// BtreeNode: the decoded contents of one btree block, and its on-disk encoding. docs/format.md
// describes the same layout in prose.
//
// Contract:
// - A leaf (level 0, magic kBtreeLeaf) holds items: key, seq, deletion flag, value. A parent
//   (level > 0, magic kBtreeParent) holds one entry per child: the child's largest key and a
//   reference to it. Entries are kept in key order; the encoding does not check that (the
//   checker does), so a damaged-but-checksummed block can still be decoded and reported.
// - The node's byte accounting (bytes_used) is exactly the space its entries take in the block,
//   so fill limits mean the same thing in memory and on disk.
// - decode_node() rejects anything that could not have been produced by encode_node(): an
//   entry running past the block, an oversized value, unknown flags, or nonzero trailing bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fs/format/format.h"
#include "fs/format/key.h"

namespace simfs::fs {

// A leaf item. `seq` is the version the forest uses to pick the newest copy of a key; a
// deletion item (tombstone) hides older copies of the key in other trees.
struct Item {
  Key key;
  uint64_t seq = 0;
  bool deletion = false;
  std::vector<uint8_t> value;
  bool operator==(const Item&) const = default;
};

// One entry of a node: an item in a leaf, or {largest key of child, child ref} in a parent
// (then only item.key and child are meaningful).
struct BtreeEntry {
  Item item;
  BlockRef child;
  const Key& key() const { return item.key; }
};

constexpr size_t kBtreeValueBytesMax = 512;
// Deep enough for any tree the device can hold; a taller one is corrupt.
constexpr uint8_t kBtreeHeightMax = 20;
// Payload layout: level u8, reserved u8 (zero), entry count u16, then the packed entries.
constexpr size_t kBtreeNodeHeaderBytes = 4;
constexpr size_t kBtreeEntriesBytesMax = kBlockSize - kBlockHeaderBytes - kBtreeNodeHeaderBytes;  // 4060
constexpr size_t kBtreeLeafItemFixedBytes = kKeyBytes + 8 + 1 + 2;                               // 37
constexpr size_t kBtreeParentEntryBytes = kKeyBytes + kBlockRefBytes;                             // 42
constexpr uint8_t kItemFlagDeletion = 0x01;

struct BtreeNode {
  uint8_t level = 0;  // 0: leaf; a parent's children are at level - 1
  std::vector<BtreeEntry> entries;

  bool leaf() const { return level == 0; }
  size_t entry_bytes(const BtreeEntry& e) const {
    return leaf() ? kBtreeLeafItemFixedBytes + e.item.value.size() : kBtreeParentEntryBytes;
  }
  size_t bytes_used() const;
  const Key& last_key() const { return entries.back().key(); }
};

inline BlockMagic btree_magic(uint8_t level) { return level == 0 ? BlockMagic::kBtreeLeaf : BlockMagic::kBtreeParent; }

// Writes the node into a block payload (kBlockSize - kBlockHeaderBytes bytes); unused bytes
// are zeroed. The node must fit (bytes_used() <= kBtreeEntriesBytesMax).
void encode_node(const BtreeNode& node, std::span<uint8_t> payload);
// Returns false and says why in *problem when the payload is malformed.
bool decode_node(std::span<const uint8_t> payload, BtreeNode* out, std::string* problem);

}  // namespace simfs::fs
