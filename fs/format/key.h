// Key: the sort key of every btree item, an ordered tuple (zone, ino, type, first, second).
//
// Contract:
// - Keys compare field by field in that order, so every item of one inode sorts together and,
//   within an inode, items of one type sort together (a range scan over an inode's extents or
//   directory entries is one contiguous walk).
// - The meaning of `first` and `second` depends on the type (a directory hash and position, an
//   extent's offset, ...); the btree never interprets them.
// - The encoding is fixed-width little-endian, kKeyBytes long, field by field. It is not
//   memcmp-ordered: comparisons always go through operator<=>, never over encoded bytes.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

#include "sim/bytes.h"

namespace simfs::fs {

struct Key {
  uint8_t zone = 0;
  uint64_t ino = 0;
  uint8_t type = 0;
  uint64_t first = 0;
  uint64_t second = 0;

  // Declaration order is comparison order.
  auto operator<=>(const Key&) const = default;
  bool operator==(const Key&) const = default;

  static constexpr Key min() { return Key{}; }
  static constexpr Key max() { return Key{UINT8_MAX, UINT64_MAX, UINT8_MAX, UINT64_MAX, UINT64_MAX}; }
};
constexpr size_t kKeyBytes = 1 + 8 + 1 + 8 + 8;  // 26

// The smallest key greater than k; k must not be Key::max().
Key key_successor(const Key& k);

void encode_key(sim::ByteWriter& w, const Key& k);
Key decode_key(sim::ByteReader& r);

// "zone.ino.type.first.second" in decimal, for violation messages and test failures.
std::string key_string(const Key& k);

}  // namespace simfs::fs
