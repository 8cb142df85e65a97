// The client's share of the log merge (scoutfs-design §2.3; the server's side is
// fs/server/merge_requests.cc): ask the server for a piece (GET_LOG_MERGE), merge the input log
// trees' items of its key range into a copy of the fs tree block it names, write the new blocks
// and report the result (COMMIT_LOG_MERGE).
//
// Contract of merge_piece():
// - Reads every input tree's items in [start, end] (per key the highest seq wins; a deletion
//   erases the key, since the fs tree keeps no deletion items) and merges them into the subtree
//   by copy-on-write, allocating only the request's avail blocks. A subtree below the root keeps
//   its height (so it can be spliced back); the whole tree (level 0) may grow or shrink.
// - Stops early with kLogMergePartial and `remaining` (the first key not merged) when its block
//   budget (avail less one key's worst case) is spent, or with kLogMergeHeightStop too when the
//   subtree's root would have to split or empty.
// - On success the new blocks are written and FLUSHed before it returns: `used` lists them,
//   `freed` lists the old subtree's blocks the copy no longer references.
// - On any error nothing of it is kept (its dirty blocks are dropped from the cache) and the
//   result is kLogMergeFailed with the error: the server merges the range again.
// - Runs in a task of the mount's node; `cache` is the worker's own (the mount's commits never
//   write the worker's blocks).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "fs/base/bugs.h"
#include "fs/base/env.h"
#include "fs/block/block_cache.h"
#include "fs/client/server_link.h"
#include "fs/proto/messages.h"
#include "sim/block_device.h"
#include "sim/sync.h"

namespace simfs::fs {

proto::LogMergeCompletion merge_piece(BlockCache& cache, const proto::LogMergeRequest& rq, uint32_t btree_fill,
                                      const std::function<uint64_t()>& next_seq, const BugSet& bugs);

struct LogMergeStats {
  uint64_t pieces = 0;   // pieces merged and reported
  uint64_t merged = 0;   // keys they changed
  uint64_t failed = 0;   // pieces that failed
};

// The mount's merge worker: every `poll` it asks for a piece and does it, one at a time.
class LogMergeWorker {
 public:
  LogMergeWorker(NodeEnv env, sim::DiskHandle& meta, uint64_t fsid, ServerLink& link, uint32_t btree_fill,
                 std::function<uint64_t()> next_seq, sim::Duration poll, BugSet bugs);
  ~LogMergeWorker();
  LogMergeWorker(const LogMergeWorker&) = delete;
  LogMergeWorker& operator=(const LogMergeWorker&) = delete;

  // Spawns the worker's task (a daemon of the node).
  void start();
  // No new piece starts; wait_idle() parks until the one in hand (if any) is written and
  // reported. After both, the worker writes nothing more (an unmount says farewell then).
  void stop();
  void wait_idle();
  const LogMergeStats& stats() const { return stats_; }

 private:
  void loop();

  NodeEnv env_;
  // The task holds its own references: a mount may be dropped while a piece is parked in I/O.
  std::shared_ptr<BlockCache> cache_;
  ServerLink& link_;
  uint32_t btree_fill_;
  std::function<uint64_t()> next_seq_;
  sim::Duration poll_;
  BugSet bugs_;
  uint64_t nonce_ = 0;
  bool stopping_ = false;
  bool busy_ = false;
  sim::WaitQueue idle_;
  std::shared_ptr<bool> alive_;
  LogMergeStats stats_;
};

}  // namespace simfs::fs
