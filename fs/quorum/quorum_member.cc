#include "fs/quorum/quorum_member.h"

#include <algorithm>

#include "fs/base/assert.h"
#include "fs/format/format.h"
#include "fs/quorum/quorum_message_codec.h"
#include "sim/task.h"

namespace simfs::fs {
namespace {

constexpr sim::Site kSiteJitter{"quorum.jitter", sim::Stream::kFs};

}  // namespace

sim::Errno read_quorum_blocks(sim::DiskHandle& meta, uint64_t fsid, uint32_t slot_count, std::vector<QuorumBlock>* out,
                              std::vector<uint32_t>* damaged) {
  FS_ASSERT(slot_count <= kQuorumSlotsMax);
  out->clear();
  if (damaged) damaged->clear();
  std::vector<uint8_t> buf(kBlockSize);
  for (uint32_t s = 0; s < slot_count; ++s) {
    if (sim::Errno e = meta.read(quorum_slot_blkno(s), buf)) return e;
    QuorumBlock b;
    const QuorumBlockCheck c = decode_quorum_block(buf, fsid, s, &b);
    if (c == QuorumBlockCheck::kOk) {
      out->push_back(b);
    } else if (c != QuorumBlockCheck::kZeroed && damaged) {
      damaged->push_back(s);
    }
  }
  return 0;
}

QuorumMember::QuorumMember(NodeEnv env, sim::Network& net, sim::DiskHandle& meta, QuorumMemberConfig cfg)
    : env_(env), net_(net), meta_(meta), cfg_(std::move(cfg)), alive_(std::make_shared<bool>(true)) {
  FS_ASSERT(cfg_.slot_nodes.size() == cfg_.election.slot_count);
}

QuorumMember::~QuorumMember() {
  *alive_ = false;
  if (sock_) sock_->cut();
}

sim::Errno QuorumMember::start() {
  FS_ASSERT(!core_);
  const ElectionConfig& ec = cfg_.election;
  std::vector<QuorumBlock> blocks;
  std::vector<uint32_t> damaged;
  if (sim::Errno e = read_quorum_blocks(meta_, ec.fsid, ec.slot_count, &blocks, &damaged)) return e;
  // The core would start this slot from a zeroed block and could vote twice in a term.
  if (std::find(damaged.begin(), damaged.end(), ec.slot) != damaged.end()) return EUCLEAN;
  sim::Errno err = 0;
  sock_ = net_.bind(env_.node(), kQuorumPort, &err);
  if (!sock_) return err ? err : EADDRINUSE;
  core_ = std::make_unique<ElectionCore>(ec);
  env_.event("quorum_start", {{"slot", ec.slot}, {"rid", ec.rid}, {"slots", ec.slot_count}});
  std::shared_ptr<bool> alive = alive_;
  env_.spawn("quorum.recv", [this, alive] {
    if (*alive) receive_loop();
  }, /*daemon=*/true);
  env_.spawn("quorum.timers", [this, alive] {
    if (*alive) timer_loop();
  }, /*daemon=*/true);
  run([&](ElectionCore& c) { return c.start(blocks, jitter()); });
  return 0;  // a failed first write is retried by the member itself
}

void QuorumMember::server_up() {
  run([this](ElectionCore& c) { return c.server_up(env_.now()); });
}

void QuorumMember::server_stopped() {
  run([this](ElectionCore& c) { return c.server_stopped(env_.now(), jitter()); });
}

void QuorumMember::leave() {
  if (shut_down_ || leaving_) return;
  uint64_t serving = 0;
  {
    sim::LockGuard g(mu_);
    leaving_ = true;
    // Running, or asked to start (a start under way is stopped once it is up).
    if (core_ && !failed_ && core_->server_running()) serving = core_->block().elect.term;
  }
  env_.event("quorum_leave", {{"slot", cfg_.election.slot}, {"rid", cfg_.election.rid}, {"serving", serving}});
  if (serving && cfg_.stop_server) cfg_.stop_server(serving);
  shutdown();
}

void QuorumMember::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (sock_) sock_->cut();
  election_at_ = heartbeat_at_ = 0;
  timers_changed_.notify_all();
}

sim::Duration QuorumMember::jitter() { return env_.range(kSiteJitter, 0, cfg_.election.election_jitter_max); }

void QuorumMember::run(const std::function<Actions(ElectionCore&)>& event) {
  std::shared_ptr<bool> alive = alive_;
  sim::LockGuard g(mu_);
  if (!*alive || failed_ || shut_down_ || !core_) return;
  perform(event(*core_));
}

