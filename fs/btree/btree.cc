#include "fs/btree/btree.h"

#include <algorithm>
#include <utility>

#include "fs/base/assert.h"
#include "fs/btree/btree_internal.h"

namespace simfs::fs {

using btree_detail::lower_index;
using btree_detail::parent_entry;
using btree_detail::split_node;
using btree_detail::upper_index;

Btree::Btree(BlockCache& cache, BtreeAllocator alloc, BtreeRoot root, BtreeConfig config)
    : cache_(cache), alloc_(std::move(alloc)), root_(root), config_(config) {
  FS_ASSERT(config_.valid());
  FS_ASSERT(alloc_.alloc && alloc_.free && alloc_.next_seq);
  FS_ASSERT((root_.height == 0) == root_.ref.empty());
}

sim::Errno Btree::read_node(BlockRef ref, uint8_t level, std::shared_ptr<const BtreeNode>* out, BlockPtr* block) {
  BlockPtr b;
  if (sim::Errno e = cache_.read(ref, btree_magic(level), &b, /*want_payload=*/false); e != sim::kOk) return e;
  if (!b->node) {
    auto n = std::make_shared<BtreeNode>();
    std::string problem;
    // Intact but malformed contents are a broken structure: retrying cannot help.
    if (!decode_node(b->payload(), n.get(), &problem)) return EIO;
    b->node = std::move(n);
  }
  if (b->node->level != level || b->node->entries.empty()) return EIO;
  *out = b->node;
  if (block) *block = std::move(b);
  return sim::kOk;
}

sim::Errno Btree::lookup(const Key& key, Item* out) {
  // The first item >= key is the one we want, if it has exactly this key.
  Item found;
  if (sim::Errno e = next(key, &found); e != sim::kOk) return e;
  if (found.key != key) return ENOENT;
  *out = std::move(found);
  return sim::kOk;
}

sim::Errno Btree::next(const Key& key, Item* out) {
  // The first child whose largest key is >= key holds the answer, so no backtracking.
  BlockRef ref = root_.ref;
  for (int level = root_.height - 1; level >= 0; --level) {
    std::shared_ptr<const BtreeNode> np;
    if (sim::Errno e = read_node(ref, static_cast<uint8_t>(level), &np, nullptr); e != sim::kOk) return e;
    const BtreeNode& n = *np;
    size_t i = lower_index(n, key);
    if (i == n.entries.size()) return ENOENT;
    if (n.leaf()) {
      *out = n.entries[i].item;
      return sim::kOk;
    }
    ref = n.entries[i].child;
  }
  return ENOENT;
}

sim::Errno Btree::prev_in(BlockRef ref, uint8_t level, const Key& key, Item* out) {
  std::shared_ptr<const BtreeNode> np;
  if (sim::Errno e = read_node(ref, level, &np, nullptr); e != sim::kOk) return e;
  const BtreeNode& n = *np;
  if (n.leaf()) {
    size_t i = upper_index(n, key);
    if (i == 0) return ENOENT;
    *out = n.entries[i - 1].item;
    return sim::kOk;
  }
  // The answer is in the first child reaching key, or else it is the largest item of the child
  // before it (whose keys are all < key).
  size_t i = std::min(lower_index(n, key), n.entries.size() - 1);
  sim::Errno e = prev_in(n.entries[i].child, static_cast<uint8_t>(level - 1), key, out);
  if (e != ENOENT || i == 0) return e;
  return prev_in(n.entries[i - 1].child, static_cast<uint8_t>(level - 1), key, out);
}

sim::Errno Btree::prev(const Key& key, Item* out) {
  if (root_.height == 0) return ENOENT;
  return prev_in(root_.ref, static_cast<uint8_t>(root_.height - 1), key, out);
}

sim::Errno Btree::for_each(const Key& first, const Key& last, const std::function<bool(const Item&)>& fn) {
  // One descent per leaf, not per item (a descent per item was a third of a multi_mount run):
  // descend to the leaf holding the first item >= at, hand out its items in order, then go on
  // from the successor of its last key. The leaf is an immutable node, so fn may change the
  // tree: later leaves are found from the root again. Keys strictly increase, so this ends.
  Key at = first;
  for (;;) {
    BlockRef ref = root_.ref;
    std::shared_ptr<const BtreeNode> leaf;
    for (int level = root_.height - 1; level >= 0 && !leaf; --level) {
      std::shared_ptr<const BtreeNode> np;
      if (sim::Errno e = read_node(ref, static_cast<uint8_t>(level), &np, nullptr); e != sim::kOk) return e;
      // The first child whose largest key is >= at holds the answer, so no backtracking.
      const size_t i = lower_index(*np, at);
      if (i == np->entries.size()) return sim::kOk;
      if (np->leaf()) {
        leaf = std::move(np);
      } else {
        ref = np->entries[i].child;
      }
    }
    if (!leaf) return sim::kOk;  // an empty tree
    for (size_t i = lower_index(*leaf, at); i < leaf->entries.size(); ++i) {
      const Item& item = leaf->entries[i].item;
      if (item.key > last || !fn(item) || item.key == Key::max()) return sim::kOk;
    }
    at = key_successor(leaf->entries.back().item.key);
  }
}

bool Btree::path_out_of_bounds(const std::vector<Level>& path) const {
  for (size_t d = 0; d < path.size(); ++d) {
    const BtreeNode& n = path[d].node;
    size_t used = n.bytes_used();
    if (used > config_.entries_bytes_max) return true;
    if (d == 0 ? (n.entries.empty() || (!n.leaf() && n.entries.size() == 1)) : used < config_.low_water()) return true;
  }
  return false;
}

sim::Errno Btree::insert(const Item& item) { return modify(Op::kInsert, item); }
sim::Errno Btree::update(const Item& item) { return modify(Op::kUpdate, item); }
sim::Errno Btree::erase(const Key& key) {
  Item item;
  item.key = key;
  return modify(Op::kErase, item);
}

sim::Errno Btree::put_batch(std::span<const Item> items, size_t* applied, size_t* added) {
  *applied = *added = 0;
  if (items.empty()) return sim::kOk;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0 && !(items[i - 1].key < items[i].key)) return EINVAL;
    if (items[i].value.size() > config_.value_bytes_max) return EINVAL;
  }
  BatchEdit b;
  b.items = items;
  sim::Errno e = modify(Op::kBatch, items[0], &b);
  if (e != sim::kOk) return e;
  *applied = b.consumed;
  *added = b.added;
  return sim::kOk;
}

