#include "sim/node.h"

#include "sim/simulation.h"

namespace sim {

Node::Node(Simulation& sim, int id, std::string name) : sim_(sim), id_(id), name_(std::move(name)) {
  group_.id = id;
}

void Node::start() {
  if (up_) return;
  up_ = true;
  ++incarnation_;
  if (boot_) {
    sim_.sched().spawn(name_ + ".boot", &group_, [this] { boot_(*this); }, boot_daemon_);
  }
}

TaskId Node::spawn(std::string name, std::function<void()> body, bool daemon) {
  return sim_.sched().spawn(std::move(name), &group_, std::move(body), daemon);
}

void Node::crash() { halt(/*fault=*/true); }
void Node::power_off() { halt(/*fault=*/false); }

void Node::halt(bool fault) {
  if (!up_) return;
  Task* cur = Scheduler::current();
  if (cur && cur->group() == &group_) {
    // A node crashing itself (a panic): finish from the loop, where this task can be unwound.
    // Halt the node at once, so none of its other tasks due at this instant runs (or does I/O)
    // before the crash completes; do_crash() clears the pause and kills them.
    sim_.sched().pause_group(&group_);
    if (fault) {
      sim_.loop().schedule_at(sim_.now(), [](void* n, uint64_t) { static_cast<Node*>(n)->do_crash(); }, this);
    } else {
      sim_.loop().schedule_at(sim_.now(), [](void* n, uint64_t) { static_cast<Node*>(n)->do_power_off(); }, this);
    }
    sim_.sched().park("crashing");
    return;
  }
  if (fault) {
    do_crash();
  } else {
    do_power_off();
  }
}

void Node::do_power_off() {
  if (!up_) return;
  sim_.event(id_, "power_off", {{"incarnation", incarnation_}});
  up_ = false;
  cut_and_kill();
}

void Node::do_crash() {
  if (!up_) return;
  up_ = false;
  sim_.event(id_, "crash", {{"incarnation", incarnation_}}, /*fault=*/true);
  cut_and_kill();
}

void Node::cut_and_kill() {
  // Cut I/O first. cut() may remove resources, so walk by id.
  uint64_t next = 0;
  for (;;) {
    auto it = resources_.lower_bound(next);
    if (it == resources_.end()) break;
    next = it->first + 1;
    it->second->cut();
  }
  group_.paused = false;
  sim_.sched().kill_group(&group_);
}

void Node::restart() {
  if (up_) return;
  sim_.event(id_, "restart", {{"incarnation", incarnation_ + 1}}, /*fault=*/true);
  start();
}

void Node::pause() {
  if (!up_ || group_.paused) return;
  sim_.event(id_, "pause", {}, /*fault=*/true);
  sim_.sched().pause_group(&group_);
}

void Node::resume() {
  if (!group_.paused) return;
  sim_.event(id_, "resume", {}, /*fault=*/true);
  sim_.sched().resume_group(&group_);
}

Time Node::local_time() const {
  const Time now = sim_.now();
  // Exact product: rounding `now` down to whole milliseconds first made the drift a staircase,
  // which under negative drift stepped local time backwards at every millisecond.
  const auto drift = static_cast<Duration>(static_cast<__int128>(now) * drift_ppm_ / 1000000);
  return now + clock_offset_ + drift;
}

void Node::set_clock_offset(Duration offset_ns) {
  clock_offset_ = offset_ns;
  sim_.event(id_, "clock_skew", {{"offset_ns", offset_ns}, {"drift_ppm", drift_ppm_}}, true);
}

void Node::jump_clock(Duration delta_ns) {
  clock_offset_ += delta_ns;
  sim_.event(id_, "clock_jump", {{"delta_ns", delta_ns}, {"offset_ns", clock_offset_}}, true);
}

void Node::set_clock_drift_ppm(int64_t ppm) {
  drift_ppm_ = ppm;
  sim_.event(id_, "clock_skew", {{"offset_ns", clock_offset_}, {"drift_ppm", ppm}}, true);
}

uint64_t Node::add_resource(NodeResource* r) {
  uint64_t id = next_resource_++;
  resources_.emplace(id, r);
  return id;
}

void Node::remove_resource(uint64_t id) { resources_.erase(id); }

}  // namespace sim
