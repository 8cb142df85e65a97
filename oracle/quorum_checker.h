// QuorumChecker: the election's safety, judged from what the voting slots make durable and from
// which servers run (scoutfs-design §6). Fed by the scenario: every quorum block a member wrote
// (QuorumMember's observer), and every elected server at the moment before its first write.
//
// Invariants, each a method returning "" or what is wrong:
// - quorum.term_monotone (block_written): a slot's term and vote term never decrease, and it
//   never records two different votes in one term, across restarts too.
// - quorum.one_leader (block_written): no term is won twice: at most one ELECT per term over all
//   slots and incarnations.
// - quorum.fenced_before_serving (serving): when a server is about to make its first write,
//   every other server that is still running is fenced (its device I/O cut), so nothing a
//   deposed leader writes afterwards can reach the disk.
// The checker keeps only plain numbers: it knows nothing of the filesystem's structures.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace oracle {

// What one durable write of a slot's block says.
struct QuorumSlotWrite {
  uint32_t slot = 0;
  uint64_t term = 0;
  uint64_t vote_term = 0;
  uint32_t vote_slot = 0;
  uint64_t elect_term = 0;  // 0: never elected
  uint64_t elect_rid = 0;
};

// A server running somewhere when another one starts serving.
struct RunningServer {
  int node = 0;
  uint64_t rid = 0;
  bool fenced = false;
};

class QuorumChecker {
 public:
  std::string block_written(const QuorumSlotWrite& w, std::string* invariant);
  std::string serving(int node, uint64_t term, uint64_t rid, const std::vector<RunningServer>& others);

  size_t elections() const { return leaders_.size(); }

 private:
  struct Slot {
    uint64_t term = 0;
    uint64_t vote_term = 0;
    uint32_t vote_slot = 0;
  };
  std::map<uint32_t, Slot> slots_;
  std::map<uint64_t, std::pair<uint32_t, uint64_t>> leaders_;  // term -> (slot, rid)
};

}  // namespace oracle
