#include "fs/block/block_cache.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "sim/block_device.h"
#include "sim/simulation.h"
#include "fs/testing/disk_world.h"

namespace simfs::fs {
namespace {

using Bytes = std::vector<uint8_t>;
using Outcome = sim::Simulation::Outcome;
constexpr uint64_t kFsid = 0xF5F5F5F5ull;

// One node with the metadata device (64 blocks) attached.
struct World : testing::DiskWorld {
  explicit World(uint64_t seed) : DiskWorld(seed, 64) {}
};

SuperBlock make_super(uint64_t seq) {
  SuperBlock sb;
  sb.fsid = kFsid;
  sb.seq = seq;
  sb.format_hash = format_hash();
  sb.fs_root = {{20, 7}, 1};
  return sb;
}

void fill(const BlockPtr& b, uint8_t v) {
  for (uint8_t& x : b->payload()) x = v;
}

// Writes blocks {20,7} {21,8} {22,9} with payload bytes 0xA0.. and commits them.
sim::Errno commit_three(BlockCache& c) {
  for (uint64_t i = 0; i < 3; ++i) {
    BlockPtr b = c.create({20 + i, 7 + i}, BlockMagic::kBtree);
    fill(b, static_cast<uint8_t>(0xA0 + i));
    c.mark_dirty(b);
  }
  return c.writeback(make_super(1));
}

TEST(BlockCache, CommitThenReadBackThroughAFreshCache) {
  World w(1);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 16);
    ASSERT_EQ(commit_three(c), sim::kOk);
    EXPECT_EQ(c.dirty_count(), 0u);
    BlockCache fresh(*w.h, kFsid, 16);
    for (uint64_t i = 0; i < 3; ++i) {
      BlockPtr b;
      ASSERT_EQ(fresh.read({20 + i, 7 + i}, BlockMagic::kBtree, &b), sim::kOk);
      EXPECT_EQ(Bytes(b->payload().begin(), b->payload().end()),
                Bytes(kBlockSize - kBlockHeaderBytes, static_cast<uint8_t>(0xA0 + i)));
    }
    SuperBlock sb;
    ASSERT_EQ(read_super(*w.h, std::nullopt, &sb), sim::kOk);
    EXPECT_EQ(sb, make_super(1));
  });
}

TEST(BlockCache, WritebackLeavesEverythingDurable) {
  World w(2);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 16);
    BlockPtr b = c.create({20, 7}, BlockMagic::kBtree);
    c.mark_dirty(b);
    EXPECT_EQ(w.dev.pending_writes(), 0u);  // nothing reaches the disk before writeback
    ASSERT_EQ(c.writeback(make_super(1)), sim::kOk);
  });
  // Blocks were flushed and the super written with FUA: a power loss now loses nothing.
  EXPECT_EQ(w.dev.pending_writes(), 0u);
  Bytes blk(kBlockSize), super(kBlockSize);
  w.dev.peek_durable(20, blk);
  w.dev.peek_durable(kSuperBlkno, super);
  EXPECT_EQ(check_block(blk, {BlockMagic::kBtree, kFsid, 20, 7}), BlockCheck::kOk);
  SuperBlock sb;
  EXPECT_EQ(decode_super(super, kFsid, &sb), BlockCheck::kOk);
}

TEST(BlockCache, ForgottenBlockIsNotWrittenAndItsNumberCanBeReused) {
  World w(11);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 16);
    BlockPtr b = c.create({20, 7}, BlockMagic::kBtree);
    fill(b, 0x55);
    c.mark_dirty(b);
    EXPECT_TRUE(c.forget(20));  // freed in the transaction that created it
    EXPECT_FALSE(c.forget(20));
    EXPECT_EQ(c.dirty_count(), 0u);
    // The number is free again at once: a new block there must not trip the cache.
    BlockPtr again = c.create({20, 8}, BlockMagic::kBtree);
    fill(again, 0x66);
    c.mark_dirty(again);
    ASSERT_EQ(c.writeback(make_super(1)), sim::kOk);
  });
  Bytes blk(kBlockSize);
  w.dev.peek_durable(20, blk);
  EXPECT_EQ(check_block(blk, {BlockMagic::kBtree, kFsid, 20, 8}), BlockCheck::kOk);  // the reuse, not the forgotten one
  EXPECT_EQ(blk[kBlockHeaderBytes], 0x66);
}

