// The btree's log-merge helpers (fs/btree_merge.cc): parent_range, set_parent, rebalance, merge
// and free_blocks, against std::map models, check_tree after every change, an allocator that
// catches double frees and leaks, and injected allocation and read failures.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fs/btree/btree.h"
#include "fs/btree/btree_check.h"
#include "fs/testing/disk_world.h"

namespace simfs::fs {
namespace {

constexpr uint64_t kFsid = 0x3E2E3E2Eull;
constexpr uint64_t kDevBlocks = 1 << 14;

// Small blocks so a few hundred items make trees three or four levels deep.
BtreeConfig small_config(size_t entries_bytes_max = 200) {
  BtreeConfig c;
  c.entries_bytes_max = entries_bytes_max;
  c.value_bytes_max = 16;
  return c;
}

// Fill limits for the splice properties: at 200 bytes a parent with two children is above the
// low water, so a keep_height merge never leaves the spliced block out of bounds; at 360 (low
// water 90 > two 42-byte entries) it often does, as with real 4 KiB blocks, and rebalance has
// work to do.
rc::Gen<size_t> gen_fill_limit() { return rc::gen::element<size_t>(200, 360); }

struct World : testing::DiskWorld {
  explicit World(uint64_t seed) : DiskWorld(seed, kDevBlocks) {}
  void read_faults(uint32_t per_million) {
    sim::DiskFaultRates r;
    r.read_eio = per_million;
    dev.set_fault_rates(r);
  }
};

// Hands out block numbers (freed ones are reusable only after commit(), as with the real
// allocator) and keeps the set of blocks it handed out and not yet got back, so a double free,
// a free of a block never handed out, or a block handed out twice is recorded as an error.
// fail_after: allocations to grant before failing (ENOSPC injection); SIZE_MAX: no limit.
struct TrackingAlloc {
  uint64_t next = kMetaBlknoFirstAllocatable;
  uint64_t seq = 1000;
  std::vector<uint64_t> reusable, pending;
  std::set<uint64_t> owned;
  std::vector<std::string> errors;
  size_t fail_after = SIZE_MAX;

