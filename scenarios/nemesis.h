// Nemesis: the fault injector that scenarios share. A world task that, during a fault
// window, repeatedly picks one enabled fault, applies it for a while, and reverts it:
// crash/restart, power loss, partitions (symmetric, asymmetric, isolate-one), clogs and
// rolling "swizzle" clogs, pause/resume, clock skew and jumps, disk fault bursts.
//
// Swarm testing: at start, each allowed fault kind is switched on or off by a seeded choice
// (and recorded in the trace), so different seeds explore different fault mixes.
// After the window, heal() restores a clean world: links up, clogs gone, nodes resumed and
// restarted, disk fault rates zero, so a scenario can check liveness.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scenarios/params.h"
#include "sim/block_device.h"
#include "sim/network.h"
#include "sim/simulation.h"

namespace scenarios {

enum FaultKind : uint32_t {
  kFaultCrash = 1u << 0,
  kFaultPowerLoss = 1u << 1,
  kFaultPartition = 1u << 2,
  kFaultClog = 1u << 3,
  kFaultPause = 1u << 4,
  kFaultClock = 1u << 5,
  kFaultDiskErrors = 1u << 6,  // EIO / bit flips on read, for a burst
  kFaultSwizzle = 1u << 7,
};

struct NemesisConfig {
  uint32_t allowed = 0;         // FaultKind bits the scenario tolerates
  bool swarm = true;            // randomly disable some allowed kinds per seed
  std::vector<int> nodes;       // nodes it may crash, pause, skew
  std::vector<int> net_nodes;   // nodes it may partition and clog (empty: same as nodes)
  sim::Time window_start = 0;
  sim::Time window_end = 0;
  sim::Duration gap_min = 20 * sim::kMillisecond;
  sim::Duration gap_max = 300 * sim::kMillisecond;
  sim::Duration fault_min = 10 * sim::kMillisecond;
  sim::Duration fault_max = 500 * sim::kMillisecond;
};

// Fault kinds by name, as scenario parameters spell them: crash, power_loss, partition, clog,
// pause, clock, disk_errors, swizzle.
const char* fault_kind_name(uint32_t kind);
std::vector<std::string> fault_kind_names(uint32_t mask);        // in bit order
uint32_t fault_kinds_of(const std::vector<std::string>& names);  // unknown names are ignored

// The parameters every scenario with a nemesis declares: "faults" (a list of the kinds it
// tolerates; all of them by default), "swarm", "fault_window_start" and "fault_window_end".
std::vector<ParamSpec> nemesis_params(uint32_t tolerated, sim::Time window_start, sim::Time window_end);
// Sets allowed, swarm and the window of cfg from those parameters.
void apply_nemesis_params(const Params& p, NemesisConfig* cfg);
// fault_window_start <= fault_window_end <= workload_end: "" or "at /params/NAME: why".
std::string check_fault_window(const Params& p);

class Nemesis {
 public:
  Nemesis(sim::Simulation& sim, sim::Network* net, std::vector<sim::BlockDevice*> devices, NemesisConfig cfg);
  // Spawns the nemesis task. Calls heal() at the end of the window.
  void start();
  void heal();
  uint32_t enabled() const { return enabled_; }
  bool healed() const { return healed_; }
  sim::Time healed_at() const { return healed_at_; }
  uint64_t faults_injected() const { return faults_; }

 private:
  void run();
  void one_fault();
  int pick_node(bool must_be_up, bool net);
  sim::Simulation& sim_;
  sim::Network* net_;
  std::vector<sim::BlockDevice*> devices_;
  NemesisConfig cfg_;
  uint32_t enabled_ = 0;
  uint64_t faults_ = 0;
  bool healed_ = false;
  sim::Time healed_at_ = 0;
};

}  // namespace scenarios
