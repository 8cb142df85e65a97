// The partitions: every allocatable block of each device belongs to exactly one owner. A
// metadata block is referenced by one tree or list, or free in the meta bitmap, or on the avail
// or freed list. A data block is mapped by one extent, or free in the data bitmap. The walks
// made the claims; a sweep in block order finds a block claimed twice (the two owners are named)
// and one claimed by nothing, a leak. Leaks are only reported when every claimant was read
// whole, since an unread block hides the claims under it.
//
// Reports: meta.double, meta.leak, data.double, data.leak.
#include <algorithm>

#include "fs/fsck/checkers.h"

namespace simfs::fs::fsck_internal {

namespace {

std::string owner_string(const Claim& c) {
  switch (c.owner) {
    case Owner::kFsTree: return "an fs tree block";
    case Owner::kLogsTree: return "a logs tree block";
    case Owner::kLogTree: return "a log tree block";
    case Owner::kMetaBitmapTree: return "a meta bitmap tree block";
    case Owner::kDataBitmapTree: return "a data bitmap tree block";
    case Owner::kAvailListBlock: return "an avail list block";
    case Owner::kFreedListBlock: return "a freed list block";
    case Owner::kAvail: return "on the avail list";
    case Owner::kFreed: return "on the freed list";
    case Owner::kMetaFree: return "free in the meta bitmap";
    case Owner::kExtent: return "mapped by inode " + num(c.ino) + " at file block " + num(c.file_block);
    case Owner::kDataFree: return "free in the data bitmap";
    case Owner::kClientsTree: return "a mounted-clients tree block";
  }
  return "?";
}

// Every block in [lo, hi) must be claimed exactly once.
void sweep(FsckContext& cx, std::vector<Claim>& claims, uint64_t lo, uint64_t hi, const std::string& prefix,
           bool leaks, const std::string& leak_text) {
  std::sort(claims.begin(), claims.end());
  uint64_t covered = lo;
  Claim last{};
  for (const Claim& c : claims) {
    const uint64_t end = c.start + c.len;
    if (c.start > covered) {
      if (leaks) cx.add(prefix + ".leak", covered, std::nullopt, range_string(covered, c.start - covered) + leak_text);
    } else if (c.start < covered) {
      const uint64_t dend = std::min(end, covered);
      cx.add(prefix + ".double", c.start, std::nullopt,
             range_string(c.start, dend - c.start) + " is " + owner_string(last) + " and " + owner_string(c));
    }
    if (end > covered) {
      covered = end;
      last = c;
    }
  }
  if (covered < hi && leaks) {
    cx.add(prefix + ".leak", covered, std::nullopt, range_string(covered, hi - covered) + leak_text);
  }
}

}  // namespace

void check_meta_partition(FsckContext& cx) {
  const bool complete = cx.items_complete() && cx.meta_bitmap.complete && cx.data_bitmap.complete && cx.lists_complete;
  if (!complete) cx.report.notes.push_back("meta.leak check skipped: some metadata could not be read");
  sweep(cx, cx.meta_claims, kMetaBlknoFirstAllocatable, cx.meta_hi, "meta", complete,
        " neither referenced, free in the meta bitmap, on the avail list nor on the freed list");
}

void check_data_partition(FsckContext& cx) {
  const bool complete = cx.items_complete() && cx.data_bitmap.complete;
  if (!complete) {
    cx.report.notes.push_back("data.leak check skipped: the fs or log trees or the data bitmap could not be read");
  }
  for (const Claim& c : cx.data_claims) {
    if (c.owner == Owner::kExtent) cx.report.counts.data_mapped += c.len;
  }
  sweep(cx, cx.data_claims, kDataBlknoFirst, cx.data_hi, "data", complete,
        " neither mapped by an extent nor free in the data bitmap");
}

}  // namespace simfs::fs::fsck_internal
