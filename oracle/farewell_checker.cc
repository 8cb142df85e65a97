#include "oracle/farewell_checker.h"

#include <utility>

namespace oracle {

FarewellChecker::FarewellChecker(uint32_t slots, std::vector<bool> voter_nodes)
    : needed_(slots <= 2 ? 1 : slots / 2 + 1), voter_(std::move(voter_nodes)) {}

void FarewellChecker::mounting(int node, uint64_t rid) { mounts_[rid] = MountState{node, false, false}; }

void FarewellChecker::mounted(uint64_t rid) {
  auto it = mounts_.find(rid);
  if (it != mounts_.end()) it->second.mounted = true;
}

void FarewellChecker::leaving(uint64_t rid) {
  auto it = mounts_.find(rid);
  if (it != mounts_.end()) it->second.leaving = true;
}

void FarewellChecker::gone(uint64_t rid) { mounts_.erase(rid); }

std::string FarewellChecker::farewell_done(uint64_t rid, const std::vector<bool>& nodes_up) {
  auto it = mounts_.find(rid);
  if (it == mounts_.end()) return "";
  const MountState m = it->second;
  mounts_.erase(it);
  if (!voter_.at(static_cast<size_t>(m.node))) return "";
  ++voter_farewells_;
  std::set<int> voters_left;  // voter nodes that may still be mounted
  std::set<int> staying;      // mounted, live, not leaving: they would need a server
  for (const auto& [r, s] : mounts_) {
    const size_t n = static_cast<size_t>(s.node);
    if (voter_.at(n)) voters_left.insert(s.node);
    if (s.mounted && !s.leaving && n < nodes_up.size() && nodes_up[n]) staying.insert(s.node);
  }
  if (voters_left.size() >= needed_ || staying.empty()) return "";
  std::string nodes;
  for (int n : staying) nodes += (nodes.empty() ? "" : ", ") + std::to_string(n);
  return "the farewell of voting mount " + std::to_string(rid) + " (node " + std::to_string(m.node) +
         ") was answered with " + std::to_string(voters_left.size()) + " voter(s) left, fewer than the " +
         std::to_string(needed_) + " an election needs, while the mounts on node(s) " + nodes + " stay";
}

}  // namespace oracle