  BtreeAllocator fns() {
    return {[this]() -> uint64_t {
              if (fail_after == 0) return 0;
              if (fail_after != SIZE_MAX) --fail_after;
              uint64_t b = 0;
              if (!reusable.empty()) {
                b = reusable.back();
                reusable.pop_back();
              } else if (next < kDevBlocks) {
                b = next++;
              } else {
                return 0;
              }
              if (!owned.insert(b).second) errors.push_back("block " + std::to_string(b) + " handed out twice");
              return b;
            },
            [this](uint64_t b) {
              if (owned.erase(b) == 0) errors.push_back("block " + std::to_string(b) + " freed but not allocated (double free?)");
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

// Writes every dirty block and makes the trees' roots durable (the super holds the first).
sim::Errno commit(BlockCache& c, TrackingAlloc& a, std::initializer_list<Btree*> trees, uint64_t super_seq) {
  SuperBlock sb;
  sb.fsid = kFsid;
  sb.seq = super_seq;
  sb.format_hash = format_hash();
  sb.fs_root = (*trees.begin())->root();
  sim::Errno e = c.writeback(sb);
  if (e != sim::kOk) return e;
  for (Btree* t : trees) t->committed();
  a.commit();
  return sim::kOk;
}

std::vector<Item> contents(Btree& t) {
  std::vector<Item> out;
  EXPECT_EQ(t.for_each(Key::min(), Key::max(), [&](const Item& i) { out.push_back(i); return true; }), sim::kOk);
  return out;
}

// Every block number reachable from root.
void reachable(BlockCache& c, BlockRef ref, uint8_t level, std::set<uint64_t>* out) {
  BlockPtr b;
  ASSERT_EQ(c.read(ref, btree_magic(level), &b), sim::kOk);
  BtreeNode n;
  std::string why;
  ASSERT_TRUE(decode_node(b->payload(), &n, &why)) << why;
  out->insert(ref.blkno);
  if (!n.leaf()) {
    for (const BtreeEntry& e : n.entries) reachable(c, e.child, static_cast<uint8_t>(level - 1), out);
  }
}
std::set<uint64_t> reachable(BlockCache& c, const BtreeRoot& root) {
  std::set<uint64_t> out;
  if (root.height > 0) reachable(c, root.ref, static_cast<uint8_t>(root.height - 1), &out);
  return out;
}

std::string describe(const std::vector<Item>& v) {
  std::ostringstream s;
  s << v.size() << " items:";
  for (size_t i = 0; i < v.size() && i < 40; ++i) {
    s << " " << key_string(v[i].key) << "@" << v[i].seq << (v[i].deletion ? "D" : "") << "/" << v[i].value.size();
  }
  if (v.size() > 40) s << " ...";
  return s.str();
}

// The first difference between two item lists, or "".
std::string diff(const std::vector<Item>& got, const std::vector<Item>& want) {
  for (size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    if (i >= got.size()) return "missing " + key_string(want[i].key) + " (want " + describe(want) + ")";
    if (i >= want.size()) return "extra " + key_string(got[i].key) + " (got " + describe(got) + ")";
    if (!(got[i] == want[i])) {
      return "at " + std::to_string(i) + ": got " + key_string(got[i].key) + "@" + std::to_string(got[i].seq) +
             " want " + key_string(want[i].key) + "@" + std::to_string(want[i].seq) + " (values or flags may differ)";
    }
  }
  return "";
}

// ---- the model: highest seq wins, deletions delete, the tree's newer version stays ----

using Model = std::map<Key, Item>;

void model_merge(Model& m, const std::vector<Item>& items) {
  for (size_t i = 0; i < items.size();) {
    size_t win = i, j = i + 1;
    for (; j < items.size() && items[j].key == items[i].key; ++j) {
      if (items[j].seq > items[win].seq) win = j;
    }
    const Item& w = items[win];
    auto it = m.find(w.key);
    if (it == m.end() || it->second.seq < w.seq) {
      if (w.deletion) {
        if (it != m.end()) m.erase(it);
      } else {
        m[w.key] = w;
      }
    }
    i = j;
  }
}

std::vector<Item> model_items(const Model& m) {
  std::vector<Item> v;
  for (const auto& [k, it] : m) v.push_back(it);
  return v;
}

// Random items over a small key space (so inputs collide with each other and the tree), sorted
// by key keeping the generated order among equal keys.
std::vector<Item> gen_items(size_t count, uint64_t key_space, bool deletions) {
  std::vector<Item> v;
  for (size_t n = 0; n < count; ++n) {
    const auto x = *rc::gen::arbitrary<uint64_t>();
    Item it;
    it.key = key((x % key_space) / 4, x % 4);
    it.seq = (x >> 20) % 64 + 1;
    it.deletion = deletions && ((x >> 30) % 3 == 0);
    if (!it.deletion) it.value.assign((x >> 32) % 17, static_cast<uint8_t>(x >> 40));
    v.push_back(it);
  }
  std::stable_sort(v.begin(), v.end(), [](const Item& a, const Item& b) { return a.key < b.key; });
  return v;
}

// A tree holding `items` (the first of each key), committed.
Model build(BlockCache& c, TrackingAlloc& a, Btree& t, const std::vector<Item>& items) {
  Model m;
  for (const Item& it : items) {
    if (it.deletion || m.contains(it.key)) continue;
    EXPECT_EQ(t.insert(it), sim::kOk);
    m[it.key] = it;
  }
  EXPECT_EQ(commit(c, a, {&t}, 1), sim::kOk);
  return m;
}

std::vector<Item> items_from(const std::vector<Item>& items, const Key& from, const Key& to = Key::max()) {
  std::vector<Item> out;
  for (const Item& it : items) {
    if (it.key >= from && it.key <= to) out.push_back(it);
  }
  return out;
}

std::string alloc_errors(const TrackingAlloc& a) {
  std::string s;
  for (const std::string& e : a.errors) s += e + "; ";
  return s;
}

// ---- parent_range ----

TEST(BtreeMerge, ParentRangeNeedsATallEnoughTree) {
  World w(1);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 64);
    TrackingAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    ParentInfo info;
    EXPECT_EQ(t.parent_range(key(1), &info), ENOENT);
    ASSERT_EQ(t.insert(Item{key(1), 1, false, {}}), sim::kOk);
    EXPECT_EQ(t.parent_range(key(1), &info), ENOENT) << "a lone leaf has no parent";
    for (uint64_t i = 2; i < 10; ++i) ASSERT_EQ(t.insert(Item{key(i), 1, false, {}}), sim::kOk);
    ASSERT_EQ(t.root().height, 2);
    ASSERT_EQ(t.parent_range(key(100), &info), sim::kOk);
    EXPECT_EQ(info.ref, t.root().ref);
    EXPECT_EQ(info.start, Key::min());
    EXPECT_EQ(info.end, Key::max());
  });
}

RC_GTEST_PROP(BtreeMerge, ParentRangesPartitionTheKeysAndHoldTheirSubtrees, ()) {
  const auto items = gen_items(*rc::gen::inRange<size_t>(1, 600), 2000, false);
  World w(2);
  std::string failure;
  w.run([&] {
    BlockCache c(*w.h, kFsid, 256);
    TrackingAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    Model m = build(c, a, t, items);
    for (uint8_t level = 1; level < t.root().height && failure.empty(); ++level) {
      std::vector<Item> seen;
      Key k = Key::min();
      for (;;) {
        ParentInfo info;
        if (t.parent_range(k, &info, level) != sim::kOk) {
          failure = "parent_range failed at " + key_string(k);
          break;
        }
        if (info.start != k || info.end < info.start || info.level != level) {
          failure = "level " + std::to_string(level) + ": asked at " + key_string(k) + ", got range [" +
                    key_string(info.start) + ", " + key_string(info.end) + "]: ranges do not tile the key space";
          break;
        }
        // Any key of the range leads to the same block.
        ParentInfo again;
        if (t.parent_range(info.end, &again, level) != sim::kOk || again.ref != info.ref || again.start != info.start) {
          failure = "the end of the range [" + key_string(info.start) + ", " + key_string(info.end) + "] leads elsewhere";
          break;
        }
        Btree sub(c, a.fns(), {info.ref, static_cast<uint8_t>(level + 1)}, small_config());
        for (const Item& it : contents(sub)) {
          if (it.key < info.start || it.key > info.end) {
            failure = "key " + key_string(it.key) + " of the subtree lies outside its range [" + key_string(info.start) +
                      ", " + key_string(info.end) + "]";
          }
          seen.push_back(it);
        }
        if (info.end == Key::max() || !failure.empty()) break;
        k = key_successor(info.end);
      }
      if (failure.empty() && !diff(seen, model_items(m)).empty()) {
        failure = "the subtrees at level " + std::to_string(level) + " together hold other items: " + diff(seen, model_items(m));
      }
    }
  });
  if (!failure.empty()) RC_FAIL(failure);
}

// ---- merge ----

TEST(BtreeMerge, MergeRejectsUnsortedItemsAndChangesNothing) {
  World w(3);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 64);
    TrackingAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    std::vector<Item> items = {Item{key(2), 1, false, {}}, Item{key(1), 1, false, {}}};
    MergeResult r;
    EXPECT_EQ(t.merge(items, {}, &r), EINVAL);
    EXPECT_EQ(t.root(), BtreeRoot{});
    items = {Item{key(1), 1, false, std::vector<uint8_t>(17, 0)}};
    EXPECT_EQ(t.merge(items, {}, &r), EINVAL) << "value over value_bytes_max";
  });
}

