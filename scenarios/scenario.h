// Scenario: a named, seeded experiment. It builds a cluster on a Simulation (nodes, devices,
// network, workload and fault tasks), runs it, and judges it with invariants that record
// violations on the Simulation as they are seen.
//
// A scenario may offer "planted bugs": deliberately broken variants of its system, selected
// with --bug NAME, so that each invariant can be shown to fire.
//
// A scenario also declares parameters (scenarios/params.h): node counts, device sizes, fault
// window and kinds, workload mix. Their defaults are the scenario as it always ran; a scenario
// file (scenarios/scenario_file.h) overrides them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "scenarios/params.h"
#include "sim/block_device.h"
#include "sim/simulation.h"

namespace scenarios {

struct ScenarioOptions {
  std::string bug;  // "" = none
  Params params;    // every declared parameter, resolved (defaults unless overridden)
};

class Scenario {
 public:
  virtual ~Scenario() = default;
  // Creates nodes, devices and tasks. Must not run the loop or emit trace events.
  virtual void setup(sim::Simulation& sim) = 0;
  // Virtual time the run may take; the scenario should finish (quiesce) before it.
  virtual sim::Time time_limit() const = 0;
  // Called after the loop stops without a violation: end-of-run invariants.
  virtual void finish(sim::Simulation& sim) = 0;
  // The scenario's block devices, for saving their images at the end of a run.
  virtual std::vector<const sim::BlockDevice*> devices() const { return {}; }
  // Messages (stream and datagram) its network carried, for the run's statistics.
  virtual uint64_t messages_sent() const { return 0; }
  // What the scenario drew from the seed in setup() beyond its parameters (the swarm's cluster
  // shape and mix), as "name=value ..." for the run's report and trace header; "" if nothing.
  virtual std::string drawn() const { return ""; }
};

struct ScenarioInfo {
  std::string name;
  std::string description;
  std::vector<std::string> invariants;  // ids it can report
  std::vector<std::string> bugs;        // planted bugs it offers
  std::function<std::unique_ptr<Scenario>(const ScenarioOptions&)> make;
  std::vector<ParamSpec> params;  // declared parameters, in display order
  // Relations between parameters, each already within its own range (e.g. the fault window
  // ends before the workload does): "" or "at /params/NAME: why".
  std::function<std::string(const Params&)> check_params;
  // A campaign's wall-clock limit per run unless --timeout-ms says otherwise: past it a run
  // counts as a hang. Long scenarios (nightly: 431 simulated seconds) need more than most.
  int64_t campaign_timeout_ms = 60000;
};

// Every scenario, in a fixed order.
const std::vector<ScenarioInfo>& all_scenarios();
const ScenarioInfo* find_scenario(std::string_view name);

}  // namespace scenarios
