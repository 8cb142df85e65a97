#include "sim/simulation.h"

namespace sim {

Simulation::Simulation(uint64_t seed, Strategy* strategy, size_t stack_bytes)
    : seed_(seed),
      random_(seed),
      chooser_(strategy ? strategy : &random_),
      loop_(chooser_),
      sched_(loop_, stack_bytes) {}

Simulation::~Simulation() {
  shutdown();
  trace_.flush();
}

void Simulation::shutdown() {
  // Unwind every task while the nodes and resources they reference still exist.
  for (auto& n : nodes_) sched_.kill_group(n->group());
  sched_.kill_group(&world_);
}

Node& Simulation::add_node(std::string name) {
  const int id = static_cast<int>(nodes_.size());
  nodes_.push_back(std::make_unique<Node>(*this, id, std::move(name)));
  return *nodes_.back();
}

void Simulation::violation(std::string invariant, std::string message, std::vector<uint64_t> witness) {
  std::string w;
  for (uint64_t i : witness) {
    if (!w.empty()) w += ',';
    w += std::to_string(i);
  }
  uint64_t i = trace_.event(loop_.now(), -1, "violation",
                            {{"invariant", invariant}, {"message", message}, {"witness", w}});
  violations_.push_back(Violation{std::move(invariant), std::move(message), i, std::move(witness)});
  loop_.stop();
}

Simulation::RunResult Simulation::run(Time until, uint64_t max_events) {
  EventLoop::StopReason r = loop_.run(until, max_events);
  if (!sched_.fatal_error().empty()) return {Outcome::kHarnessError, sched_.fatal_error()};
  if (!violations_.empty()) return {Outcome::kViolation, violations_.back().message};
  switch (r) {
    case EventLoop::StopReason::kQuiescent: {
      std::string report = sched_.blocked_report();
      if (!report.empty()) {
        violation("sim.deadlock", "no event can run but tasks are blocked: " + report);
        return {Outcome::kDeadlock, report};
      }
      return {Outcome::kQuiescent, ""};
    }
    case EventLoop::StopReason::kTimeLimit: return {Outcome::kTimeLimit, ""};
    case EventLoop::StopReason::kEventLimit: return {Outcome::kEventLimit, ""};
    case EventLoop::StopReason::kStopped: return {Outcome::kTimeLimit, ""};
  }
  return {Outcome::kQuiescent, ""};
}

}  // namespace sim
