#include "fs/btree/btree.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fs/btree/btree_check.h"
#include "sim/block_device.h"
#include "sim/simulation.h"
#include "fs/testing/disk_world.h"

namespace simfs::fs {
namespace {

using Outcome = sim::Simulation::Outcome;
constexpr uint64_t kFsid = 0xB7B7B7B7ull;

// Small blocks so a few dozen items already make a tree three levels deep.
BtreeConfig small_config() {
  BtreeConfig c;
  c.entries_bytes_max = 200;
  c.value_bytes_max = 16;
  return c;
}

struct World : testing::DiskWorld {
  explicit World(uint64_t seed) : DiskWorld(seed, 1 << 14) {}
};

// Hands out fresh block numbers; freed ones become reusable only after commit(), like a real
// allocator, which also keeps freed-but-dirty blocks from being handed out again (see report).
struct TestAlloc {
  uint64_t next = kMetaBlknoFirstAllocatable;
  uint64_t limit = (1 << 14) - 1;
  uint64_t seq = 1000;
  std::vector<uint64_t> reusable, pending;
  size_t allocated = 0, freed = 0;

  BtreeAllocator fns() {
    return {[this]() -> uint64_t {
              ++allocated;
              if (!reusable.empty()) {
                uint64_t b = reusable.back();
                reusable.pop_back();
                return b;
              }
              if (next > limit) {
                --allocated;
                return 0;
              }
              return next++;
            },
            [this](uint64_t b) {
              ++freed;
              pending.push_back(b);
            },
            [this] { return ++seq; }};
  }
  void commit() {
    reusable.insert(reusable.end(), pending.begin(), pending.end());
    pending.clear();
  }
};

Key key(uint64_t ino, uint64_t first = 0) { return Key{1, ino, 2, first, 0}; }
Item item(const Key& k, uint8_t v, size_t len = 4, uint64_t seq = 1) {
  return Item{k, seq, false, std::vector<uint8_t>(len, v)};
}

sim::Errno commit(BlockCache& c, Btree& t, TestAlloc& a, uint64_t super_seq) {
  SuperBlock sb;
  sb.fsid = kFsid;
  sb.seq = super_seq;
  sb.format_hash = format_hash();
  sb.fs_root = t.root();
  sim::Errno e = c.writeback(sb);
  if (e == sim::kOk) {
    t.committed();
    a.commit();
  }
  return e;
}

std::vector<Item> contents(Btree& t) {
  std::vector<Item> out;
  EXPECT_EQ(t.for_each(Key::min(), Key::max(), [&](const Item& i) { out.push_back(i); return true; }), sim::kOk);
  return out;
}

// Every block number reachable from root.
std::set<uint64_t> reachable(BlockCache& c, BlockRef ref, uint8_t level) {
  BlockPtr b;
  EXPECT_EQ(c.read(ref, btree_magic(level), &b), sim::kOk);
  BtreeNode n;
  std::string why;
  EXPECT_TRUE(decode_node(b->payload(), &n, &why)) << why;
  std::set<uint64_t> out{ref.blkno};
  if (!n.leaf()) {
    for (const BtreeEntry& e : n.entries) {
      auto sub = reachable(c, e.child, static_cast<uint8_t>(level - 1));
      out.insert(sub.begin(), sub.end());
    }
  }
  return out;
}

// ---- operations ----

TEST(Btree, EmptyTreeFindsNothing) {
  World w(1);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 64);
    TestAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    Item out;
    EXPECT_EQ(t.lookup(key(1), &out), ENOENT);
    EXPECT_EQ(t.next(Key::min(), &out), ENOENT);
    EXPECT_EQ(t.prev(Key::max(), &out), ENOENT);
    EXPECT_EQ(t.update(item(key(1), 1)), ENOENT);
    EXPECT_EQ(t.erase(key(1)), ENOENT);
    EXPECT_EQ(check_tree(c, t.root(), t.config()), "");
  });
}

