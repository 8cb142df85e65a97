#include "scenarios/scenario.h"

namespace scenarios {

// Each scenario file exposes one *_info() function; listing them here (instead of static
// registration) keeps the order fixed and keeps the linker from dropping any.
ScenarioInfo register_scenario_info();
ScenarioInfo journal_scenario_info();
ScenarioInfo echo_scenario_info();
ScenarioInfo single_mount_scenario_info();
ScenarioInfo cluster_smoke_scenario_info();
ScenarioInfo multi_mount_scenario_info();
ScenarioInfo swarm_scenario_info();
ScenarioInfo compaction_storm_scenario_info();
ScenarioInfo failover_scenario_info();
ScenarioInfo mount_unmount_race_scenario_info();
ScenarioInfo fence_and_reclaim_scenario_info();
ScenarioInfo nightly_scenario_info();

const std::vector<ScenarioInfo>& all_scenarios() {
  static const std::vector<ScenarioInfo> all = {
      register_scenario_info(),
      journal_scenario_info(),
      echo_scenario_info(),
      single_mount_scenario_info(),
      cluster_smoke_scenario_info(),
      multi_mount_scenario_info(),
      swarm_scenario_info(),
      compaction_storm_scenario_info(),
      failover_scenario_info(),
      mount_unmount_race_scenario_info(),
      fence_and_reclaim_scenario_info(),
      nightly_scenario_info(),
  };
  return all;
}

const ScenarioInfo* find_scenario(std::string_view name) {
  for (const ScenarioInfo& s : all_scenarios()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace scenarios
