// FsOp resolved against a model: the concrete targets an operation of the random workload
// names (which directory, which name, which file, which bytes), how to run it on the real
// filesystem, and what the POSIX model says it must return. The cluster checker chooses the
// targets when a client calls and judges the result when the call returns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fs/vfs/vfs.h"
#include "oracle/fs_checker.h"
#include "oracle/posix_model.h"

namespace oracle {

struct ResolvedOp {
  FsOp op;
  uint64_t dir = 0, dir2 = 0;  // directories (from the model's)
  uint64_t file = 0;           // a regular file (0: none in the model)
  uint64_t any = 0;            // any inode
  uint64_t open_ino = 0;       // close: one of the client's open inodes (0: none)
  std::string name, name2;
  uint64_t off = 0;            // write, read
  uint64_t size = 0;           // truncate
  uint32_t read_len = 0;
  std::string bytes;           // write data, xattr value, symlink target
  uint32_t mode = 0, uid = 0, gid = 0;  // setattr
  bool noreplace = false;      // rename
  // Whether running it can change the filesystem (reads, opens and syncs cannot).
  bool changes() const;
  // "kind(args) [dir 5 'a', ...]", for violation messages.
  std::string describe() const;
};

// What the filesystem answered.
struct FsOutcome {
  int err = 0;
  uint64_t ino = 0;   // create, mkdir, symlink: the new inode
  std::string data;   // read: the bytes returned
};

// Chooses the targets from `m` as `client` sees it; `open` is the client's open inodes.
ResolvedOp resolve_op(const PosixModel& m, const FsOp& op, const std::vector<uint64_t>& open);
// Runs it on the filesystem. A skip (no file to act on) is err -1 and touches nothing.
FsOutcome run_op(simfs::fs::Vfs& vfs, const ResolvedOp& r);
// Applies it to the model as `client` (new inodes take the number the filesystem gave) and
// returns the errno the model expects; for a read, *mismatch says how the data differs.
int apply_op(PosixModel& m, int client, const ResolvedOp& r, const FsOutcome& got, std::string* mismatch);

}  // namespace oracle
