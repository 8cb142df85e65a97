// nightly: the all-night killing test (seed 002: "the whole night it will mount/umount,
// read/write, sync and perform filesystem rebuilding"). failover's elected cluster — five
// mounts, three of them voters — run in rounds of 40 simulated seconds, eight of them, about
// seven simulated minutes. Within a round everything at once: the workload (reads, writes,
// syncs, the namespace), an administrator's unmounts and remounts about every 4 s, the serving
// node killed about every 12 s, a client cut off or crashed about every 8 s, and the nemesis's
// crashes, pauses, partitions and disk faults. Between two rounds the faults heal, every mount
// reads the whole namespace against the model, the whole cluster shuts down (every mount's
// farewell), fsck checks the images, and every node is powered off and booted again: the next
// round starts cold on the images the last one left, which is where a lost last transaction, a
// leaked allocator or a record left behind by a farewell shows.
//
// Its invariants are failover's and mount_unmount_race's, checked in every round.
#include <memory>
#include <string>
#include <vector>

#include "fs/base/bugs.h"
#include "scenarios/cluster_scenario.h"
#include "scenarios/scenario.h"

namespace scenarios {

namespace {

std::vector<ParamSpec> nightly_params() {
  return cluster_scenario_params_with(/*faults=*/true, {
      {"mounts", int64_t{5}},
      {"voters", int64_t{3}},
      {"rounds", int64_t{8}},
      // Seven minutes of namespace churn outgrow failover's 32 MiB devices (ENOSPC by the sixth
      // round); fsck between rounds shows that what fills them is files, not leaks.
      {"meta_blocks", int64_t{32768}},
      {"data_blocks", int64_t{32768}},
      {"heartbeat_timeout", int64_t{1 * sim::kSecond}},
      {"server_kill_interval", int64_t{12 * sim::kSecond}},
      {"client_cut_interval", int64_t{8 * sim::kSecond}},
      {"unmount_interval", int64_t{4 * sim::kSecond}},
      {"workload_end", int64_t{40 * sim::kSecond}},
      {"fault_window_end", int64_t{36 * sim::kSecond}},
  });
}

std::vector<std::string> nightly_bugs() {
  using simfs::fs::Bug;
  std::vector<std::string> bugs;
  for (Bug b : {Bug::kUnmountSkipsCommit, Bug::kReclaimLeaksAllocators, Bug::kFarewellIgnoresMajority,
                Bug::kServeBeforeFence, Bug::kGreetingNotIdempotent, Bug::kLeakOnDelete}) {
    bugs.push_back(simfs::fs::bug_name(b));
  }
  return bugs;
}

}  // namespace

ScenarioInfo nightly_scenario_info() {
  // A run takes about 20 s of one core; the slowest of 50 seeds took 66 s (mostly populates
  // of large lock ranges, not a hang): ten minutes is a hang.
  ScenarioInfo info{
      "nightly",
      "failover's cluster in eight rounds of 40 simulated seconds: mounts, unmounts, reads, writes, syncs, "
      "server kills, client cuts and the nemesis's faults; between rounds every mount verifies the whole "
      "namespace, the cluster shuts down, fsck checks the images and every node boots again",
      quorum_scenario_invariants({"quorum.farewell_majority"}),
      nightly_bugs(),
      [](const ScenarioOptions& o) { return make_cluster_scenario(o, /*faults=*/true); },
      nightly_params(),
      [](const Params& p) { return check_cluster_params(p, true); }};
  info.campaign_timeout_ms = 600000;
  return info;
}

}  // namespace scenarios
