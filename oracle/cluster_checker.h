// ClusterChecker: judges the operations of every mount of a cluster against one single-copy
// POSIX model (scoutfs-design §8 "Filesystem", invariants 35 and 37).
//
// How it judges:
// - Linearization: an operation takes the locks of everything it reads or changes and releases
//   them only as the call returns, so two conflicting operations never overlap, and the order
//   in which calls return is a legal order of execution. The checker applies each operation to
//   the model when its call returns and compares the filesystem's answer with the model's
//   (errno, new inode numbers, bytes read). Targets are chosen from the model when the call is
//   made; by the time it returns another mount may have changed them, which the model judges.
// - Durability: a mount's changes belong to the transaction open when its call returned. The
//   server tells which transactions became durable, and when a mount is gone for good (fenced
//   and reclaimed, or unmounted). Operations of a gone mount whose transaction never became
//   durable are lost, and only those: the model is rebuilt without them, and every answer
//   any mount got since must still agree with it — a mount that crashed may lose only whole
//   uncommitted transactions, and nothing another mount observed or that was synced.
// - Open references are per mount: a gone mount's opens vanish with it.
//
// Invariants (ids as scenarios report them):
//   fs.op_result     an answer disagrees with the model at its linearization point;
//   fs.durability    after a mount was lost, the surviving history no longer explains an answer
//                    (something observed or synced was lost, or uncommitted state was seen).
//
// A mount that leaves by its farewell loses nothing: it sends the farewell only once its last
// commit is durable. The server says so (farewell(rid)) and the model keeps every change of it;
// a filesystem that lost one anyway (an unmount that skipped its commit) is caught by the next
// read of it, or the next whole view, as fs.op_result or fs.state.
//   fs.state         a mount's whole view (capture) differs from the model.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fs/client/mount.h"
#include "fs/vfs/vfs.h"
#include "oracle/fs_ops.h"
#include "oracle/posix_model.h"

namespace oracle {

struct ClusterVerdict {
  std::string invariant;  // "" when fine
  std::string message;
};

class ClusterChecker {
 public:
  void allow_eio(bool on) { allow_eio_ = on; }
  void allow_enospc(bool on) { allow_enospc_ = on; }

  // A new mount instance (a rid) joins; it is `client` to the model.
  void mounted(uint64_t rid);
  // Runs one operation on a mount and judges it when it returns. *not_done is set when the
  // filesystem answered an accepted EIO/ENOSPC (the operation did not happen).
  ClusterVerdict run(uint64_t rid, simfs::fs::Vfs& vfs, simfs::fs::Mount& mount, const FsOp& op,
                     bool* not_done = nullptr);
  // From the server.
  void transaction_durable(uint64_t rid, uint64_t trans_seq);
  ClusterVerdict mount_gone(uint64_t rid);
  // From the server, before mount_gone: `rid` left by its farewell (every change it made is
  // durable, whatever the durability news said).
  void farewell(uint64_t rid);
  // The mount's whole view against the model (call only when no operation is in flight).
  ClusterVerdict check_view(uint64_t rid, simfs::fs::Vfs& vfs);

  const PosixModel& model() const { return model_; }
  uint64_t ops() const { return ops_; }
  uint64_t lost_ops() const { return lost_; }

 private:
  struct Entry {
    uint64_t rid = 0;
    int client = 0;
    ResolvedOp op;
    FsOutcome got;
    uint64_t trans_seq = 0;
    bool gone_marker = false;  // the mount `rid` is gone here: its opens end
  };
  bool lost(const Entry& e) const;
  bool final(const Entry& e) const;
  // Applies an entry to a model; "" or how the recorded answer disagrees with it (then the
  // model may hold the change the filesystem refused: a violation ends the run).
  std::string replay(PosixModel& m, const Entry& e) const;
  ClusterVerdict rebuild();
  void fold();
  int client_of(uint64_t rid) const;

  PosixModel base_;               // the model after every folded (final) entry
  std::vector<Entry> log_;        // entries after base_, in linearization order
  PosixModel model_;              // base_ + log_, without lost entries
  std::map<uint64_t, int> clients_;          // rid -> client id in the model
  std::map<uint64_t, uint64_t> durable_;     // rid -> highest durable transaction
  std::set<uint64_t> gone_;
  std::map<uint64_t, std::vector<uint64_t>> open_;  // rid -> its open inodes (for close)
  int next_client_ = 1;
  uint64_t ops_ = 0;
  uint64_t lost_ = 0;
  bool allow_eio_ = false;
  bool allow_enospc_ = false;
};

}  // namespace oracle
