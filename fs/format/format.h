// The on-disk format of the metadata device: block header, block references, the super block,
// and the fixed block numbers. docs/format.md describes the same thing in prose.
//
// Contract:
// - Every field is encoded explicitly in little-endian order through sim::ByteWriter/ByteReader;
//   no host struct is ever copied to or from disk, so the format does not depend on the compiler.
// - Every metadata block starts with a BlockHeader. Its crc32c covers every byte of the block
//   after the crc field itself, so any single bit flip anywhere in the block is detected.
// - check_block() classifies a block read from disk against what the reader expected. The kinds
//   map onto the two errors the block layer returns (block_check_errno): EIO when the bytes are
//   damaged, ESTALE when they are intact but are not the block the reference names.
// - The format version and format hash are part of the super block and of the network
//   greeting: a mount or peer with a different hash refuses to proceed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "sim/bytes.h"
#include "sim/errors.h"

namespace simfs::fs {

// ---- geometry ----

// Metadata block size. scoutfs uses 64 KiB; the simulation scales it down to the simulated
// device's default block so one metadata block is one device I/O.
constexpr uint32_t kBlockSize = 4096;

// Block 0 is never used: a zeroed or foreign block 0 is the most likely thing to be read by
// a tool pointed at the wrong device, and keeping it unused means it is never mistaken for ours.
constexpr uint64_t kSuperBlkno = 1;
// One block per quorum slot, written only by the mount holding that slot (cluster work, later).
constexpr uint32_t kQuorumSlotsMax = 15;
constexpr uint64_t kQuorumBlknoFirst = 2;
constexpr uint64_t kQuorumBlknoLast = kQuorumBlknoFirst + kQuorumSlotsMax - 1;  // 16
// First block the metadata allocator may hand out; everything below is fixed-purpose.
constexpr uint64_t kMetaBlknoFirstAllocatable = kQuorumBlknoLast + 1;  // 17

constexpr uint64_t quorum_slot_blkno(uint32_t slot) { return kQuorumBlknoFirst + slot; }

// ---- block header ----

// Magic numbers say what kind of block this is. A reader always knows which kind it expects,
// so a block reused for another purpose is caught even when its checksum is fine.
enum class BlockMagic : uint32_t {
  kSuper = 0x53465355,      // "USFS"
  kBtree = 0x53464254,      // "TBFS" (generic; the btree itself writes the two kinds below)
  kBtreeLeaf = 0x53464C54,    // "TLFS"
  kBtreeParent = 0x53465054,  // "TPFS"
  kAllocList = 0x5346414C,  // "LAFS"
  kBloom = 0x5346424C,      // "LBFS"
  kQuorum = 0x5346514D,     // "MQFS"
};

struct BlockHeader {
  uint32_t crc = 0;  // crc32c of bytes [4, kBlockSize)
  uint32_t magic = 0;
  uint64_t fsid = 0;   // which filesystem wrote it (chosen at mkfs)
  uint64_t seq = 0;    // fresh for every copy-on-write version of a block
  uint64_t blkno = 0;  // where the writer meant it to land
  bool operator==(const BlockHeader&) const = default;
};
constexpr size_t kBlockHeaderBytes = 4 + 4 + 8 + 8 + 8;  // 32
constexpr size_t kCrcBytes = 4;

// A reference from one block (or the super) to another: the pair must match the header of the
// block it names. A matching blkno with a different seq means the block was rewritten since the
// reference was taken. Seqs are never reused: blocks the server writes take its counter
// (SuperBlock::server_seq); a mount's blocks take a per-mount hash with the top bit set
// (kMountBlockSeqBit), so the two never meet.
struct BlockRef {
  uint64_t blkno = 0;  // 0: no block (block 0 is never used)
  uint64_t seq = 0;
  bool operator==(const BlockRef&) const = default;
  bool empty() const { return blkno == 0; }
};
constexpr size_t kBlockRefBytes = 16;
constexpr uint64_t kMountBlockSeqBit = uint64_t{1} << 63;

void encode_ref(sim::ByteWriter& w, const BlockRef& r);
BlockRef decode_ref(sim::ByteReader& r);

// Writes the header fields after the crc (magic, fsid, seq, blkno) into `block`.
void put_header(std::span<uint8_t> block, const BlockHeader& h);
// Decodes the whole header, crc included, without checking anything.
BlockHeader get_header(std::span<const uint8_t> block);
// Computes the crc over the block and stores it in the first four bytes. Call last, after the
// payload and header are final.
void seal_block(std::span<uint8_t> block);
// The crc the block should carry.
uint32_t block_crc(std::span<const uint8_t> block);

// What the reader expects of a block. fsid or seq are unknown when reading the super block at
// mount time (the super is found by position, not through a reference).
struct BlockExpect {
  BlockMagic magic;
  std::optional<uint64_t> fsid;
  uint64_t blkno = 0;
  std::optional<uint64_t> seq;
};

enum class BlockCheck {
  kOk,
  kZeroed,       // all zeros: never written, or discarded after being freed
  kBadChecksum,  // bytes damaged (bit rot, torn write) or not a metadata block at all
  kWrongMagic,   // an intact block of another kind: reused after being freed
  kWrongFsid,    // an intact block of another filesystem (an older mkfs of this device)
  kWrongBlkno,   // an intact block that was meant for another block number (misdirected write)
  kWrongSeq,     // an intact older or newer version of the block the reference names
};
const char* block_check_name(BlockCheck c);

// Checks in a fixed order (zeroed, crc, magic, fsid, blkno, seq) so the first thing wrong is
// the one reported: a damaged block is never blamed on a stale reference.
BlockCheck check_block(std::span<const uint8_t> block, const BlockExpect& want);

// How the block layer reacts. Damage is EIO: retrying will read the same bytes. Everything else
// is ESTALE: the bytes are intact but the reader's reference is out of date, so it should
// re-read its roots and retry (and treat the same stale reference seen twice as EIO).
sim::Errno block_check_errno(BlockCheck c);

// ---- roots ----

struct BtreeRoot {
  BlockRef ref;
  uint8_t height = 0;  // 0: empty tree
  bool operator==(const BtreeRoot&) const = default;
};
constexpr size_t kBtreeRootBytes = kBlockRefBytes + 1;

// An extent-btree allocator: the tree and the number of free blocks it holds.
struct AllocRoot {
  BtreeRoot root;
  uint64_t total_len = 0;
  bool operator==(const AllocRoot&) const = default;
};
constexpr size_t kAllocRootBytes = kBtreeRootBytes + 8;

// Head of a singly linked list of blocks of block numbers (transaction allocators).
struct AllocListHead {
  BlockRef ref;
  uint64_t total_nr = 0;  // block numbers in the whole list
  uint32_t first_nr = 0;  // block numbers in the first list block
  bool operator==(const AllocListHead&) const = default;
};
constexpr size_t kAllocListHeadBytes = kBlockRefBytes + 8 + 4;

// Field encoders for the structs above (the same bytes wherever a struct is embedded).
void encode_btree_root(sim::ByteWriter& w, const BtreeRoot& r);
BtreeRoot decode_btree_root(sim::ByteReader& r);
void encode_alloc_root(sim::ByteWriter& w, const AllocRoot& a);
AllocRoot decode_alloc_root(sim::ByteReader& r);
void encode_list_head(sim::ByteWriter& w, const AllocListHead& h);
AllocListHead decode_list_head(sim::ByteReader& r);

// ---- super block ----

constexpr uint64_t kFormatVersion = 4;

// The layout, as text: one line per encoded field. The format hash is derived from it and a
// test pins the hash, so editing the description is a deliberate act; the layout tests check
// encoded fields at their documented offsets, which catches an encoder edited on its own.
extern const std::string_view kFormatDescription;
// FNV-1a 64 of kFormatDescription.
uint64_t format_hash();

// Written only by the server, once at the end of each of its commits, at kSuperBlkno.
struct SuperBlock {
  // From the block header.
  uint64_t fsid = 0;
  uint64_t seq = 0;  // header seq: increases with every super write
  // Payload.
  uint64_t format_version = kFormatVersion;
  uint64_t format_hash = 0;
  uint64_t next_ino = 0;
  uint64_t inode_count = 0;
  uint64_t server_seq = 0;  // the server's sequence counter (trans, lock write and merge seqs)
  uint64_t meta_blocks_total = 0;
  uint64_t data_blocks_total = 0;
  uint32_t quorum_slot_count = 0;  // slots configured at mkfs, <= kQuorumSlotsMax
  BtreeRoot fs_root;
  BtreeRoot logs_root;  // one record per log tree of every mount (items.h, LogTreeValue)
  std::array<AllocRoot, 2> meta_alloc;  // [0] avail, [1] freed; they swap
  AllocRoot data_alloc;
  std::array<AllocListHead, 2> server_meta_avail;  // double-buffered server allocators
  std::array<AllocListHead, 2> server_meta_freed;
  // Fill limit (bytes of entries per block) of the fs tree, the logs tree and the log trees,
  // chosen at mkfs; 0 means a whole block. Smaller limits make deeper trees from fewer items,
  // which is how tests and scenarios reach splits and joins at every level.
  uint32_t btree_fill = 0;
  // The mounted-clients tree: one record per mount the server knows (items.h). A mount's
  // record is written before its first transaction and deleted last when it leaves or is
  // reclaimed, so "no record" means "fully gone".
  BtreeRoot clients_root;
  // Bumped every time a server starts: clients that see a new term know their connection
  // state (sequence numbers, queued responses) belongs to a dead server and resend.
  uint64_t server_term = 0;
  bool operator==(const SuperBlock&) const = default;
};
// Bytes of payload after the header; the rest of the block is zero.
constexpr size_t kSuperPayloadBytes =
    7 * 8 + 4 + 2 * kBtreeRootBytes + 3 * kAllocRootBytes + 4 * kAllocListHeadBytes + 4 + kBtreeRootBytes + 8;
// The smallest btree_fill: two of the largest leaf entries (a 512-byte value) must fit a block.
constexpr uint32_t kBtreeFillMin = 1100;

// A whole kBlockSize block: header (magic kSuper, blkno kSuperBlkno), payload, zeros, sealed.
std::vector<uint8_t> encode_super(const SuperBlock& sb);
// Checks the block (kOk or the first thing wrong) and decodes it into *out when intact.
// A super whose version or hash differs from this binary's decodes fine; refusing to mount is
// the mount's decision, and it can say which it saw.
BlockCheck decode_super(std::span<const uint8_t> block, std::optional<uint64_t> fsid, SuperBlock* out);

}  // namespace simfs::fs
