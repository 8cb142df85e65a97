// Mount: one mounted filesystem — its block cache, allocators, fs tree, log trees, item cache
// and the transaction that commits them. The VFS operations (vfs.h) run on top of it.
//
// Contract:
// - mkfs() writes an empty filesystem (a root directory) to a metadata and a data device.
// - open() mounts: reads and checks the super, loads the allocator lists and this mount's log
//   trees. The mounted state is exactly the last durable commit; nothing in memory survives a
//   crash.
// - The forest (forest.h): items are read from this mount's open log tree, its finalized log
//   trees and the fs tree, the highest seq winning. The cluster work splits this along the
//   same seams: each mount writes its own log tree, the server commits the roots.
// - Transactions: every VFS operation runs with mutex() held and makes its changes in the item
//   cache and the allocators; commit() (also with mutex() held) writes them as one atomic unit:
//   items (deletions as deletion items) into the open log tree, freed data blocks into the data
//   bitmap, one step of the log merge, the log trees' records in the logs tree, the metadata
//   allocator's lists, then BlockCache::writeback, which FLUSHes every block before writing the
//   super with FUA. File data is written to the data device during the operation and made
//   durable by a data FLUSH before the super is written, so a committed extent never maps
//   unwritten data.
// - Log merge: a commit that leaves the open log tree with log_finalize_items or more items
//   finalizes it (no more writes; a new open tree takes over) unless one is still being merged.
//   Each later commit merges a budgeted run of the oldest finalized tree's items into the fs
//   tree (Btree::merge: highest seq wins, deletions delete) and records where it stopped;
//   reads stay correct throughout, since a merged item keeps its seq. When all its items are in,
//   the tree's blocks are freed and its record erased. A crash mid-merge resumes at the record.
// - Commit triggers: sync/fsync call commit(); a timer task commits every commit_interval; an
//   operation that leaves more than dirty_items_max dirty items commits before returning; an
//   operation that finds space low commits first to turn freed blocks into free ones.
// - A failed commit (device error, or ENOSPC the reserve did not prevent) stops the mount:
//   every later operation returns EIO, and the durable state is still the last commit.
// - Block numbers freed by a transaction are not reused before its commit is durable (see
//   meta_alloc.h for metadata; data frees are applied to the bitmap in the commit itself).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "fs/alloc/bitmap_alloc.h"
#include "fs/base/bugs.h"
#include "fs/base/env.h"
#include "fs/block/block_cache.h"
#include "fs/btree/btree.h"
#include "fs/forest/forest.h"
#include "fs/format/format.h"
#include "fs/forest/item_cache.h"
#include "fs/format/items.h"
#include "fs/alloc/meta_alloc.h"
#include "sim/block_device.h"
#include "sim/sync.h"
#include "sim/task.h"

namespace simfs::fs {

struct MountConfig {
  size_t cache_blocks = 4096;
  sim::Duration commit_interval = 2 * sim::kSecond;
  size_t dirty_items_max = 1500;
  // Metadata blocks kept back so a commit always finds the blocks it needs. Operations that
  // add data fail with ENOSPC below it; deletes may dig into its lower half.
  uint64_t meta_reserve = 2 * MetaAlloc::kAvailReserve + 64;
  bool timer = true;  // tests that count commits turn the timer off
  // This mount's id in the logs tree (the cluster gives each mount its own).
  uint64_t rid = 1;
  // The open log tree is finalized for merging once a commit leaves it with this many items.
  uint64_t log_finalize_items = 4096;
  // New fs tree blocks one commit's merge step may write (it stops between keys past it).
  size_t merge_blocks_per_commit = 64;
  // Planted bugs (fs/base/bugs.h), for showing that the oracle catches them.
  BugSet bugs;
};

// Writes a fresh filesystem. Runs in a task (it does I/O). btree_fill: the fill limit of the
// forest's trees (SuperBlock::btree_fill; 0 for whole blocks); EINVAL when out of range.
sim::Errno mkfs(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, uint64_t fsid,
                uint32_t btree_fill = 0);

struct MountStats {
  uint64_t commits = 0;
  uint64_t commit_blocks = 0;  // dirty metadata blocks written by commits
  // VFS operations finished on this mount, and how many of them the last durable commit and
  // the commit now being written contain (equal when none is in flight). An observer that
  // numbers its operations the same way knows which state a crash may leave.
  uint64_t ops_done = 0;
  uint64_t ops_durable = 0;
  uint64_t ops_committing = 0;
  uint64_t log_finalized = 0;   // log trees finalized for merging
  uint64_t log_merged = 0;      // log trees completely merged and freed
  uint64_t merged_items = 0;    // log items a merge step handed to the fs tree
};

class Mount {
 public:
  // Mounts the filesystem on the devices. `env` (the node's) runs the commit timer. On error *out is empty.
  static sim::Errno open(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, MountConfig cfg,
                         std::unique_ptr<Mount>* out);
  ~Mount();
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  sim::Mutex& mutex() { return mu_; }
  // With mutex() held. Commits if anything changed since the last commit.
  sim::Errno commit();
  // With mutex() held. Finalizes the open log tree and commits until every log tree is merged
  // into the fs tree (the fs tree alone then holds every item). For tools and tests that look at
  // the fs tree directly.
  sim::Errno merge_logs();
  // Commits and stops the timer; the Mount is unusable afterwards.
  sim::Errno unmount();
  // Non-zero once a commit failed: the error every operation now returns.
  sim::Errno failed() const { return failed_; }
  // Why it stopped: the device or commit error, or the error an operation hit half way.
  sim::Errno stop_cause() const { return stop_cause_; }

