// fsck: an offline consistency check of a filesystem's durable state, read from images of its
// metadata and data devices. docs/format.md ("fsck") lists every finding kind.
//
// Contract:
// - Pure and synchronous: no simulation, no tasks, no I/O beyond the ImageReader calls. The same
//   images always give the same report (findings in a fixed order).
// - Never crashes, hangs or loops on damaged or hostile input: every block is visited at most
//   once, tree depth is bounded by kBtreeHeightMax, list walks by the blocks the head claims,
//   every count and length is validated before use, and the work is bounded by the image size.
//   Findings are capped per kind (the rest are counted).
// - A filesystem written by the VFS and committed reports no findings. Anything else is a finding
//   {kind, block, key, message}, where kind is a stable id (documented; tests and tools match it).
// - Checks that depend on a part that could not be read (an unreadable tree block hides what is
//   under it) are skipped and say so in `notes`, instead of reporting what they cannot know.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fs/format/key.h"
#include "sim/block_device.h"

namespace simfs::fs {

// A read-only view of one device's durable contents.
struct ImageReader {
  uint64_t block_count = 0;
  uint32_t block_size = 0;
  // Copies block `blkno` (< block_count) into `out` (block_size bytes). False: unreadable.
  std::function<bool(uint64_t blkno, std::span<uint8_t> out)> read;
};

// The durable contents of a simulated device (BlockDevice::peek_durable); the device must outlive
// the reader.
ImageReader durable_reader(const sim::BlockDevice& dev);
// A decoded image file (sim::parse_device_image); the image must outlive the reader.
ImageReader image_reader(const sim::DeviceImage& img);

struct FsckFinding {
  std::string kind;         // stable id, e.g. "meta.leak"
  uint64_t block = 0;       // the metadata (or, for data.* kinds, data) block concerned; 0: none
  std::optional<Key> key;   // the item concerned, if any
  std::string message;
};

struct FsckCounts {
  uint64_t meta_blocks = 0;        // device blocks (meta_blocks_total)
  uint64_t meta_referenced = 0;    // allocatable blocks referenced by a tree or list
  uint64_t meta_free = 0;          // set bits of the metadata bitmap
  uint64_t meta_avail = 0;         // entries on the avail list
  uint64_t meta_freed = 0;         // entries on the freed list
  uint64_t data_blocks = 0;        // device blocks (data_blocks_total)
  uint64_t data_mapped = 0;        // data blocks mapped by extents
  uint64_t data_free = 0;          // set bits of the data bitmap
  uint64_t items = 0;              // fs tree items
  uint64_t inodes = 0;
  uint64_t directories = 0;
  uint64_t files = 0;
  uint64_t symlinks = 0;
  uint64_t dirents = 0;
  uint64_t xattrs = 0;
  uint64_t extent_items = 0;
  uint64_t orphans = 0;
  uint64_t mounted_clients = 0;
};

struct FsckReport {
  std::vector<FsckFinding> findings;       // in check order; at most max_per_kind of each kind
  std::map<std::string, uint64_t> kinds;   // every finding kind -> how many (dropped included)
  uint64_t dropped = 0;                    // findings left out of `findings` by the cap
  FsckCounts counts;
  std::vector<std::string> notes;          // checks skipped and why
  std::vector<uint64_t> referenced;        // live metadata blocks: the super, tree and list blocks
  bool clean() const { return kinds.empty(); }
  bool has(const std::string& kind) const { return kinds.count(kind) > 0; }
};

struct FsckOptions {
  size_t max_per_kind = 100;
};

FsckReport fsck(const ImageReader& meta, const ImageReader& data, const FsckOptions& opts = {});

// A human-readable report: counts, notes, then one line per finding.
std::string format_report(const FsckReport& r);

}  // namespace simfs::fs
