// failover: the cluster survives the loss of its server at any instant (scoutfs-design §6-7).
// multi_mount's faulty cluster, with the server elected: five mounts, three of them voters that
// elect the server among themselves over datagrams, with terms and votes in their quorum blocks.
// Every ~10 simulated seconds the node that serves is crashed, paused or cut off past the
// heartbeat timeout (a deposed leader that still runs must be fenced before the next one writes);
// the nemesis adds crashes of any node, pauses, partitions and disk faults, for a minute of
// simulated time.
//
// On top of multi_mount's invariants (every operation against one POSIX model, durability of
// whatever was synced or observed across every failover, the lock state, fsck at the end):
// quorum.term_monotone and quorum.one_leader over the quorum blocks as they are written, and
// quorum.fenced_before_serving at the moment each new server is about to write.
#include <memory>
#include <string>
#include <vector>

#include "fs/base/bugs.h"
#include "scenarios/cluster_scenario.h"
#include "scenarios/scenario.h"

namespace scenarios {

namespace {

std::vector<ParamSpec> failover_params() {
  return cluster_scenario_params_with(/*faults=*/true, {
      {"mounts", int64_t{5}},
      {"voters", int64_t{3}},
      {"server_kill_interval", int64_t{10 * sim::kSecond}},
      {"heartbeat_timeout", int64_t{1 * sim::kSecond}},
      {"workload_end", int64_t{60 * sim::kSecond}},
      {"fault_window_end", int64_t{55 * sim::kSecond}},
  });
}

std::vector<std::string> failover_bugs() {
  using simfs::fs::Bug;
  std::vector<std::string> bugs;
  for (Bug b : {Bug::kServeBeforeFence, Bug::kRecoverNewMode, Bug::kRecoveryWaitsForever, Bug::kGreetingNotIdempotent})
    bugs.push_back(simfs::fs::bug_name(b));
  return bugs;
}

}  // namespace

ScenarioInfo failover_scenario_info() {
  return ScenarioInfo{
      "failover",
      "five mounts, three of them voters that elect the server; the serving node is crashed, paused or cut off about every ten "
      "simulated seconds, beside crashes, pauses, partitions and disk faults, for a minute: nothing synced or "
      "observed is lost, one leader per term, and every earlier server is fenced before a new one writes",
      quorum_scenario_invariants(),
      failover_bugs(),
      [](const ScenarioOptions& o) { return make_cluster_scenario(o, /*faults=*/true); },
      failover_params(),
      [](const Params& p) { return check_cluster_params(p, true); }};
}

}  // namespace scenarios
