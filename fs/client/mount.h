// Mount: one mount of the filesystem — a client of the server (scoutfs-design §1, "every mount
// is a client"). It holds the mount's link to the server, its block cache, its transaction
// allocators, its open log tree, its locks and its item cache. The VFS operations (vfs.h) run
// on top of it.
//
// Contract:
// - open(): the link is already greeted. The mount asks for its first transaction
//   (GET_LOG_TREES) and loads the allocators the server gave it. Nothing of an earlier
//   incarnation survives: a remount is a new mount with a new rid.
// - Reads: a VFS operation takes the locks of the inodes it touches (lock_client.h); the first
//   use of a lock for reading loads its key range from the forest — the fs tree and every log
//   tree of every mount, as of the server's last durable super (GET_ROOTS), the highest seq
//   winning per key — into the item cache. Everything the operation reads comes from there.
// - Transactions: operations hold the transaction while they change items and allocators;
//   commit() waits for the holders to finish, writes the dirty items into the open log tree
//   (item seq = max(transaction seq, lock write_seq)), FLUSHes file data, writes the allocator
//   lists and every dirty block (then FLUSH), and sends COMMIT_LOG_TREES. The transaction is
//   durable when the server answers (its own commit is then durable); then GET_LOG_TREES
//   opens the next one with refilled allocators. A crash before the answer loses the whole
//   transaction or none of it.
// - Commit triggers: sync/fsync; a timer every commit_interval; more than dirty_items_max dirty
//   items; an allocator running low; an invalidation of a lock that dirtied the transaction;
//   SYNC_LOG_TREES from the server.
// - A failed commit or a refusal by the server (the mount was fenced and reclaimed) stops the
//   mount: every later operation returns EIO; what is durable is what the server recorded.
// - Block numbers a transaction frees are reused by nobody before the server has taken them
//   back from a durable record (client_meta_alloc.h); data blocks likewise (data_freed).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "fs/alloc/bitmap_alloc.h"
#include "fs/alloc/client_meta_alloc.h"
#include "fs/base/bugs.h"
#include "fs/base/env.h"
#include "fs/block/block_cache.h"
#include "fs/btree/btree.h"
#include "fs/client/lock_client.h"
#include "fs/client/log_merge.h"
#include "fs/client/server_link.h"
#include "fs/forest/item_cache.h"
#include "fs/format/format.h"
#include "fs/format/items.h"
#include "sim/block_device.h"
#include "sim/sync.h"

namespace simfs::fs {

struct MountConfig {
  size_t cache_blocks = 4096;
  sim::Duration commit_interval = 2 * sim::kSecond;
  size_t dirty_items_max = 1500;
  bool timer = true;  // tests that count commits turn the timer off
  // Idle locks kept before the mount gives the oldest back (checked at every commit).
  size_t lock_idle_max = 512;
  // Inode numbers asked for at a time (ALLOC_INODES).
  uint64_t inode_batch = 16;
  // The log merge worker (log_merge.h): asks the server for a piece every merge_poll.
  bool merge_worker = true;
  sim::Duration merge_poll = 100 * sim::kMillisecond;
  BugSet bugs;
  // Observer (the oracle): an invalidation's answer is about to go out (LockClientHooks).
  std::function<void(const Key& lock, LockMode from, LockMode to, bool dirty)> on_lock_answer;
  // Observer (the oracle): a lock grant took effect on this mount (LockClientHooks).
  std::function<void(const Key& lock, LockMode mode)> on_lock_granted;
};

struct MountStats {
  uint64_t commits = 0;
  uint64_t commit_blocks = 0;  // dirty metadata blocks written by commits
  // VFS operations finished on this mount, and how many of them the last durable commit and
  // the commit now being written contain (equal when none is in flight). An observer that
  // numbers its operations the same way knows which state a crash may leave.
  uint64_t ops_done = 0;
  uint64_t ops_durable = 0;
  uint64_t ops_committing = 0;
  uint64_t populates = 0;       // lock ranges read from the forest
  uint64_t stale_retries = 0;   // reads that met a reused block and re-read the roots
  uint64_t log_trees_read = 0;     // log trees read by populates
  uint64_t log_trees_skipped = 0;  // log trees a populate skipped: their bloom lacks its lock
};

class Mount {
 public:
  static sim::Errno open(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, ServerLink& link,
                         MountConfig cfg, std::unique_ptr<Mount>* out);
  ~Mount();
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  uint64_t rid() const { return link_.rid(); }
  // Commits if anything changed since the last commit (waits for operations in progress).
  // force: commits even an empty transaction, so the server opens a new one (SYNC_LOG_TREES:
  // the server finalizes the log tree at that GET_LOG_TREES).
  sim::Errno commit(bool force = false);
  // Commits, says farewell (the server reclaims this mount's state) and stops the timer; the
  // Mount is unusable afterwards.
  sim::Errno unmount();
  // Non-zero once the mount stopped: the error every operation now returns.
  sim::Errno failed() const { return failed_; }
  sim::Errno stop_cause() const { return stop_cause_; }
  // Stops the mount (an operation failed half way, or the server refused us).
  void fail(sim::Errno cause);

