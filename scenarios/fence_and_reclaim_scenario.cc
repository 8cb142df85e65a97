// fence_and_reclaim: clients lost and found again (scoutfs-design §4-6). failover's elected
// cluster — five mounts, three of them voters — where, about every 1.5 simulated seconds, a
// mount that does not serve is cut off from everyone, paused or crashed for half to twice the
// reconnect timeout (500 ms here). Often it is gone long enough for the server to fence it
// (its device I/O cut while it still runs) and reclaim it in idempotent steps: its log tree
// handed to the merge, its allocators returned, its locks and merge pieces dropped, its
// mounted-client record last. Sometimes it comes back just in time, or just too late (its
// greeting must then be refused). The server itself is killed about every 8 s, so reclaims
// and lock recoveries are cut short and redone by the next server, beside the nemesis's
// crashes, pauses, partitions and disk faults.
//
// On top of failover's invariants: recovery.recovered_or_reclaimed is the heart of it (no
// mount a server found mounted is left neither recovered nor reclaimed), and fs.fsck at the
// end finds every block a reclaimed client held back in the free space.
#include <memory>
#include <string>
#include <vector>

#include "fs/base/bugs.h"
#include "scenarios/cluster_scenario.h"
#include "scenarios/scenario.h"

namespace scenarios {

namespace {

std::vector<ParamSpec> fence_params() {
  return cluster_scenario_params_with(/*faults=*/true, {
      {"mounts", int64_t{5}},
      {"voters", int64_t{3}},
      {"heartbeat_timeout", int64_t{1 * sim::kSecond}},
      {"reconnect_timeout", int64_t{500 * sim::kMillisecond}},
      {"client_cut_interval", int64_t{1500 * sim::kMillisecond}},
      {"server_kill_interval", int64_t{8 * sim::kSecond}},
      {"workload_end", int64_t{30 * sim::kSecond}},
      {"fault_window_end", int64_t{26 * sim::kSecond}},
  });
}

std::vector<std::string> fence_bugs() {
  using simfs::fs::Bug;
  std::vector<std::string> bugs;
  for (Bug b : {Bug::kReclaimLeaksAllocators, Bug::kGreetingNotIdempotent, Bug::kRecoveryWaitsForever,
                Bug::kMergeReclaimLeaks, Bug::kRecoverNewMode,
                Bug::kServeBeforeFence}) {
    bugs.push_back(simfs::fs::bug_name(b));
  }
  return bugs;
}

}  // namespace

ScenarioInfo fence_and_reclaim_scenario_info() {
  return ScenarioInfo{
      "fence_and_reclaim",
      "five mounts, three of them voters that elect the server; a mount that does not serve is cut off, paused or "
      "crashed about every 1.5 simulated seconds for around the reconnect timeout, so it is often fenced while it "
      "runs and reclaimed, and the server is killed about every 8 s in the middle of reclaims and recoveries: "
      "every mount a server found is recovered or reclaimed, and nothing a reclaimed mount held is lost or leaked",
      quorum_scenario_invariants(),
      fence_bugs(),
      [](const ScenarioOptions& o) { return make_cluster_scenario(o, /*faults=*/true); },
      fence_params(),
      [](const Params& p) { return check_cluster_params(p, true); }};
}

}  // namespace scenarios
