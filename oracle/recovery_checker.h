// RecoveryChecker: after a failover, every mounted client is either recovered or reclaimed
// (recovery.recovered_or_reclaimed, scoutfs-design §4 "Server failover: lock recovery").
//
// A new server starts with the mounted-client records it finds on disk. Each of those mounts
// must, within the recovery timeout, greet it and report its locks, or be fenced and reclaimed
// (its record deleted). A mount left in between — never recovered, never reclaimed — holds
// locks the lock server does not know of, or keeps the others' requests waiting for good.
//
// Judged from outside the filesystem, by the server's observer: which records a server of a
// term started with, which of them finished lock recovery, which mounts are gone. The clock
// is the server's running time, fed by the scenario, counting only while the server's node is
// up and not paused (a paused server cannot time anything out), so a correct server is never
// accused of the nemesis's pauses.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace oracle {

class RecoveryChecker {
 public:
  // `allowed_ns`: the running time within which every record must be settled (the recovery
  // timeout, plus room for the fences and the reclaim commits).
  explicit RecoveryChecker(int64_t allowed_ns) : allowed_(allowed_ns) {}

  // A server of `term` started with these records. An older term starting late is ignored.
  void server_started(uint64_t term, const std::vector<uint64_t>& rids);
  // `rid` finished its lock recovery with the server of `term`.
  void recovered(uint64_t term, uint64_t rid);
  // `rid`'s reclaim or farewell is durable (by any server).
  void gone(uint64_t rid);
  // The server of `term` ran for another `ns`. Returns "" or what is wrong (once per term).
  std::string ran(uint64_t term, int64_t ns);

  uint64_t term() const { return term_; }
  size_t pending() const { return pending_.size(); }
  uint64_t recoveries() const { return recoveries_; }  // records settled by lock recovery

 private:
  int64_t allowed_;
  uint64_t term_ = 0;
  int64_t ran_ = 0;
  bool reported_ = false;
  std::set<uint64_t> pending_;
  std::set<uint64_t> gone_;
  uint64_t recoveries_ = 0;
};

}  // namespace oracle