  // ---- for the VFS ----
  ItemCache& items() { return items_; }
  LockClient& locks() { return *locks_; }
  // Makes room for an operation that dirties about `items` items and allocates `data_blocks`
  // data blocks (commits first when an allocator runs short; ENOSPC if it still is), then
  // holds the transaction until release(). Locks are taken before, never while holding.
  sim::Errno hold(size_t items, uint64_t data_blocks, bool deleting);
  void release();
  // A fresh inode number (never reused). Before hold(): it may ask the server.
  sim::Errno alloc_ino(uint64_t* ino);
  // The number the next alloc_ino() returns (asking the server for a batch if none is left), so
  // an observer can predict it.
  sim::Errno peek_ino(uint64_t* ino);
  void inodes_changed(int64_t delta) { inode_delta_ += delta; }
  // The lock `lock` changed items of the open transaction (an invalidation must commit first).
  void dirtied(const Key& lock) { dirty_locks_.insert(lock); }
  sim::Errno alloc_data(uint64_t* blkno);
  sim::Errno free_data(uint64_t blkno);
  bool data_block_is_new(uint64_t blkno) const { return data_txn_alloc_.count(blkno) > 0; }
  // Can this transaction still allocate `n` data blocks? (Holders cannot commit for more.)
  bool data_available(uint64_t n) const;
  // While holding: reserves n more data blocks for this task's operation if they are there (an
  // operation that finds out late that it needs a block; another holder then cannot take it).
  bool reserve_data(uint64_t n);
  sim::DiskHandle& data_disk() { return data_; }
  // After an operation: when the transaction has grown past its limit, starts a commit in a
  // task of its own (the next holders wait for it) and returns at once. The operation must
  // not wait for it: a crash during that commit would leave an operation whose changes are
  // durable but which never returned, which no observer of returned operations can account
  // for (scoutfs too commits from a worker and makes writers wait in hold).
  sim::Errno maybe_commit();
  void op_done() { ++stats_.ops_done; }
  uint64_t mods() const { return items_.mods() + data_mods_; }

  struct Statfs {
    uint64_t meta_blocks_total, meta_blocks_free, data_blocks_total, data_blocks_free, next_ino;
  };
  Statfs statfs();
  uint64_t now_ns() const { return static_cast<uint64_t>(env_.now()); }
  NodeEnv& env() { return env_; }
  // The live items of [first, last] in the forest as of the server's last durable super, read
  // without a lock and not cached (orphan scans: a view that may be stale, never wrong).
  sim::Errno read_stable(const Key& first, const Key& last, std::vector<Item>* out);

