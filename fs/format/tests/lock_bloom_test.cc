// LockBloom: no false negatives, few false positives, a stable encoding, and the log tree
// record carrying it.
#include "fs/format/lock_bloom.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <vector>

#include "fs/format/items.h"

namespace simfs::fs {
namespace {

Key inode_lock(uint64_t group) { return Key{kZoneFs, group * 16, 0, 0, 0}; }

TEST(LockBloom, EmptyNamesNothing) {
  LockBloom b;
  EXPECT_TRUE(b.empty());
  for (uint64_t g = 0; g < 1000; ++g) EXPECT_FALSE(b.may_contain(inode_lock(g)));
}

RC_GTEST_PROP(LockBloom, EveryAddedLockIsFound, (const std::vector<uint64_t>& groups)) {
  LockBloom b;
  for (uint64_t g : groups) b.add(inode_lock(g));
  for (uint64_t g : groups) RC_ASSERT(b.may_contain(inode_lock(g)));
  RC_ASSERT(b.empty() == groups.empty());
}

TEST(LockBloom, FewFalsePositivesWithAFewLocks) {
  // 20 locks set at most 60 of 512 bits: a random other lock hits all three of its bits with
  // probability about (60/512)^3, 0.16%. Allow ten times that.
  LockBloom b;
  for (uint64_t g = 0; g < 20; ++g) b.add(inode_lock(g));
  int hits = 0;
  for (uint64_t g = 1000; g < 11000; ++g) hits += b.may_contain(inode_lock(g));
  EXPECT_LT(hits, 160) << hits << " false positives in 10000";
}

TEST(LockBloom, MergeKeepsBothSides) {
  LockBloom a, b;
  a.add(inode_lock(1));
  b.add(inode_lock(2));
  a.merge_from(b);
  EXPECT_TRUE(a.may_contain(inode_lock(1)));
  EXPECT_TRUE(a.may_contain(inode_lock(2)));
}

TEST(LockBloom, BitsDependOnTheKeyAlone) {
  // The format fixes the bits (docs/format.md): a change here breaks every existing image.
  LockBloom b;
  b.add(inode_lock(0));
  std::vector<uint8_t> bytes;
  sim::ByteWriter w(bytes);
  encode_lock_bloom(w, b);
  ASSERT_EQ(bytes.size(), kLockBloomBytes);
  int set = 0;
  for (uint8_t byte : bytes) set += __builtin_popcount(byte);
  EXPECT_GE(set, 1);
  EXPECT_LE(set, static_cast<int>(kLockBloomHashes));
  sim::ByteReader r(bytes);
  EXPECT_EQ(decode_lock_bloom(r), b);
}

TEST(LockBloom, TravelsInTheLogTreeRecord) {
  LogTreeValue v;
  v.bloom.add(inode_lock(7));
  v.bloom.add(Key{kZoneOrphan, 0, 0, 0, 0});
  LogTreeValue back;
  ASSERT_TRUE(decode_log_tree(encode_log_tree(v), &back));
  EXPECT_EQ(back.bloom, v.bloom);
  EXPECT_EQ(back, v);
}

}  // namespace
}  // namespace simfs::fs
