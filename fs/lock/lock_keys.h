// Lock keys: which key ranges the lock service hands out, each named by its first key.
//
// Contract:
// - An inode lock covers every item of kLockGroupInodes consecutive inode numbers, aligned on
//   the group size: all item types of those inodes, and nothing else. Groups partition the fs
//   zone, so every kZoneFs item is under exactly one inode lock.
// - The orphan lock covers the whole kZoneOrphan zone (clients take it WRITE_ONLY to add and
//   remove orphan records blind).
// - The rename lock serializes renames across the cluster. It lives in kZoneLock, a zone that
//   holds no items, so its range covers nothing.
// - An open lock per inode: a mount holds it for reading while it has the inode open, and
//   deleting an unlinked inode takes it for writing — so the inode is deleted only once no
//   mount has it open. It also covers no items.
// - Key order is lock order: the rename lock, then open locks, then inode groups, then the
//   orphan lock. Operations take their locks in that order (the rename lock alone first).
// - lock_key_valid accepts exactly the keys the constructors here return: the check for a lock
//   key decoded off the wire. lock_range of any other key is that key alone.
#pragma once

#include <cstdint>

#include "fs/format/key.h"

namespace simfs::fs {

constexpr uint64_t kLockGroupInodes = 16;
static_assert((kLockGroupInodes & (kLockGroupInodes - 1)) == 0, "inode groups are aligned by masking");

// A zone for locks that name no items. Zone 0 sorts before every item zone, so these locks come
// first in lock order.
constexpr uint8_t kZoneLock = 0;

struct LockRange {
  Key start;
  Key end;  // inclusive
  bool contains(const Key& k) const { return start <= k && k <= end; }
  bool operator==(const LockRange&) const = default;
};

Key inode_lock_key(uint64_t ino);
Key rename_lock_key();
Key open_lock_key(uint64_t ino);  // ino >= 1
Key orphan_lock_key();

LockRange lock_range(const Key& lock);
bool lock_key_valid(const Key& lock);

// The lock that covers an item. The item must be in kZoneFs or kZoneOrphan: the other zones
// (allocators, log trees) belong to the server and are never locked.
Key lock_key_for_item(const Key& item);

}  // namespace simfs::fs
