#include "fs/quorum/fence_plan.h"

#include <algorithm>

namespace simfs::fs {

namespace {

bool possibly_live(const QuorumBlock& b) { return b.elect.term > b.stop.term; }

}  // namespace

FencePlan fence_plan(const std::vector<QuorumBlock>& blocks, uint64_t my_term, uint64_t my_rid) {
  FencePlan plan;
  uint64_t greatest_fence = 0;
  for (const QuorumBlock& b : blocks) {
    greatest_fence = std::max(greatest_fence, b.fence.term);
    if (b.elect.term > my_term || b.fence.term > my_term) plan.superseded = true;
  }
  if (plan.superseded) return plan;
  for (const QuorumBlock& b : blocks) {
    if (!possibly_live(b) || b.elect.rid == my_rid) continue;
    if (b.elect.term < greatest_fence) continue;  // the leader of greatest_fence fenced it
    plan.targets.push_back({b.slot, b.elect.rid, b.elect.term});
  }
  std::sort(plan.targets.begin(), plan.targets.end(),
            [](const FenceTarget& a, const FenceTarget& b) { return a.slot < b.slot; });
  return plan;
}

std::optional<ServerLocation> quorum_server_location(const std::vector<QuorumBlock>& blocks) {
  std::optional<ServerLocation> best;
  for (const QuorumBlock& b : blocks) {
    if (!possibly_live(b)) continue;
    // One leader per term, so equal terms mean damaged blocks; the lower slot wins, for determinism.
    if (!best || b.elect.term > best->term || (b.elect.term == best->term && b.slot < best->slot)) {
      best = ServerLocation{b.slot, b.elect.term, b.elect.rid};
    }
  }
  return best;
}

}  // namespace simfs::fs
