// QuorumMember: one voting slot's election running on a node — the ElectionCore (pure) given a
// device, a datagram socket, timers and randomness. A voting mount starts one; it decides when
// this node serves, and tells the caller to start or stop its server.
//
// Contract:
// - start() runs in a task: it reads every slot's quorum block from the metadata device, binds
//   {node, kQuorumPort} and feeds the core its first event. Errors: EIO (the blocks could not be
//   read; a failed first write is retried like any other), EUCLEAN (this slot's own block is damaged: its vote would be forgotten, so the member
//   must not run), EADDRINUSE.
// - Every call into the core and the actions it returns run under one mutex, in order, so a
//   write (the term, a vote, ELECT) is durable before any message or server start that relies
//   on it, whichever event came first. After a failed write the core is dropped (failed()):
//   its server, if it runs, is stopped (stop_server, which returns once it is down), and every
//   restart_delay a new core is started from the blocks on the device until one runs.
// - start_server(term) is called in a task of its own when the core wins an election. It must
//   fence the earlier leaders (fence_plan.h) before its server's first write, then call
//   server_up(), or server_stopped() if it could not serve. stop_server(term) is called when
//   the core steps down (in a task of its own) or fails: it stops the server, reports
//   server_stopped() and returns. A server that stops by itself (its device failed) is
//   reported with server_stopped() too.
// - leave() (the mount's farewell was answered) withdraws the slot for good: no more campaigns;
//   a server this member runs, or is starting, is stopped (stop_server) so its STOP is durable
//   and the next leader need not fence this node; then shutdown(). Runs in a task.
// - shutdown() (the node's death) stops timers and the socket; the core's block is left as it
//   is (a STOP is written only through server_stopped()).
// - observer(slot, block) sees every block this member made durable (for the oracle).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fs/base/env.h"
#include "fs/format/quorum_block.h"
#include "fs/quorum/election_core.h"
#include "sim/block_device.h"
#include "sim/network.h"
#include "sim/sync.h"

namespace simfs::fs {

constexpr uint16_t kQuorumPort = 7100;

struct QuorumMemberConfig {
  ElectionConfig election;
  std::vector<int> slot_nodes;  // the node of each slot; slot_nodes.size() == election.slot_count
  std::function<void(uint64_t term)> start_server;
  std::function<void(uint64_t term)> stop_server;
  std::function<void(const QuorumBlock&)> observer;
  sim::Duration restart_delay = 100 * sim::kMillisecond;
};

// Reads every configured slot's block. Zeroed (never written) slots are left out; a damaged or
// foreign block is left out too and named in *damaged (a slot may be mid-write or lost: the
// election must go on without it). EIO when a read fails.
sim::Errno read_quorum_blocks(sim::DiskHandle& meta, uint64_t fsid, uint32_t slot_count, std::vector<QuorumBlock>* out,
                              std::vector<uint32_t>* damaged = nullptr);

class QuorumMember {
 public:
  QuorumMember(NodeEnv env, sim::Network& net, sim::DiskHandle& meta, QuorumMemberConfig cfg);
  ~QuorumMember();
  QuorumMember(const QuorumMember&) = delete;
  QuorumMember& operator=(const QuorumMember&) = delete;

  sim::Errno start();
  void server_up();
  void server_stopped();
  void leave();
  void shutdown();

  bool failed() const { return failed_; }
  uint64_t failures() const { return failures_; }
  const ElectionCore& core() const { return *core_; }
  const QuorumMemberConfig& config() const { return cfg_; }

 private:
  using Actions = ElectionCore::Actions;
  // Runs one event: `event` calls the core (under mu_) and the actions are performed in order.
  void run(const std::function<Actions(ElectionCore&)>& event);
  void perform(const Actions& actions);
  void write_failed();
  void send(uint32_t to, const QuorumMessage& m);
  void receive_loop();
  void timer_loop();
  sim::Duration jitter();

  NodeEnv env_;
  sim::Network& net_;
  sim::DiskHandle& meta_;
  QuorumMemberConfig cfg_;
  std::unique_ptr<ElectionCore> core_;
  std::unique_ptr<sim::DatagramSocket> sock_;
  sim::Mutex mu_;
  // Timer deadlines in simulation time (0: not armed); the timer task sleeps until the first.
  sim::Time election_at_ = 0;
  sim::Time heartbeat_at_ = 0;
  sim::CondVar timers_changed_;
  sim::Mutex timer_mu_;
  bool failed_ = false;
  bool restart_pending_ = false;
  uint64_t failures_ = 0;
  bool shut_down_ = false;
  bool leaving_ = false;  // leave() under way: no campaign, no server start
  std::shared_ptr<bool> alive_;
};

}  // namespace simfs::fs
