// compaction_storm: the log merge by clients under load (scoutfs-design §2.3). multi_mount's
// faulty cluster, tuned so that merges never stop: tiny open log trees finalize every few dozen
// items, small merge pieces over a small fill limit (a tall fs tree: many blocks to cut pieces
// from), several pieces in flight across the clients, and a workload of writers and deleters on
// the same few directories. The nemesis crashes clients and the server and cuts connections in
// the middle of merges (abandoned pieces, reclaims, a server restart with pieces out).
//
// The invariants are multi_mount's: the clients' reads against the model, durability across
// crashes, fsck of the images at the end (every block of a merge piece accounted for).
#include <memory>
#include <string>
#include <vector>

#include "fs/base/bugs.h"
#include "scenarios/cluster_scenario.h"
#include "scenarios/scenario.h"

namespace scenarios {

namespace {

std::vector<ParamSpec> storm_params() {
  return cluster_scenario_params_with(/*faults=*/true, {
      {"mounts", int64_t{5}},
      {"tasks_per_mount", int64_t{3}},
      {"log_finalize_items", int64_t{24}},
      {"merge_blocks_per_commit", int64_t{6}},
      {"merge_requests_per_client", int64_t{2}},
      {"merge_batch_requests", int64_t{6}},
      {"btree_fill", int64_t{1100}},
      {"dirty_items_max", int64_t{16}},
      {"workload_end", int64_t{8 * sim::kSecond}},
      // Writers and deleters: names come and go, xattrs change in place; close stays in every mix.
      {"ops", std::vector<std::string>{"create", "mkdir", "unlink", "rmdir", "rename", "write", "truncate",
                                       "setxattr", "removexattr", "read", "open", "close"}},
  });
}

std::vector<std::string> storm_bugs() {
  using simfs::fs::Bug;
  std::vector<std::string> bugs;
  // (merge_finalize_one_at_a_time is multi_mount's and swarm's: here the mounts' steady commits
  // finalize every tree within a tick, and it showed in 1 seed of 60.)
  for (Bug b : {Bug::kMergeResumeSkips, Bug::kMergeDropsDeletions, Bug::kMergeOverlappingRanges, Bug::kMergeReclaimLeaks})
    bugs.push_back(simfs::fs::bug_name(b));
  return bugs;
}

}  // namespace

ScenarioInfo compaction_storm_scenario_info() {
  return ScenarioInfo{
      "compaction_storm",
      "multi_mount's faulty cluster tuned so the log merge never stops: log trees finalized every few dozen items, "
      "small merge pieces over a tall fs tree, several in flight across five clients, writers and deleters on "
      "the same directories, crashes and partitions in the middle of merges",
      cluster_scenario_invariants(),
      storm_bugs(),
      [](const ScenarioOptions& o) { return make_cluster_scenario(o, /*faults=*/true); },
      storm_params(),
      [](const Params& p) { return check_cluster_params(p, true); }};
}

}  // namespace scenarios