TEST(Btree, InsertLookupUpdateErase) {
  World w(2);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 64);
    TestAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    ASSERT_EQ(t.insert(item(key(5), 0xA5)), sim::kOk);
    EXPECT_EQ(t.root().height, 1);
    EXPECT_EQ(t.insert(item(key(5), 0xB5)), EEXIST);
    Item out;
    ASSERT_EQ(t.lookup(key(5), &out), sim::kOk);
    EXPECT_EQ(out, item(key(5), 0xA5));
    EXPECT_EQ(t.lookup(key(4), &out), ENOENT);
    Item tomb{key(5), 9, true, {}};
    ASSERT_EQ(t.update(tomb), sim::kOk);
    ASSERT_EQ(t.lookup(key(5), &out), sim::kOk);
    EXPECT_EQ(out, tomb);
    EXPECT_EQ(t.update(item(key(6), 1)), ENOENT);
    EXPECT_EQ(t.erase(key(6)), ENOENT);
    ASSERT_EQ(t.erase(key(5)), sim::kOk);
    EXPECT_EQ(t.lookup(key(5), &out), ENOENT);
    EXPECT_EQ(t.root(), BtreeRoot{});  // the last item takes the last block with it
    EXPECT_EQ(a.allocated, a.freed);
  });
}

TEST(Btree, RejectsOversizedValues) {
  World w(3);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 64);
    TestAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    EXPECT_EQ(t.insert(item(key(1), 1, 17)), EINVAL);
    EXPECT_EQ(t.insert(item(key(1), 1, 16)), sim::kOk);
    EXPECT_EQ(t.update(item(key(1), 1, 17)), EINVAL);
  });
}

// Below 4 parent entries per block a split can leave a parent with one child that is not under
// the low water: such parents pile up (fanout 1) and the tree soon exceeds kBtreeHeightMax.
TEST(Btree, ConfigNeedsRoomForFourChildrenPerParent) {
  BtreeConfig c = small_config();
  c.entries_bytes_max = 120;
  EXPECT_FALSE(c.valid());
  c.entries_bytes_max = 4 * kBtreeParentEntryBytes + 4;
  EXPECT_TRUE(c.valid());
}

TEST(Btree, SplitsGrowAndJoinsShrinkTheTree) {
  World w(4);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 512);
    TestAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    for (uint64_t i = 0; i < 200; ++i) {
      ASSERT_EQ(t.insert(item(key(i * 7 % 200), static_cast<uint8_t>(i))), sim::kOk);
      ASSERT_EQ(check_tree(c, t.root(), t.config()), "") << "after insert " << i;
    }
    EXPECT_GE(t.root().height, 4);
    for (uint64_t i = 0; i < 200; ++i) {
      ASSERT_EQ(t.erase(key(i * 3 % 200)), sim::kOk);
      ASSERT_EQ(check_tree(c, t.root(), t.config()), "") << "after erase " << i;
    }
    EXPECT_EQ(t.root(), BtreeRoot{});
    EXPECT_EQ(a.allocated, a.freed);
  });
}

TEST(Btree, NextPrevAndRangeCrossLeaves) {
  World w(5);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 256);
    TestAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    for (uint64_t i = 1; i <= 60; ++i) ASSERT_EQ(t.insert(item(key(i * 10), static_cast<uint8_t>(i))), sim::kOk);
    ASSERT_GE(t.root().height, 3);
    Item out;
    for (uint64_t i = 1; i <= 60; ++i) {
      ASSERT_EQ(t.next(key(i * 10 - 5), &out), sim::kOk);
      EXPECT_EQ(out.key, key(i * 10));
      ASSERT_EQ(t.next(key(i * 10), &out), sim::kOk);
      EXPECT_EQ(out.key, key(i * 10));
      ASSERT_EQ(t.prev(key(i * 10 + 5), &out), sim::kOk);
      EXPECT_EQ(out.key, key(i * 10));
      ASSERT_EQ(t.prev(key(i * 10), &out), sim::kOk);
      EXPECT_EQ(out.key, key(i * 10));
    }
    EXPECT_EQ(t.next(key(601), &out), ENOENT);
    EXPECT_EQ(t.prev(key(9), &out), ENOENT);
    ASSERT_EQ(t.prev(Key::max(), &out), sim::kOk);
    EXPECT_EQ(out.key, key(600));
    std::vector<uint64_t> seen;
    ASSERT_EQ(t.for_each(key(95), key(300), [&](const Item& i) { seen.push_back(i.key.ino); return true; }), sim::kOk);
    std::vector<uint64_t> want;
    for (uint64_t i = 10; i <= 30; ++i) want.push_back(i * 10);
    EXPECT_EQ(seen, want);
    seen.clear();
    ASSERT_EQ(t.for_each(key(0), Key::max(), [&](const Item& i) { seen.push_back(i.key.ino); return seen.size() < 3; }), sim::kOk);
    EXPECT_EQ(seen, (std::vector<uint64_t>{10, 20, 30}));
  });
}

