#include "fs/quorum/election_core.h"

#include <algorithm>

#include "fs/base/assert.h"

namespace simfs::fs {

const char* quorum_msg_name(QuorumMsgType t) {
  switch (t) {
    case QuorumMsgType::kRequestVote: return "request_vote";
    case QuorumMsgType::kVote: return "vote";
    case QuorumMsgType::kHeartbeat: return "heartbeat";
    case QuorumMsgType::kResignation: return "resignation";
  }
  return "?";
}

const char* election_role_name(ElectionRole r) {
  switch (r) {
    case ElectionRole::kFollower: return "follower";
    case ElectionRole::kCandidate: return "candidate";
    case ElectionRole::kLeader: return "leader";
  }
  return "?";
}

uint32_t quorum_votes_needed(uint32_t slot_count) {
  FS_ASSERT(slot_count >= 1 && slot_count <= kQuorumSlotsMax);
  return slot_count <= 2 ? 1 : slot_count / 2 + 1;
}

uint64_t quorum_next_term(uint64_t term, uint32_t slot, uint32_t slot_count) {
  FS_ASSERT(slot < slot_count && term < UINT64_MAX - slot_count);
  if (quorum_votes_needed(slot_count) > slot_count / 2) return term + 1;  // a majority decides
  uint64_t next = term + 1;
  while (next % slot_count != slot) ++next;  // at most slot_count - 1 steps
  return next;
}

std::string election_action_string(const ElectionAction& a) {
  using K = ElectionAction::Kind;
  auto msg = [&] {
    return std::string(quorum_msg_name(a.msg.type)) + " term=" + std::to_string(a.msg.term) +
           " from=" + std::to_string(a.msg.from);
  };
  switch (a.kind) {
    case K::kWriteBlock: return "write " + quorum_block_string(a.block);
    case K::kSend: return "send " + msg() + " to=" + std::to_string(a.to);
    case K::kBroadcast: return "broadcast " + msg();
    case K::kArmElectionTimer: return "arm_election after=" + std::to_string(a.after);
    case K::kArmHeartbeatTimer: return "arm_heartbeat after=" + std::to_string(a.after);
    case K::kStartServer: return "start_server term=" + std::to_string(a.term);
    case K::kStopServer: return "stop_server term=" + std::to_string(a.term);
  }
  return "?";
}

ElectionCore::ElectionCore(const ElectionConfig& cfg) : cfg_(cfg), votes_needed_(quorum_votes_needed(cfg.slot_count)) {
  FS_ASSERT(cfg.slot < cfg.slot_count);
  FS_ASSERT(cfg.election_timeout > 0 && cfg.election_jitter_max >= 0 && cfg.heartbeat_interval > 0 &&
            cfg.heartbeat_timeout > 0);
  block_.fsid = cfg.fsid;
  block_.slot = cfg.slot;
}

ElectionCore::Actions ElectionCore::start(const std::vector<QuorumBlock>& blocks, sim::Duration jitter) {
  FS_ASSERT(!started_);
  started_ = true;
  std::set<uint32_t> seen;
  uint64_t max_term = 0;
  for (const QuorumBlock& b : blocks) {
    FS_ASSERT(b.fsid == cfg_.fsid && seen.insert(b.slot).second && quorum_block_invalid(b).empty());
    // Every term a block mentions is at or below its own term (quorum_block_invalid).
    max_term = std::max(max_term, b.term);
    if (b.slot == cfg_.slot) block_ = b;
  }
  Actions out;
  if (max_term > block_.term) {
    // Persisted at once: the slot that wrote max_term may be unreadable next time.
    block_.term = max_term;
    dirty_ = true;
    persist(&out);
  }
  // A leader's ELECT without STOP, left by an earlier incarnation, stays: that server may still
  // be running somewhere (this member cannot know), so the next leader must fence it. Left by
  // this same incarnation (its rid: a member restarted after a failed write), the caller
  // promises that server is down, so STOP says so and nobody needs to fence it.
  if (block_.elect.term > block_.stop.term && block_.elect.rid == cfg_.rid) {
    block_.stop = {block_.elect.term, cfg_.rid, 0};
    dirty_ = true;
    persist(&out);
  }
  arm_election_timer(jitter, &out);
  return out;
}

ElectionCore::Actions ElectionCore::election_timer_fired(sim::Time now, sim::Duration jitter) {
  FS_ASSERT(started_);
  Actions out;
  if (role_ == ElectionRole::kLeader) return out;  // a late firing: leaders have no election timer
  if (server_running_) {
    // Stepping down: campaigning now could make this node serve twice. Wait for server_stopped.
    arm_election_timer(jitter, &out);
    return out;
  }
  campaign(now, jitter, &out);
  return out;
}

ElectionCore::Actions ElectionCore::heartbeat_timer_fired() {
  FS_ASSERT(started_);
  Actions out;
  if (role_ != ElectionRole::kLeader) return out;
  broadcast(QuorumMsgType::kHeartbeat, &out);
  out.push_back(ElectionAction::arm_heartbeat(cfg_.heartbeat_interval));
  return out;
}

ElectionCore::Actions ElectionCore::receive(const QuorumMessage& m, sim::Time now, sim::Duration jitter) {
  FS_ASSERT(started_);
  Actions out;
  // Untrusted: no candidate ever campaigns in term 0, and only configured other slots talk.
  if (m.term == 0 || m.from >= cfg_.slot_count || m.from == cfg_.slot) return out;
  if (m.term < block_.term) return out;
  bool rearm = false;
  if (m.term > block_.term) {
    adopt_term(m.term, &out);
    rearm = true;
  }
  switch (m.type) {
    case QuorumMsgType::kRequestVote:
      if (role_ != ElectionRole::kFollower) break;  // candidates and leaders voted for themselves
      if (block_.vote_term < block_.term) {
        block_.vote_term = block_.term;
        block_.vote_slot = m.from;
        dirty_ = true;
      }
      if (block_.vote_slot == m.from) {
        send(m.from, QuorumMsgType::kVote, &out);  // persists the vote first
        rearm = true;  // give the candidate its chance before campaigning
      }
      break;
    case QuorumMsgType::kVote:
      if (role_ != ElectionRole::kCandidate) break;
      votes_.insert(m.from);
      if (votes_.size() >= votes_needed_) become_leader(now, &out);
      break;
    case QuorumMsgType::kHeartbeat:
      if (role_ == ElectionRole::kLeader) {
        // Impossible while the rules hold: this slot won this term. Kept for check().
        if (two_leaders_.empty()) {
          two_leaders_ = "slot " + std::to_string(cfg_.slot) + " leads term " + std::to_string(block_.term) +
                         " and got a heartbeat of it from slot " + std::to_string(m.from);
        }
        break;
      }
      role_ = ElectionRole::kFollower;  // a candidate of this term lost it
      votes_.clear();
      leader_ = m.from;
      rearm = true;
      break;
    case QuorumMsgType::kResignation:
      if (role_ != ElectionRole::kFollower) break;
      if (leader_ == m.from) leader_.reset();
      if (!server_running_) {
        campaign(now, jitter, &out);  // the leader is gone: no point waiting for a timeout
        rearm = false;                // campaign armed it
      }
      break;
  }
  persist(&out);  // a raised term nothing else wrote yet
  if (rearm && role_ != ElectionRole::kLeader) arm_election_timer(jitter, &out);
  return out;
}

ElectionCore::Actions ElectionCore::server_up(sim::Time now) {
  FS_ASSERT(started_);
  Actions out;
  // After stepping down the new leader fences this server anyway; FENCE would claim too much.
  if (role_ != ElectionRole::kLeader || !server_running_ || block_.fence.term == block_.term) return out;
  block_.fence = {block_.term, cfg_.rid, now};
  dirty_ = true;
  persist(&out);
  return out;
}

ElectionCore::Actions ElectionCore::server_stopped(sim::Time now, sim::Duration jitter) {
  FS_ASSERT(started_);
  Actions out;
  if (!server_running_) return out;  // a duplicate report
  server_running_ = false;
  // STOP names the term this server was elected in, which may be below term() after stepping
  // down: readers compare it with ELECT.
  FS_ASSERT(block_.elect.term > block_.stop.term);
  block_.stop = {block_.elect.term, cfg_.rid, now};
  dirty_ = true;
  persist(&out);
  if (role_ == ElectionRole::kLeader) {
    role_ = ElectionRole::kFollower;
    leader_.reset();
    broadcast(QuorumMsgType::kResignation, &out);
  }
  arm_election_timer(jitter, &out);
  return out;
}

void ElectionCore::adopt_term(uint64_t term, Actions* out) {
  FS_ASSERT(term > block_.term);
  if (role_ == ElectionRole::kLeader) {
    // Ask first: stopping does not depend on the new term, and the sooner the better.
    out->push_back(ElectionAction::stop_server(block_.elect.term));
  }
  role_ = ElectionRole::kFollower;
  leader_.reset();
  votes_.clear();
  block_.term = term;
  dirty_ = true;
}

void ElectionCore::campaign(sim::Time now, sim::Duration jitter, Actions* out) {
  FS_ASSERT(!server_running_);
  const uint64_t term = quorum_next_term(block_.term, cfg_.slot, cfg_.slot_count);
  role_ = ElectionRole::kCandidate;
  leader_.reset();
  votes_ = {cfg_.slot};
  block_.term = term;
  block_.vote_term = term;
  block_.vote_slot = cfg_.slot;
  dirty_ = true;
  if (votes_.size() >= votes_needed_) {
    become_leader(now, out);
    return;
  }
  broadcast(QuorumMsgType::kRequestVote, out);
  arm_election_timer(jitter, out);
}

void ElectionCore::become_leader(sim::Time now, Actions* out) {
  role_ = ElectionRole::kLeader;
  leader_ = cfg_.slot;
  votes_.clear();
  // Heartbeat first, so the other candidates of this term give up; it only needs the term,
  // which persist() makes durable before it goes out. ELECT must be durable before the server
  // starts: it is what the next leader reads to know this one may need fencing.
  broadcast(QuorumMsgType::kHeartbeat, out);
  block_.elect = {block_.term, cfg_.rid, now};
  dirty_ = true;
  persist(out);
  server_running_ = true;
  out->push_back(ElectionAction::start_server(block_.term));
  out->push_back(ElectionAction::arm_heartbeat(cfg_.heartbeat_interval));
}

void ElectionCore::persist(Actions* out) {
  if (!dirty_) return;
  dirty_ = false;
  ++block_.seq;
  out->push_back(ElectionAction::write_block(block_));
}

void ElectionCore::send(uint32_t to, QuorumMsgType type, Actions* out) {
  persist(out);
  out->push_back(ElectionAction::send(to, {type, block_.term, cfg_.slot}));
}

void ElectionCore::broadcast(QuorumMsgType type, Actions* out) {
  persist(out);
  out->push_back(ElectionAction::broadcast({type, block_.term, cfg_.slot}));
}

void ElectionCore::arm_election_timer(sim::Duration jitter, Actions* out) {
  FS_ASSERT(jitter >= 0 && jitter <= cfg_.election_jitter_max);
  const bool following = leader_.has_value() && *leader_ != cfg_.slot;
  const sim::Duration base = following ? cfg_.heartbeat_timeout : cfg_.election_timeout;
  out->push_back(ElectionAction::arm_election(base + jitter));
}

std::string ElectionCore::check() const {
  if (!two_leaders_.empty()) return two_leaders_;
  const std::string where = "slot " + std::to_string(cfg_.slot) + " (" + election_role_name(role_) + ", term " +
                            std::to_string(block_.term) + "): ";
  if (std::string why = quorum_block_invalid(block_); !why.empty()) return where + "block " + why;
  const bool self_voted = block_.vote_term == block_.term && block_.vote_slot == cfg_.slot;
  if (role_ != ElectionRole::kFollower && !self_voted) return where + "no vote for itself in its term";
  if (role_ == ElectionRole::kCandidate && votes_.count(cfg_.slot) == 0) return where + "does not count its own vote";
  if (role_ == ElectionRole::kLeader) {
    if (block_.elect.term != block_.term) return where + "leads without ELECT of its term";
    if (!server_running_) return where + "leads without a server";
    if (leader_ != cfg_.slot) return where + "leads but names another leader";
  }
  if (votes_.size() > cfg_.slot_count) return where + "more votes than slots";
  if (server_running_ && block_.elect.term <= block_.stop.term) return where + "a server runs without ELECT above STOP";
  return "";
}

}  // namespace simfs::fs
