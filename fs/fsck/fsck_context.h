// The state fsck's checkers share (internal to fs/fsck; the public API is fsck.h).
//
// fsck is a row of checkers, one per concern (checkers.h lists them in the order fsck() runs
// them). They communicate only through one FsckContext: the images and options, the report
// they add findings to, the decoded super, the walks of every tree and list, the claims each
// walk makes on metadata and data blocks, and the merged view of the filesystem's items.
// Everything here is ordered (vectors, ordered maps and sets), so the report is the same for the
// same images.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "fs/btree/btree_check.h"
#include "fs/format/btree_block.h"
#include "fs/format/format.h"
#include "fs/format/items.h"
#include "fs/fsck/fsck.h"

namespace simfs::fs::fsck_internal {

// Data block 0 is never handed out (0 means a hole), as metadata block 0 is never used.
constexpr uint64_t kDataBlknoFirst = 1;

std::string num(uint64_t v);
// "block 7" or "blocks 7..9 (3)".
std::string range_string(uint64_t start, uint64_t len);

// Who claims a block. The partition sweeps (partition_check.cc) require each allocatable block
// to be claimed exactly once, and name both owners of a block claimed twice.
enum class Owner : uint8_t {
  kFsTree,
  kLogsTree,
  kLogTree,
  kMetaBitmapTree,
  kDataBitmapTree,
  kAvailListBlock,
  kFreedListBlock,
  kAvail,
  kFreed,
  kMetaFree,
  kExtent,
  kDataFree,
  kClientsTree,
};

// A run of blocks [start, start + len) with one owner. Extent claims also say which inode maps
// the run and at which file block, so a block mapped twice names both files.
struct Claim {
  uint64_t start = 0;
  uint64_t len = 0;
  Owner owner = Owner::kFsTree;
  uint64_t ino = 0;         // kExtent: the inode
  uint64_t file_block = 0;  // kExtent: the file block that maps `start`
  auto key() const { return std::tie(start, len, owner, ino, file_block); }
  bool operator<(const Claim& o) const { return key() < o.key(); }
};

// One btree as walk_tree() saw it.
struct TreeWalk {
  std::string name;  // in messages: "fs tree", "log tree 3.1", ...
  Owner owner;       // claims its blocks
  bool complete = true;     // false: a block could not be read, so `items` is partial
  std::vector<Item> items;  // the leaves' items, in key order
  BtreeConfig config = {};  // fill bounds check_tree holds the tree to
};

// A log tree: its walk and the logs tree record that describes it.
struct LogWalk {
  TreeWalk walk;
  LogTreeValue v;
};

struct FsckContext {
  FsckContext(const ImageReader& meta, const ImageReader& data, const FsckOptions& opts)
      : meta(meta), data(data), opts(opts) {}

  // Records a finding; past opts.max_per_kind of one kind, only counts it.
  void add(const std::string& kind, uint64_t block, std::optional<Key> key, std::string msg);
  // Reads metadata block `blkno` into `out` (resized to a block). False: unreadable.
  bool read_meta(uint64_t blkno, std::vector<uint8_t>* out);
  void claim_meta(uint64_t blkno, uint64_t len, Owner owner);
  // A reference to an allocatable block; false (with a finding) when it points elsewhere.
  bool ref_in_range(BlockRef ref, const std::string& what);
  // Reads and verifies a referenced block; reports the first thing wrong.
  bool read_ref(BlockRef ref, BlockMagic magic, const std::string& what, std::vector<uint8_t>* out);
  // Every tree that holds the filesystem's items was read whole (the namespace can be judged).
  bool items_complete() const;

  const ImageReader& meta;
  const ImageReader& data;
  FsckOptions opts;
  FsckReport report;

  // ---- from the super (super_check.cc) ----
  SuperBlock sb;
  uint64_t meta_hi = 0;  // blocks below this are checked (the smaller of the super's and the image's)
  uint64_t data_hi = 0;
  BtreeConfig forest_config = {};  // fill bounds of the fs, logs and log trees (super.btree_fill)

  // ---- from the walks (tree_walk.cc, logs_check.cc, alloc_check.cc) ----
  std::set<uint64_t> visited;  // metadata blocks walked; each is walked at most once
  std::vector<Claim> meta_claims, data_claims;
  TreeWalk fs, logs, meta_bitmap, data_bitmap;
  std::vector<LogWalk> log_trees;
  std::optional<MergeStatusValue> merge_status;  // the server's log merge in progress
  struct MergeRequestRecord {
    Key key;
    MergeRequestValue v;
  };
  std::vector<MergeRequestRecord> merge_requests;  // pieces of the merge handed to clients
  TreeWalk clients;
  bool lists_complete = true;  // the avail and freed lists were read whole

  // ---- merge_forest() (logs_check.cc): the filesystem's items, in key order ----
  std::vector<const Item*> live;
};

}  // namespace simfs::fs::fsck_internal