TEST(BlockCache, ForgottenBlockNeverReachesTheDevice) {
  World w(12);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 16);
    BlockPtr b = c.create({21, 7}, BlockMagic::kBtree);
    c.mark_dirty(b);
    c.forget(21);
    ASSERT_EQ(c.writeback(make_super(1)), sim::kOk);
  });
  Bytes blk(kBlockSize, 0xff);
  w.dev.peek(21, blk);
  EXPECT_EQ(blk, Bytes(kBlockSize, 0));
}

TEST(BlockCache, CrashBeforeWritebackLeavesTheOldSuper) {
  World w(3);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 16);
    ASSERT_EQ(commit_three(c), sim::kOk);
    BlockPtr b = c.create({30, 50}, BlockMagic::kBtree);
    c.mark_dirty(b);
  });
  w.dev.power_loss();
  w.h = w.dev.attach(w.n);
  w.run([&] {
    SuperBlock sb;
    ASSERT_EQ(read_super(*w.h, kFsid, &sb), sim::kOk);
    EXPECT_EQ(sb.seq, 1u);
    BlockCache c(*w.h, kFsid, 16);
    BlockPtr b;
    EXPECT_EQ(c.read({30, 50}, BlockMagic::kBtree, &b), ESTALE);  // never written: zeros
    EXPECT_EQ(c.read({20, 7}, BlockMagic::kBtree, &b), sim::kOk);
  });
}

TEST(BlockCache, BitRotIsEio) {
  World w(4);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 16);
    ASSERT_EQ(commit_three(c), sim::kOk);
  });
  w.dev.flip_bit(21, 5000);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 16);
    BlockPtr b;
    EXPECT_EQ(c.read({21, 8}, BlockMagic::kBtree, &b), EIO);
    EXPECT_EQ(c.read({20, 7}, BlockMagic::kBtree, &b), sim::kOk);
  });
}

TEST(BlockCache, MismatchedRefIsStaleThenEioWhenRepeated) {
  World w(5);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 16);
    ASSERT_EQ(commit_three(c), sim::kOk);
    BlockCache r(*w.h, kFsid, 16);
    BlockPtr b;
    EXPECT_EQ(r.read({20, 6}, BlockMagic::kBtree, &b), ESTALE);      // older seq
    EXPECT_EQ(r.read({21, 8}, BlockMagic::kAllocList, &b), ESTALE);  // other kind of block
    // Re-reading the roots gave the same reference: the tree itself is inconsistent.
    EXPECT_EQ(r.read({20, 6}, BlockMagic::kBtree, &b), EIO);
    // A good read at that block forgets the stale history.
    EXPECT_EQ(r.read({20, 7}, BlockMagic::kBtree, &b), sim::kOk);
    EXPECT_EQ(r.read({20, 6}, BlockMagic::kBtree, &b), ESTALE);
  });
}

TEST(BlockCache, MisdirectedBlockIsStale) {
  World w(6);
  w.run([&] {
    // A block sealed for blkno 40 that landed on 41.
    Bytes img(kBlockSize, 0);
    put_header(img, {0, static_cast<uint32_t>(BlockMagic::kBtree), kFsid, 3, 40});
    seal_block(img);
    ASSERT_EQ(w.h->write(41, img), sim::kOk);
    BlockCache c(*w.h, kFsid, 16);
    BlockPtr b;
    EXPECT_EQ(c.read({41, 3}, BlockMagic::kBtree, &b), ESTALE);
  });
}

TEST(BlockCache, HitsDoNotReadTheDisk) {
  World w(7);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 16);
    ASSERT_EQ(commit_three(c), sim::kOk);
    BlockCache r(*w.h, kFsid, 16);
    BlockPtr b;
    ASSERT_EQ(r.read({22, 9}, BlockMagic::kBtree, &b), sim::kOk);
    w.dev.flip_bit(22, 100);  // only a disk read could see this
    BlockPtr again;
    EXPECT_EQ(r.read({22, 9}, BlockMagic::kBtree, &again), sim::kOk);
    EXPECT_EQ(again, b);
    BlockCache cold(*w.h, kFsid, 16);
    EXPECT_EQ(cold.read({22, 9}, BlockMagic::kBtree, &again), EIO);
  });
}