TEST(BtreeMerge, HighestSeqWinsAndDeletionsDelete) {
  World w(4);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 64);
    TrackingAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    ASSERT_EQ(t.insert(Item{key(1), 5, false, {1}}), sim::kOk);
    ASSERT_EQ(t.insert(Item{key(2), 5, false, {2}}), sim::kOk);
    ASSERT_EQ(t.insert(Item{key(3), 5, false, {3}}), sim::kOk);
    std::vector<Item> in = {
        Item{key(1), 4, false, {9}},                              // older than the tree's: ignored
        Item{key(2), 6, true, {}}, Item{key(2), 7, false, {7}},   // newest is a value: update
        Item{key(3), 8, true, {}}, Item{key(3), 6, false, {6}},   // newest is a deletion: erase
        Item{key(4), 2, true, {}},                                // deletion of nothing
        Item{key(5), 3, false, {5}}, Item{key(5), 3, false, {6}}, // equal seqs: the first
    };
    MergeResult r;
    ASSERT_EQ(t.merge(in, {}, &r), sim::kOk);
    EXPECT_EQ(r.changed, 3u);
    std::vector<Item> want = {Item{key(1), 5, false, {1}}, Item{key(2), 7, false, {7}}, Item{key(5), 3, false, {5}}};
    EXPECT_EQ(diff(contents(t), want), "");
    EXPECT_EQ(check_tree(c, t.root(), t.config()), "");
  });
}

