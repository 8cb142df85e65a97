// The Btree's log-merge helpers: parent_range, set_parent, rebalance, merge, free_blocks.
// Contracts in btree.h; the protocol they serve in docs/format.md ("Log-merge helpers").
#include <utility>

#include "fs/base/assert.h"
#include "fs/btree/btree.h"
#include "fs/btree/btree_internal.h"

namespace simfs::fs {

using btree_detail::child_index;
using btree_detail::parent_entry;

sim::Errno Btree::parent_range(const Key& key, ParentInfo* out, uint8_t level) {
  if (root_.height <= level) return ENOENT;
  ParentInfo info{root_.ref, level, Key::min(), Key::max()};
  // Each step narrows the range to the chosen child's: it starts after the previous sibling's
  // largest key and ends at its own, except that the last child inherits its parent's end
  // (which is the same key below the right spine, and Key::max() on it).
  for (int l = root_.height - 1; l > level; --l) {
    std::shared_ptr<const BtreeNode> np;
    if (sim::Errno e = read_node(info.ref, static_cast<uint8_t>(l), &np, nullptr); e != sim::kOk) return e;
    const BtreeNode& n = *np;
    size_t i = child_index(n, key);
    if (i > 0) info.start = key_successor(n.entries[i - 1].key());
    if (i + 1 < n.entries.size()) info.end = n.entries[i].key();
    info.ref = n.entries[i].child;
  }
  *out = info;
  return sim::kOk;
}

sim::Errno Btree::set_parent(const Key& key, uint8_t level, const BtreeRoot& subtree) {
  if (level >= root_.height || subtree.height != level + 1 || subtree.ref.empty()) return EINVAL;

  // Read the path above `level` (keeping copies to change) and the target's range.
  std::vector<Level> path;
  Key start = Key::min(), end = Key::max();
  BlockRef ref = root_.ref;
  for (int l = root_.height - 1; l > level; --l) {
    Level lv;
    lv.ref = ref;
    std::shared_ptr<const BtreeNode> np;
    if (sim::Errno e = read_node(ref, static_cast<uint8_t>(l), &np, &lv.block); e != sim::kOk) return e;
    lv.node = *np;
    lv.child = child_index(lv.node, key);
    if (lv.child > 0) start = key_successor(lv.node.entries[lv.child - 1].key());
    if (lv.child + 1 < lv.node.entries.size()) end = lv.node.entries[lv.child].key();
    ref = lv.node.entries[lv.child].child;
    path.push_back(std::move(lv));
  }

  // The subtree's largest key is its root's last key (parent keys are exact); its smallest is
  // at the bottom of its left spine.
  std::shared_ptr<const BtreeNode> np;
  if (sim::Errno e = read_node(subtree.ref, level, &np, nullptr); e != sim::kOk) return e;
  Key largest = np->last_key();
  for (int l = level; l > 0; --l) {
    if (sim::Errno e = read_node(np->entries.front().child, static_cast<uint8_t>(l - 1), &np, nullptr); e != sim::kOk) {
      return e;
    }
  }
  Key smallest = np->entries.front().key();
  if (smallest < start || largest > end) return EINVAL;

  if (path.empty()) {  // the target is the root itself
    root_ = subtree;
    return sim::kOk;
  }
  // Copy the path bottom-up, pointing each level at the new block below it. No entry is added
  // or removed, so nothing splits or joins here; the keys only follow the new maxima.
  Writer w(*this);
  BlockRef child = subtree.ref;
  Key child_largest = largest;
  for (size_t d = path.size(); d-- > 0;) {
    Level& lv = path[d];
    lv.node.entries[lv.child] = parent_entry(child_largest, child);
    child_largest = lv.node.last_key();
    if (!w.place(Out{std::move(lv.node), lv.ref, lv.block}, &child)) return w.abort(ENOSPC);
  }
  w.apply();
  root_.ref = child;
  return sim::kOk;
}

sim::Errno Btree::rebalance(const Key& key) {
  if (root_.height == 0) return sim::kOk;
  Item probe;
  probe.key = key;
  return modify(Op::kRebalance, probe);
}

void Btree::finish_undo(bool keep) {
  Undo& u = *undo_;
  undo_ = nullptr;
  keep_height_ = false;
  if (keep) {
    for (uint64_t blkno : u.freed) alloc_.free(blkno);
    return;
  }
  // Restore what was overwritten in place, drop what was written anew, and forget the
  // deferred frees: those blocks are referenced again (or were among the new ones).
  for (auto& [blkno, saved] : u.saved) {
    saved.block->node = saved.node;
    saved.block->payload_stale = saved.payload_stale;
  }
  for (uint64_t blkno : u.allocated) {
    cache_.forget(blkno);  // never durable and no longer referenced: must not be written back
    alloc_.free(blkno);
  }
  root_ = u.root;
  txn_blocks_ = std::move(u.txn_blocks);
}

sim::Errno Btree::merge(std::span<const Item> items, const MergeOptions& options, MergeResult* result) {
  *result = MergeResult{};
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0 && items[i].key < items[i - 1].key) return EINVAL;
    if (!items[i].deletion && items[i].value.size() > config_.value_bytes_max) return EINVAL;
  }

  Undo undo;
  undo.root = root_;
  undo.txn_blocks = txn_blocks_;
  undo_ = &undo;
  keep_height_ = options.keep_height;

  size_t i = 0;
  while (i < items.size()) {
    const Key& key = items[i].key;
    if (i > 0 && undo.allocated.size() >= options.dirty_block_budget) {
      result->next = key;
      result->blocks_written = undo.allocated.size();
      finish_undo(true);
      return ERANGE;
    }
    BatchEdit b;
    b.mode = BatchEdit::Mode::kMerge;
    b.items = items.subspan(i);
    sim::Errno e = modify(Op::kBatch, items[i], &b);
    if (e == ERANGE && b.items.size() > 1) {
      // keep_height: the run would split, collapse or empty the root. Retry this key alone,
      // so the merge stops at the exact key that cannot go in.
      size_t j = i + 1;
      while (j < items.size() && items[j].key == key) ++j;
      b = BatchEdit{};
      b.mode = BatchEdit::Mode::kMerge;
      b.items = items.subspan(i, j - i);
      e = modify(Op::kBatch, items[i], &b);
    }
    if (e == ERANGE) {
      result->next = key;
      result->height_stop = true;
      result->blocks_written = undo.allocated.size();
      finish_undo(true);
      return ERANGE;
    }
    if (e != sim::kOk) {
      finish_undo(false);
      return e;
    }
    FS_ASSERT(b.consumed > 0);
    result->changed += b.changed;
    i += b.consumed;
  }
  result->blocks_written = undo.allocated.size();
  finish_undo(true);
  return sim::kOk;
}

