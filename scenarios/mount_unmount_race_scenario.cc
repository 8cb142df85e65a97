// mount_unmount_race: farewells under churn (scoutfs-design §5). failover's elected cluster —
// five mounts, three of them voters — while an administrator unmounts one mount about every
// 1.5 simulated seconds, voters and the serving node included, and mounts its node again a
// little later, beside crashes, pauses and partitions. A voter's unmount withdraws its quorum
// slot; the server answers a voter's farewell only while a majority of the slots stays mounted
// without it, so an unmount may wait for another voter to come back, but it never hangs for good.
//
// On top of failover's invariants: quorum.farewell_majority (no farewell leaves the mounts that
// stay unable to elect a server), and liveness of every unmount (an unmount that never returns
// is reported with what it waits for).
#include <memory>
#include <string>
#include <vector>

#include "fs/base/bugs.h"
#include "scenarios/cluster_scenario.h"
#include "scenarios/scenario.h"

namespace scenarios {

namespace {

std::vector<ParamSpec> race_params() {
  return cluster_scenario_params_with(/*faults=*/true, {
      {"mounts", int64_t{5}},
      {"voters", int64_t{3}},
      {"heartbeat_timeout", int64_t{1 * sim::kSecond}},
      {"unmount_interval", int64_t{1500 * sim::kMillisecond}},
      {"workload_end", int64_t{30 * sim::kSecond}},
      {"fault_window_end", int64_t{26 * sim::kSecond}},
  });
}

std::vector<std::string> race_bugs() {
  using simfs::fs::Bug;
  std::vector<std::string> bugs;
  for (Bug b : {Bug::kFarewellIgnoresMajority, Bug::kFarewellKeepsLocks, Bug::kUnmountSkipsCommit}) bugs.push_back(simfs::fs::bug_name(b));
  return bugs;
}

}  // namespace

ScenarioInfo mount_unmount_race_scenario_info() {
  return ScenarioInfo{
      "mount_unmount_race",
      "five mounts, three of them voters that elect the server; one mount (a voter or the server's own, too) is "
      "unmounted about every 1.5 simulated seconds and mounted again soon after, beside crashes, pauses and "
      "partitions: no farewell leaves the others without a quorum, and no unmount hangs",
      quorum_scenario_invariants({"quorum.farewell_majority"}),
      race_bugs(),
      [](const ScenarioOptions& o) { return make_cluster_scenario(o, /*faults=*/true); },
      race_params(),
      [](const Params& p) { return check_cluster_params(p, true); }};
}

}  // namespace scenarios
