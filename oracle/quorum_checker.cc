#include "oracle/quorum_checker.h"

namespace oracle {

namespace {
std::string n(uint64_t v) { return std::to_string(v); }
}  // namespace

std::string QuorumChecker::block_written(const QuorumSlotWrite& w, std::string* invariant) {
  Slot& s = slots_[w.slot];
  const std::string who = "slot " + n(w.slot);
  if (w.term < s.term || w.vote_term < s.vote_term) {
    *invariant = "quorum.term_monotone";
    return who + " went back from term " + n(s.term) + " (vote term " + n(s.vote_term) + ") to term " + n(w.term) +
           " (vote term " + n(w.vote_term) + ")";
  }
  if (w.vote_term != 0 && w.vote_term == s.vote_term && w.vote_slot != s.vote_slot) {
    *invariant = "quorum.term_monotone";
    return who + " voted for slot " + n(s.vote_slot) + " and then for slot " + n(w.vote_slot) + " in term " +
           n(w.vote_term);
  }
  s = {w.term, w.vote_term, w.vote_slot};
  if (w.elect_term != 0) {
    auto [it, fresh] = leaders_.try_emplace(w.elect_term, w.slot, w.elect_rid);
    if (!fresh && it->second != std::make_pair(w.slot, w.elect_rid)) {
      *invariant = "quorum.one_leader";
      return "term " + n(w.elect_term) + " was won by slot " + n(it->second.first) + " (rid " + n(it->second.second) +
             ") and by slot " + n(w.slot) + " (rid " + n(w.elect_rid) + ")";
    }
  }
  return "";
}

std::string QuorumChecker::serving(int node, uint64_t term, uint64_t rid, const std::vector<RunningServer>& others) {
  for (const RunningServer& o : others) {
    if (o.fenced) continue;
    return "the server of term " + n(term) + " (rid " + n(rid) + ", node " + std::to_string(node) +
           ") starts writing while the server of rid " + n(o.rid) + " on node " + std::to_string(o.node) +
           " still runs unfenced";
  }
  return "";
}

}  // namespace oracle
