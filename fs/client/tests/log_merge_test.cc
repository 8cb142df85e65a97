// merge_piece (fs/client/log_merge.h) without a network: a piece of the log merge merges its
// inputs' items into a copy of its subtree, stops at its budget or at its subtree's height, and
// keeps nothing when it fails.
#include "fs/client/log_merge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fs/btree/btree.h"
#include "fs/forest/forest.h"
#include "fs/testing/disk_world.h"

namespace simfs::fs {
namespace {

constexpr uint64_t kFsid = 0x10C4E46Eull;
constexpr uint64_t kDevBlocks = 1 << 13;
// The fill limit at its smallest, so a thousand items make a three-level tree.
constexpr uint32_t kFill = kBtreeFillMin;

// Blocks for the trees the test builds: numbers from the bottom of the device. Pieces get
// theirs from the top half, so a block of a piece is never one of a tree.
struct TreeAlloc {
  uint64_t next = kMetaBlknoFirstAllocatable;
  uint64_t seq = 1;
  BtreeAllocator fns() {
    return {[this] { return next++; }, [](uint64_t) {}, [this] { return ++seq; }};
  }
};

std::vector<uint64_t> piece_blocks(uint64_t first, size_t n) {
  std::vector<uint64_t> v;
  for (size_t i = 0; i < n; ++i) v.push_back(first + i);
  return v;
}

Key key(uint64_t i) { return Key{kZoneFs, 1000 + i, 1, 0, 0}; }
Item put(uint64_t i, uint64_t seq, const std::string& v) { return Item{key(i), seq, false, {v.begin(), v.end()}}; }
Item del(uint64_t i, uint64_t seq) { return Item{key(i), seq, true, {}}; }

struct World : testing::DiskWorld {
  World() : DiskWorld(7, kDevBlocks), cache(*h, kFsid, 4096) {}
  // A tree holding `items`, written and committed.
  BtreeRoot tree(const std::vector<Item>& items) {
    Btree t(cache, alloc.fns(), BtreeRoot{}, forest_btree_config(kFill));
    for (const Item& it : items) EXPECT_EQ(t.insert(it), 0);
    EXPECT_EQ(cache.write_dirty(), 0);
    return t.root();
  }
  std::map<Key, Item> contents(const BtreeRoot& root) {
    std::map<Key, Item> out;
    Btree t(cache, alloc.fns(), root, forest_btree_config(kFill));
    EXPECT_EQ(t.for_each(Key::min(), Key::max(), [&](const Item& it) { return out.emplace(it.key, it), true; }), 0);
    return out;
  }
  std::set<uint64_t> blocks_of(const BtreeRoot& root) {
    std::set<uint64_t> out;
    if (root.height == 0) return out;
    // The blocks of a tree: everything a full free walk would give back.
    std::vector<uint64_t> got;
    BtreeAllocator collect{[] { return uint64_t{0}; }, [&](uint64_t b) { got.push_back(b); }, [] { return uint64_t{1}; }};
    Btree walker(cache, collect, root, forest_btree_config(kFill));
    FreeCursor cur;
    while (!cur.done) EXPECT_EQ(walker.free_blocks(&cur, 1024), 0);
    out.insert(got.begin(), got.end());
    return out;
  }
  proto::LogMergeCompletion merge(const proto::LogMergeRequest& rq, BugSet bugs = {}) {
    return merge_piece(cache, rq, kFill, [this] { return ++piece_seq | kMountBlockSeqBit; }, bugs);
  }
  BlockCache cache;
  TreeAlloc alloc;
  uint64_t piece_seq = 0;
};

proto::LogMergeRequest whole_tree_piece(const BtreeRoot& fs_root, std::vector<BtreeRoot> inputs, size_t blocks) {
  proto::LogMergeRequest rq;
  rq.id = 99;
  rq.input_seq = 1000;
  rq.start = Key::min();
  rq.end = Key::max();
  rq.subtree = fs_root;
  rq.level = 0;
  rq.inputs = std::move(inputs);
  rq.avail = piece_blocks(kDevBlocks / 2, blocks);
  return rq;
}

// What the forest holds: per key the highest seq of the fs tree and the inputs, deletions
// erasing (the view a merge must not change).
std::map<Key, Item> forest_view(World& w, const BtreeRoot& fs_root, const std::vector<BtreeRoot>& inputs) {
  std::map<Key, Item> win = w.contents(fs_root);
  std::map<Key, Item> logged;
  for (const BtreeRoot& r : inputs) {
    for (auto& [k, it] : w.contents(r)) {
      auto [pos, fresh] = logged.emplace(k, it);
      if (!fresh && it.seq > pos->second.seq) pos->second = it;
    }
  }
  for (auto& [k, it] : logged) {
    auto f = win.find(k);
    if (f != win.end() && f->second.seq >= it.seq) continue;
    if (it.deletion) {
      win.erase(k);
    } else {
      win[k] = it;
    }
  }
  return win;
}

TEST(LogMergePiece, MergesEveryInputIntoTheWholeTree) {
  World w;
  w.run([&] {
    std::vector<Item> base, a, b;
    for (uint64_t i = 0; i < 100; ++i) base.push_back(put(i, 10, "fs"));
    for (uint64_t i = 50; i < 150; ++i) a.push_back(put(i, 20, "a"));
    for (uint64_t i = 0; i < 10; ++i) b.push_back(del(i, 30));
    for (uint64_t i = 60; i < 70; ++i) b.push_back(put(i, 15, "old"));  // older than a's: a wins
    const BtreeRoot fs_root = w.tree(base), ra = w.tree(a), rb = w.tree(b);
    const std::set<uint64_t> old_blocks = w.blocks_of(fs_root);
    const std::map<Key, Item> want = forest_view(w, fs_root, {ra, rb});

    proto::LogMergeCompletion c = w.merge(whole_tree_piece(fs_root, {ra, rb}, 200));
    ASSERT_EQ(c.flags, 0) << "error " << int(c.error);
    EXPECT_EQ(w.cache.dirty_count(), 0u) << "the piece's blocks are written before it reports";
    std::map<Key, Item> got = w.contents(c.root);
    ASSERT_EQ(got.size(), want.size());
    for (auto& [k, it] : want) {
      ASSERT_TRUE(got.count(k)) << key_string(k);
      EXPECT_EQ(got[k].value, it.value) << key_string(k);
      EXPECT_EQ(got[k].seq, it.seq) << key_string(k);
    }
    EXPECT_FALSE(got.count(key(0))) << "a deletion erases the key: the fs tree keeps no tombstones";
    // Its new blocks are the piece's; what it replaced was the old tree's.
    const std::set<uint64_t> avail(c.used.begin(), c.used.end());
    for (uint64_t blk : w.blocks_of(c.root)) {
      EXPECT_TRUE(avail.count(blk) || old_blocks.count(blk)) << "block " << blk << " is neither new nor shared";
    }
    for (uint64_t blk : c.used) EXPECT_GE(blk, kDevBlocks / 2);
    EXPECT_FALSE(c.freed.empty());
    for (uint64_t blk : c.freed) EXPECT_TRUE(old_blocks.count(blk)) << "freed block " << blk << " was not the old tree's";
    EXPECT_EQ(c.merged, 110u) << "50 keys new, 50 updated, 10 erased";
  });
}

TEST(LogMergePiece, BudgetStopsWithRemainingAndResumingGivesTheSameItems) {
  World w;
  w.run([&] {
    std::vector<Item> base, a;
    for (uint64_t i = 0; i < 400; i += 2) base.push_back(put(i, 10, "fs"));
    for (uint64_t i = 0; i < 800; ++i) a.push_back(i % 7 == 0 ? del(i, 20) : put(i, 20, "a"));
    const BtreeRoot fs_root = w.tree(base), ra = w.tree(a);
    const std::map<Key, Item> want = forest_view(w, fs_root, {ra});

    // Few blocks: it must stop part way, at a key, and say where.
    proto::LogMergeRequest rq = whole_tree_piece(fs_root, {ra}, 16);
    proto::LogMergeCompletion c = w.merge(rq);
    ASSERT_EQ(c.flags & proto::kLogMergeFailed, 0);
    ASSERT_TRUE(c.flags & proto::kLogMergePartial);
    EXPECT_FALSE(c.flags & proto::kLogMergeHeightStop);
    EXPECT_LE(c.used.size(), rq.avail.size());
    // Resume from there with fresh blocks until done: the same items as one merge.
    BtreeRoot root = c.root;
    Key from = c.remaining;
    for (int round = 0; round < 200 && (c.flags & proto::kLogMergePartial); ++round) {
      proto::LogMergeRequest next = whole_tree_piece(root, {ra}, 16);
      next.start = from;
      next.avail = piece_blocks(kDevBlocks / 2 + 16 * (round + 1), 16);
      c = w.merge(next);
      ASSERT_EQ(c.flags & proto::kLogMergeFailed, 0);
      root = c.root;
      from = c.remaining;
    }
    ASSERT_FALSE(c.flags & proto::kLogMergePartial);
    std::map<Key, Item> got = w.contents(root);
    EXPECT_EQ(got.size(), want.size());
    for (auto& [k, it] : want) EXPECT_TRUE(got.count(k) && got[k].seq == it.seq) << key_string(k);
  });
}

TEST(LogMergePiece, ResumeSkipsIsCaughtAsLostItems) {
  // The planted merge_resume_skips: resuming after what it read loses the items between.
  World w;
  w.run([&] {
    std::vector<Item> a;
    for (uint64_t i = 0; i < 800; ++i) a.push_back(put(i, 20, "a"));
    const BtreeRoot ra = w.tree(a);
    BugSet bugs;
    bugs.add(Bug::kMergeResumeSkips);
    BtreeRoot root{};
    Key from = Key::min();
    proto::LogMergeCompletion c;
    for (int round = 0; round < 200; ++round) {
      proto::LogMergeRequest rq = whole_tree_piece(root, {ra}, 16);
      rq.start = from;
      rq.avail = piece_blocks(kDevBlocks / 2 + 16 * round, 16);
      c = w.merge(rq, bugs);
      ASSERT_EQ(c.flags & proto::kLogMergeFailed, 0);
      root = c.root;
      from = c.remaining;
      if (!(c.flags & proto::kLogMergePartial)) break;
    }
    EXPECT_LT(w.contents(root).size(), 800u);
  });
}

TEST(LogMergePiece, ASubtreeKeepsItsHeightAndStopsWhereItsRootWouldSplit) {
  World w;
  w.run([&] {
    std::vector<Item> base, a;
    for (uint64_t i = 0; i < 60; ++i) base.push_back(put(i * 100, 10, "fs"));
    for (uint64_t i = 0; i < 3000; ++i) a.push_back(put(i, 20, "a"));
    const BtreeRoot fs_root = w.tree(base), ra = w.tree(a);
    ASSERT_EQ(fs_root.height, 2) << "a parent over leaves";
    // The root as a level-1 subtree: it may not split, so a lot of new items stop it.
    proto::LogMergeRequest rq = whole_tree_piece(fs_root, {ra}, 256);
    rq.level = 1;
    proto::LogMergeCompletion c = w.merge(rq);
    ASSERT_EQ(c.flags & proto::kLogMergeFailed, 0);
    EXPECT_TRUE(c.flags & proto::kLogMergeHeightStop);
    EXPECT_TRUE(c.flags & proto::kLogMergePartial);
    EXPECT_EQ(c.root.height, 2) << "kept its height";
  });
}

TEST(LogMergePiece, AFailedPieceKeepsNothing) {
  World w;
  w.run([&] {
    std::vector<Item> a;
    for (uint64_t i = 0; i < 300; ++i) a.push_back(put(i, 20, "a"));
    BtreeRoot ra = w.tree(a);
    BtreeRoot bad = ra;
    bad.ref.seq ^= 1;  // a reused block: the reader sees another seq
    proto::LogMergeCompletion c = w.merge(whole_tree_piece(BtreeRoot{}, {bad}, 64));
    EXPECT_EQ(c.flags, proto::kLogMergeFailed);
    EXPECT_NE(c.error, 0);
    EXPECT_TRUE(c.used.empty() && c.freed.empty());
    EXPECT_EQ(w.cache.dirty_count(), 0u) << "a failed piece leaves no dirty block behind";
  });
}

}  // namespace
}  // namespace simfs::fs