TEST(BlockCache, OwnDirtyBlockMakesOlderRefsStale) {
  World w(8);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 16);
    BlockPtr b = c.create({25, 2}, BlockMagic::kBtree);
    c.mark_dirty(b);
    BlockPtr got;
    EXPECT_EQ(c.read({25, 1}, BlockMagic::kBtree, &got), ESTALE);
    EXPECT_EQ(c.read({25, 2}, BlockMagic::kBtree, &got), sim::kOk);
    EXPECT_EQ(got, b);
  });
}

TEST(BlockCache, DeviceErrorsPropagateAndKeepBlocksDirty) {
  World w(9);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 16);
    ASSERT_EQ(commit_three(c), sim::kOk);
    sim::DiskFaultRates all_fail;
    all_fail.read_eio = all_fail.den;
    all_fail.write_eio = all_fail.den;
    w.dev.set_fault_rates(all_fail);
    BlockCache r(*w.h, kFsid, 16);
    BlockPtr b;
    EXPECT_EQ(r.read({20, 7}, BlockMagic::kBtree, &b), EIO);
    BlockPtr d = c.create({30, 1}, BlockMagic::kBtree);
    c.mark_dirty(d);
    EXPECT_EQ(c.writeback(make_super(2)), EIO);
    EXPECT_EQ(c.dirty_count(), 1u);
    w.dev.set_fault_rates({});
    EXPECT_EQ(c.writeback(make_super(2)), sim::kOk);
    EXPECT_EQ(c.dirty_count(), 0u);
    SuperBlock sb;
    ASSERT_EQ(read_super(*w.h, kFsid, &sb), sim::kOk);
    EXPECT_EQ(sb.seq, 2u);
  });
}

TEST(BlockCache, EvictsCleanUnsharedBlocksOnly) {
  World w(10);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 16);
    ASSERT_EQ(commit_three(c), sim::kOk);
    BlockCache small(*w.h, kFsid, 2);
    BlockPtr held;
    ASSERT_EQ(small.read({20, 7}, BlockMagic::kBtree, &held), sim::kOk);
    for (uint64_t i = 1; i < 3; ++i) {
      BlockPtr b;
      ASSERT_EQ(small.read({20 + i, 7 + i}, BlockMagic::kBtree, &b), sim::kOk);
    }
    EXPECT_EQ(small.cached_count(), 2u);
    // The held block survived eviction: a hit returns the same object.
    BlockPtr again;
    ASSERT_EQ(small.read({20, 7}, BlockMagic::kBtree, &again), sim::kOk);
    EXPECT_EQ(again, held);
    // Dirty blocks stay even beyond capacity.
    for (uint64_t i = 0; i < 3; ++i) small.mark_dirty(small.create({40 + i, 1}, BlockMagic::kBtree));
    EXPECT_EQ(small.dirty_count(), 3u);
  });
}

TEST(BlockCache, ChangesDuringWritebackStayDirty) {
  World w(11);
  BlockCache* cache = nullptr;
  BlockPtr b;
  w.n.spawn("committer", [&] {
    BlockCache c(*w.h, kFsid, 16);
    cache = &c;
    b = c.create({20, 7}, BlockMagic::kBtree);
    c.mark_dirty(b);
    c.mark_dirty(c.create({21, 8}, BlockMagic::kBtree));
    EXPECT_EQ(c.writeback(make_super(1)), sim::kOk);
    EXPECT_EQ(c.dirty_count(), 1u);  // block 20 was modified while the writeback ran
    EXPECT_TRUE(b->dirty);
    b.reset();
    cache = nullptr;
  });
  w.n.spawn("modifier", [&] {
    // Polls in steps far shorter than a write's latency (>= 20 us), so it acts while the
    // committer is parked in its first write (block 20, lowest blkno first).
    for (int i = 0; i < 1000 && cache == nullptr; ++i) sim::this_task::sleep(sim::kMicrosecond);
    ASSERT_NE(cache, nullptr);
    fill(b, 0x55);
    cache->mark_dirty(b);
  });
  auto r = w.s.run(sim::kTimeNever);
  EXPECT_EQ(r.outcome, Outcome::kQuiescent) << r.message;
}

}  // namespace
}  // namespace simfs::fs
