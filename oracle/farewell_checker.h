// FarewellChecker: an unmount must never strand the cluster without a quorum
// (quorum.farewell_majority, scoutfs-design §5). Judged from outside the filesystem: the
// scenario reports what each node's mount does (it starts, its greeting is done, it says
// farewell) and when the server declares a mount gone (its farewell or
// reclaim is durable).
//
// The rule: when a voting mount's farewell is durable, a majority of the quorum's slots
// (quorum_votes_needed: a majority, but 1 with one or two slots) must still have a voter that
// may be mounted — or nobody may stay who would need a server: every live voter left is saying
// farewell too, and no other mount is mounted.
//
// The count is lenient where the scenario cannot see what the server knows, so that a correct
// server is never accused:
// - a voter node "may be mounted" while any of its mounts is not yet gone (mounting, mounted,
//   crashed with its record left, or saying farewell itself);
// - only mounts whose greeting is done, whose node is up and which are not saying farewell
//   count as staying behind.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace oracle {

class FarewellChecker {
 public:
  // `voter_nodes[n]`: node n votes; `slots`: the quorum's voting slots (>= 1).
  FarewellChecker(uint32_t slots, std::vector<bool> voter_nodes);

  void mounting(int node, uint64_t rid);  // a new mount starts on `node` (before its greeting)
  void mounted(uint64_t rid);             // its greeting is done: the server holds its record
  void leaving(uint64_t rid);             // it sends its farewell
  // The server's farewell of `rid` is durable; `nodes_up[n]`: node n runs now. Returns "" or
  // what is wrong.
  std::string farewell_done(uint64_t rid, const std::vector<bool>& nodes_up);
  // The server's farewell or reclaim of `rid` is durable: it no longer counts.
  void gone(uint64_t rid);

  uint64_t voter_farewells() const { return voter_farewells_; }

 private:
  struct MountState {
    int node = 0;
    bool mounted = false;
    bool leaving = false;
  };
  uint32_t needed_;
  std::vector<bool> voter_;
  std::map<uint64_t, MountState> mounts_;  // not yet gone, by rid
  uint64_t voter_farewells_ = 0;
};

}  // namespace oracle
