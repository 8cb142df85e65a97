#include "oracle/recovery_checker.h"

namespace oracle {

void RecoveryChecker::server_started(uint64_t term, const std::vector<uint64_t>& rids) {
  if (term <= term_) return;
  term_ = term;
  ran_ = 0;
  reported_ = false;
  pending_.clear();
  // A mount reclaimed durably has no record; one whose reclaim a crash cut short is still
  // there and must be settled again.
  for (uint64_t rid : rids)
    if (!gone_.count(rid)) pending_.insert(rid);
}

void RecoveryChecker::recovered(uint64_t term, uint64_t rid) {
  if (term != term_) return;
  if (pending_.erase(rid)) ++recoveries_;
}

void RecoveryChecker::gone(uint64_t rid) {
  gone_.insert(rid);
  pending_.erase(rid);
}

std::string RecoveryChecker::ran(uint64_t term, int64_t ns) {
  if (term != term_ || reported_) return "";
  ran_ += ns;
  if (ran_ <= allowed_ || pending_.empty()) return "";
  reported_ = true;
  std::string rids;
  for (uint64_t rid : pending_) rids += (rids.empty() ? "" : ", ") + std::to_string(rid);
  return "the server of term " + std::to_string(term) + " has run " + std::to_string(ran_ / 1000000) +
         " ms since it started, and mount(s) " + rids +
         " it found mounted have neither recovered their locks nor been reclaimed";
}

}  // namespace oracle
