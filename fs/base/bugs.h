// Planted bugs: deliberately broken variants of the filesystem, each a real historical class of
// bug, selected per run (`simfs run ... --bug NAME`) so that every invariant can be shown to fire.
//
// Contract:
// - One X-macro list below names every bug: its enumerator, its command-line name and what it
//   breaks. Code tests `cfg.bugs.has(Bug::kNoDataFlush)`; a misspelt enumerator does not
//   compile, where a misspelt string silently disabled a bug.
// - bug_from_name() maps a command-line name back; unknown names are nullopt, and callers turn
//   them into a usage error.
// - Every site that plants a bug says so with a `// BUG (planted)` comment.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace simfs::fs {

#define SIMFS_FS_BUGS(X)                                                                                       \
  X(kReuseBeforeCommit, "reuse_before_commit",                                                                 \
    "freed metadata blocks are handed out again in the same transaction, so the commit overwrites blocks the " \
    "durable tree still uses")                                                                                 \
  X(kNoDataFlush, "no_data_flush",                                                                             \
    "the commit writes the super without flushing file data first, so committed extents can map data that "    \
    "never reached the disk")                                                                                  \
  X(kRenameDirNlink, "rename_dir_nlink", "renaming a directory to another parent forgets the '..' link count") \
  X(kRmdirNotEmpty, "rmdir_not_empty", "rmdir removes a directory without checking that it is empty")         \
  X(kLeakOnDelete, "leak_on_delete", "deleting an inode forgets to free its data blocks")                     \
  X(kTruncateNoReserve, "truncate_no_reserve",                                                                 \
    "a truncate into a durable block does not reserve the block it copies, so on a full device it fails half " \
    "done and stops the mount")                                                                                \
  X(kMergeResumeSkips, "merge_resume_skips",                                                                   \
    "a merge piece stopped by its budget reports the end of what it read, not where it stopped, as where to "   \
    "resume: the items between are lost")                                                                      \
  X(kMergeDropsDeletions, "merge_drops_deletions",                                                             \
    "the merge leaves deletion items out of its input, so a deleted item comes back once its log tree is "     \
    "freed")                                                                                                   \
  X(kReadStaleRegion, "read_stale_region",                                                                     \
    "a read that crosses into the next extent region keeps using the first region's map")                       \
  X(kInvalidateBeforeCommit, "invalidate_before_commit",                                                       \
    "a mount answers a lock invalidation without first committing the items it wrote under the lock")          \
  X(kIncompatibleGrant, "incompatible_grant",                                                                  \
    "the lock server grants a WRITE request while another mount still holds the lock for reading")            \
  X(kNoResendReplay, "no_resend_replay",                                                                       \
    "a reconnected connection does not replay its resend queue, so requests sent before the break are lost")   \
  X(kReplyBeforeDurable, "reply_before_durable",                                                               \
    "the server answers COMMIT_LOG_TREES before the commit that records it is durable")                       \
  X(kItemSeqIgnoresWriteSeq, "item_seq_ignores_write_seq",                                                     \
    "an item's seq is its transaction's alone, not the max with its lock's write_seq, so a newer write can "   \
    "lose to an older one")                                                                                    \
  X(kServeBeforeFence, "serve_before_fence",                                                                   \
    "a newly elected server makes its first commit before fencing the earlier leaders, so a deposed server "   \
    "that still runs writes the filesystem beside it")                                                        \
  X(kRecoverNewMode, "recover_new_mode",                                                                       \
    "lock recovery reports the mode a mount is dropping to, not the one it still holds mid-invalidation")     \
  X(kInvalidateKeepsMode, "invalidate_keeps_mode",                                                             \
    "a mount answers a lock invalidation with the lower mode but keeps its old mode and cached items")         \
  X(kFarewellKeepsLocks, "farewell_keeps_locks",                                                               \
    "the server's farewell forgets to drop the departing mount's entries from the lock state")               \
  X(kFarewellIgnoresMajority, "farewell_ignores_majority",                                                    \
    "the server answers a voting mount's farewell at once, even when the voters left would be no majority, "   \
    "so the mounts that stay can no longer elect a server")                                                   \
  X(kInvalidateNoWakeup, "invalidate_no_wakeup",                                                               \
    "after answering an invalidation a mount does not wake the operations waiting on the lock, so they sleep " \
    "until something else happens to it")                                                                     \
  X(kBloomSkipsDeletions, "bloom_skips_deletions",                                                             \
    "a commit leaves the locks of deletion items out of its log tree's bloom, so readers of those locks skip "  \
    "the tree and see the value the deletion hid")                                                           \
  X(kOrphanSeqIgnoresInodeLock, "orphan_seq_ignores_inode_lock",                                              \
    "an orphan record's seq comes from the shared WRITE_ONLY orphan lock alone, not also the inode's own "    \
    "lock, so one mount's older change of the record can win over another's newer one")                       \
  X(kMergeOverlappingRanges, "merge_overlapping_ranges",                                                      \
    "the server starts the next merge piece after the leaf that holds this piece's start, not after its "      \
    "block, so two pieces in flight copy the same fs tree block and one splice undoes the other")              \
  X(kMergeReclaimLeaks, "merge_reclaim_leaks_allocator",                                                      \
    "reclaiming a client forgets the blocks handed out with its merge pieces, which are then never free")     \
  X(kMergeFinalizeOneAtATime, "merge_finalize_one_at_a_time",                                                 \
    "the log merge starts as soon as one log tree is finalized instead of every open one, so an open tree "    \
    "can still hold an older version of a key the merge deletes, which comes back once the inputs are freed") \
  X(kGreetingNotIdempotent, "greeting_not_idempotent",                                                        \
    "a new server that already holds a mount's record takes its greeting for a first mount's: the record is "  \
    "written again and the mount counted as recovered, so the locks it holds are never recovered")             \
  X(kReclaimLeaksAllocators, "reclaim_leaks_allocators",                                                      \
    "reclaiming a dead or fenced client finalizes its log tree without returning its allocators, whose "      \
    "blocks are then never free again")                                                                       \
  X(kRecoveryWaitsForever, "recovery_waits_forever",                                                          \
    "a new server waits for every mount it has a record of to greet and recover its locks, with no "           \
    "timeout: a mount that died before the failover is never reclaimed and the server never serves")        \
  X(kUnmountSkipsCommit, "unmount_skips_commit",                                                            \
    "an unmount says farewell without committing its open transaction: its last changes vanish with the "   \
    "mount although the unmount succeeded")

