// Forest and ItemCache over it: reads across the fs tree and log trees must agree with a model
// that picks, per key, the highest-seq item of all trees and hides keys whose winner is a
// deletion; the item cache's overlay and write_dirty() into the newest log tree must leave the
// forest equal to the model with the transaction applied.
#include "fs/forest/forest.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <exception>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "fs/btree/btree.h"
#include "fs/forest/item_cache.h"
#include "fs/testing/disk_world.h"

namespace simfs::fs {
namespace {

constexpr uint64_t kFsid = 0xF0E5;
constexpr size_t kKeys = 40;

Key key(uint64_t i) { return Key{1, i / 4, 2, i % 4, 0}; }

// A write: to tree `tree` (0: the fs tree, which holds no deletions and erases instead; 1 and 2:
// log trees, which keep deletion items), of key index `k`.
struct Write {
  int tree = 0;
  uint64_t k = 0;
  bool deletion = false;
  uint8_t value = 0;
};

void showValue(const Write& w, std::ostream& os) {
  os << "tree " << w.tree << (w.deletion ? " delete " : " put ") << w.k << (w.deletion ? "" : "=" + std::to_string(w.value));
}

rc::Gen<Write> gen_write() {
  return rc::gen::apply(
      [](int tree, uint64_t k, bool deletion, uint8_t value) { return Write{tree, k, deletion, value}; },
      rc::gen::inRange(0, 3), rc::gen::inRange<uint64_t>(0, kKeys), rc::gen::arbitrary<bool>(),
      rc::gen::arbitrary<uint8_t>());
}

// A transaction's change through the item cache.
struct Change {
  uint64_t k = 0;
  bool deletion = false;
  uint8_t value = 0;
};

void showValue(const Change& c, std::ostream& os) {
  os << (c.deletion ? "delete " : "put ") << c.k << (c.deletion ? "" : "=" + std::to_string(c.value));
}

rc::Gen<Change> gen_change() {
  return rc::gen::apply([](uint64_t k, bool deletion, uint8_t value) { return Change{k, deletion, value}; },
                        rc::gen::inRange<uint64_t>(0, kKeys), rc::gen::arbitrary<bool>(),
                        rc::gen::arbitrary<uint8_t>());
}

using Model = std::map<Key, std::vector<uint8_t>>;  // live keys and their values

struct Trees {
  explicit Trees(sim::DiskHandle& h) : cache(h, kFsid, 1024) {
    BtreeAllocator a{[this] { return next_blkno++; }, [](uint64_t) {}, [this] { return ++block_seq; }};
    BtreeConfig c;
    c.entries_bytes_max = 200;  // a few dozen items make multi-level trees
    c.value_bytes_max = 16;
    for (int i = 0; i < 3; ++i) trees.push_back(std::make_unique<Btree>(cache, a, BtreeRoot{}, c));
    forest.set_trees({trees[2].get(), trees[1].get(), trees[0].get()});
  }
  uint64_t next_blkno = kMetaBlknoFirstAllocatable;
  uint64_t block_seq = 0;
  BlockCache cache;
  std::vector<std::unique_ptr<Btree>> trees;
  Forest forest;
};

// The forest's answer for every key, by lookup and by a scan with next().
void expect_forest_equals(Forest& f, const Model& m) {
  for (uint64_t i = 0; i < kKeys; ++i) {
    Item it;
    sim::Errno e = f.lookup(key(i), &it);
    auto want = m.find(key(i));
    if (want == m.end()) {
      RC_ASSERT(e == ENOENT);
    } else {
      RC_ASSERT(e == sim::kOk);
      RC_ASSERT(it.value == want->second);
    }
  }
  Model seen;
  Key pos = Key::min();
  Item it;
  while (f.next(pos, Key::max(), &it) == sim::kOk) {
    RC_ASSERT(!it.deletion);
    seen[it.key] = it.value;
    pos = key_successor(it.key);
  }
  RC_ASSERT(seen == m);
}

RC_GTEST_PROP(Forest, HighestSeqWinsAndDeletionsHide, ()) {
  const auto writes = *rc::gen::container<std::vector<Write>>(gen_write());
  const auto changes = *rc::gen::container<std::vector<Change>>(gen_change());
  const Key from = key(*rc::gen::inRange<uint64_t>(0, kKeys));
  const Key last = key(*rc::gen::inRange<uint64_t>(0, kKeys));
  testing::DiskWorld w(1, 1 << 14);
  // RC_ASSERT throws; carry it out of the simulation's task so RapidCheck sees it and shrinks.
  std::exception_ptr failure;
  w.run([&] { try {
    Trees t(*w.h);
    std::vector<std::map<Key, Item>> contents(3);  // what each tree holds
    uint64_t seq = 0;
    for (const Write& wr : writes) {
      Item item{key(wr.k), ++seq, wr.deletion, wr.deletion ? std::vector<uint8_t>{} : std::vector<uint8_t>{wr.value}};
      Btree& tree = *t.trees[static_cast<size_t>(wr.tree)];
      if (wr.tree == 0 && wr.deletion) {
        sim::Errno e = tree.erase(item.key);
        RC_ASSERT(e == sim::kOk || e == ENOENT);
        contents[0].erase(item.key);
        continue;
      }
      sim::Errno e = tree.insert(item);
      if (e == EEXIST) e = tree.update(item);
      RC_ASSERT(e == sim::kOk);
      contents[static_cast<size_t>(wr.tree)][item.key] = item;
    }
    Model model;
    for (uint64_t i = 0; i < kKeys; ++i) {
      const Item* win = nullptr;
      for (const auto& c : contents) {
        auto it = c.find(key(i));
        if (it != c.end() && (!win || it->second.seq > win->seq)) win = &it->second;
      }
      if (win && !win->deletion) model[key(i)] = win->value;
    }
    expect_forest_equals(t.forest, model);

    // A bounded scan returns the first live key in [from, last].
    Item it;
    sim::Errno e = t.forest.next(from, last, &it);
    auto want = model.lower_bound(from);
    if (want == model.end() || want->first > last) {
      RC_ASSERT(e == ENOENT);
    } else {
      RC_ASSERT(e == sim::kOk);
      RC_ASSERT(it.key == want->first);
    }

    // A transaction over the forest, then written into the newest log tree.
    ItemCache items;
    std::vector<Item> live;
    RC_ASSERT(t.forest.read_range(Key::min(), Key::max(), &live) == sim::kOk);
    items.populate(Key::min(), Key::max(), std::move(live));
    Model after = model;
    for (const Change& c : changes) {
      if (c.deletion) {
        items.del(key(c.k));
        after.erase(key(c.k));
      } else {
        items.put(key(c.k), {c.value});
        after[key(c.k)] = {c.value};
      }
    }
    for (uint64_t i = 0; i < kKeys; ++i) {
      std::vector<uint8_t> v;
      sim::Errno ge = items.get(key(i), &v);
      auto a = after.find(key(i));
      RC_ASSERT((ge == sim::kOk) == (a != after.end()));
      if (a != after.end()) RC_ASSERT(v == a->second);
    }
    Model scanned;
    Key pos = Key::min();
    while (items.next(pos, Key::max(), &it) == sim::kOk) {
      scanned[it.key] = it.value;
      pos = key_successor(it.key);
    }
    RC_ASSERT(scanned == after);
    uint64_t added = 0, max_seq = 0;
    RC_ASSERT(items.write_dirty(*t.trees[2], seq + 1, &added, &max_seq) == sim::kOk);
    items.clear_dirty();
    expect_forest_equals(t.forest, after);
    // Deletions of keys the forest did not hold wrote nothing: every log item it holds is a
    // live key or hides one that an older tree still holds.
    RC_ASSERT(t.trees[2]->for_each(Key::min(), Key::max(), [&](const Item& li) {
      if (!li.deletion) return true;
      bool below = false;
      for (int i = 0; i < 2; ++i) {
        auto c = contents[static_cast<size_t>(i)].find(li.key);
        below |= c != contents[static_cast<size_t>(i)].end();
      }
      bool before = contents[2].count(li.key) > 0;
      RC_ASSERT(below || before);
      return true;
    }) == sim::kOk);
  } catch (...) { failure = std::current_exception(); } });
  if (failure) std::rethrow_exception(failure);
}

}  // namespace
}  // namespace simfs::fs