// Merging in one call and in many budget-limited calls (committing in between at random) both
// equal the model, and every block the allocator handed out is referenced by exactly one tree.
RC_GTEST_PROP(BtreeMerge, MergeMatchesTheModelInOneOrManySteps, ()) {
  const auto initial = gen_items(*rc::gen::inRange<size_t>(0, 300), 1200, false);
  const auto input = gen_items(*rc::gen::inRange<size_t>(0, 500), 1200, true);
  const auto budget = *rc::gen::inRange<size_t>(1, 12);
  const auto commit_every = *rc::gen::inRange<size_t>(1, 5);
  World w(5);
  std::string failure;
  w.run([&] {
    BlockCache c(*w.h, kFsid, 128);
    TrackingAlloc a;
    Btree one(c, a.fns(), {}, small_config());
    Btree many(c, a.fns(), {}, small_config());
    Model m = build(c, a, one, initial);
    build(c, a, many, initial);
    model_merge(m, input);
    std::vector<Item> want = model_items(m);

    MergeResult r;
    sim::Errno e = one.merge(input, {}, &r);
    if (e != sim::kOk) failure = std::string("merge in one call: ") + sim::errno_name(e);
    if (failure.empty()) {
      if (std::string d = diff(contents(one), want); !d.empty()) failure = "merge in one call: " + d;
      if (std::string p = check_tree(c, one.root(), one.config()); !p.empty()) failure = "merge in one call: " + p;
    }

    Key next = Key::min();
    uint64_t super_seq = 2;
    for (size_t step = 0; failure.empty(); ++step) {
      std::vector<Item> rest = items_from(input, next);
      MergeOptions o;
      o.dirty_block_budget = budget;
      e = many.merge(rest, o, &r);
      if (e != sim::kOk && e != ERANGE) failure = "step " + std::to_string(step) + ": " + sim::errno_name(e);
      if (std::string p = check_tree(c, many.root(), many.config()); !p.empty()) failure = "step " + std::to_string(step) + ": " + p;
      size_t slack = 2 * (many.root().height + 1u) + 1;  // one key's change past the mark
      if (e == ERANGE && r.blocks_written > budget + slack) {
        failure = "step " + std::to_string(step) + " wrote " + std::to_string(r.blocks_written) + " blocks on a budget of " +
                  std::to_string(budget);
      }
      if (e == ERANGE && (r.next <= next || r.height_stop)) failure = "step " + std::to_string(step) + " made no progress";
      if (e != ERANGE) break;
      next = r.next;
      if (step % commit_every == 0 && commit(c, a, {&one, &many}, super_seq++) != sim::kOk) failure = "commit";
    }
    if (failure.empty()) {
      if (std::string d = diff(contents(many), want); !d.empty()) failure = "merge in steps of " + std::to_string(budget) + " blocks: " + d;
    }
    if (failure.empty()) {
      std::set<uint64_t> live = reachable(c, one.root());
      std::set<uint64_t> live_many = reachable(c, many.root());
      live.insert(live_many.begin(), live_many.end());
      if (live != a.owned) failure = "allocated blocks differ from the trees' blocks (leak or premature free)";
    }
    if (failure.empty() && !a.errors.empty()) failure = alloc_errors(a);
  });
  if (!failure.empty()) RC_FAIL(failure);
}