enum class Bug : uint8_t {
#define SIMFS_BUG_ENUM(e, name, what) e,
  SIMFS_FS_BUGS(SIMFS_BUG_ENUM)
#undef SIMFS_BUG_ENUM
      kCount
};

struct BugInfo {
  Bug bug;
  const char* name;
  const char* what;
};

// Every planted bug of fs/, in declaration order.
const std::vector<BugInfo>& all_bugs();
const char* bug_name(Bug b);
std::optional<Bug> bug_from_name(std::string_view name);

// The bugs planted in one run (usually none or one).
class BugSet {
 public:
  BugSet() = default;
  static BugSet of(Bug b) {
    BugSet s;
    s.add(b);
    return s;
  }
  // "" is no bug; a name that is not an fs/ bug (a scenario's own) plants nothing here.
  static BugSet from_name(std::string_view name) {
    std::optional<Bug> b = bug_from_name(name);
    return b ? of(*b) : BugSet{};
  }
  void add(Bug b) { bits_ |= uint64_t{1} << static_cast<unsigned>(b); }
  bool has(Bug b) const { return (bits_ >> static_cast<unsigned>(b)) & 1u; }
  bool empty() const { return bits_ == 0; }

 private:
  static_assert(static_cast<unsigned>(Bug::kCount) <= 64);
  uint64_t bits_ = 0;
};

}  // namespace simfs::fs