bool Btree::edit_leaf(std::vector<BtreeEntry>& entries, const Key& end, BatchEdit* b) const {
  // Growth is bounded so that one split still leaves both halves within the fill limit: the
  // leaf holds at most 1.5 blocks' worth, and no entry is over half a block.
  const size_t grow_max = config_.entries_bytes_max / 2;
  const auto& items = b->items;
  size_t grown = 0, pos = 0, i = 0;
  bool changed = false;
  while (i < items.size() && (i == 0 || items[i].key <= end)) {
    size_t win = i, j = i + 1;
    if (b->mode == BatchEdit::Mode::kMerge) {
      for (; j < items.size() && items[j].key == items[i].key; ++j) {
        if (items[j].seq > items[win].seq) win = j;
      }
    }
    const Item& it = items[win];
    while (pos < entries.size() && entries[pos].key() < it.key) ++pos;  // keys only increase
    const bool present = pos < entries.size() && entries[pos].key() == it.key;
    if (b->mode == BatchEdit::Mode::kMerge) {
      if (present && entries[pos].item.seq >= it.seq) {  // the tree's version is as new
        i = j;
        continue;
      }
      if (it.deletion) {
        if (present) {
          entries.erase(entries.begin() + static_cast<ptrdiff_t>(pos));
          changed = true;
          ++b->changed;
        }
        i = j;
        continue;
      }
    }
    const size_t bytes = kBtreeLeafItemFixedBytes + it.value.size();
    const size_t old = present ? kBtreeLeafItemFixedBytes + entries[pos].item.value.size() : 0;
    const size_t growth = bytes > old ? bytes - old : 0;
    if (i > 0 && grown + growth > grow_max) break;
    grown += growth;
    if (present) {
      entries[pos].item = it;
    } else {
      entries.insert(entries.begin() + static_cast<ptrdiff_t>(pos), BtreeEntry{it, {}});
      ++b->added;
    }
    changed = true;
    ++b->changed;
    i = j;
  }
  b->consumed = i;
  return changed;
}

