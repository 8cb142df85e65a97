// NodeStack: what one node of a cluster runs — a quorum member on a voting node, the server
// while this node serves, and a mount — wired over the simulated network: the devices attached,
// the server and its network front end started, the mount's link greeted, the mount open with
// its VFS on top. Scenarios, benchmarks and tools bring a node's filesystem up with it, and
// forget it when the node dies.
//
// Two ways to find the server:
// - fixed (quorum_slot_nodes empty): start_server() on the serving node, and every mount greets
//   `server_address`;
// - elected (quorum_slot_nodes set): start_quorum() on a voting node runs its slot's election;
//   when it wins, the node reads the quorum blocks, fences every earlier leader that may still
//   run (fence_plan.h, through `fence`), and only then starts its server. Mounts find the
//   server from the quorum blocks before every connection attempt.
//
// Contract:
// - start_server(), start_quorum() and mount() run in a task (they do I/O and park on the
//   network). mount() greets the server wherever it is, which may be another node.
// - forget() drops every object without touching the devices or the network: call it after the
//   node crashed (its tasks are gone), before starting again.
// - unmount() runs in a task: the mount's final commit and farewell (which, for a voter, the
//   server answers only under the quorum rule, so it may wait for another voter to mount),
//   then a voting node leaves the quorum (its server, if it serves, stops with its STOP
//   durable). Afterwards the node holds nothing the cluster waits for; forget() it only once
//   its tasks are gone (a reboot).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "fs/base/env.h"
#include "fs/client/mount.h"
#include "fs/client/net_server_link.h"
#include "fs/quorum/quorum_member.h"
#include "fs/server/server.h"
#include "fs/server/server_net.h"
#include "fs/vfs/vfs.h"
#include "sim/block_device.h"
#include "sim/network.h"
#include "sim/sync.h"

namespace simfs::fs {

struct NodeStackConfig {
  uint64_t fsid = 0;
  sim::Address server_address;  // {server node, kServerPort}
  ServerConfig server;
  MountConfig mount;
  FenceAgent fence;             // for a serving node: cuts another node's device I/O
  std::function<void(sim::Errno)> on_server_stopped;  // the server's device failed
  ServerObserver observer;      // durability facts for an oracle
  // A protocol message lost or garbled within a connection (net::Connection's violation).
  std::function<void(const std::string&)> on_protocol_violation;
  uint64_t greet_flags = 0;     // more greeting flags (kGreetVoter is added on a voting node)
  sim::Duration connect_timeout = 30 * sim::kSecond;
  // ---- the elected server ----
  std::vector<int> quorum_slot_nodes;  // the node of each voting slot; empty: a fixed server
  int quorum_slot = -1;                // this node's slot, or -1: it does not vote
  ElectionConfig election;             // timing only: fsid, slots, slot and rid are filled in
  std::function<void(const QuorumBlock&)> quorum_observer;
  // The elected server of `term` (mount `rid`) is about to make its first write: the oracle
  // checks that no earlier server still runs unfenced.
  std::function<void(uint64_t term, uint64_t rid)> on_serving;
};

class NodeStack {
 public:
  NodeStack(sim::Node& node, sim::Network& net, sim::BlockDevice& meta, sim::BlockDevice& data, NodeStackConfig cfg);
  ~NodeStack();

  // Attaches the devices (again after a crash cut them).
  void attach();
  sim::Errno start_server();
  // Starts this node's quorum member with `rid` (the mount it runs in). Precondition: the node
  // holds a slot (quorum_slot >= 0).
  sim::Errno start_quorum(uint64_t rid);
  // A new mount with `rid`, and orphan recovery queued.
  sim::Errno mount(uint64_t rid);
  sim::Errno unmount();
  void forget();

  bool has_mount() const { return mount_ != nullptr; }
  Mount& mount() { return *mount_; }
  Vfs& vfs() { return *vfs_; }
  Server* server() { return server_.get(); }
  QuorumMember* quorum() { return quorum_.get(); }
  NetServerLink* link() { return link_.get(); }
  sim::DiskHandle& meta_handle() { return *mh_; }
  sim::DiskHandle& data_handle() { return *dh_; }
  NodeStackConfig& config() { return cfg_; }

 private:
  sim::Node& node_;
  sim::Network& net_;
  sim::BlockDevice& meta_;
  sim::BlockDevice& data_;
  NodeStackConfig cfg_;
  std::unique_ptr<sim::DiskHandle> mh_, dh_;
  // The election won `term`: fence, then serve (or report that it cannot).
  void serve_elected(uint64_t term);
  // The election stepped down: stop the server of `term` and report it stopped.
  void stop_elected(uint64_t term);
  std::optional<sim::Address> locate_server();
  // Stops and keeps the server objects: their tasks may still be on the stack.
  void retire_server();

  sim::Mutex server_mu_;  // an elected server's start and stop, one at a time
  // The highest term whose stop has been handled. The start and stop of one term run in tasks
  // of their own, in either order: a start that comes after its stop must not serve, since the
  // stop has already written STOP and the next leader will not fence this node.
  uint64_t stopped_term_ = 0;
  std::unique_ptr<QuorumMember> quorum_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<ServerNet> server_net_;
  std::vector<std::unique_ptr<Server>> retired_servers_;
  std::vector<std::unique_ptr<ServerNet>> retired_nets_;
  std::unique_ptr<NetServerLink> link_;
  std::unique_ptr<Mount> mount_;
  std::unique_ptr<Vfs> vfs_;
};

}  // namespace simfs::fs