// ---- set_parent and rebalance: the log-merge protocol end to end ----

TEST(BtreeMerge, SetParentRejectsMismatchedSubtrees) {
  World w(6);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 256);
    TrackingAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    for (uint64_t i = 0; i < 100; ++i) ASSERT_EQ(t.insert(Item{key(i * 2), 1, false, {}}), sim::kOk);
    ASSERT_GE(t.root().height, 3);
    ParentInfo first, second;
    ASSERT_EQ(t.parent_range(Key::min(), &first), sim::kOk);
    ASSERT_EQ(t.parent_range(key_successor(first.end), &second), sim::kOk);
    BtreeRoot before = t.root();
    // The second parent's subtree does not fit the first's range, nor a leaf's height.
    EXPECT_EQ(t.set_parent(Key::min(), 1, {second.ref, 2}), EINVAL);
    EXPECT_EQ(t.set_parent(Key::min(), 1, {second.ref, 3}), EINVAL);
    EXPECT_EQ(t.set_parent(Key::min(), 1, {}), EINVAL);
    EXPECT_EQ(t.set_parent(Key::min(), t.root().height, {t.root().ref, t.root().height}), EINVAL);
    EXPECT_EQ(t.root(), before);
    // Putting the same subtree back is accepted and changes no item.
    std::vector<Item> items = contents(t);
    EXPECT_EQ(t.set_parent(Key::min(), 1, {first.ref, 2}), sim::kOk);
    EXPECT_EQ(diff(contents(t), items), "");
    EXPECT_EQ(check_tree(c, t.root(), t.config()), "");
  });
}

// Per fs_root parent: copy its subtree, merge that range's items into the copy with
// keep_height and a budget, splice it back with set_parent, rebalance the seam. On a height
// stop the rest of the range is merged into the whole tree (the server would ask a higher
// parent). The result equals the model, passes check_tree after every splice, and the
// allocator's blocks are exactly the tree's.
RC_GTEST_PROP(BtreeMerge, SplicedSubtreeMergesEqualTheModel, ()) {
  const auto initial = gen_items(*rc::gen::inRange<size_t>(0, 500), 1600, false);
  auto input = gen_items(*rc::gen::inRange<size_t>(0, 600), 1600, true);
  // Deletions of a run of existing keys empty whole leaves, so subtree roots lose children.
  const auto wipe_from = *rc::gen::inRange<size_t>(0, 500);
  const auto wipe_len = *rc::gen::inRange<size_t>(0, 300);
  for (size_t i = wipe_from; i < initial.size() && i < wipe_from + wipe_len; ++i) {
    input.push_back(Item{initial[i].key, 100, true, {}});
  }
  std::stable_sort(input.begin(), input.end(), [](const Item& a, const Item& b) { return a.key < b.key; });
  const auto budget = *rc::gen::element<size_t>(2, 8, 50, SIZE_MAX);
  const BtreeConfig config = small_config(*gen_fill_limit());
  World w(7);
  std::string failure;
  w.run([&] {
    BlockCache c(*w.h, kFsid, 256);
    TrackingAlloc a;
    Btree t(c, a.fns(), {}, config);
    Model m = build(c, a, t, initial);
    model_merge(m, input);
    uint64_t super_seq = 2;
    Key k = Key::min();
    auto fail = [&](const std::string& what) {
      if (failure.empty()) failure = "at " + key_string(k) + ": " + what;
    };
    size_t splices = 0, height_stops = 0, seams_fixed = 0;
    while (failure.empty()) {
      if (commit(c, a, {&t}, super_seq++) != sim::kOk) fail("commit");
      ParentInfo info;
      sim::Errno e = t.parent_range(k, &info);
      MergeResult r;
      if (e == ENOENT) {  // no parent: merge into the whole tree
        if (t.merge(items_from(input, k), {}, &r) != sim::kOk) fail("merge into a short tree");
        break;
      }
      if (e != sim::kOk) {
        fail("parent_range");
        break;
      }
      Btree sub(c, a.fns(), {info.ref, static_cast<uint8_t>(info.level + 1)}, config);
      MergeOptions o;
      o.keep_height = true;
      o.dirty_block_budget = budget;
      e = sub.merge(items_from(input, k, info.end), o, &r);
      if (e != sim::kOk && e != ERANGE) fail(std::string("subtree merge: ") + sim::errno_name(e));
      if (sub.root().height != info.level + 1) fail("the subtree merge changed its height");
      if (t.set_parent(k, info.level, sub.root()) != sim::kOk) fail("set_parent");
      if (!check_tree(c, t.root(), t.config()).empty()) ++seams_fixed;
      // The range start, not k: if the merge deleted the subtree's largest keys, k may now
      // route to the next sibling (parent keys are exact maxima).
      if (t.rebalance(info.start) != sim::kOk) fail("rebalance");
      ++splices;
      if (std::string p = check_tree(c, t.root(), t.config()); !p.empty()) fail("after splice and rebalance: " + p);
      if (e == ERANGE && !r.height_stop) {
        k = r.next;  // the next request starts where this one stopped
        continue;
      }
      if (e == ERANGE) {
        ++height_stops;
        if (t.merge(items_from(input, r.next, info.end), {}, &r) != sim::kOk) fail("merge after a height stop");
        if (std::string p = check_tree(c, t.root(), t.config()); !p.empty()) fail("after a height stop: " + p);
      }
      if (info.end == Key::max()) break;
      k = key_successor(info.end);
    }
    if (failure.empty()) {
      if (std::string d = diff(contents(t), model_items(m)); !d.empty()) {
        fail("after " + std::to_string(splices) + " splices and " + std::to_string(height_stops) + " height stops: " + d);
      }
    }
    if (failure.empty() && reachable(c, t.root()) != a.owned) fail("allocated blocks differ from the tree's blocks");
    if (failure.empty() && !a.errors.empty()) fail(alloc_errors(a));
    RC_TAG(splices > 1 ? "several splices" : "at most one splice");
    RC_TAG(height_stops > 0 ? "height stop" : "no height stop");
    RC_TAG(seams_fixed > 0 ? "rebalance fixed a seam" : "no seam to fix");
  });
  if (!failure.empty()) RC_FAIL(failure);
}

