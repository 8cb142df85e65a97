// LockBloom: a small bloom filter of the locks whose items a log tree holds, kept in the tree's
// record so a reader can skip the trees that cannot hold anything under the lock it populates
// (scoutfs-design §2.2: the read path reads only the log trees whose bloom has the lock's bits).
//
// Contract:
// - add(lock) sets the filter's bits for a lock key; may_contain(lock) is true for every lock
//   ever added (no false negatives) and, with few locks added, false for most others.
// - A tree's filter must name the lock of every item in it, deletions included: a reader that
//   skips a tree with a deletion would see the older value it hides. fsck checks this.
// - Fixed size (kLockBloomBits) and deterministic: the bits of a key depend on the key alone.
// - merge_from ORs another filter in (a record updated twice keeps every bit it ever had).
#pragma once

#include <array>
#include <cstdint>

#include "fs/format/key.h"
#include "sim/bytes.h"

namespace simfs::fs {

constexpr size_t kLockBloomBits = 512;
constexpr size_t kLockBloomHashes = 3;
constexpr size_t kLockBloomBytes = kLockBloomBits / 8;

struct LockBloom {
  std::array<uint64_t, kLockBloomBits / 64> words{};

  void add(const Key& lock);
  bool may_contain(const Key& lock) const;
  void merge_from(const LockBloom& o);
  bool empty() const;
  bool operator==(const LockBloom&) const = default;
};

void encode_lock_bloom(sim::ByteWriter& w, const LockBloom& b);
LockBloom decode_lock_bloom(sim::ByteReader& r);

}  // namespace simfs::fs
