// The cluster scenarios' pieces, for scenarios built on them (swarm): the cluster run itself
// (ClusterScenario in cluster_scenario.cc), its parameters, planted bugs and invariants.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "scenarios/params.h"
#include "scenarios/scenario.h"

namespace scenarios {

// `faults`: multi_mount's nemesis (crashes, partitions, pauses, disk faults) or none
// (cluster_smoke). Reads every parameter of cluster_scenario_params(faults).
std::unique_ptr<Scenario> make_cluster_scenario(const ScenarioOptions& o, bool faults);
std::vector<ParamSpec> cluster_scenario_params(bool faults);
std::vector<std::string> cluster_scenario_bugs(bool faults);
const std::vector<std::string>& cluster_scenario_invariants();
// The relations between parameters that the cluster scenarios check ("" or what is wrong).
std::string check_cluster_params(const Params& p, bool faults);

}  // namespace scenarios
