// NodeEnv: everything the filesystem may use of the simulated machine it runs on — its id, its
// clock, tasks, the trace, and seeded choices — and nothing else. fs/ never reaches the whole
// simulation (`node.sim()`), so it cannot grow hidden dependencies on other nodes, devices or
// the run's bookkeeping. Like LevelDB's Env, this is the seam where another world could be
// plugged in. Devices and sockets are handed to the code that uses them explicitly.
//
// Contract:
// - now() is the node's local time (virtual, skewed per node); monotonic unless the scenario
//   jumps the clock.
// - spawn() starts a task owned by the node: a crash of the node unwinds it.
// - event() appends a trace event attributed to this node at the current virtual time.
// - choose()/chance()/range() are recorded choice points on the run's tape (sim/choice.h).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "sim/choice.h"
#include "sim/node.h"
#include "sim/time.h"
#include "sim/trace.h"

namespace simfs::fs {

// A small value (a reference to the node): copy it freely; it is valid while the node exists.
class NodeEnv {
 public:
  explicit NodeEnv(sim::Node& node) : node_(&node) {}

  int node_id() const { return node_->id(); }
  // Tells incarnations of a node apart (bumped at every boot).
  uint64_t incarnation() const { return node_->incarnation(); }
  sim::Time now() const { return node_->local_time(); }
  sim::TaskId spawn(std::string name, std::function<void()> body, bool daemon = false) {
    return node_->spawn(std::move(name), std::move(body), daemon);
  }
  uint64_t event(std::string_view kind, std::initializer_list<sim::TraceField> fields, bool fault = false);
  uint64_t choose(const sim::Site& site, uint64_t bound);
  bool chance(const sim::Site& site, uint64_t num, uint64_t den);
  int64_t range(const sim::Site& site, int64_t lo, int64_t hi);

  // The machine itself, for the few callers that must hand it on (a socket connects from a
  // node). Not for reaching the simulation.
  sim::Node& node() { return *node_; }

 private:
  sim::Node* node_;
};

}  // namespace simfs::fs
