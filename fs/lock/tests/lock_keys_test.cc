#include "fs/lock/lock_keys.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "fs/format/items.h"

namespace simfs::fs {
namespace {

TEST(LockKeys, InodeGroupBoundaries) {
  EXPECT_EQ(inode_lock_key(0), (Key{kZoneFs, 0, 0, 0, 0}));
  EXPECT_EQ(inode_lock_key(15), inode_lock_key(0));
  EXPECT_EQ(inode_lock_key(16), (Key{kZoneFs, 16, 0, 0, 0}));
  EXPECT_NE(inode_lock_key(15), inode_lock_key(16));
  EXPECT_EQ(inode_lock_key(31), inode_lock_key(16));
  EXPECT_EQ(inode_lock_key(UINT64_MAX), (Key{kZoneFs, UINT64_MAX - 15, 0, 0, 0}));
}

TEST(LockKeys, InodeRangeCoversWholeInodesOfItsGroup) {
  const LockRange r = lock_range(inode_lock_key(20));
  EXPECT_EQ(r.start, (Key{kZoneFs, 16, 0, 0, 0}));
  EXPECT_EQ(r.end, (Key{kZoneFs, 31, UINT8_MAX, UINT64_MAX, UINT64_MAX}));
  EXPECT_TRUE(r.contains(inode_first(16)));
  EXPECT_TRUE(r.contains(inode_last(31)));
  EXPECT_TRUE(r.contains(dirent_key(17, UINT64_MAX >> 1, 99)));
  EXPECT_FALSE(r.contains(inode_last(15)));
  EXPECT_FALSE(r.contains(inode_first(32)));
  // The last group ends at the last inode without wrapping.
  EXPECT_EQ(lock_range(inode_lock_key(UINT64_MAX)).end, inode_last(UINT64_MAX));
}

TEST(LockKeys, GlobalLocks) {
  EXPECT_EQ(rename_lock_key(), (Key{kZoneLock, 0, 1, 0, 0}));
  EXPECT_EQ(open_lock_key(7), (Key{kZoneLock, 7, 2, 0, 0}));
  EXPECT_TRUE(lock_key_valid(open_lock_key(7)));
  EXPECT_EQ(lock_range(open_lock_key(7)), (LockRange{open_lock_key(7), open_lock_key(7)}));
  // Lock order: rename, open locks, inode groups, the orphan zone.
  EXPECT_LT(rename_lock_key(), open_lock_key(1));
  EXPECT_LT(open_lock_key(UINT64_MAX), inode_lock_key(1));
  EXPECT_LT(inode_lock_key(UINT64_MAX), orphan_lock_key());
  EXPECT_EQ(lock_range(rename_lock_key()), (LockRange{rename_lock_key(), rename_lock_key()}));
  EXPECT_EQ(orphan_lock_key(), (Key{kZoneOrphan, 0, 0, 0, 0}));
  const LockRange orphans = lock_range(orphan_lock_key());
  EXPECT_TRUE(orphans.contains(orphan_key(0)));
  EXPECT_TRUE(orphans.contains(orphan_key(UINT64_MAX)));
  EXPECT_FALSE(orphans.contains(inode_last(UINT64_MAX)));
  EXPECT_FALSE(orphans.contains(bitmap_key(kAllocMeta, 0)));
}

TEST(LockKeys, ValidKeysAreExactlyTheConstructed) {
  EXPECT_TRUE(lock_key_valid(inode_lock_key(0)));
  EXPECT_TRUE(lock_key_valid(inode_lock_key(12345)));
  EXPECT_TRUE(lock_key_valid(rename_lock_key()));
  EXPECT_TRUE(lock_key_valid(orphan_lock_key()));
  EXPECT_FALSE(lock_key_valid(Key{kZoneFs, 17, 0, 0, 0}));  // not a group start
  EXPECT_FALSE(lock_key_valid(inode_key(16)));                // an item, not a lock
  EXPECT_FALSE(lock_key_valid(orphan_key(5)));
  EXPECT_FALSE(lock_key_valid(Key{kZoneLock, 2, 0, 0, 0}));
  EXPECT_FALSE(lock_key_valid(Key{kZoneAlloc, 0, 0, 0, 0}));
  EXPECT_FALSE(lock_key_valid(Key::min()));
  const Key odd{kZoneAlloc, 3, 4, 5, 6};
  EXPECT_EQ(lock_range(odd), (LockRange{odd, odd}));
}

TEST(LockKeys, ItemsMapToTheirLock) {
  EXPECT_EQ(lock_key_for_item(inode_key(15)), inode_lock_key(0));
  EXPECT_EQ(lock_key_for_item(inode_key(16)), inode_lock_key(16));
  EXPECT_EQ(lock_key_for_item(extent_key(40, 7)), inode_lock_key(32));
  EXPECT_EQ(lock_key_for_item(orphan_key(40)), orphan_lock_key());
}

RC_GTEST_PROP(LockKeysProp, EveryFsItemIsInTheRangeOfItsLock, (uint64_t ino, uint8_t type, uint64_t first,
                                                                uint64_t second)) {
  const Key item{kZoneFs, ino, type, first, second};
  const Key lock = lock_key_for_item(item);
  RC_ASSERT(lock_key_valid(lock));
  RC_ASSERT(lock_range(lock).contains(item));
  RC_ASSERT(lock.ino <= ino && ino - lock.ino < kLockGroupInodes);
}

RC_GTEST_PROP(LockKeysProp, InodeGroupsPartitionTheFsZone, (uint64_t ino)) {
  // Consecutive groups touch with no gap or overlap: the key after one group's end starts the next.
  const uint64_t group = ino & ~(kLockGroupInodes - 1);
  const LockRange r = lock_range(inode_lock_key(ino));
  RC_ASSERT(r.start == (Key{kZoneFs, group, 0, 0, 0}));
  if (group + kLockGroupInodes != 0) {
    RC_ASSERT(key_successor(r.end) == lock_range(inode_lock_key(group + kLockGroupInodes)).start);
  }
  if (group != 0) RC_ASSERT(key_successor(lock_range(inode_lock_key(group - 1)).end) == r.start);
}

}  // namespace
}  // namespace simfs::fs
