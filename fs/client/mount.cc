#include "fs/client/mount.h"

#include <algorithm>

#include "fs/base/assert.h"
#include "fs/format/items.h"

namespace simfs::fs {

namespace {
// Data block 0 is never handed out, like metadata block 0, so 0 can mean "hole".
constexpr uint64_t kDataBlknoFirst = 1;
}  // namespace

sim::Errno mkfs(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, uint64_t fsid, uint32_t btree_fill) {
  if (!btree_fill_valid(btree_fill)) return EINVAL;
  const uint64_t meta_blocks = meta.block_count();
  const uint64_t data_blocks = data.block_count();
  const uint64_t first = kMetaBlknoFirstAllocatable;
  const uint64_t carve = MetaAlloc::kAvailTarget;
  if (meta_blocks < first + 4 * carve || data_blocks < 2) return ENOSPC;
  if (data.block_size() != kDataBlockSize) return EINVAL;

  SuperBlock sb;
  sb.fsid = fsid;
  sb.seq = 0;
  sb.format_hash = format_hash();
  sb.next_ino = kFirstIno;
  sb.inode_count = 1;
  sb.meta_blocks_total = meta_blocks;
  sb.data_blocks_total = data_blocks;
  sb.btree_fill = btree_fill;

  MountConfig cfg;
  cfg.timer = false;
  std::unique_ptr<Mount> m(new Mount(env, meta, data, cfg, sb));
  m->meta_->mkfs_seed_avail(first, carve);
  sim::Errno e = m->meta_->mkfs_free_range(first + carve, meta_blocks - first - carve);
  if (!e) e = m->data_alloc_->free_range(kDataBlknoFirst, data_blocks - kDataBlknoFirst);
  if (e) return e;
  InodeValue root;
  root.mode = kModeDir | 0755;
  root.nlink = 2;
  root.atime_ns = root.mtime_ns = root.ctime_ns = m->now_ns();
  m->items_->put(inode_key(kRootIno), encode_inode(root));
  m->touch();
  sim::LockGuard g(m->mu_);
  return m->commit();
}

Mount::Mount(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, MountConfig cfg, const SuperBlock& sb)
    : env_(env), meta_disk_(meta), data_(data), cfg_(cfg), sb_(sb), next_ino_(sb.next_ino), inode_count_(sb.inode_count),
      alive_(std::make_shared<bool>(true)) {
  cache_ = std::make_unique<BlockCache>(meta, sb.fsid, cfg.cache_blocks);
  meta_ = std::make_unique<MetaAlloc>(*cache_, sb);
  data_alloc_ = std::make_unique<BitmapAlloc>(*cache_, meta_->btree_allocator(), kAllocData, sb.data_alloc);
  fs_tree_ = std::make_unique<Btree>(*cache_, meta_->btree_allocator(), sb.fs_root, forest_btree_config(sb.btree_fill));
  logs_tree_ =
      std::make_unique<Btree>(*cache_, meta_->btree_allocator(), sb.logs_root, forest_btree_config(sb.btree_fill));
  items_ = std::make_unique<ItemCache>(forest_);
  if (sb.logs_root.height == 0) add_open_log_tree(1);  // mkfs
  if (cfg.bugs.has(Bug::kReuseBeforeCommit)) meta_->plant_reuse_before_commit();
}

Mount::~Mount() { *alive_ = false; }

sim::Errno Mount::open(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, MountConfig cfg,
                       std::unique_ptr<Mount>* out) {
  out->reset();
  SuperBlock sb;
  sim::Errno e = read_super(meta, std::nullopt, &sb);
  if (e) return e;
  // A different layout must not be interpreted with this binary's rules.
  if (sb.format_version != kFormatVersion || sb.format_hash != format_hash()) return EINVAL;
  if (sb.meta_blocks_total != meta.block_count() || sb.data_blocks_total != data.block_count()) return EINVAL;
  if (!btree_fill_valid(sb.btree_fill)) return EINVAL;
  std::unique_ptr<Mount> m(new Mount(env, meta, data, cfg, sb));
  e = m->meta_->load();
  if (!e) e = m->load_log_trees();
  if (e) return e;
  env.event("fs_mount", {{"seq", sb.seq}, {"next_ino", sb.next_ino}});
  if (cfg.timer) {
    std::shared_ptr<bool> alive = m->alive_;
    Mount* self = m.get();
    env.spawn("fs.commit_timer", [alive, self] {
      while (*alive) {
        sim::this_task::sleep(self->cfg_.commit_interval);
        if (!*alive || self->stopping_) return;
        sim::LockGuard g(self->mu_);
        if (!*alive || self->stopping_) return;
        (void)self->commit();
      }
    }, /*daemon=*/true);
  }
  *out = std::move(m);
  return 0;
}

sim::Errno Mount::commit() {
  if (failed_) return failed_;
  // A finalized log tree still to merge is work too: idle commits (the timer) move it along.
  if (!dirty_ && items_->dirty_count() == 0 && logs_.size() < 2) {
    stats_.ops_durable = stats_.ops_committing = stats_.ops_done;  // nothing of theirs to write
    return 0;
  }
  stats_.ops_committing = stats_.ops_done;
  sim::Errno e = do_commit();
  if (e) {
    failed_ = e;
    stop_cause_ = e;
    env_.event("fs_stopped", {{"err", sim::errno_name(e)}}, /*fault=*/true);
  }
  return e;
}

sim::Errno Mount::do_commit() {
  SuperBlock next = sb_;
  const uint64_t item_seq = meta_->next_seq();
  LogTree& open = logs_.back();
  uint64_t added = 0;
  sim::Errno e = items_->write_dirty(*open.tree, item_seq, &added);
  // The first change after a commit copies the root (copy-on-write), so a root unchanged
  // since the record means nothing was written.
  if (!e && open.tree->root() != open.v.root) {
    open.v.root = open.tree->root();
    open.v.item_count += added;
    open.v.max_seq = item_seq;
  }
  // Data blocks this transaction stopped using become free in this commit: nothing can
  // allocate them before the super that records it is durable, since commit holds the mutex.
  std::sort(data_txn_free_.begin(), data_txn_free_.end());
  for (size_t i = 0; i < data_txn_free_.size() && !e;) {
    size_t j = i + 1;
    while (j < data_txn_free_.size() && data_txn_free_[j] == data_txn_free_[j - 1] + 1) ++j;
    e = data_alloc_->free_range(data_txn_free_[i], j - i);
    i = j;
  }
  // Merge before finalizing, so a tree is merged only from a commit after the one that
  // finalized it (its blocks are all durable by then).
  if (!e) e = merge_step();
  if (!e && logs_.size() == 1 && logs_.back().v.item_count > 0 &&
      (logs_.back().v.item_count >= cfg_.log_finalize_items || force_merge_)) {
    logs_.back().v.finalized = true;
    ++stats_.log_finalized;
    env_.event("fs_log_finalize",
                      {{"nr", logs_.back().nr}, {"items", logs_.back().v.item_count}});
    add_open_log_tree(logs_.back().nr + 1);
  }
  if (!e) e = write_log_records();
  if (!e) e = meta_->prepare_commit(&next);
  if (e) return e;
  next.seq = sb_.seq + 1;
  next.next_ino = next_ino_;
  next.inode_count = inode_count_;
  next.fs_root = fs_tree_->root();
  next.logs_root = logs_tree_->root();
  next.data_alloc = data_alloc_->alloc_root();
  // Ordered data: every data block a committed extent maps is durable before the super.
  if (!data_txn_alloc_.empty() && !cfg_.bugs.has(Bug::kNoDataFlush)) {  // BUG (planted) when skipped
    e = data_.flush();
    if (e) return e;
  }
  const size_t blocks = cache_->dirty_count();
  e = cache_->writeback(next);
  if (e) return e;
  fs_tree_->committed();
  logs_tree_->committed();
  for (LogTree& l : logs_) l.tree->committed();
  data_alloc_->committed();
  meta_->committed();
  items_->clear_dirty();
  data_txn_alloc_.clear();
  data_txn_free_.clear();
  dirty_ = false;
  sb_ = next;
  ++stats_.commits;
  stats_.commit_blocks += blocks;
  stats_.ops_durable = stats_.ops_committing;
  env_.event("fs_commit", {{"seq", sb_.seq}, {"blocks", blocks}, {"ops", stats_.ops_durable}});
  return 0;
}

void Mount::add_open_log_tree(uint64_t nr) {
  LogTree l;
  l.nr = nr;
  l.tree = std::make_unique<Btree>(*cache_, meta_->btree_allocator(), BtreeRoot{}, forest_btree_config(sb_.btree_fill));
  logs_.push_back(std::move(l));
  forest_changed();
}

void Mount::forest_changed() {
  // Newest first: the common case finds the winner early, though every tree is asked.
  std::vector<Btree*> trees;
  for (auto it = logs_.rbegin(); it != logs_.rend(); ++it) trees.push_back(it->tree.get());
  trees.push_back(fs_tree_.get());
  forest_.set_trees(std::move(trees));
}

sim::Errno Mount::load_log_trees() {
  logs_.clear();
  const Key first = log_tree_key(cfg_.rid, 0), last = log_tree_key(cfg_.rid, UINT64_MAX);
  bool bad = false;
  sim::Errno e = logs_tree_->for_each(first, last, [&](const Item& it) {
    LogTree l;
    l.nr = it.key.first;
    // Only the newest tree may be open; every other one waits for its merge.
    if (it.deletion || !decode_log_tree(it.value, &l.v) || (!logs_.empty() && !logs_.back().v.finalized)) {
      bad = true;
      return false;
    }
    l.tree = std::make_unique<Btree>(*cache_, meta_->btree_allocator(), l.v.root, forest_btree_config(sb_.btree_fill));
    l.recorded = true;
    logs_.push_back(std::move(l));
    return true;
  });
  if (e) return e;
  if (bad) return EIO;
  if (logs_.empty() || logs_.back().v.finalized) {
    add_open_log_tree(logs_.empty() ? 1 : logs_.back().nr + 1);
  } else {
    forest_changed();
  }
  return 0;
}

sim::Errno Mount::merge_step() {
  if (logs_.size() < 2) return 0;  // only the open tree
  LogTree& f = logs_.front();
  constexpr size_t kBatchItems = 512;
  std::vector<Item> batch;
  const bool drop_deletions = cfg_.bugs.has(Bug::kMergeDropsDeletions);
  Key batch_last = f.v.merge_next;
  bool seen_any = false;
  sim::Errno e = f.tree->for_each(f.v.merge_next, Key::max(), [&](const Item& it) {
    seen_any = true;
    batch_last = it.key;
    if (!(it.deletion && drop_deletions)) batch.push_back(it);  // BUG (planted) when dropped
    return batch.size() < kBatchItems;
  });
  if (e) return e;
  // Stay out of the space the reserve keeps for commits; one key may overshoot the budget by a
  // path copy and a split per level. (Freeing a fully merged tree needs no space: below.)
  const uint64_t overshoot = 2u * (fs_tree_->root().height + 1u) + 1u;
  const uint64_t floor = cfg_.meta_reserve / 4 + overshoot;
  const uint64_t free = meta_->free_blocks();
  if (seen_any && free <= floor) return 0;
  const size_t budget = !seen_any    ? 0
                        : force_merge_ ? static_cast<size_t>(free - floor)
                                       : std::min<size_t>(cfg_.merge_blocks_per_commit, free - floor);
  if (!batch.empty()) {
    MergeResult r;
    e = fs_tree_->merge(batch, MergeOptions{budget, false}, &r);
    if (e == ERANGE) {
      stats_.merged_items += static_cast<uint64_t>(
          std::lower_bound(batch.begin(), batch.end(), r.next, [](const Item& a, const Key& k) { return a.key < k; }) -
          batch.begin());
      f.v.merge_next = r.next;
      if (cfg_.bugs.has(Bug::kMergeResumeSkips)) f.v.merge_next = key_successor(batch.back().key);  // BUG (planted)
      return 0;
    }
    if (e) return e;
    stats_.merged_items += batch.size();
    if (batch.size() == kBatchItems) {
      if (batch_last == Key::max()) return EIO;  // cannot be: no item lives at Key::max()
      f.v.merge_next = key_successor(batch_last);
      return 0;
    }
  }
  // Every item is in the fs tree: free the log tree and erase its record.
  FreeCursor cursor;
  while (!cursor.done) {
    e = f.tree->free_blocks(&cursor, std::max<size_t>(256, kBtreeHeightMax));
    if (e) return e;
  }
  if (f.recorded) erased_logs_.push_back(f.nr);
  ++stats_.log_merged;
  env_.event("fs_log_merged", {{"nr", f.nr}, {"items", f.v.item_count}});
  logs_.erase(logs_.begin());
  forest_changed();
  return 0;
}

sim::Errno Mount::write_log_records() {
  for (uint64_t nr : erased_logs_) {
    if (sim::Errno e = logs_tree_->erase(log_tree_key(cfg_.rid, nr))) return e;
  }
  erased_logs_.clear();
  for (LogTree& l : logs_) {
    Item rec{log_tree_key(cfg_.rid, l.nr), 0, false, encode_log_tree(l.v)};
    Item old;
    if (l.recorded) {
      sim::Errno e = logs_tree_->lookup(rec.key, &old);
      if (e) return e;
      if (old.value == rec.value) continue;
    }
    rec.seq = meta_->next_seq();
    sim::Errno e = l.recorded ? logs_tree_->update(rec) : logs_tree_->insert(rec);
    if (e) return e;
    l.recorded = true;
  }
  return 0;
}

sim::Errno Mount::merge_logs() {
  // Each pass merges a batch of the oldest finalized tree (or finalizes the open one). Passes
  // go on while they make progress; a pass that changes nothing means space is short.
  for (;;) {
    if (failed_) return failed_;
    if (logs_.size() == 1 && logs_.back().v.item_count == 0 && items_->dirty_count() == 0) return 0;
    const size_t trees = logs_.size();
    const uint64_t first_nr = logs_.front().nr;
    const Key first_next = logs_.front().v.merge_next;
    const bool first_finalized = logs_.front().v.finalized;
    force_merge_ = true;
    dirty_ = true;
    sim::Errno e = commit();
    force_merge_ = false;
    if (e) return e;
    if (logs_.size() == trees && logs_.front().nr == first_nr && logs_.front().v.merge_next == first_next &&
        logs_.front().v.finalized == first_finalized) {
      return ENOSPC;
    }
  }
}

void Mount::fail(sim::Errno cause) {
  if (failed_) return;
  failed_ = EIO;
  stop_cause_ = cause;
  env_.event("fs_stopped", {{"err", sim::errno_name(cause)}, {"in", "operation"}}, /*fault=*/true);
}

sim::Errno Mount::unmount() {
  sim::LockGuard g(mu_);
  sim::Errno e = commit();
  stopping_ = true;
  *alive_ = false;
  return e;
}

sim::Errno Mount::alloc_data(uint64_t* blkno) {
  sim::Errno e = data_alloc_->alloc(blkno);
  if (e) return e;
  data_txn_alloc_.insert(*blkno);
  touch();
  return 0;
}

sim::Errno Mount::free_data(uint64_t blkno) {
  touch();
  if (data_txn_alloc_.erase(blkno)) return data_alloc_->free_range(blkno, 1);  // never durable
  data_txn_free_.push_back(blkno);
  return 0;
}

uint64_t Mount::commit_cost(size_t items) const {
  // Worst case, every dirty item lands in its own leaf of the open log tree and copies its
  // whole path, and a split adds one block per level. Then the log tree records (one may be
  // new), and a merge step's budget and overshoot.
  const uint64_t path = logs_.back().tree->root().height + 2u;
  uint64_t cost = static_cast<uint64_t>(items) * path + 3u * (logs_tree_->root().height + 2u);
  if (logs_.size() > 1) cost += cfg_.merge_blocks_per_commit + 2u * (fs_tree_->root().height + 1u) + 1u;
  return cost;
}

sim::Errno Mount::reserve(size_t items, uint64_t data_blocks, bool deleting) {
  if (failed_) return failed_;
  auto short_of_space = [&] {
    // Data bitmap changes cost metadata blocks too: count them as items.
    const uint64_t need = commit_cost(items_->dirty_count() + items + 2 * (data_blocks / kBitmapRegionBlocks + 1));
    const uint64_t floor = deleting ? cfg_.meta_reserve / 2 : cfg_.meta_reserve;
    const bool meta_short = meta_->free_blocks() < floor + need;
    const bool data_short = !deleting && data_alloc_->free_count() < data_blocks;
    return meta_short || data_short;
  };
  if (!short_of_space()) return 0;
  // Committing writes the dirty items (so they stop counting) and turns freed blocks into
  // free ones at the commit after: commit twice when that is what it takes.
  for (int i = 0; i < 2 && short_of_space(); ++i) {
    if (!dirty_ && meta_->pending_free_blocks() == 0) break;
    dirty_ = true;
    if (sim::Errno e = commit()) return e;
  }
  return short_of_space() ? ENOSPC : 0;
}

sim::Errno Mount::maybe_commit() {
  if (items_->dirty_count() > cfg_.dirty_items_max) return commit();
  return failed_;
}

Mount::Statfs Mount::statfs() const {
  return Statfs{sb_.meta_blocks_total, meta_->free_blocks(), sb_.data_blocks_total, data_alloc_->free_count(),
                next_ino_};
}

}  // namespace simfs::fs