// ---- free_blocks ----

TEST(BtreeMerge, FreeBlocksNeedsABudgetOfAPath) {
  World w(8);
  w.run([&] {
    BlockCache c(*w.h, kFsid, 256);
    TrackingAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    FreeCursor cur;
    ASSERT_EQ(t.free_blocks(&cur, 1), sim::kOk);
    EXPECT_TRUE(cur.done) << "an empty tree is freed at once";
    for (uint64_t i = 0; i < 100; ++i) ASSERT_EQ(t.insert(Item{key(i), 1, false, {}}), sim::kOk);
    cur = {};
    EXPECT_EQ(t.free_blocks(&cur, t.root().height - 1), EINVAL);
    EXPECT_FALSE(cur.done);
  });
}

// A tree freed in calls of a random budget (committing in between so freed blocks get reused
// by other allocations) gives every block back exactly once, never more than budget per call.
RC_GTEST_PROP(BtreeMerge, FreeBlocksFreesEveryBlockOnce, ()) {
  const auto items = gen_items(*rc::gen::inRange<size_t>(0, 600), 3000, false);
  const auto extra = *rc::gen::inRange<size_t>(0, 10);
  World w(9);
  std::string failure;
  w.run([&] {
    BlockCache c(*w.h, kFsid, 64);
    TrackingAlloc a;
    Btree t(c, a.fns(), {}, small_config());
    build(c, a, t, items);
    Btree other(c, a.fns(), {}, small_config());  // takes the freed blocks as they are reused
    std::set<uint64_t> blocks = reachable(c, t.root());
    if (blocks != a.owned) failure = "the built tree's blocks differ from the allocator's";
    size_t budget = t.root().height + extra, freed_total = 0, calls = 0;
    FreeCursor cur;
    while (failure.empty() && !cur.done) {
      size_t freed = 0;
      Key before = cur.next;
      if (t.free_blocks(&cur, budget, &freed) != sim::kOk) failure = "free_blocks failed";
      ++calls;
      if (freed > budget) failure = "freed " + std::to_string(freed) + " blocks on a budget of " + std::to_string(budget);
      if (freed == 0 && !cur.done) failure = "no progress from " + key_string(before);
      freed_total += freed;
      if (other.insert(Item{key(calls), 1, false, {}}) != sim::kOk) failure = "insert into the other tree";
      if (commit(c, a, {&other}, calls + 1) != sim::kOk) failure = "commit";
    }
    if (failure.empty() && t.root() != BtreeRoot{}) failure = "the tree is not empty when done";
    if (failure.empty() && freed_total != blocks.size()) {
      failure = "freed " + std::to_string(freed_total) + " of " + std::to_string(blocks.size()) + " blocks";
    }
    if (failure.empty() && a.owned != reachable(c, other.root())) failure = "blocks left allocated after free_blocks";
    if (failure.empty() && !a.errors.empty()) failure = alloc_errors(a);
  });
  if (!failure.empty()) RC_FAIL(failure);
}