TEST(Btree, FailedAllocationLeavesTheTreeUnchanged) {
  World w(6);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 256);
    TestAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    for (uint64_t i = 0; i < 40; ++i) ASSERT_EQ(t.insert(item(key(i), 1)), sim::kOk);
    ASSERT_EQ(commit(c, t, a, 1), sim::kOk);
    BtreeRoot before = t.root();
    std::vector<Item> items = contents(t);
    a.limit = a.next;  // room for exactly one more block: not enough to copy a whole path
    size_t allocated = a.allocated, freed = a.freed;
    EXPECT_EQ(t.insert(item(key(100), 1)), ENOSPC);
    EXPECT_EQ(t.root(), before);
    EXPECT_EQ(contents(t), items);
    EXPECT_EQ(a.allocated - allocated, 1u);
    EXPECT_EQ(a.freed - freed, 1u);  // the one block it got was handed back
    EXPECT_EQ(check_tree(c, t.root(), t.config()), "");
  });
}

// ---- copy-on-write ----

TEST(Btree, CommittedTreeIsNeverModified) {
  World w(7);
  BtreeRoot old_root, new_root;
  std::map<uint64_t, std::vector<uint8_t>> old_images;
  std::vector<Item> old_items, new_items;
  w.run([&] {
    BlockCache c(*w.h, kFsid, 128);
    TestAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    for (uint64_t i = 0; i < 150; ++i) ASSERT_EQ(t.insert(item(key(i), static_cast<uint8_t>(i))), sim::kOk);
    ASSERT_EQ(commit(c, t, a, 1), sim::kOk);
    old_root = t.root();
    old_items = contents(t);
    for (uint64_t b : reachable(c, old_root.ref, static_cast<uint8_t>(old_root.height - 1))) {
      old_images[b].resize(kBlockSize);
      w.dev.peek_durable(b, old_images[b]);
    }
    // Touch every leaf: updates, inserts that split, erases that join.
    for (uint64_t i = 0; i < 150; i += 2) ASSERT_EQ(t.update(item(key(i), 0xEE, 16, 2)), sim::kOk);
    for (uint64_t i = 1; i < 150; i += 4) ASSERT_EQ(t.erase(key(i)), sim::kOk);
    for (uint64_t i = 0; i < 100; ++i) ASSERT_EQ(t.insert(item(key(i, 1), 7)), sim::kOk);
    EXPECT_NE(t.root().ref, old_root.ref);
    // Every block of the committed tree was on some modified path, so none is shared.
    for (uint64_t b : reachable(c, t.root().ref, static_cast<uint8_t>(t.root().height - 1))) {
      EXPECT_EQ(old_images.count(b), 0u) << "block " << b;
    }
    ASSERT_EQ(commit(c, t, a, 2), sim::kOk);
    new_root = t.root();
    new_items = contents(t);
    EXPECT_EQ(check_tree(c, new_root, t.config()), "");
  });
  // The old blocks are byte for byte what the first commit wrote, and a fresh cache still
  // reads the old tree whole.
  for (const auto& [b, img] : old_images) {
    std::vector<uint8_t> now(kBlockSize);
    w.dev.peek_durable(b, now);
    EXPECT_EQ(now, img) << "block " << b;
  }
  w.run([&] {
    BlockCache fresh(*w.h, kFsid, 64);
    TestAlloc a;
    EXPECT_EQ(check_tree(fresh, old_root, small_config()), "");
    Btree old_tree(fresh, a.fns(), old_root, small_config());
    EXPECT_EQ(contents(old_tree), old_items);
    Btree new_tree(fresh, a.fns(), new_root, small_config());
    EXPECT_EQ(contents(new_tree), new_items);
  });
}

// ---- random operations against std::map ----

