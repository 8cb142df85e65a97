// NodeStack: what one node of a cluster runs — the server, on the node that serves, and a mount
// — wired over the simulated network: the devices attached, the server and its network front
// end started, the mount's link greeted, the mount open with its VFS on top. Scenarios,
// benchmarks and tools bring a node's filesystem up with it, and forget it when the node dies.
//
// Contract:
// - start_server() and mount() run in a task (they do I/O and park on the network). Either may
//   be called alone; mount() greets the server at `server_address`, which may be another node.
// - forget() drops every object without touching the devices or the network: call it after the
//   node crashed (its tasks are gone), before starting again. An unmount is Mount::unmount().
#pragma once

#include <cstdint>
#include <memory>

#include "fs/base/env.h"
#include "fs/client/mount.h"
#include "fs/client/net_server_link.h"
#include "fs/server/server.h"
#include "fs/server/server_net.h"
#include "fs/vfs/vfs.h"
#include "sim/block_device.h"
#include "sim/network.h"

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
  uint64_t greet_flags = 0;     // proto::kGreetVoter
  sim::Duration connect_timeout = 30 * sim::kSecond;
};

class NodeStack {
 public:
  NodeStack(sim::Node& node, sim::Network& net, sim::BlockDevice& meta, sim::BlockDevice& data, NodeStackConfig cfg);
  ~NodeStack();

  // Attaches the devices (again after a crash cut them).
  void attach();
  sim::Errno start_server();
  // A new mount with `rid`, and orphan recovery queued.
  sim::Errno mount(uint64_t rid);
  void forget();

  bool has_mount() const { return mount_ != nullptr; }
  Mount& mount() { return *mount_; }
  Vfs& vfs() { return *vfs_; }
  Server* server() { return server_.get(); }
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
  std::unique_ptr<Server> server_;
  std::unique_ptr<ServerNet> server_net_;
  std::unique_ptr<NetServerLink> link_;
  std::unique_ptr<Mount> mount_;
  std::unique_ptr<Vfs> vfs_;
};

}  // namespace simfs::fs