sim::Errno Btree::modify(Op op, const Item& item, BatchEdit* batch) {
  if (op != Op::kErase && op != Op::kBatch && item.value.size() > config_.value_bytes_max) return EINVAL;
  const size_t cap = config_.entries_bytes_max;
  Writer w(*this);

  if (root_.height == 0) {
    if (op != Op::kInsert && op != Op::kBatch) return ENOENT;
    if (keep_height_) return ERANGE;
    Out leaf;
    if (op == Op::kBatch) {
      if (!edit_leaf(leaf.node.entries, Key::max(), batch)) return sim::kOk;
    } else {
      leaf.node.entries.push_back({item, {}});
    }
    BlockRef ref;
    if (!w.place(std::move(leaf), &ref)) return w.abort(ENOSPC);
    w.apply();
    root_ = {ref, 1};
    return sim::kOk;
  }

  // Read the whole path first: a failed read leaves the tree untouched. `end`: the last key
  // routed to the leaf (the smallest parent key above it that is not its parent's last).
  std::vector<Level> path;
  path.reserve(root_.height);
  Key end = Key::max();
  BlockRef ref = root_.ref;
  for (int level = root_.height - 1; level >= 0; --level) {
    Level l;
    l.ref = ref;
    std::shared_ptr<const BtreeNode> np;
    if (sim::Errno e = read_node(ref, static_cast<uint8_t>(level), &np, &l.block); e != sim::kOk) return e;
    // A private copy to change, with room for the entry an insert adds.
    l.node.level = np->level;
    l.node.entries.reserve(np->entries.size() + 1);
    l.node.entries.assign(np->entries.begin(), np->entries.end());
    if (!l.node.leaf()) {
      size_t i = lower_index(l.node, item.key);
      if (i == l.node.entries.size()) {
        // Beyond the largest key: only an insert continues, appending to the last child
        // (and a rebalance, which walks the path an insert would take).
        if (op != Op::kInsert && op != Op::kRebalance && op != Op::kBatch) return ENOENT;
        i = l.node.entries.size() - 1;
      }
      if (i + 1 < l.node.entries.size()) end = std::min(end, l.node.entries[i].key());
      l.child = i;
      ref = l.node.entries[i].child;
    }
    path.push_back(std::move(l));
  }

  std::vector<BtreeEntry>& items = path.back().node.entries;
  size_t i = lower_index(path.back().node, item.key);
  bool found = i < items.size() && items[i].key() == item.key;
  switch (op) {
    case Op::kInsert:
      if (found) return EEXIST;
      items.insert(items.begin() + static_cast<ptrdiff_t>(i), BtreeEntry{item, {}});
      break;
    case Op::kUpdate:
      if (!found) return ENOENT;
      items[i].item = item;
      break;
    case Op::kErase:
      if (!found) return ENOENT;
      items.erase(items.begin() + static_cast<ptrdiff_t>(i));
      break;
    case Op::kRebalance:
      // Only blocks outside the fill bounds need changing; a sound path is left alone rather
      // than copied.
      if (!path_out_of_bounds(path)) return sim::kOk;
      break;
    case Op::kBatch:
      if (!edit_leaf(items, end, batch)) return sim::kOk;  // nothing newer: nothing to write
      break;
  }

  // Bottom-up: balance each changed node against its parent, write it, and fix the parent's
  // entries (their keys follow the children's largest keys).
  Out cur{std::move(path.back().node), path.back().ref, path.back().block};
  for (size_t d = path.size() - 1; d > 0; --d) {
    Level& parent = path[d - 1];
    size_t lo = parent.child, hi = parent.child;
    std::vector<Out> outs;
    size_t used = cur.node.bytes_used();
    if (used > cap) {
      // Split to the left: the new block takes the smaller keys, the existing one keeps its
      // largest key.
      auto [left, right] = split_node(std::move(cur.node));
      outs.push_back({std::move(left), {}, nullptr});
      outs.push_back({std::move(right), cur.origin, cur.block});
    } else if (used < config_.low_water()) {
      // Join with a sibling, or refill from it when both do not fit in one block.
      size_t s = parent.child > 0 ? parent.child - 1 : parent.child + 1;
      if (s >= parent.node.entries.size()) return w.abort(EIO);  // a non-root parent with one child
      Out sib{{}, parent.node.entries[s].child, nullptr};
      std::shared_ptr<const BtreeNode> sp;
      if (sim::Errno e = read_node(sib.origin, cur.node.level, &sp, &sib.block); e != sim::kOk) return w.abort(e);
      sib.node = *sp;
      lo = std::min(s, parent.child);
      hi = std::max(s, parent.child);
      Out& left = s < parent.child ? sib : cur;
      Out& right = s < parent.child ? cur : sib;
      BtreeNode all;
      all.level = cur.node.level;
      all.entries = std::move(left.node.entries);
      for (BtreeEntry& e : right.node.entries) all.entries.push_back(std::move(e));
      if (all.bytes_used() <= cap) {
        w.retire(left.origin);
        outs.push_back({std::move(all), right.origin, right.block});
      } else {
        auto [l, r] = split_node(std::move(all));
        outs.push_back({std::move(l), left.origin, left.block});
        outs.push_back({std::move(r), right.origin, right.block});
      }
    } else {
      outs.push_back(std::move(cur));
    }

    std::vector<BtreeEntry> repl;
    for (Out& o : outs) {
      if (o.node.entries.empty()) return w.abort(EIO);  // only when the sibling was empty: corrupt
      Key last = o.node.last_key();
      BlockRef r;
      if (!w.place(std::move(o), &r)) return w.abort(ENOSPC);
      repl.push_back(parent_entry(last, r));
    }
    std::vector<BtreeEntry>& pe = parent.node.entries;
    pe.erase(pe.begin() + static_cast<ptrdiff_t>(lo), pe.begin() + static_cast<ptrdiff_t>(hi) + 1);
    pe.insert(pe.begin() + static_cast<ptrdiff_t>(lo), repl.begin(), repl.end());
    cur = Out{std::move(parent.node), parent.ref, parent.block};
  }

  // The root has no siblings: it shrinks or grows the tree by a level instead, unless the
  // caller asked to keep the height (a merge into a subtree that is spliced back at its level).
  BtreeRoot new_root = root_;
  if (keep_height_ && (cur.node.entries.empty() || (!cur.node.leaf() && cur.node.entries.size() == 1) ||
                       cur.node.bytes_used() > cap)) {
    return w.abort(ERANGE);
  }
  if (cur.node.entries.empty()) {
    w.retire(cur.origin);
    new_root = {};
  } else if (!cur.node.leaf() && cur.node.entries.size() == 1) {
    w.retire(cur.origin);
    new_root = {cur.node.entries[0].child, static_cast<uint8_t>(root_.height - 1)};
  } else if (cur.node.bytes_used() > cap) {
    if (root_.height >= kBtreeHeightMax) return w.abort(EFBIG);
    uint8_t level = cur.node.level;
    auto [left, right] = split_node(std::move(cur.node));
    Key lkey = left.last_key(), rkey = right.last_key();
    BlockRef lref, rref, top_ref;
    if (!w.place({std::move(left), {}, nullptr}, &lref)) return w.abort(ENOSPC);
    if (!w.place({std::move(right), cur.origin, cur.block}, &rref)) return w.abort(ENOSPC);
    Out top;
    top.node.level = static_cast<uint8_t>(level + 1);
    top.node.entries = {parent_entry(lkey, lref), parent_entry(rkey, rref)};
    if (!w.place(std::move(top), &top_ref)) return w.abort(ENOSPC);
    new_root = {top_ref, static_cast<uint8_t>(root_.height + 1)};
  } else {
    if (!w.place(std::move(cur), &new_root.ref)) return w.abort(ENOSPC);
  }
  w.apply();
  root_ = new_root;
  return sim::kOk;
}

}  // namespace simfs::fs