// Each op is one random u64 so RapidCheck can shrink the sequence and each op independently.
// A small key space makes inserts collide and updates and erases hit.
// `config` and `value_len(x)` set the shape: small blocks with tiny values, or the forest's
// real fill with values a few to a block (the logs tree's records).
std::string run_ops(World& w, const std::vector<uint64_t>& ops, BtreeConfig config = small_config(),
                    size_t value_len_max = 16) {
  std::string failure;
  const size_t len_mod = value_len_max + 1;
  w.run([&] {
    BlockCache c(*w.h, kFsid, 96);  // small: committed blocks get evicted and re-read
    TestAlloc a;
    Btree t(c, a.fns(), {}, config);
    std::map<Key, Item> model;
    uint64_t super_seq = 0;
    auto fail = [&](size_t n, const std::string& what) { failure = "op " + std::to_string(n) + ": " + what; };
    for (size_t n = 0; n < ops.size() && failure.empty(); ++n) {
      uint64_t x = ops[n];
      uint64_t kind = x % 32;
      Key k = key((x >> 5) % 16, (x >> 9) % 32);
      const size_t len = (x >> 14) % len_mod;
      Item it = item(k, static_cast<uint8_t>(x >> 20), len, x >> 40);
      it.deletion = ((x >> 28) & 1) != 0;
      Item got;
      auto present = model.find(k);
      if (kind >= 10 && kind < 12) {
        // A run of keys put with put_batch, a call per leaf it reaches.
        std::vector<Item> run;
        const uint64_t step = (x >> 34) % 3 + 1;
        for (uint64_t idx = ((x >> 5) % 16) * 32 + (x >> 9) % 32, j = 0; idx < 16 * 32 && j < 1 + (x >> 30) % 12;
             idx += step, ++j) {
          Item r = item(key(idx / 32, idx % 32), static_cast<uint8_t>(x >> 20), (len + j) % len_mod, (x >> 40) + j);
          r.deletion = ((x >> 28) & 1) != 0;
          run.push_back(r);
        }
        size_t new_keys = 0, added_total = 0;
        for (const Item& r : run) new_keys += model.count(r.key) == 0;
        for (size_t i = 0; i < run.size() && failure.empty();) {
          size_t applied = 0, added = 0;
          sim::Errno e = t.put_batch(std::span<const Item>(run).subspan(i), &applied, &added);
          if (e != sim::kOk || applied == 0) fail(n, "put_batch returned " + std::to_string(e));
          i += applied;
          added_total += added;
        }
        for (const Item& r : run) model[r.key] = r;
        if (failure.empty() && added_total != new_keys) fail(n, "put_batch added " + std::to_string(added_total));
      } else if (kind < 12) {
        sim::Errno e = t.insert(it);
        if (e != (present == model.end() ? sim::kOk : EEXIST)) fail(n, "insert returned " + std::to_string(e));
        if (present == model.end()) model[k] = it;
      } else if (kind < 16) {
        sim::Errno e = t.update(it);
        if (e != (present == model.end() ? ENOENT : sim::kOk)) fail(n, "update returned " + std::to_string(e));
        if (present != model.end()) present->second = it;
      } else if (kind < 24) {
        sim::Errno e = t.erase(k);
        if (e != (present == model.end() ? ENOENT : sim::kOk)) fail(n, "erase returned " + std::to_string(e));
        model.erase(k);
      } else if (kind < 26) {
        sim::Errno e = t.lookup(k, &got);
        if (e != (present == model.end() ? ENOENT : sim::kOk) || (e == sim::kOk && got != present->second)) {
          fail(n, "lookup " + key_string(k));
        }
      } else if (kind < 28) {
        auto want = model.lower_bound(k);
        sim::Errno e = t.next(k, &got);
        if (e != (want == model.end() ? ENOENT : sim::kOk) || (e == sim::kOk && got != want->second)) {
          fail(n, "next " + key_string(k));
        }
      } else if (kind < 30) {
        auto want = model.upper_bound(k);
        bool none = want == model.begin();
        sim::Errno e = t.prev(k, &got);
        if (e != (none ? ENOENT : sim::kOk) || (e == sim::kOk && got != std::prev(want)->second)) {
          fail(n, "prev " + key_string(k));
        }
      } else if (kind < 31) {
        Key last = key((x >> 20) % 16, (x >> 24) % 32);
        std::vector<Item> seen, want;
        if (t.for_each(k, last, [&](const Item& i) { seen.push_back(i); return true; }) != sim::kOk) fail(n, "for_each");
        for (auto i = model.lower_bound(k); i != model.end() && i->first <= last; ++i) want.push_back(i->second);
        if (seen != want) fail(n, "for_each from " + key_string(k) + " to " + key_string(last));
      } else {
        if (commit(c, t, a, ++super_seq) != sim::kOk) fail(n, "commit");
      }
      if (failure.empty() && (n % 8 == 0 || n + 1 == ops.size())) {
        std::string problem = check_tree(c, t.root(), t.config());
        if (!problem.empty()) fail(n, "check_tree: " + problem);
      }
    }
    if (failure.empty() && contents(t) != [&] {
          std::vector<Item> v;
          for (auto& [kk, vv] : model) v.push_back(vv);
          return v;
        }()) {
      failure = "final contents differ";
    }
  });
  return failure;
}

