#include "fs/lock/lock_keys.h"

#include "fs/base/assert.h"
#include "fs/format/items.h"

namespace simfs::fs {

static_assert(kZoneLock != kZoneFs && kZoneLock != kZoneOrphan && kZoneLock != kZoneAlloc && kZoneLock != kZoneLogs);

namespace {

constexpr uint8_t kLockTypeRename = 1;
constexpr uint8_t kLockTypeOpen = 2;

uint64_t group_start(uint64_t ino) { return ino & ~(kLockGroupInodes - 1); }

bool is_inode_lock_key(const Key& k) { return k.zone == kZoneFs && k == inode_lock_key(k.ino); }

}  // namespace

Key inode_lock_key(uint64_t ino) { return Key{kZoneFs, group_start(ino), 0, 0, 0}; }

Key rename_lock_key() { return Key{kZoneLock, 0, kLockTypeRename, 0, 0}; }

Key open_lock_key(uint64_t ino) {
  FS_ASSERT(ino != 0);
  return Key{kZoneLock, ino, kLockTypeOpen, 0, 0};
}

Key orphan_lock_key() { return Key{kZoneOrphan, 0, 0, 0, 0}; }

LockRange lock_range(const Key& lock) {
  if (is_inode_lock_key(lock)) {
    // The last group ends at UINT64_MAX exactly, so the addition cannot wrap.
    return {lock, Key{kZoneFs, lock.ino + (kLockGroupInodes - 1), UINT8_MAX, UINT64_MAX, UINT64_MAX}};
  }
  if (lock == orphan_lock_key()) return {lock, Key{kZoneOrphan, UINT64_MAX, UINT8_MAX, UINT64_MAX, UINT64_MAX}};
  return {lock, lock};
}

bool lock_key_valid(const Key& lock) {
  const bool open_lock = lock.zone == kZoneLock && lock.ino != 0 && lock == open_lock_key(lock.ino);
  return is_inode_lock_key(lock) || lock == orphan_lock_key() || lock == rename_lock_key() || open_lock;
}

Key lock_key_for_item(const Key& item) {
  FS_ASSERT(item.zone == kZoneFs || item.zone == kZoneOrphan);
  return item.zone == kZoneFs ? inode_lock_key(item.ino) : orphan_lock_key();
}

}  // namespace simfs::fs
