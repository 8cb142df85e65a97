// The fence plan: what a newly elected server must do about earlier leaders before it serves,
// and where clients look for the server. Both are pure functions of the quorum blocks, read from
// the device after this slot's ELECT is durable (so that of two leaders racing to start, the
// later one always sees the earlier: one of them reads after the other's ELECT was written).
//
// Reading the blocks (scoutfs-design.md section 6, invariant 32):
// - A slot whose latest ELECT term exceeds its latest STOP term may still be serving: it was
//   elected and has not said it stopped (a crash never writes STOP).
// - The greatest FENCE term F over all slots says "the leader of F fenced everything before
//   it": leaders of terms below F need nothing more.
// - So the server of term T with rid R fences every possibly-live leader whose ELECT term is in
//   [F, T] and whose rid is not R (itself; an earlier incarnation of its own slot has another
//   rid and is fenced like anyone else).
// - If some slot shows an ELECT or FENCE term above T, a later leader already exists: this
//   server is superseded and must stop instead of serving (the later one fences it, or did).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "fs/format/quorum_block.h"

namespace simfs::fs {

struct FenceTarget {
  uint32_t slot = 0;
  uint64_t rid = 0;   // the mount to fence (its ELECT rid)
  uint64_t term = 0;  // the term it was elected in
  bool operator==(const FenceTarget&) const = default;
};

struct FencePlan {
  bool superseded = false;
  std::vector<FenceTarget> targets;  // by slot; empty when superseded
  bool operator==(const FencePlan&) const = default;
};

// `blocks`: every slot's block that decoded, at most one per slot, any order (zeroed slots
// left out: they never led).
FencePlan fence_plan(const std::vector<QuorumBlock>& blocks, uint64_t my_term, uint64_t my_rid);

// Where clients connect: the slot whose ELECT term is the greatest of those exceeding their
// STOP term, or nothing when no slot may be serving. A wrong guess (that server died without
// STOP) only costs the client a timeout and a retry.
struct ServerLocation {
  uint32_t slot = 0;
  uint64_t term = 0;
  uint64_t rid = 0;
  bool operator==(const ServerLocation&) const = default;
};
std::optional<ServerLocation> quorum_server_location(const std::vector<QuorumBlock>& blocks);

}  // namespace simfs::fs