RC_GTEST_PROP(BtreeModel, RandomOperationsMatchAMap, ()) {
  const auto count = *rc::gen::inRange<size_t>(200, 1500);
  const auto ops = *rc::gen::container<std::vector<uint64_t>>(count, rc::gen::arbitrary<uint64_t>());
  World w(11);
  std::string failure = run_ops(w, ops);
  RC_ASSERT(failure == "");
}

// The forest's smallest fill (kBtreeFillMin) with values up to the largest allowed: a block
// holds one to a few items, so single-item leaves and wide parents are common.
RC_GTEST_PROP(BtreeModel, RandomOperationsWithLargeValuesMatchAMap, ()) {
  const auto count = *rc::gen::inRange<size_t>(200, 1500);
  const auto ops = *rc::gen::container<std::vector<uint64_t>>(count, rc::gen::arbitrary<uint64_t>());
  const auto value_max = *rc::gen::element<size_t>(240, 300, 400, kBtreeValueBytesMax);
  BtreeConfig config;
  config.entries_bytes_max = kBtreeFillMin;
  World w(12);
  std::string failure = run_ops(w, ops, config, value_max);
  RC_ASSERT(failure == "");
}

// ---- the checker catches each kind of damage ----

// Rewrites the block at ref (read with the magic of `level`) after `edit` changes its node.
void rewrite(BlockCache& c, BlockRef ref, uint8_t level, const std::function<void(BtreeNode&)>& edit) {
  BlockPtr b;
  ASSERT_EQ(c.read(ref, btree_magic(level), &b), sim::kOk);
  BtreeNode n;
  std::string why;
  ASSERT_TRUE(decode_node(b->payload(), &n, &why));
  edit(n);
  encode_node(n, b->payload());
  c.mark_dirty(b);
}

BtreeNode read_node(BlockCache& c, BlockRef ref, uint8_t level) {
  BlockPtr b;
  EXPECT_EQ(c.read(ref, btree_magic(level), &b), sim::kOk);
  BtreeNode n;
  std::string why;
  EXPECT_TRUE(decode_node(b->payload(), &n, &why));
  return n;
}

// Builds a tree at least three levels deep, lets `damage` change it, and returns check_tree's
// verdict under `config`. `p` is the parent at level 1 on the leftmost path.
std::string damaged(const std::function<void(BlockCache&, BtreeRoot&, BlockRef p)>& damage,
                    BtreeConfig config = small_config(), BtreeConfig build = small_config(), uint64_t items = 80) {
  World w(21);
  std::string verdict;
  w.run([&] {
    BlockCache c(*w.h, kFsid, 512);
    TestAlloc a;
    Btree t(c, a.fns(), {}, build);
    for (uint64_t i = 0; i < items; ++i) ASSERT_EQ(t.insert(item(key(i), static_cast<uint8_t>(i), 8)), sim::kOk);
    ASSERT_EQ(check_tree(c, t.root(), build), "");
    BtreeRoot root = t.root();
    BlockRef p = root.ref;
    for (int level = root.height - 1; level > 1; --level) p = read_node(c, p, static_cast<uint8_t>(level)).entries[0].child;
    damage(c, root, p);
    verdict = check_tree(c, root, config);
  });
  return verdict;
}

#define EXPECT_VERDICT(verdict, fragment) \
  EXPECT_NE((verdict).find(fragment), std::string::npos) << "verdict: " << (verdict)

TEST(BtreeCheck, RootShape) {
  EXPECT_VERDICT(damaged([](BlockCache&, BtreeRoot& r, BlockRef) { r.height = kBtreeHeightMax + 1; }), "exceeds the maximum");
  EXPECT_VERDICT(damaged([](BlockCache&, BtreeRoot& r, BlockRef) { r.height = 0; }), "disagree about emptiness");
  EXPECT_VERDICT(damaged([](BlockCache& c, BtreeRoot& r, BlockRef) {
                   BlockPtr b = c.create({9000, 1}, BlockMagic::kBtreeLeaf);
                   encode_node(BtreeNode{}, b->payload());
                   r = {b->ref, 1};
                 }),
                 "root leaf is empty");
  EXPECT_VERDICT(damaged([](BlockCache& c, BtreeRoot& r, BlockRef) {
                   BtreeNode top = read_node(c, r.ref, static_cast<uint8_t>(r.height - 1));
                   top.entries.resize(1);
                   BlockPtr b = c.create({9000, 1}, BlockMagic::kBtreeParent);
                   encode_node(top, b->payload());
                   r.ref = b->ref;
                 }),
                 "fewer than two children");
}

