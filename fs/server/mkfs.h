// mkfs: writes a fresh, empty filesystem to a metadata and a data device — a super block, the
// allocators with every block free, an fs tree holding the root directory, and empty logs and
// mounted-clients trees. Runs in a task (it does I/O).
//
// btree_fill: the fill limit of the forest's trees (SuperBlock::btree_fill; 0 for whole
// blocks). EINVAL for a fill out of range or a data device of another block size; ENOSPC for
// devices too small to hold the allocators.
#pragma once

#include <cstdint>

#include "fs/base/env.h"
#include "sim/block_device.h"

namespace simfs::fs {

sim::Errno mkfs(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, uint64_t fsid, uint32_t btree_fill = 0);

}  // namespace simfs::fs
