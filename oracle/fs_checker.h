// FsChecker: runs filesystem operations against the real filesystem and the POSIX model side
// by side, and judges the results. One checker serves the model tests, the crash-point sweep
// and the single_mount scenario.
//
// Invariants (ids as reported by the scenario):
//   fs.op_result     every operation returns what the model says (errno, and data for reads);
//   fs.durability    after a crash and remount, the filesystem equals the model as of the
//                    last durable commit — or, if a commit was in flight at the crash, as of
//                    that commit (the only two states a crash may leave);
//   fs.readable      a mounted filesystem can be read completely through its API.
//
// Durability is tracked from the mount's commit counter: after every operation whose call
// saw the counter move, the model as it stands is durable (a commit writes everything the
// operations before it did, and operations are serialized with commits).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fs/client/mount.h"
#include "fs/vfs/vfs.h"
#include "oracle/posix_model.h"

namespace oracle {

struct FsOp {
  enum Kind : uint8_t {
    kCreate, kMkdir, kUnlink, kRmdir, kRename, kLink, kSymlink, kWrite, kTruncate, kRead,
    kSetxattr, kRemovexattr, kOpen, kClose, kFsync, kSync, kSetattr, kKinds
  };
  Kind kind = kCreate;
  // Picks among the model's current directories / files / names; reduced modulo their count,
  // so any values make a valid (if failing) operation and a shrinker can lower them freely.
  uint32_t a = 0, b = 0, c = 0, d = 0;
  uint32_t len = 0;
  std::string describe() const;
  // "create", "mkdir", ...: the kind's name, for messages and parameter names.
  static const char* kind_name(Kind k);
};

class FsChecker {
 public:
  // With disk faults injected, EIO is a legitimate answer to any operation: the operation did
  // not happen (or, if the mount stopped, recovery will tell). Off by default.
  void allow_eio(bool on) { allow_eio_ = on; }
  // Small devices: ENOSPC is then an acceptable answer to any operation, meaning (like EIO)
  // that it did not happen. Not judged against free space: the model does not track blocks.
  // Off by default, where ENOSPC is a mismatch like any other wrong errno.
  void allow_enospc(bool on) { allow_enospc_ = on; }
  uint64_t enospc_accepted() const { return enospc_; }
  // Runs op on vfs and the model. Returns "" or a description of the mismatch. *io_error is
  // set when the filesystem answered EIO and allow_eio is on.
  std::string step(simfs::fs::Vfs& vfs, simfs::fs::Mount& mount, const FsOp& op, bool* io_error = nullptr);
  // A crash happened; `last` is the dead mount's stats: which operations were durable and
  // which were being committed when it stopped.
  void crash_seen(const simfs::fs::MountStats& last);
  // After remounting: the filesystem must equal the durable model or the in-flight one. The
  // checker continues from whichever it was (operation numbers restart with the new mount).
  std::string check_recovered(simfs::fs::Vfs& vfs, bool* io_error = nullptr);
  // Compares the live filesystem with the live model.
  std::string check_live(simfs::fs::Vfs& vfs, bool* io_error = nullptr);

  const PosixModel& model() const { return model_; }
  uint64_t ops() const { return ops_; }

 private:
  std::vector<uint64_t> dirs() const;
  std::vector<uint64_t> files() const;
  std::vector<uint64_t> all() const;
  // The model after the mount's operation number `ops` (the latest recorded at or before it).
  const PosixModel& model_at(uint64_t ops) const;
  void record(uint64_t ops, const PosixModel& m);

  PosixModel model_;
  PosixModel base_;                          // the model before the first recorded operation
  std::map<uint64_t, PosixModel> history_;   // operation number -> model after it
  PosixModel durable_;
  PosixModel inflight_;
  std::vector<uint64_t> open_;  // open references the checker holds (inode numbers)
  uint64_t ops_ = 0;
  bool allow_eio_ = false;
  bool allow_enospc_ = false;
  uint64_t enospc_ = 0;
};

}  // namespace oracle