TEST(BtreeCheck, KeysOutOfOrderInALeaf) {
  EXPECT_VERDICT(damaged([](BlockCache& c, BtreeRoot&, BlockRef p) {
                   BlockRef leaf = read_node(c, p, 1).entries[0].child;
                   rewrite(c, leaf, 0, [](BtreeNode& n) { std::swap(n.entries[0].item.key, n.entries[1].item.key); });
                 }),
                 "keys out of order");
}

TEST(BtreeCheck, KeyNotAboveThePreviousSibling) {
  EXPECT_VERDICT(damaged([](BlockCache& c, BtreeRoot&, BlockRef p) {
                   BtreeNode pn = read_node(c, p, 1);
                   Key left_max = pn.entries[0].key();
                   rewrite(c, pn.entries[1].child, 0, [&](BtreeNode& n) { n.entries[0].item.key = left_max; });
                 }),
                 "not above the previous sibling");
}

TEST(BtreeCheck, ParentKeyDiffersFromChildMax) {
  EXPECT_VERDICT(damaged([](BlockCache& c, BtreeRoot&, BlockRef p) {
                   rewrite(c, p, 1, [](BtreeNode& n) { n.entries[0].item.key = key_successor(n.entries[0].item.key); });
                 }),
                 "differs from the largest key");
}

TEST(BtreeCheck, Unbalanced) {
  // A parent where a leaf belongs: one leaf ends up a level deeper than its cousins.
  EXPECT_VERDICT(damaged([](BlockCache& c, BtreeRoot&, BlockRef p) {
                   BtreeNode pn = read_node(c, p, 1);
                   BtreeNode extra;
                   extra.level = 1;
                   extra.entries = {pn.entries[0]};
                   BlockPtr b = c.create({9000, 1}, BlockMagic::kBtreeParent);
                   encode_node(extra, b->payload());
                   rewrite(c, p, 1, [&](BtreeNode& n) { n.entries[0].child = b->ref; });
                 }),
                 "unbalanced");
}

TEST(BtreeCheck, LevelField) {
  EXPECT_VERDICT(damaged([](BlockCache& c, BtreeRoot&, BlockRef p) { rewrite(c, p, 1, [](BtreeNode& n) { n.level = 2; }); }),
                 "level field");
}

TEST(BtreeCheck, FillBounds) {
  BtreeConfig big = small_config();
  big.entries_bytes_max = 400;
  // Built with 400-byte blocks, judged against 200: some block is overfull.
  EXPECT_VERDICT(damaged([](BlockCache&, BtreeRoot&, BlockRef) {}, small_config(), big, 200), "overfull");
  BtreeConfig strict = small_config();
  strict.entries_bytes_max = 1600;  // low water 400: no 200-byte block reaches it
  EXPECT_VERDICT(damaged([](BlockCache&, BtreeRoot&, BlockRef) {}, strict), "underfull");
}

TEST(BtreeCheck, ValueTooLong) {
  BtreeConfig tight = small_config();
  tight.value_bytes_max = 4;
  EXPECT_VERDICT(damaged([](BlockCache&, BtreeRoot&, BlockRef) {}, tight), "value of");
}

TEST(BtreeCheck, BlockReferencedTwice) {
  EXPECT_VERDICT(damaged([](BlockCache& c, BtreeRoot&, BlockRef p) {
                   rewrite(c, p, 1, [](BtreeNode& n) { n.entries[1].child = n.entries[0].child; });
                 }),
                 "referenced more than once");
}

TEST(BtreeCheck, UnreadableAndMalformedBlocks) {
  EXPECT_VERDICT(damaged([](BlockCache& c, BtreeRoot&, BlockRef p) {
                   rewrite(c, p, 1, [](BtreeNode& n) { n.entries[0].child.seq += 1; });
                 }),
                 "read failed: ");
  EXPECT_VERDICT(damaged([](BlockCache& c, BtreeRoot&, BlockRef p) {
                   BlockPtr b;
                   ASSERT_EQ(c.read(p, BlockMagic::kBtreeParent, &b), sim::kOk);
                   b->payload()[1] = 1;  // the reserved byte
                   c.mark_dirty(b);
                 }),
                 "malformed");
}

TEST(BtreeCheck, SoundTreePasses) { EXPECT_EQ(damaged([](BlockCache&, BtreeRoot&, BlockRef) {}), ""); }

}  // namespace
}  // namespace simfs::fs
