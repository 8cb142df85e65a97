// The cluster scenarios' pieces, for scenarios built on them (swarm): the cluster run itself
// (ClusterScenario in cluster_scenario.cc), its parameters, planted bugs and invariants.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "scenarios/params.h"
#include "scenarios/scenario.h"

namespace scenarios {

// `faults`: multi_mount's nemesis (crashes, partitions, pauses, disk faults) or none
// (cluster_smoke). Reads every parameter of cluster_scenario_params(faults).
std::unique_ptr<Scenario> make_cluster_scenario(const ScenarioOptions& o, bool faults);
std::vector<ParamSpec> cluster_scenario_params(bool faults);
// cluster_scenario_params(faults) with other defaults for some of them (each name must be one
// of them: a misspelt name aborts rather than silently keeping the old default).
std::vector<ParamSpec> cluster_scenario_params_with(bool faults,
                                                    const std::vector<std::pair<std::string, ParamValue>>& defaults);
std::vector<std::string> cluster_scenario_bugs(bool faults);
const std::vector<std::string>& cluster_scenario_invariants();
// The elected cluster's invariants: the cluster's, the quorum's (term_monotone, one_leader,
// fenced_before_serving), recovery.recovered_or_reclaimed, then `extra`.
std::vector<std::string> quorum_scenario_invariants(const std::vector<std::string>& extra = {});
// The relations between parameters that the cluster scenarios check ("" or what is wrong).
std::string check_cluster_params(const Params& p, bool faults);

}  // namespace scenarios