sim::Errno Btree::free_blocks(FreeCursor* cursor, size_t budget, size_t* freed) {
  if (freed) *freed = 0;
  if (cursor->done || root_.height == 0) {
    cursor->done = true;
    root_ = {};
    return sim::kOk;
  }
  if (budget < root_.height) return EINVAL;  // the last leaf takes its whole path with it

  // Collect first and free at the end, so a failed read frees nothing. Invariant: every block
  // whose keys are all below `next` is collected, and no other; a parent goes with its last
  // child. Only parents are read: a leaf's number is in its parent.
  std::vector<uint64_t> gone;
  Key next = cursor->next;
  bool done = false;
  if (root_.height == 1) {
    gone.push_back(root_.ref.blkno);
    done = true;
  }
  while (!done && gone.size() < budget) {
    // The path of parents to `next`, whose blocks all still hold keys at or above it.
    struct Step {
      std::shared_ptr<const BtreeNode> node;
      BlockRef ref;
      size_t child;
    };
    std::vector<Step> path;
    BlockRef ref = root_.ref;
    for (int l = root_.height - 1; l >= 1; --l) {
      std::shared_ptr<const BtreeNode> np;
      if (sim::Errno e = read_node(ref, static_cast<uint8_t>(l), &np, nullptr); e != sim::kOk) return e;
      size_t i = btree_detail::lower_index(*np, next);
      if (i == np->entries.size()) return EIO;  // a parent below `next`: the cursor or tree is bad
      path.push_back({np, ref, i});
      ref = np->entries[i].child;
    }
    const Step& low = path.back();
    const BtreeNode& p = *low.node;
    size_t i = low.child;
    for (; i + 1 < p.entries.size() && gone.size() < budget; ++i) {
      gone.push_back(p.entries[i].child.blkno);
      next = key_successor(p.entries[i].key());
    }
    if (i + 1 < p.entries.size() || gone.size() >= budget) break;
    // The last leaf of this parent: it goes together with every ancestor it is the last
    // descendant of, so the cursor never stops inside a freed parent.
    size_t finished = 1;
    while (finished < path.size() && path[path.size() - 1 - finished].child + 1 ==
                                         path[path.size() - 1 - finished].node->entries.size()) {
      ++finished;
    }
    if (gone.size() + 1 + finished > budget) break;
    gone.push_back(p.entries[i].child.blkno);
    for (size_t k = 0; k < finished; ++k) gone.push_back(path[path.size() - 1 - k].ref.blkno);
    if (finished == path.size()) {
      done = true;  // the root went too
    } else {
      next = key_successor(p.entries[i].key());
    }
  }

  for (uint64_t blkno : gone) {
    txn_blocks_.erase(blkno);
    alloc_.free(blkno);
  }
  if (freed) *freed = gone.size();
  cursor->next = next;
  cursor->done = done;
  if (done) root_ = {};
  return sim::kOk;
}

}  // namespace simfs::fs