void QuorumMember::perform(const Actions& actions) {
  using K = ElectionAction::Kind;
  const std::shared_ptr<bool> alive = alive_;
  for (const ElectionAction& a : actions) {
    if (!*alive || failed_ || shut_down_) return;
    switch (a.kind) {
      case K::kWriteBlock: {
        const std::vector<uint8_t> bytes = encode_quorum_block(a.block);
        sim::Errno e = meta_.write(quorum_slot_blkno(a.block.slot), bytes);
        if (!e) e = meta_.flush();
        if (!*alive) return;
        if (e) {
          // Nothing after this write may happen: the promises it carried are not durable.
          env_.event("quorum_failed", {{"slot", a.block.slot}, {"err", sim::errno_name(e)}}, /*fault=*/true);
          write_failed();
          return;
        }
        env_.event("quorum_block", {{"slot", a.block.slot}, {"term", a.block.term}, {"vote", a.block.vote_slot},
                                    {"vote_term", a.block.vote_term}, {"elect", a.block.elect.term},
                                    {"fence", a.block.fence.term}, {"stop", a.block.stop.term}});
        if (cfg_.observer) cfg_.observer(a.block);
        break;
      }
      case K::kSend:
        send(a.to, a.msg);
        break;
      case K::kBroadcast:
        for (uint32_t s = 0; s < cfg_.election.slot_count; ++s) {
          if (s != cfg_.election.slot) send(s, a.msg);
        }
        break;
      case K::kArmElectionTimer:
        election_at_ = sim::this_task::now() + a.after;
        timers_changed_.notify_all();
        break;
      case K::kArmHeartbeatTimer:
        heartbeat_at_ = sim::this_task::now() + a.after;
        timers_changed_.notify_all();
        break;
      case K::kStartServer: {
        const uint64_t term = a.term;
        env_.event("quorum_elected", {{"slot", cfg_.election.slot}, {"term", term}, {"rid", cfg_.election.rid}});
        env_.spawn("quorum.start_server", [this, alive, term] {
          if (!*alive) return;
          if (leaving_) {
            server_stopped();  // leave() stops it: nothing may start now
            return;
          }
          if (cfg_.start_server) cfg_.start_server(term);
        });
        break;
      }
      case K::kStopServer: {
        const uint64_t term = a.term;
        env_.event("quorum_step_down", {{"slot", cfg_.election.slot}, {"term", term}});
        env_.spawn("quorum.stop_server", [this, alive, term] {
          if (*alive && cfg_.stop_server) cfg_.stop_server(term);
        });
        break;
      }
    }
  }
}

void QuorumMember::write_failed() {
  failed_ = true;
  ++failures_;
  if (restart_pending_) return;
  restart_pending_ = true;
  const uint64_t serving = core_->server_running() ? core_->block().elect.term : 0;
  const std::shared_ptr<bool> alive = alive_;
  env_.spawn("quorum.restart", [this, alive, serving] {
    if (!*alive) return;
    // The new core must not start while this member's server runs (ElectionCore::start).
    if (serving && cfg_.stop_server) cfg_.stop_server(serving);
    for (;;) {
      sim::this_task::sleep(cfg_.restart_delay);
      if (!*alive || shut_down_) return;
      std::vector<QuorumBlock> blocks;
      std::vector<uint32_t> damaged;
      if (read_quorum_blocks(meta_, cfg_.election.fsid, cfg_.election.slot_count, &blocks, &damaged) != 0) continue;
      if (!*alive || shut_down_) return;
      if (std::find(damaged.begin(), damaged.end(), cfg_.election.slot) != damaged.end()) continue;
      sim::LockGuard g(mu_);
      if (!*alive || shut_down_) return;
      restart_pending_ = false;
      failed_ = false;
      core_ = std::make_unique<ElectionCore>(cfg_.election);
      env_.event("quorum_restart", {{"slot", cfg_.election.slot}, {"rid", cfg_.election.rid}});
      perform(core_->start(blocks, jitter()));
      return;  // a failure in there spawned the next attempt
    }
  });
}

void QuorumMember::send(uint32_t to, const QuorumMessage& m) {
  FS_ASSERT(to < cfg_.slot_nodes.size());
  sim::Message msg;
  msg.type = static_cast<uint32_t>(m.type);
  msg.payload = encode_quorum_message(cfg_.election.fsid, m);
  // A lost datagram is the protocol's business (votes and heartbeats are repeated).
  (void)sock_->send_to(sim::Address{cfg_.slot_nodes[to], kQuorumPort}, std::move(msg));
}

void QuorumMember::receive_loop() {
  const std::shared_ptr<bool> alive = alive_;
  for (;;) {
    sim::Message msg;
    sim::Address from;
    const sim::Errno e = sock_->recv_from(msg, &from);
    if (!*alive || shut_down_) return;
    if (e) return;  // the socket was cut
    QuorumMessage m;
    if (std::string why = decode_quorum_message(msg.payload, cfg_.election.fsid, cfg_.election.slot_count, &m);
        !why.empty()) {
      env_.event("quorum_bad_message", {{"from_node", from.node}, {"why", why}}, /*fault=*/true);
      continue;
    }
    // A slot is bound to its node: a datagram naming another node's slot is not believed.
    if (cfg_.slot_nodes[m.from] != from.node) {
      env_.event("quorum_bad_message", {{"from_node", from.node}, {"why", "slot of another node"}}, /*fault=*/true);
      continue;
    }
    run([&](ElectionCore& c) { return c.receive(m, env_.now(), jitter()); });
  }
}

void QuorumMember::timer_loop() {
  const std::shared_ptr<bool> alive = alive_;
  for (;;) {
    bool fire_election = false;
    bool fire_heartbeat = false;
    {
      sim::LockGuard g(timer_mu_);
      for (;;) {
        if (!*alive || shut_down_) return;
        const sim::Time now = sim::this_task::now();
        if (election_at_ && election_at_ <= now) {
          election_at_ = 0;
          fire_election = true;
        }
        if (heartbeat_at_ && heartbeat_at_ <= now) {
          heartbeat_at_ = 0;
          fire_heartbeat = true;
        }
        if (fire_election || fire_heartbeat) break;
        sim::Time next = sim::kTimeNever;
        if (election_at_) next = std::min(next, election_at_);
        if (heartbeat_at_) next = std::min(next, heartbeat_at_);
        if (next == sim::kTimeNever) {
          timers_changed_.wait(timer_mu_);
        } else {
          timers_changed_.wait_until(timer_mu_, next);
        }
      }
    }
    if (fire_heartbeat) run([](ElectionCore& c) { return c.heartbeat_timer_fired(); });
    if (fire_election && !leaving_) run([this](ElectionCore& c) { return c.election_timer_fired(env_.now(), jitter()); });
  }
}

}  // namespace simfs::fs