  // ---- inspection ----
  const MountStats& stats() const { return stats_; }
  const MountConfig& config() const { return cfg_; }
  uint64_t trans_seq() const { return rec_.value.get_trans_seq; }
  const proto::LogTrees& log_record() const { return rec_; }
  BlockCache& cache() { return *cache_; }
  // The merge worker's counts (zero without one).
  LogMergeStats merge_stats() const { return merger_ ? merger_->stats() : LogMergeStats{}; }

 private:
  Mount(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, ServerLink& link, MountConfig cfg);
  sim::Errno get_log_trees();
  sim::Errno commit_locked(bool force);  // commit_mu_ held
  sim::Errno do_commit();
  sim::Errno populate(const LockRange& range);
  // The non-empty log trees of a stable logs root, read once per root (every populate needs
  // them): what the roots name never changes, so the list is shared until the roots move on.
  struct StableLogTrees {
    struct Tree {
      BtreeRoot root;
      LockBloom bloom;
    };
    BtreeRoot logs_root;
    std::vector<Tree> trees;  // in key order
  };
  sim::Errno load_log_trees(const BtreeRoot& logs_root, std::shared_ptr<const StableLogTrees>* out);
  void on_push(const proto::Header& h, proto::Bytes data);
  void timer_loop();
  uint64_t commit_cost(size_t items) const;
  bool short_of_space(size_t items, uint64_t data_blocks) const;

  NodeEnv env_;
  sim::DiskHandle& meta_disk_;
  sim::DiskHandle& data_;
  ServerLink& link_;
  MountConfig cfg_;
  std::unique_ptr<BlockCache> cache_;
  std::unique_ptr<ClientMetaAlloc> meta_;
  std::unique_ptr<BitmapAlloc> data_avail_;
  std::unique_ptr<BitmapAlloc> data_freed_;
  std::unique_ptr<Btree> log_tree_;
  proto::LogTrees rec_;  // the open transaction's record, as the server gave it
  std::shared_ptr<const StableLogTrees> stable_logs_;  // the last list read
  uint32_t btree_fill_ = 0;
  // Block seqs count here; shared with the merge worker's task, which may outlive the Mount
  // when a mount is dropped in the middle of a piece.
  std::shared_ptr<uint64_t> block_seq_ = std::make_shared<uint64_t>(0);
  ItemCache items_;
  std::unique_ptr<LockClient> locks_;
  std::unique_ptr<LogMergeWorker> merger_;
  std::set<Key> dirty_locks_;
  std::set<uint64_t> data_txn_alloc_;
  // Data blocks each holding task reserved in hold() and has not allocated yet, and their sum:
  // a holder's check of free space must not count what another holder will take.
  std::map<sim::TaskId, uint64_t> data_reserved_;
  uint64_t data_reserved_total_ = 0;
  // The same for the items each holder declared: counted in the metadata a commit needs.
  std::map<sim::TaskId, uint64_t> items_reserved_;
  uint64_t items_reserved_total_ = 0;
  std::vector<uint64_t> data_txn_free_;
  uint64_t data_mods_ = 0;
  int64_t inode_delta_ = 0;
  uint64_t ino_next_ = 0, ino_end_ = 0;
  sim::Mutex ino_mu_;
  sim::Mutex data_mu_;    // the data bitmap trees: their reads may park mid-change
  sim::Mutex commit_mu_;  // one commit at a time
  uint32_t holders_ = 0;
  bool committing_ = false;
  bool dirty_commit_pending_ = false;  // maybe_commit started a commit that has not begun yet
  sim::WaitQueue hold_waiters_;
  sim::WaitQueue holders_done_;
  bool stopping_ = false;
  bool last_commit_done_ = false;  // unmount: its last commit is over (see commit())
  sim::Errno failed_ = 0;
  sim::Errno stop_cause_ = 0;
  std::shared_ptr<bool> alive_;
  MountStats stats_;
};

}  // namespace simfs::fs
