// Items: the filesystem's records as btree items — which key each kind of record lives at and
// how its value is encoded. docs/format.md ("Filesystem items") describes the same thing.
//
// Contract:
// - Every kind of record has one key constructor here and, when it has a value, one encoder and
//   one decoder. Nothing else builds keys or values, so the schema can be read in one place.
// - Decoders validate: a value that could not have come from the encoder returns false (the
//   caller reports EIO or, in fsck, a corruption finding). They never read past the value.
// - Keys of one inode sort together and, within it, by type; the zone keeps allocator and
//   orphan records out of the way of inode scans.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fs/format/format.h"
#include "fs/format/key.h"
#include "fs/format/lock_bloom.h"

namespace simfs::fs {

// ---- zones and types ----

constexpr uint8_t kZoneFs = 1;      // inode records: ino = the inode
constexpr uint8_t kZoneOrphan = 2;  // ino = an unlinked inode still to be deleted
constexpr uint8_t kZoneAlloc = 3;   // ino = which allocator (kAllocMeta, kAllocData)
constexpr uint8_t kZoneLogs = 4;    // in the logs tree: ino = the mount's rid (0: merge status)
constexpr uint8_t kZoneClients = 5; // in the mounted-clients tree: ino = the mount's rid

constexpr uint8_t kTypeInode = 1;
constexpr uint8_t kTypeXattr = 2;    // first = name hash, second = collision index
constexpr uint8_t kTypeDirent = 3;   // first = name hash, second = readdir position
constexpr uint8_t kTypeReaddir = 4;  // first = readdir position
constexpr uint8_t kTypeLink = 5;     // backref: first = directory ino, second = readdir position
constexpr uint8_t kTypeExtent = 6;   // first = region index (offset / kExtentRegionBytes)
constexpr uint8_t kTypeSymlink = 7;  // the link target
constexpr uint8_t kTypeOrphan = 8;   // in kZoneOrphan
constexpr uint8_t kTypeBitmap = 9;   // in kZoneAlloc: first = region index
constexpr uint8_t kTypeLogTree = 10; // in kZoneLogs: first = the log tree's nr (per rid, rising)
constexpr uint8_t kTypeMountedClient = 11;  // in kZoneClients
constexpr uint8_t kTypeMergeStatus = 12;    // in kZoneLogs, rid 0: the log merge in progress
constexpr uint8_t kTypeMergeRequest = 13;   // in kZoneLogs, rid 0: first = a merge request's id

constexpr uint64_t kAllocMeta = 0;
constexpr uint64_t kAllocData = 1;

constexpr uint64_t kRootIno = 1;
constexpr uint64_t kFirstIno = 2;
constexpr size_t kNameMax = 255;
constexpr size_t kSymlinkMax = 400;  // a target must fit one item value
constexpr size_t kXattrNameMax = 255;
constexpr size_t kXattrValueMax = 200;  // name + value must fit one item value
// Readdir positions 0 and 1 are "." and ".."; entries start at 2 and only grow, so a position
// handed out once is never handed out again in that directory (stable telldir cookies).
constexpr uint64_t kFirstReaddirPos = 2;

// File type bits of mode, as POSIX has them.
constexpr uint32_t kModeTypeMask = 0170000;
constexpr uint32_t kModeReg = 0100000;
constexpr uint32_t kModeDir = 0040000;
constexpr uint32_t kModeLnk = 0120000;
inline bool is_dir(uint32_t mode) { return (mode & kModeTypeMask) == kModeDir; }
inline bool is_reg(uint32_t mode) { return (mode & kModeTypeMask) == kModeReg; }
inline bool is_lnk(uint32_t mode) { return (mode & kModeTypeMask) == kModeLnk; }

// ---- data geometry ----

constexpr uint32_t kDataBlockSize = 4096;
// One packed extent item maps this many consecutive file blocks (seed 001: coarse, stable items
// instead of one item per extent that moves as extents grow and shrink).
constexpr uint32_t kExtentRegionBlocks = 32;
constexpr uint64_t kExtentRegionBytes = uint64_t{kExtentRegionBlocks} * kDataBlockSize;
constexpr uint64_t kFileSizeMax = uint64_t{1} << 40;  // larger offsets are EFBIG
// One bitmap item tracks this many device blocks; a set bit is a free block.
constexpr uint32_t kBitmapRegionBlocks = 4096;
constexpr size_t kBitmapBytes = kBitmapRegionBlocks / 8;  // 512: exactly one item value

// ---- keys ----

Key inode_key(uint64_t ino);
Key xattr_key(uint64_t ino, uint64_t hash, uint64_t index);
Key dirent_key(uint64_t dir, uint64_t hash, uint64_t pos);
Key readdir_key(uint64_t dir, uint64_t pos);
Key link_key(uint64_t ino, uint64_t dir, uint64_t pos);
Key extent_key(uint64_t ino, uint64_t region);
Key symlink_key(uint64_t ino);
Key orphan_key(uint64_t ino);
Key bitmap_key(uint64_t allocator, uint64_t region);
Key log_tree_key(uint64_t rid, uint64_t nr);
Key merge_status_key();
Key merge_request_key(uint64_t id);
Key mounted_client_key(uint64_t rid);
// The first and last key of all of one inode's records, and of one type of them.
Key inode_first(uint64_t ino);
Key inode_last(uint64_t ino);
Key type_first(uint64_t ino, uint8_t type);
Key type_last(uint64_t ino, uint8_t type);

// Hash of a directory entry or xattr name: FNV-1a 64, top bit cleared so it never collides
// with the range-end sentinels callers build from UINT64_MAX.
uint64_t name_hash(std::string_view name);

// ---- values ----

struct InodeValue {
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  uint64_t size = 0;
  uint64_t atime_ns = 0;
  uint64_t mtime_ns = 0;
  uint64_t ctime_ns = 0;
  uint64_t next_readdir_pos = kFirstReaddirPos;  // directories only
  bool operator==(const InodeValue&) const = default;
};
std::vector<uint8_t> encode_inode(const InodeValue& v);
bool decode_inode(std::span<const uint8_t> v, InodeValue* out);

// A directory entry, stored twice: by name hash (lookup) and by position (readdir). Both
// values are the same record.
struct DirentValue {
  uint64_t ino = 0;
  uint64_t pos = 0;
  uint8_t dtype = 0;  // mode >> 12, as readdir reports it
  std::string name;
  bool operator==(const DirentValue&) const = default;
};
std::vector<uint8_t> encode_dirent(const DirentValue& v);
bool decode_dirent(std::span<const uint8_t> v, DirentValue* out);

// A link backref names the entry that links to the inode (its key says where); the value is
// the name, so a path can be rebuilt from an inode without scanning directories.
std::vector<uint8_t> encode_link(std::string_view name);
bool decode_link(std::span<const uint8_t> v, std::string* name);

struct XattrValue {
  std::string name;
  std::string value;
};
std::vector<uint8_t> encode_xattr(const XattrValue& v);
bool decode_xattr(std::span<const uint8_t> v, XattrValue* out);

std::vector<uint8_t> encode_symlink(std::string_view target);
bool decode_symlink(std::span<const uint8_t> v, std::string* target);

// The mapping of one region of a file: the device block of each file block, 0 for a hole.
// Stored as runs {start, len, blkno} of physically consecutive blocks, so a sequentially
// written region is one small run whatever its length.
using ExtentMap = std::array<uint64_t, kExtentRegionBlocks>;
std::vector<uint8_t> encode_extent(const ExtentMap& m);
bool decode_extent(std::span<const uint8_t> v, ExtentMap* out);
inline bool extent_empty(const ExtentMap& m) {
  for (uint64_t b : m)
    if (b) return false;
  return true;
}

// One mount's log btree, as recorded in the logs tree (super.logs_root). A mount writes its
// transactions' items into its open log tree; once finalized, the tree takes no more writes and
// is merged into the fs tree, then freed and its record erased. The record also holds the
// mount's transaction allocators, so a dead mount's allocators are found and reclaimed from it.
struct LogTreeValue {
  BtreeRoot root;
  uint64_t item_count = 0;  // items (deletions included) the tree holds
  uint64_t max_seq = 0;     // the highest item seq in the tree (0: empty)
  bool finalized = false;
  // Reserved: always Key::min() today (the merge's position is in MergeStatusValue::next);
  // fsck reports an open tree whose merge_next is set (logs.merge_next).
  Key merge_next = Key::min();
  // The mount's metadata allocator lists: blocks it may allocate, blocks its commits freed.
  AllocListHead meta_avail;
  AllocListHead meta_freed;
  // Its data allocator: bitmap trees of data blocks it may allocate and blocks it freed.
  AllocRoot data_avail;
  AllocRoot data_freed;
  // The transaction the server opened for it (GET_LOG_TREES) and the last one it committed:
  // get > commit while a transaction is open. Re-executed requests compare them.
  uint64_t get_trans_seq = 0;
  uint64_t commit_trans_seq = 0;
  uint64_t finalize_seq = 0;  // the server seq when it was finalized (0: open)
  uint64_t first_seq = 0;     // the get_trans_seq of its first transaction: no item seq is lower
  int64_t inode_delta = 0;    // inodes created minus deleted by its transactions
  // The locks of its items (the mounts add them at commit): readers skip trees without theirs.
  LockBloom bloom;
  bool operator==(const LogTreeValue&) const = default;
};
std::vector<uint8_t> encode_log_tree(const LogTreeValue& v);
bool decode_log_tree(std::span<const uint8_t> v, LogTreeValue* out);

// The log merge the server is running: every finalized log tree with finalize_seq < input_seq
// is an input, and keys below `next` are merged into the fs tree.
struct MergeStatusValue {
  uint64_t input_seq = 0;
  Key next = Key::min();
  bool operator==(const MergeStatusValue&) const = default;
};
std::vector<uint8_t> encode_merge_status(const MergeStatusValue& v);
bool decode_merge_status(std::span<const uint8_t> v, MergeStatusValue* out);

// A piece of the log merge handed to a client (GET_LOG_MERGE), kept until the server has
// spliced its result or taken back its blocks: the subtree of the fs tree that covers
// [start, end] (the whole fs tree when level is 0), and the metadata blocks it may allocate
// (avail, an alloc list the server wrote). Every block of avail belongs to the request while
// the record exists: the client may have written into any of them.
constexpr uint8_t kMergeRequestAbandoned = 1;  // its client went away: the range is redone
struct MergeRequestValue {
  uint64_t rid = 0;        // the client working on it
  uint64_t nonce = 0;      // the client's number for its GET_LOG_MERGE (a resend finds it)
  uint64_t input_seq = 0;  // the merge it belongs to
  Key start;
  Key end;
  BtreeRoot subtree;       // the fs tree block it rewrites, as of the request
  uint8_t level = 0;       // subtree.height - 1, or 0 for the whole tree
  uint8_t flags = 0;       // kMergeRequestAbandoned
  AllocListHead avail;
  bool operator==(const MergeRequestValue&) const = default;
};
std::vector<uint8_t> encode_merge_request(const MergeRequestValue& v);
bool decode_merge_request(std::span<const uint8_t> v, MergeRequestValue* out);

// A mount the server knows (the mounted-clients tree).
constexpr uint64_t kMountedClientVoter = 1;
// Reclaim's first step is durable (its log tree finalized, its allocators returned, its merge
// pieces given back, its locks no longer to be recovered): all that is left is erasing this
// record, which a server that finds it at its start does at once (clients.cc).
constexpr uint64_t kMountedClientReclaiming = 2;
struct MountedClientValue {
  uint32_t node = 0;   // where it runs (its address)
  uint64_t flags = 0;  // kMountedClientVoter, kMountedClientReclaiming
  bool operator==(const MountedClientValue&) const = default;
};
std::vector<uint8_t> encode_mounted_client(const MountedClientValue& v);
bool decode_mounted_client(std::span<const uint8_t> v, MountedClientValue* out);

}  // namespace simfs::fs
