#include "fs/cluster/node_stack.h"

#include <algorithm>

#include "fs/base/assert.h"
#include "fs/quorum/fence_plan.h"

namespace simfs::fs {

NodeStack::NodeStack(sim::Node& node, sim::Network& net, sim::BlockDevice& meta, sim::BlockDevice& data,
                     NodeStackConfig cfg)
    : node_(node), net_(net), meta_(meta), data_(data), cfg_(std::move(cfg)) {}

NodeStack::~NodeStack() { forget(); }

void NodeStack::attach() {
  mh_ = meta_.attach(node_);
  dh_ = data_.attach(node_);
}

sim::Errno NodeStack::start_server() {
  if (!mh_ || mh_->is_cut()) attach();
  retire_server();
  ServerConfig sc = cfg_.server;
  sc.quorum_slots = static_cast<uint32_t>(cfg_.quorum_slot_nodes.size());
  server_ = std::make_unique<Server>(NodeEnv(node_), *mh_, *dh_, sc);
  if (cfg_.fence) server_->set_fence_agent(cfg_.fence);
  server_->set_on_stopped([this](sim::Errno e) {
    // An elected server that fails gives its term up; the election goes on without it.
    if (quorum_) quorum_->server_stopped();
    if (cfg_.on_server_stopped) cfg_.on_server_stopped(e);
  });
  server_->set_observer(cfg_.observer);
  if (link_) server_->set_local_rid(link_->rid());
  if (sim::Errno e = server_->start()) return e;
  server_net_ = std::make_unique<ServerNet>(NodeEnv(node_), net_, *server_);
  if (cfg_.on_protocol_violation) server_net_->set_violation_handler(cfg_.on_protocol_violation);
  server_->set_links(server_net_.get());
  return server_net_->start();
}

void NodeStack::retire_server() {
  if (server_net_) {
    server_net_->stop();
    retired_nets_.push_back(std::move(server_net_));
  }
  if (server_) {
    server_->stop();
    retired_servers_.push_back(std::move(server_));
  }
}

sim::Errno NodeStack::start_quorum(uint64_t rid) {
  FS_ASSERT(cfg_.quorum_slot >= 0 && static_cast<size_t>(cfg_.quorum_slot) < cfg_.quorum_slot_nodes.size());
  if (!mh_ || mh_->is_cut()) attach();
  quorum_.reset();
  QuorumMemberConfig qc;
  qc.election = cfg_.election;
  qc.election.fsid = cfg_.fsid;
  qc.election.slot_count = static_cast<uint32_t>(cfg_.quorum_slot_nodes.size());
  qc.election.slot = static_cast<uint32_t>(cfg_.quorum_slot);
  qc.election.rid = rid;
  qc.slot_nodes = cfg_.quorum_slot_nodes;
  qc.start_server = [this](uint64_t term) { serve_elected(term); };
  qc.stop_server = [this](uint64_t term) { stop_elected(term); };
  qc.observer = cfg_.quorum_observer;
  quorum_ = std::make_unique<QuorumMember>(NodeEnv(node_), net_, *mh_, qc);
  return quorum_->start();
}

void NodeStack::serve_elected(uint64_t term) {
  // A step-down that comes while this start is under way waits for it, then stops what it
  // started: reporting "stopped" first would let STOP reach the block while a server starts.
  sim::LockGuard g(server_mu_);
  NodeEnv env(node_);
  if (term <= stopped_term_) {
    // Stepped down before this start ran: STOP is durable, nothing may start.
    env.event("quorum_start_after_stop", {{"term", term}});
    return;
  }
  QuorumMember* q = quorum_.get();
  const uint64_t rid = q->config().election.rid;
  std::vector<QuorumBlock> blocks;
  // Read after this slot's ELECT is durable: of two leaders racing, the later one sees the
  // earlier one's ELECT (fence_plan.h).
  if (read_quorum_blocks(*mh_, cfg_.fsid, q->config().election.slot_count, &blocks) != 0) {
    q->server_stopped();
    return;
  }
  const FencePlan plan = fence_plan(blocks, term, rid);
  if (plan.superseded) {
    env.event("quorum_superseded", {{"term", term}});
    q->server_stopped();
    return;
  }
  auto fence_all = [&] {
    for (const FenceTarget& t : plan.targets) {
      const int node = cfg_.quorum_slot_nodes.at(t.slot);
      env.event("quorum_fence", {{"term", term}, {"target_slot", t.slot}, {"target_rid", t.rid},
                                 {"target_term", t.term}, {"target_node", node}});
      if (!cfg_.fence || !cfg_.fence(t.rid, static_cast<uint32_t>(node))) {
        env.event("quorum_fence_failed", {{"term", term}, {"target_rid", t.rid}}, /*fault=*/true);
        return false;
      }
    }
    return true;
  };
  const bool serve_first = cfg_.server.bugs.has(Bug::kServeBeforeFence);
  if (!serve_first && !fence_all()) {
    q->server_stopped();
    return;
  }
  if (cfg_.on_serving) cfg_.on_serving(term, rid);
  if (sim::Errno e = start_server()) {
    env.event("quorum_server_failed", {{"term", term}, {"err", sim::errno_name(e)}}, /*fault=*/true);
    retire_server();
    q->server_stopped();
    return;
  }
  // BUG (planted): serve_before_fence — the earlier leaders are fenced only after this server
  // has written its first commit, so for a while two servers write the same filesystem.
  if (serve_first && !fence_all()) {
    retire_server();
    q->server_stopped();
    return;
  }
  q->server_up();
}

void NodeStack::stop_elected(uint64_t term) {
  sim::LockGuard g(server_mu_);
  NodeEnv(node_).event("server_step_down", {{"term", term}});
  stopped_term_ = std::max(stopped_term_, term);
  retire_server();
  if (quorum_) quorum_->server_stopped();
}

std::optional<sim::Address> NodeStack::locate_server() {
  if (!mh_ || mh_->is_cut()) return std::nullopt;
  std::vector<QuorumBlock> blocks;
  if (read_quorum_blocks(*mh_, cfg_.fsid, static_cast<uint32_t>(cfg_.quorum_slot_nodes.size()), &blocks) != 0) {
    return std::nullopt;
  }
  const std::optional<ServerLocation> loc = quorum_server_location(blocks);
  if (!loc || loc->slot >= cfg_.quorum_slot_nodes.size()) return std::nullopt;
  return sim::Address{cfg_.quorum_slot_nodes[loc->slot], kServerPort};
}

sim::Errno NodeStack::mount(uint64_t rid) {
  if (!mh_ || mh_->is_cut()) attach();
  vfs_.reset();
  mount_.reset();
  link_.reset();
  NetServerLinkConfig lc;
  lc.server = cfg_.server_address;
  if (!cfg_.quorum_slot_nodes.empty()) lc.locate = [this] { return locate_server(); };
  lc.fsid = cfg_.fsid;
  lc.rid = rid;
  lc.flags = cfg_.greet_flags | (cfg_.quorum_slot >= 0 ? proto::kGreetVoter : 0);
  lc.bugs = cfg_.mount.bugs;
  link_ = std::make_unique<NetServerLink>(NodeEnv(node_), net_, lc);
  if (cfg_.on_protocol_violation) link_->set_violation_handler(cfg_.on_protocol_violation);
  // Refused by the server (fenced and reclaimed): the mount must stop, whatever it is doing.
  link_->set_on_refused([this](sim::Errno e) {
    if (mount_) mount_->fail(e);
  });
  if (sim::Errno e = link_->start(node_.local_time() + cfg_.connect_timeout)) return e;
  if (sim::Errno e = Mount::open(NodeEnv(node_), *mh_, *dh_, *link_, cfg_.mount, &mount_)) return e;
  vfs_ = std::make_unique<Vfs>(*mount_);
  return vfs_->recover_orphans();
}

sim::Errno NodeStack::unmount() {
  sim::Errno e = mount_ ? mount_->unmount() : 0;
  // Leaving even when the farewell failed: the mount is dead to the cluster either way (the
  // server reclaims it), and a voter that stays would be counted as present.
  if (quorum_) quorum_->leave();
  return e;
}

void NodeStack::forget() {
  vfs_.reset();
  mount_.reset();
  link_.reset();
  quorum_.reset();
  server_net_.reset();
  server_.reset();
  retired_nets_.clear();
  retired_servers_.clear();
}

}  // namespace simfs::fs