// ---- failures change nothing ----

// Runs each helper under injected faults (device read errors with a small cache, or the
// allocator running dry after a few blocks) until it succeeds; every failed attempt must leave
// the tree's root, items, the allocator's blocks and (for free_blocks) the cursor as they were.
RC_GTEST_PROP(BtreeMerge, FailedHelpersChangeNothing, ()) {
  const auto initial = gen_items(*rc::gen::inRange<size_t>(50, 400), 1600, false);
  const auto input = gen_items(*rc::gen::inRange<size_t>(1, 300), 1600, true);
  const auto read_rate = *rc::gen::element<uint32_t>(0, 20000, 100000, 300000);
  const BtreeConfig config = small_config(*gen_fill_limit());
  // Drawn up front: the body runs inside a simulation task.
  const auto draws = *rc::gen::container<std::vector<uint64_t>>(64, rc::gen::arbitrary<uint64_t>());
  size_t drawn = 0;
  auto draw = [&](uint64_t bound) { return draws[drawn++ % draws.size()] % bound; };
  World w(10);
  std::string failure;
  w.run([&] {
    BlockCache c(*w.h, kFsid, 16);  // small: clean blocks are evicted and read again
    TrackingAlloc a;
    Btree t(c, a.fns(), {}, config);
    Model m = build(c, a, t, initial);
    uint64_t super_seq = 2;
    size_t failed_attempts = 0;

    // Runs op under faults until it returns something other than an injected failure.
    auto attempt = [&](const std::string& name, Btree& tree, const std::function<sim::Errno()>& op,
                       const std::function<std::string()>& extra_state = {}) -> sim::Errno {
      for (size_t n = 0;; ++n) {
        BtreeRoot root = tree.root();
        std::set<uint64_t> owned = a.owned;
        std::vector<Item> items = extra_state ? std::vector<Item>{} : contents(tree);
        std::string state = extra_state ? extra_state() : "";
        bool faults = n < 20;  // then let it finish
        if (faults) {
          w.read_faults(read_rate);
          a.fail_after = read_rate == 0 || draw(2) == 0 ? draw(13) : SIZE_MAX;
        }
        sim::Errno e = op();
        w.read_faults(0);
        a.fail_after = SIZE_MAX;
        if (!faults || (e != ENOSPC && e != EIO)) return e;
        ++failed_attempts;
        std::string what = name + " failing with " + sim::errno_name(e) + " changed ";
        if (tree.root() != root) failure = what + "the root";
        else if (a.owned != owned) failure = what + "the allocated blocks";
        else if (extra_state && extra_state() != state) failure = what + "its state: " + state + " -> " + extra_state();
        else if (!extra_state && !diff(contents(tree), items).empty()) failure = what + "the items: " + diff(contents(tree), items);
        else if (!extra_state && !check_tree(c, tree.root(), tree.config()).empty()) failure = what + "the tree: " + check_tree(c, tree.root(), tree.config());
        if (!failure.empty()) return e;
      }
    };

    // Uncommitted changes first, so the merge also changes blocks in place, which an undo must
    // restore.
    for (uint64_t i = 0; i < 8; ++i) {
      Item it{key(1000 + i), 1, false, {}};
      if (t.insert(it) != sim::kOk) failure = "insert";
      m[it.key] = it;
    }

    // merge into the whole tree
    MergeResult r;
    std::vector<Item> first_half = items_from(input, Key::min(), key(200));
    model_merge(m, first_half);
    if (sim::Errno e = attempt("merge", t, [&] { return t.merge(first_half, {}, &r); }); e != sim::kOk && failure.empty()) {
      failure = std::string("merge: ") + sim::errno_name(e);
    }
    if (failure.empty() && commit(c, a, {&t}, super_seq++) != sim::kOk) failure = "commit";

    // a subtree merge spliced back with set_parent, then rebalance
    ParentInfo info;
    Key k = key(200);
    if (failure.empty() && t.root().height >= 2) {
      if (attempt("parent_range", t, [&] { return t.parent_range(k, &info); }) != sim::kOk) failure = "parent_range";
      if (failure.empty()) {
        Btree sub(c, a.fns(), {info.ref, static_cast<uint8_t>(info.level + 1)}, config);
        std::vector<Item> part = items_from(input, k, info.end);
        MergeOptions o;
        o.keep_height = true;
        sim::Errno e = attempt("subtree merge", sub, [&] { return sub.merge(part, o, &r); });
        if (e == ERANGE) {  // a height stop: only the keys before r.next went in
          part.erase(std::find_if(part.begin(), part.end(), [&](const Item& i) { return i.key >= r.next; }), part.end());
        } else if (e != sim::kOk && failure.empty()) {
          failure = std::string("subtree merge: ") + sim::errno_name(e);
        }
        model_merge(m, part);
        if (failure.empty() && attempt("set_parent", t, [&] { return t.set_parent(k, info.level, sub.root()); }) != sim::kOk) {
          if (failure.empty()) failure = "set_parent";
        }
        // set_parent alone may leave the seam out of bounds: only rebalance promises check_tree.
        if (failure.empty()) {
          BtreeRoot root = t.root();
          std::set<uint64_t> owned = a.owned;
          for (size_t n = 0; n < 20 && failure.empty(); ++n) {
            w.read_faults(read_rate);
            a.fail_after = draw(13);
            sim::Errno e2 = t.rebalance(info.start);
            w.read_faults(0);
            a.fail_after = SIZE_MAX;
            if (e2 == sim::kOk) break;
            if (t.root() != root || a.owned != owned) failure = std::string("rebalance failing with ") + sim::errno_name(e2) + " changed the tree";
          }
          if (failure.empty() && t.rebalance(info.start) != sim::kOk) failure = "rebalance";
          if (failure.empty()) {
            if (std::string p = check_tree(c, t.root(), t.config()); !p.empty()) failure = "after the splice: " + p;
          }
        }
      }
    }
    if (failure.empty()) {
      if (std::string d = diff(contents(t), model_items(m)); !d.empty()) failure = "contents: " + d;
    }
    if (failure.empty() && commit(c, a, {&t}, super_seq++) != sim::kOk) failure = "commit";

    // free the whole tree
    FreeCursor cur;
    while (failure.empty() && !cur.done) {
      sim::Errno e = attempt("free_blocks", t, [&] { return t.free_blocks(&cur, t.root().height + 2); },
                             [&] { return key_string(cur.next) + (cur.done ? " done" : ""); });
      if (e != sim::kOk && failure.empty()) failure = std::string("free_blocks: ") + sim::errno_name(e);
    }
    if (failure.empty() && !a.owned.empty()) failure = std::to_string(a.owned.size()) + " blocks left allocated";
    if (failure.empty() && !a.errors.empty()) failure = alloc_errors(a);
    RC_TAG(failed_attempts > 0 ? "some attempts failed" : "no attempt failed");
  });
  if (!failure.empty()) RC_FAIL(failure);
}

}  // namespace
}  // namespace simfs::fs
