// capture(): reads a mounted filesystem through its public VFS API only (readdir, getattr,
// read, readlink, listxattr/getxattr) into a PosixModel, so it can be compared with the model
// the workload maintained. It sees only what a user could see: the namespace from the root.
#pragma once

#include "fs/vfs/vfs.h"
#include "oracle/posix_model.h"

namespace oracle {

// Returns 0, or the first error the filesystem returned while being read (which is itself a
// finding: a consistent filesystem can be read completely). Stops at max_inodes (a cycle in a
// damaged tree must not hang the check).
int capture(simfs::fs::Vfs& vfs, PosixModel* out, size_t max_inodes = 100000);

}  // namespace oracle
