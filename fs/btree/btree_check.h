// check_tree: a structural checker for one btree, the btree part of fsck.
//
// Contract: walks every block reachable from `root` and returns a description of the first
// violation found, or an empty string when the tree is sound. The walk is depth first in key
// order and the checks run in a fixed order per block, so the same tree always yields the same
// message. Checked, in order:
// - the root: height within kBtreeHeightMax, and an empty ref exactly when the height is 0;
// - each reference: no block referenced twice; the block reads back (crc, magic, fsid, blkno,
//   seq); a block of the other kind where one was expected is reported as unbalanced (a leaf
//   above level 0 or a parent at level 0);
// - each block: it decodes; its level field equals height - 1 - depth (so every leaf is at the
//   same depth); fill within config.entries_bytes_max and, except for the root, at least
//   config.low_water(); a root leaf holds an item and a root parent at least two children;
//   values within config.value_bytes_max;
// - keys: strictly increasing within a block; every key in a child greater than the previous
//   sibling's parent key (ordering across blocks); each parent key equal to its child's largest.
// The BlockCache form reads through the cache, so dirty (uncommitted) blocks are checked as they
// stand. The CheckReadFn form reads through any source of verified blocks (fsck reads images);
// it is synchronous when the function is, and never reads a block twice except to tell a block
// of the other btree kind (unbalanced) from a damaged one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fs/block/block_cache.h"
#include "fs/btree/btree.h"
#include "fs/format/format.h"

namespace simfs::fs {

// Reads the block `ref` names, expecting `magic`, and verifies it as BlockCache::read does (crc,
// magic, fsid, blkno, seq): 0 with the whole kBlockSize block in *block, or EIO / ESTALE.
using CheckReadFn = std::function<sim::Errno(BlockRef ref, BlockMagic magic, std::vector<uint8_t>* block)>;

std::string check_tree(const CheckReadFn& read, const BtreeRoot& root, const BtreeConfig& config);
std::string check_tree(BlockCache& cache, const BtreeRoot& root, const BtreeConfig& config);

}  // namespace simfs::fs