  // ---- for the VFS (mutex held) ----
  ItemCache& items() { return *items_; }
  uint64_t alloc_ino() {
    touch();
    return next_ino_++;
  }
  // Inodes created (+1) and deleted (-1): the super's inode_count, which fsck checks.
  void inodes_changed(int64_t delta) {
    touch();
    inode_count_ = static_cast<uint64_t>(static_cast<int64_t>(inode_count_) + delta);
  }
  sim::Errno alloc_data(uint64_t* blkno);
  sim::Errno free_data(uint64_t blkno);
  // Was this data block allocated in the current transaction (so it may be written in place)?
  bool data_block_is_new(uint64_t blkno) const { return data_txn_alloc_.count(blkno) > 0; }
  sim::DiskHandle& data_disk() { return data_; }
  // Makes room for an operation that dirties about `items` items and allocates `data_blocks`
  // data blocks: commits first if space is short; ENOSPC if it still is.
  sim::Errno reserve(size_t items, uint64_t data_blocks, bool deleting);
  // Called after each operation: commits when the transaction has grown past its limit.
  sim::Errno maybe_commit();
  void op_done() { ++stats_.ops_done; }
  void touch() {
    dirty_ = true;
    ++mods_;
  }
  // Changes made so far (items, allocations): an operation that fails after changing something
  // cannot be undone, so it stops the mount with fail().
  uint64_t mods() const { return mods_ + items_->mods(); }
  // `cause` is the error the operation hit; the mount then answers EIO to everything.
  void fail(sim::Errno cause);

  struct Statfs {
    uint64_t meta_blocks_total, meta_blocks_free, data_blocks_total, data_blocks_free, next_ino;
  };
  Statfs statfs() const;
  uint64_t now_ns() const { return static_cast<uint64_t>(env_.now()); }

  // ---- inspection ----
  const SuperBlock& super() const { return sb_; }
  const MountStats& stats() const { return stats_; }
  const MountConfig& config() const { return cfg_; }
  MetaAlloc& meta_alloc() { return *meta_; }
  BlockCache& cache() { return *cache_; }
  BitmapAlloc& data_alloc() { return *data_alloc_; }
  Btree& fs_tree() { return *fs_tree_; }
  Forest& forest() { return forest_; }
  // This mount's log trees, oldest first; the last is the open one.
  struct LogTree {
    uint64_t nr = 0;
    LogTreeValue v;
    std::unique_ptr<Btree> tree;
    bool recorded = false;  // its record is in the logs tree (with the value as last written)
  };
  const std::vector<LogTree>& log_trees() const { return logs_; }

 private:
  friend sim::Errno mkfs(NodeEnv, sim::DiskHandle&, sim::DiskHandle&, uint64_t, uint32_t);
  Mount(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, MountConfig cfg, const SuperBlock& sb);
  sim::Errno do_commit();
  sim::Errno load_log_trees();
  void add_open_log_tree(uint64_t nr);
  void forest_changed();
  sim::Errno merge_step();
  sim::Errno write_log_records();
  uint64_t commit_cost(size_t items) const;
  void timer_loop();

  NodeEnv env_;
  sim::DiskHandle& meta_disk_;
  sim::DiskHandle& data_;
  MountConfig cfg_;
  SuperBlock sb_;  // as last committed
  std::unique_ptr<BlockCache> cache_;
  std::unique_ptr<MetaAlloc> meta_;
  std::unique_ptr<BitmapAlloc> data_alloc_;
  std::unique_ptr<Btree> fs_tree_;
  std::unique_ptr<Btree> logs_tree_;
  std::vector<LogTree> logs_;
  std::vector<uint64_t> erased_logs_;  // nrs whose records this commit erases
  Forest forest_;
  bool force_merge_ = false;  // merge_logs(): finalize now, merge without a block budget
  std::unique_ptr<ItemCache> items_;
  uint64_t next_ino_;
  uint64_t inode_count_;
  std::set<uint64_t> data_txn_alloc_;
  std::vector<uint64_t> data_txn_free_;
  bool dirty_ = false;
  uint64_t mods_ = 0;
  bool stopping_ = false;
  sim::Errno failed_ = 0;
  sim::Errno stop_cause_ = 0;
  sim::Mutex mu_;
  std::shared_ptr<bool> alive_;  // the timer task checks it: a crash may leave it parked
  MountStats stats_;
};

}  // namespace simfs::fs
