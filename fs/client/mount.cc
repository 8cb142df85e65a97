#include "fs/client/mount.h"

#include <algorithm>
#include <optional>

#include "fs/base/assert.h"
#include "fs/forest/forest.h"
#include "fs/lock/lock_keys.h"
#include "sim/random.h"
#include "sim/task.h"

namespace simfs::fs {

Mount::Mount(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, ServerLink& link, MountConfig cfg)
    : env_(env), meta_disk_(meta), data_(data), link_(link), cfg_(cfg), alive_(std::make_shared<bool>(true)) {}

Mount::~Mount() {
  *alive_ = false;
  if (locks_) locks_->shutdown();
}

sim::Errno Mount::open(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, ServerLink& link, MountConfig cfg,
                       std::unique_ptr<Mount>* out) {
  out->reset();
  SuperBlock sb;
  if (sim::Errno e = read_super(meta, std::nullopt, &sb)) return e;
  // A different layout must not be interpreted with this binary's rules.
  if (sb.format_version != kFormatVersion || sb.format_hash != format_hash()) return EINVAL;
  if (sb.meta_blocks_total != meta.block_count() || sb.data_blocks_total != data.block_count()) return EINVAL;
  std::unique_ptr<Mount> m(new Mount(env, meta, data, link, cfg));
  m->btree_fill_ = sb.btree_fill;
  m->cache_ = std::make_unique<BlockCache>(meta, sb.fsid, cfg.cache_blocks);
  // Block seqs: unique per mount (mixed with the rid) and never equal to the server's counter
  // values (top bit set), so a reference to a reused block is always caught as stale.
  Mount* self = m.get();
  auto block_seq = [counter = m->block_seq_, rid = link.rid()] {
    return sim::splitmix64_at(rid, ++*counter) | kMountBlockSeqBit;
  };
  m->meta_ = std::make_unique<ClientMetaAlloc>(*m->cache_, block_seq);
  if (cfg.bugs.has(Bug::kReuseBeforeCommit)) m->meta_->plant_reuse_before_commit();
  m->locks_ = std::make_unique<LockClient>(
      env, link,
      LockClientHooks{
          [self] { return self->commit(); },
          [self](const Key& lock) { return self->dirty_locks_.count(lock) > 0; },
          [self](const LockRange& r) { self->items_.drop(r.start, r.end); },
          [self](const LockRange& r) { return self->populate(r); },
          cfg.on_lock_answer,
          cfg.on_lock_granted,
      },
      cfg.bugs);
  std::shared_ptr<bool> alive = m->alive_;
  link.set_push_handler([self, alive](const proto::Header& h, proto::Bytes data) {
    if (*alive) self->on_push(h, std::move(data));
  });
  if (sim::Errno e = m->get_log_trees()) return e;
  env.event("fs_mount", {{"rid", link.rid()}, {"nr", m->rec_.nr}, {"trans_seq", m->rec_.value.get_trans_seq}});
  if (cfg.merge_worker) {
    m->merger_ = std::make_unique<LogMergeWorker>(env, meta, sb.fsid, link, sb.btree_fill, block_seq, cfg.merge_poll,
                                                  cfg.bugs);
    m->merger_->start();
  }
  if (cfg.timer) {
    env.spawn("fs.commit_timer", [self, alive] {
      if (*alive) self->timer_loop();
    }, /*daemon=*/true);
  }
  *out = std::move(m);
  return 0;
}

void Mount::timer_loop() {
  std::shared_ptr<bool> alive = alive_;
  while (*alive && !stopping_ && !failed_) {
    sim::this_task::sleep(cfg_.commit_interval);
    if (!*alive || stopping_ || failed_) return;
    (void)commit();
  }
}

void Mount::on_push(const proto::Header& h, proto::Bytes data) {
  switch (h.cmd) {
    case proto::Cmd::kLock: {
      proto::LockMessage m;
      if (!proto::decode(data, &m)) return link_.respond(h, EINVAL, {});
      locks_->on_invalidate(h, m);
      return;
    }
    case proto::Cmd::kLockRecover: {
      proto::LockRecoverRequest m;
      if (!proto::decode(data, &m)) return link_.respond(h, EINVAL, {});
      locks_->on_recover(h, m);
      return;
    }
    case proto::Cmd::kSyncLogTrees: {
      // Commit soon, from a task of our own (the push handler must not park).
      std::shared_ptr<bool> alive = alive_;
      env_.spawn("fs.sync_log_trees", [this, alive, h] {
        if (!*alive) return;
        sim::Errno e = commit(/*force=*/true);
        if (*alive) link_.respond(h, e, {});
      }, /*daemon=*/true);
      return;
    }
    default:
      link_.respond(h, EINVAL, {});
      return;
  }
}

sim::Errno Mount::get_log_trees() {
  net::Reply r = link_.call(proto::Cmd::kGetLogTrees, {});
  if (r.error) return r.error == net::kMaybeDelivered ? EIO : r.error;
  proto::LogTrees lt;
  if (!proto::decode(r.data, &lt) || lt.rid != link_.rid()) return EIO;
  const bool new_tree = !log_tree_ || lt.nr != rec_.nr;
  rec_ = lt;
  if (sim::Errno e = meta_->load(lt.value.meta_avail, lt.value.meta_freed)) return e;
  data_avail_ = std::make_unique<BitmapAlloc>(*cache_, meta_->btree_allocator(), kAllocData, lt.value.data_avail);
  data_freed_ = std::make_unique<BitmapAlloc>(*cache_, meta_->btree_allocator(), kAllocData, lt.value.data_freed);
  if (new_tree || log_tree_->root() != lt.value.root) {
    log_tree_ = std::make_unique<Btree>(*cache_, meta_->btree_allocator(), lt.value.root, forest_btree_config(btree_fill_));
  }
  return 0;
}

sim::Errno Mount::populate(const LockRange& range) {
  std::vector<Item> live;
  if (sim::Errno e = read_stable(range.start, range.end, &live)) return e;
  items_.populate(range.start, range.end, std::move(live));
  ++stats_.populates;
  return 0;
}

namespace {
// The lock whose items are all of [first, last], if one is: a read of one lock's range needs
// only the log trees whose bloom names that lock. Other ranges (orphan scans) read every tree.
std::optional<Key> single_lock_of(const Key& first, const Key& last) {
  if (first.zone != kZoneFs && first.zone != kZoneOrphan) return std::nullopt;
  const Key lock = lock_key_for_item(first);
  const LockRange r = lock_range(lock);
  if (!r.contains(first) || !r.contains(last)) return std::nullopt;
  return lock;
}
}  // namespace

sim::Errno Mount::load_log_trees(const BtreeRoot& logs_root, std::shared_ptr<const StableLogTrees>* out) {
  // A durable block's reference names its contents for good (a reused block gets a new seq),
  // so the records read from one logs root stay right for as long as the stable roots name it.
  if (stable_logs_ && stable_logs_->logs_root == logs_root) {
    *out = stable_logs_;
    return 0;
  }
  // Built aside and published whole: the walk parks, and other tasks of this mount populate
  // meanwhile from the list they hold.
  auto fresh = std::make_shared<StableLogTrees>();
  fresh->logs_root = logs_root;
  Btree logs(*cache_, meta_->btree_allocator(), logs_root, forest_btree_config(btree_fill_));
  bool bad = false;
  sim::Errno e = logs.for_each(log_tree_key(1, 0), log_tree_key(UINT64_MAX, UINT64_MAX), [&](const Item& it) {
    if (it.key.type != kTypeLogTree) return true;
    LogTreeValue v;
    if (it.deletion || !decode_log_tree(it.value, &v)) {
      bad = true;
      return false;
    }
    if (v.root.height) fresh->trees.push_back({v.root, v.bloom});
    return true;
  });
  if (e) return e;
  if (bad) return EIO;
  stable_logs_ = fresh;
  *out = std::move(fresh);
  return 0;
}

sim::Errno Mount::read_stable(const Key& first, const Key& last, std::vector<Item>* out) {
  if (failed_) return failed_;
  const std::optional<Key> lock = single_lock_of(first, last);
  // The roots may be replaced (and their blocks reused) while we read: a stale block means
  // newer roots exist, so ask again. Seen stale twice in a row is damage (BlockCache).
  for (int attempt = 0; attempt < 8; ++attempt) {
    net::Reply r = link_.call(proto::Cmd::kGetRoots, {});
    if (r.error) return r.error == net::kMaybeDelivered ? EIO : r.error;
    proto::Roots roots;
    if (!proto::decode(r.data, &roots)) return EIO;
    std::shared_ptr<const StableLogTrees> logs;
    sim::Errno e = load_log_trees(roots.logs_root, &logs);
    std::vector<Item> live;
    if (!e) {
      const BtreeConfig forest = forest_btree_config(btree_fill_);
      std::vector<Btree> trees;
      trees.reserve(logs->trees.size() + 1);
      for (const StableLogTrees::Tree& t : logs->trees) {
        if (lock && !t.bloom.may_contain(*lock)) {
          ++stats_.log_trees_skipped;
          continue;
        }
        ++stats_.log_trees_read;
        trees.emplace_back(*cache_, meta_->btree_allocator(), t.root, forest);
      }
      trees.emplace_back(*cache_, meta_->btree_allocator(), roots.fs_root, forest);
      std::vector<Btree*> all;
      for (Btree& t : trees) all.push_back(&t);
      Forest f;
      f.set_trees(std::move(all));
      e = f.read_range(first, last, &live);
    }
    if (e == ESTALE) {
      ++stats_.stale_retries;
      continue;
    }
    if (e) return e;
    *out = std::move(live);
    return 0;
  }
  return EIO;
}

// ---- transactions ----

uint64_t Mount::commit_cost(size_t items) const {
  // Worst case every dirty item lands in its own leaf of the open log tree and copies its whole
  // path, and a split adds one block per level; then the allocator lists' own blocks.
  const uint64_t path = log_tree_->root().height + 2u;
  return static_cast<uint64_t>(items) * path + meta_->commit_blocks_needed() + 8;
}

bool Mount::short_of_space(size_t items, uint64_t data_blocks) const {
  // Data bitmap changes cost metadata blocks too: count them as items.
  // Other holders' declared items and data blocks count too: they passed this check before
  // dirtying anything, and their data allocations copy bitmap blocks out of the same avail.
  const uint64_t data_all = data_blocks + data_reserved_total_;
  const uint64_t need = commit_cost(items_.dirty_count() + items + items_reserved_total_ +
                                    2 * (data_all / kBitmapRegionBlocks + 2));
  // Blocks other holders reserved are theirs even before they allocate them.
  return meta_->avail_count() < need || data_avail_->free_count() < data_blocks + data_reserved_total_;
}

sim::Errno Mount::hold(size_t items, uint64_t data_blocks, bool deleting) {
  if (failed_) return failed_;
  (void)deleting;
  // The space check and the reservation happen with no park between them, so two holders
  // cannot both count the same free blocks (waiting for a commit parks: check again after).
  for (;;) {
    if (items || data_blocks) {
      // Committing gets a refill from the server (and turns this transaction's frees into space
      // the server can hand out again after the next one).
      for (int i = 0; i < 2 && short_of_space(items, data_blocks); ++i) {
        if (sim::Errno e = commit()) return e;
      }
      if (short_of_space(items, data_blocks)) return ENOSPC;
    }
    if (!committing_) break;
    while (committing_) hold_waiters_.wait("fs.hold");
    if (failed_) return failed_;
  }
  if (stopping_) return EIO;  // unmounting: nothing new goes into the last transaction
  ++holders_;
  if (data_blocks) {
    data_reserved_[sim::this_task::id()] += data_blocks;
    data_reserved_total_ += data_blocks;
  }
  if (items) {
    items_reserved_[sim::this_task::id()] += items;
    items_reserved_total_ += items;
  }
  return 0;
}

void Mount::release() {
  FS_ASSERT(holders_ > 0);
  if (auto it = data_reserved_.find(sim::this_task::id()); it != data_reserved_.end()) {
    data_reserved_total_ -= it->second;  // what it reserved and did not use
    data_reserved_.erase(it);
  }
  if (auto it = items_reserved_.find(sim::this_task::id()); it != items_reserved_.end()) {
    items_reserved_total_ -= it->second;  // its changes are dirty items now
    items_reserved_.erase(it);
  }
  if (--holders_ == 0) holders_done_.notify_all();
}

bool Mount::data_available(uint64_t n) const {
  auto it = data_reserved_.find(sim::this_task::id());
  const uint64_t mine = it == data_reserved_.end() ? 0 : it->second;
  return data_avail_->free_count() >= n + (data_reserved_total_ - mine);
}

bool Mount::reserve_data(uint64_t n) {
  FS_ASSERT(holders_ > 0);
  if (!data_available(n)) return false;
  data_reserved_[sim::this_task::id()] += n;
  data_reserved_total_ += n;
  return true;
}

sim::Errno Mount::maybe_commit() {
  if (failed_ || items_.dirty_count() <= cfg_.dirty_items_max || dirty_commit_pending_) return failed_;
  dirty_commit_pending_ = true;
  std::shared_ptr<bool> alive = alive_;
  env_.spawn("fs.dirty_commit", [this, alive] {
    if (!*alive) return;
    dirty_commit_pending_ = false;
    (void)commit();  // a failure stops the mount; operations then see it
  }, /*daemon=*/true);
  return 0;
}

sim::Errno Mount::commit(bool force) {
  sim::LockGuard g(commit_mu_);
  // The unmount's own commit is the last one: it holds commit_mu_ from there through the
  // farewell, so a commit that gets here afterwards has nothing to write. Before it, while the
  // unmount waits for its merge worker, a lock invalidation still commits what the lock
  // dirtied: it answers only once that is durable (an answer after a skipped commit let the
  // next holder read the lock's items without this mount's last changes).
  if (last_commit_done_) return failed_;
  return commit_locked(force);
}

sim::Errno Mount::commit_locked(bool force) {
  if (failed_) return failed_;
  if (!force && items_.dirty_count() == 0 && data_txn_alloc_.empty() && data_txn_free_.empty() && inode_delta_ == 0) {
    stats_.ops_durable = stats_.ops_committing = stats_.ops_done;  // nothing of theirs to write
    return 0;
  }
  committing_ = true;
  while (holders_ > 0) holders_done_.wait("fs.commit.holders");
  stats_.ops_committing = stats_.ops_done;
  sim::Errno e = do_commit();
  committing_ = false;
  hold_waiters_.notify_all();
  if (e) fail(e);
  // ENOLINK: the server no longer counts this mount a member (reclaimed): the mount stops with
  // that cause, and the operation that found out sees EIO like every one after it.
  return e == ENOLINK ? EIO : e;
}

sim::Errno Mount::do_commit() {
  LogTreeValue& v = rec_.value;
  uint64_t added = 0, max_seq = v.max_seq;
  // Every item's lock goes into the tree's bloom, or readers of that lock skip the tree.
  const bool bloom_skips_deletions = cfg_.bugs.has(Bug::kBloomSkipsDeletions);
  std::optional<Key> last_lock;
  auto add_lock = [&](const Item& it) {
    if (it.deletion && bloom_skips_deletions) return;  // BUG (planted)
    const Key lock = lock_key_for_item(it.key);
    if (lock == last_lock) return;  // items come in key order: runs share a lock
    v.bloom.add(lock);
    last_lock = lock;
  };
  sim::Errno e = items_.write_dirty(*log_tree_, v.get_trans_seq, &added, &max_seq,
                                    cfg_.bugs.has(Bug::kItemSeqIgnoresWriteSeq), add_lock);
  if (e) return e;
  if (log_tree_->root() != v.root) {
    v.root = log_tree_->root();
    v.item_count += added;
  }
  v.max_seq = max_seq;
  // Data blocks this transaction stopped using go to the freed tree: nobody reuses them before
  // the server takes them back from a durable record.
  {
    sim::LockGuard dg(data_mu_);
    std::sort(data_txn_free_.begin(), data_txn_free_.end());
    for (size_t i = 0; i < data_txn_free_.size();) {
      size_t j = i + 1;
      while (j < data_txn_free_.size() && data_txn_free_[j] == data_txn_free_[j - 1] + 1) ++j;
      if ((e = data_freed_->free_range(data_txn_free_[i], j - i))) return e;
      i = j;
    }
  }
  // Ordered data: every data block a committed extent maps is durable before the record is.
  if (!data_txn_alloc_.empty() && !cfg_.bugs.has(Bug::kNoDataFlush)) {  // BUG (planted) when skipped
    if ((e = data_.flush())) return e;
  }
  v.data_avail = data_avail_->alloc_root();
  v.data_freed = data_freed_->alloc_root();
  v.inode_delta += inode_delta_;
  if ((e = meta_->prepare_commit(&v.meta_avail, &v.meta_freed))) return e;
  const size_t blocks = cache_->dirty_count();
  if ((e = cache_->write_dirty())) return e;
  net::Reply r = link_.call(proto::Cmd::kCommitLogTrees, proto::encode(rec_));
  if (r.error) return r.error == net::kMaybeDelivered ? EIO : r.error;
  // Durable: the server's commit recorded it.
  log_tree_->committed();
  data_avail_->committed();
  data_freed_->committed();
  meta_->committed();
  items_.clear_dirty();
  dirty_locks_.clear();
  data_txn_alloc_.clear();
  data_txn_free_.clear();
  inode_delta_ = 0;
  ++stats_.commits;
  stats_.commit_blocks += blocks;
  stats_.ops_durable = stats_.ops_committing;
  env_.event("fs_commit", {{"rid", link_.rid()}, {"trans_seq", v.get_trans_seq}, {"blocks", blocks},
                           {"ops", stats_.ops_durable}});
  locks_->shrink_idle(cfg_.lock_idle_max);
  return get_log_trees();
}

void Mount::fail(sim::Errno cause) {
  if (failed_) return;
  failed_ = EIO;
  stop_cause_ = cause;
  env_.event("fs_stopped", {{"rid", link_.rid()}, {"err", sim::errno_name(cause)}}, /*fault=*/true);
  hold_waiters_.notify_all();
  if (merger_) merger_->stop();
  // A stopped mount answers nothing any more: the server fences and reclaims it.
  link_.shutdown();
  locks_->shutdown();
}

sim::Errno Mount::unmount() {
  // No operation starts from now on (background ones too: orphan deletions, the timer), and no
  // other commit may slip in between the last one and the farewell: the server reclaims this
  // mount then, and would refuse a later commit.
  stopping_ = true;
  // The server gives back the blocks of this mount's merge pieces at the farewell: nothing may
  // still be writing into them by then.
  if (merger_) {
    merger_->stop();
    merger_->wait_idle();
  }
  sim::LockGuard g(commit_mu_);
  sim::Errno e = cfg_.bugs.has(Bug::kUnmountSkipsCommit) ? 0 : commit_locked(/*force=*/false);
  last_commit_done_ = true;
  if (!e) {
    link_.set_farewell(true);
    net::Reply r = link_.call(proto::Cmd::kFarewell, {});
    e = r.error == net::kMaybeDelivered ? EIO : r.error;
  }
  link_.shutdown();
  locks_->shutdown();
  *alive_ = false;
  return e;
}

sim::Errno Mount::peek_ino(uint64_t* ino) {
  if (sim::Errno e = alloc_ino(ino)) return e;
  --ino_next_;  // not taken after all: handed out next
  return 0;
}

sim::Errno Mount::alloc_ino(uint64_t* ino) {
  sim::LockGuard g(ino_mu_);
  if (failed_) return failed_;
  if (ino_next_ == ino_end_) {
    net::Reply r = link_.call(proto::Cmd::kAllocInodes, proto::encode(proto::AllocInodesRequest{cfg_.inode_batch}));
    if (r.error == ENOLINK) fail(ENOLINK);  // reclaimed: see commit_locked
    if (r.error) return r.error == net::kMaybeDelivered || r.error == ENOLINK ? EIO : r.error;
    proto::AllocInodesResponse a;
    if (!proto::decode(r.data, &a) || a.count == 0) return EIO;
    ino_next_ = a.first;
    ino_end_ = a.first + a.count;
  }
  *ino = ino_next_++;
  return 0;
}

sim::Errno Mount::alloc_data(uint64_t* blkno) {
  sim::LockGuard g(data_mu_);
  sim::Errno e = data_avail_->alloc(blkno);
  if (e) return e;
  if (auto it = data_reserved_.find(sim::this_task::id()); it != data_reserved_.end() && it->second > 0) {
    --it->second;
    --data_reserved_total_;
  }
  data_txn_alloc_.insert(*blkno);
  ++data_mods_;
  return 0;
}

sim::Errno Mount::free_data(uint64_t blkno) {
  ++data_mods_;
  if (data_txn_alloc_.erase(blkno)) {
    sim::LockGuard g(data_mu_);
    return data_avail_->free_range(blkno, 1);  // never durable: reusable at once
  }
  data_txn_free_.push_back(blkno);
  return 0;
}

Mount::Statfs Mount::statfs() {
  net::Reply r = link_.call(proto::Cmd::kStatfs, {});
  proto::Statfs s;
  if (r.error || !proto::decode(r.data, &s)) return Statfs{0, 0, 0, 0, 0};
  return Statfs{s.meta_blocks_total, s.meta_blocks_free + meta_->avail_count(), s.data_blocks_total,
                s.data_blocks_free + data_avail_->free_count(), s.next_ino};
}

}  // namespace simfs::fs
