// Simulation: one run's world. Owns the chooser, event loop, scheduler, trace, nodes and the
// violations found; devices and networks are created by the scenario against it.
//
// Every component reaches its collaborators through this object; nothing is global except the
// "current task" pointer that the scheduler maintains while a fiber runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/choice.h"
#include "sim/event_loop.h"
#include "sim/node.h"
#include "sim/task.h"
#include "sim/trace.h"

namespace sim {

struct Violation {
  std::string invariant;  // stable id, e.g. "register.linearizable"
  std::string message;
  uint64_t event = 0;     // trace index of the violation event
  std::vector<uint64_t> witness;  // trace indices of the events that show it
};

class Simulation {
 public:
  // With strategy == nullptr, decisions are drawn at random from `seed`.
  explicit Simulation(uint64_t seed, Strategy* strategy = nullptr, size_t stack_bytes = 256 * 1024);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  uint64_t seed() const { return seed_; }
  Chooser& chooser() { return chooser_; }
  EventLoop& loop() { return loop_; }
  Scheduler& sched() { return sched_; }
  Trace& trace() { return trace_; }
  Time now() const { return loop_.now(); }

  Node& add_node(std::string name);
  Node& node(int id) { return *nodes_.at(static_cast<size_t>(id)); }
  int node_count() const { return static_cast<int>(nodes_.size()); }

  // Tasks outside any node: workload drivers, fault injectors, checkers.
  TaskGroup* world() { return &world_; }
  TaskId spawn(std::string name, std::function<void()> body, bool daemon = false) {
    return sched_.spawn(std::move(name), &world_, std::move(body), daemon);
  }

  // Shorthands for traced events at the current time.
  uint64_t event(int node, std::string_view kind, std::initializer_list<TraceField> fields, bool fault = false) {
    return trace_.event(loop_.now(), node, kind, fields, fault);
  }

  // Records an invariant violation (traced) and stops the run.
  void violation(std::string invariant, std::string message, std::vector<uint64_t> witness = {});
  const std::vector<Violation>& violations() const { return violations_; }

  enum class Outcome { kQuiescent, kTimeLimit, kEventLimit, kViolation, kDeadlock, kHarnessError };
  struct RunResult {
    Outcome outcome;
    std::string message;  // deadlock report or harness error
  };
  // Runs until `until` (virtual), `max_events`, a violation, or nothing is left to do. If the
  // loop goes quiet while non-daemon tasks are blocked, that is a deadlock (a liveness failure,
  // recorded as a violation of "sim.deadlock").
  RunResult run(Time until, uint64_t max_events = UINT64_MAX);

  uint64_t digest() const { return trace_.digest(loop_.schedule_hash()); }

  // Unwinds every task. Call before destroying objects that tasks reference.
  void shutdown();

 private:
  uint64_t seed_;
  RandomStrategy random_;
  Chooser chooser_;
  EventLoop loop_;
  Trace trace_;
  TaskGroup world_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Violation> violations_;
  // Declared last: destroyed first, so tasks unwind while nodes and the trace still exist.
  Scheduler sched_;
};

}  // namespace sim
