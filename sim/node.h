// Node: one simulated machine. It owns a TaskGroup (its fibers), the I/O handles that a crash
// must cut (disk attachments, sockets: NodeResource), a boot function, and a local clock.
//
// Crash order matters: every resource is cut first (so no I/O issued from now on reaches a
// device or the network, and unflushed writes are resolved), then the tasks are unwound.
// Restart runs the boot function in a fresh task, against whatever is on disk.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "sim/task.h"
#include "sim/time.h"

namespace sim {

class Simulation;

// Something a node holds that must be cut when the node crashes.
class NodeResource {
 public:
  virtual ~NodeResource() = default;
  virtual void cut() = 0;
};

class Node {
 public:
  Node(Simulation& sim, int id, std::string name);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  int id() const { return id_; }
  const std::string& name() const { return name_; }
  // The world this node lives in: code running on the node traces and decides through it.
  Simulation& sim() { return sim_; }
  bool up() const { return up_; }
  bool paused() const { return group_.paused; }
  TaskGroup* group() { return &group_; }
  // Increments at every boot; lets long-lived objects tell incarnations apart.
  uint64_t incarnation() const { return incarnation_; }

  // The boot function runs in a task of this node at start() and at every restart().
  // A daemon boot task (a server loop) may stay blocked forever without being a deadlock.
  void set_boot(std::function<void(Node&)> boot, bool daemon = false) {
    boot_ = std::move(boot);
    boot_daemon_ = daemon;
  }
  void start();
  TaskId spawn(std::string name, std::function<void()> body, bool daemon = false);

  void crash();
  // A clean power-off (an administrator's, after the node's work is put away): to the node's
  // tasks and I/O the same as a crash, but not a fault. restart() boots it again.
  void power_off();
  void restart();
  void pause();
  void resume();

  // The node's view of time: virtual time plus its skew. Monotonic unless jumped.
  Time local_time() const;
  void set_clock_offset(Duration offset_ns);
  void jump_clock(Duration delta_ns);
  void set_clock_drift_ppm(int64_t ppm);

  // Registered resources are cut, in registration order, when the node crashes.
  uint64_t add_resource(NodeResource* r);
  void remove_resource(uint64_t id);

 private:
  void halt(bool fault);
  void do_crash();
  void do_power_off();
  void cut_and_kill();
  Simulation& sim_;
  int id_;
  std::string name_;
  bool up_ = false;
  uint64_t incarnation_ = 0;
  TaskGroup group_;
  std::function<void(Node&)> boot_;
  bool boot_daemon_ = false;
  Duration clock_offset_ = 0;
  int64_t drift_ppm_ = 0;
  uint64_t next_resource_ = 1;
  std::map<uint64_t, NodeResource*> resources_;
};

}  // namespace sim
