// fsck's checkers, one per concern, in the order fsck() (fsck.cc) runs them. Each reads and
// adds to the shared FsckContext; the order fixes the order of the report's findings, and later
// checkers rely on what earlier ones gathered (the sweeps on every walk's claims, the namespace
// on the merged items). Each file's header says what it checks and which kinds it reports.
#pragma once

#include "fs/fsck/fsck_context.h"

namespace simfs::fs::fsck_internal {

// super_check.cc: decodes the super and checks its fields. False: nothing else can be checked.
bool check_super(FsckContext& cx);

// tree_walk.cc: walks one btree into `walk`, claiming its blocks and checking its structure.
void walk_tree(FsckContext& cx, const BtreeRoot& root, TreeWalk* walk);
// tree_walk.cc: the fs tree.
void walk_fs_tree(FsckContext& cx);

// logs_check.cc: the logs tree and every log tree it records.
void check_logs(FsckContext& cx);

// clients_check.cc: the mounted-clients tree.
void check_clients(FsckContext& cx);

// alloc_check.cc: the bitmap trees, the avail and freed lists, and the bitmaps' totals; then
// every log tree record's allocators (its avail and freed lists, its data bitmap trees).
void check_allocators(FsckContext& cx);

// partition_check.cc: every allocatable metadata block claimed exactly once.
void check_meta_partition(FsckContext& cx);

// logs_check.cc: merges the fs tree and the log trees into cx.live (needs items_complete()).
void merge_forest(FsckContext& cx);

// namespace_check.cc: inodes, entries, links, symlinks, xattrs, orphans and extents.
void check_namespace(FsckContext& cx);

// partition_check.cc: every data block mapped by an extent or free, exactly once.
void check_data_partition(FsckContext& cx);

}  // namespace simfs::fs::fsck_internal
