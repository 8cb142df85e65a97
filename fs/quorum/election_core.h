// ElectionCore: one voting slot's side of the quorum election (leader election only, no log),
// as a pure state machine. It takes decoded events (startup with the quorum blocks, a timer
// firing, a message from another slot, its own server coming up or stopping) and returns the
// actions to take; the caller owns the device, the network, the timers, the clock and the
// randomness (docs/architecture.md: nothing here may draw or wait).
//
// Performing actions: in order. A kWriteBlock must be durable before any later action of the
// same list is performed, because the later ones (a vote, a request for votes, starting the
// server) are promises the written term and vote make good. If a write fails, perform none of
// the rest and drop the core; a new one started from the blocks on the device carries on. Timer
// arms replace the previous arm of the same timer. A spurious or late timer firing is harmless
// (safety never depends on timing), but a core that is never fired makes no progress.
//
// Rules (scoutfs-design.md section 6):
// - Persistent term: start() takes the greatest term found in ALL the slots' blocks, and every
//   change of this slot's term or vote is written to its block before anything depends on it,
//   so neither ever goes back, across restarts too.
// - One vote per term: a slot votes for at most one slot in a term (itself, as a candidate).
//   A repeated request from the same candidate gets the same vote again (votes can be lost).
// - A message of a greater term makes the slot a follower of that term (a leader is asked to
//   stop its server). A message of an older term, of term 0, from an unconfigured slot or from
//   itself is ignored.
// - Votes needed: a majority of the configured slots, but 1 with one or two slots
//   (quorum_votes_needed). With one vote enough, two slots could win the same term; so there a
//   candidate moves to the next term its own slot owns (term % slot_count == slot), and a split
//   election gives two leaders of different terms, which the later one's fence plan resolves.
// - A follower stands for election only when its own server is fully down (server_stopped
//   reported after a kStartServer); until then it votes, but never campaigns.
// - A winner broadcasts a heartbeat, writes ELECT {term, rid, now}, then starts its server,
//   whose first act is to fence the earlier leaders (fence_plan.h); server_up() then writes
//   FENCE. When the server stops, the slot writes STOP; if it was still leading it resigns
//   (followers of that term campaign at once).
//
// Guarantee: at most one leader per term, given the written blocks survive (a slot whose own
// block is damaged must not be started: its vote would be forgotten). Determinism: ordered
// containers only, and the same events give the same actions.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fs/format/quorum_block.h"
#include "sim/time.h"

namespace simfs::fs {

enum class QuorumMsgType : uint8_t { kRequestVote, kVote, kHeartbeat, kResignation };
const char* quorum_msg_name(QuorumMsgType t);

struct QuorumMessage {
  QuorumMsgType type = QuorumMsgType::kHeartbeat;
  uint64_t term = 0;
  uint32_t from = 0;  // the sender's slot
  bool operator==(const QuorumMessage&) const = default;
};

// A majority of slot_count, except 1 when there are 1 or 2 slots (with 2, requiring both would
// make either one's loss fatal). Precondition: 1 <= slot_count <= kQuorumSlotsMax.
uint32_t quorum_votes_needed(uint32_t slot_count);
// The term a candidate in `slot` campaigns in after `term`: term + 1 when a majority is needed,
// else the next term the slot owns (see above).
uint64_t quorum_next_term(uint64_t term, uint32_t slot, uint32_t slot_count);

struct ElectionConfig {
  uint64_t fsid = 0;
  uint32_t slot_count = 0;  // configured voting slots, 1..kQuorumSlotsMax
  uint32_t slot = 0;        // this member's slot, < slot_count
  uint64_t rid = 0;         // the mount this member runs in: the ELECT event names it
  // A candidate (or a follower that has never heard a leader) campaigns after
  // election_timeout + jitter; a follower of a live leader after heartbeat_timeout + jitter.
  // jitter is the caller's random draw in [0, election_jitter_max], passed with the event.
  sim::Duration election_timeout = 250 * sim::kMillisecond;
  sim::Duration election_jitter_max = 100 * sim::kMillisecond;
  sim::Duration heartbeat_interval = 100 * sim::kMillisecond;
  sim::Duration heartbeat_timeout = 10 * sim::kSecond;
};

struct ElectionAction {
  enum class Kind : uint8_t {
    kWriteBlock,         // write `block` to this slot's quorum block; wait until durable
    kSend,               // send `msg` to slot `to`
    kBroadcast,          // send `msg` to every other configured slot
    kArmElectionTimer,   // (re)arm the election timer to fire `after` from now
    kArmHeartbeatTimer,  // (re)arm the heartbeat timer to fire `after` from now
    kStartServer,        // start the server with `term` (it fences first, then serves)
    kStopServer,         // stop the server of `term`; report server_stopped() once it is down
  };
  Kind kind = Kind::kWriteBlock;
  QuorumBlock block;
  QuorumMessage msg;
  uint32_t to = 0;
  sim::Duration after = 0;
  uint64_t term = 0;
  bool operator==(const ElectionAction&) const = default;

  static ElectionAction write_block(const QuorumBlock& b) {
    ElectionAction a = of(Kind::kWriteBlock);
    a.block = b;
    return a;
  }
  static ElectionAction send(uint32_t to, const QuorumMessage& m) {
    ElectionAction a = of(Kind::kSend);
    a.msg = m;
    a.to = to;
    return a;
  }
  static ElectionAction broadcast(const QuorumMessage& m) {
    ElectionAction a = of(Kind::kBroadcast);
    a.msg = m;
    return a;
  }
  static ElectionAction arm_election(sim::Duration after) {
    ElectionAction a = of(Kind::kArmElectionTimer);
    a.after = after;
    return a;
  }
  static ElectionAction arm_heartbeat(sim::Duration after) {
    ElectionAction a = of(Kind::kArmHeartbeatTimer);
    a.after = after;
    return a;
  }
  static ElectionAction start_server(uint64_t term) {
    ElectionAction a = of(Kind::kStartServer);
    a.term = term;
    return a;
  }
  static ElectionAction stop_server(uint64_t term) {
    ElectionAction a = of(Kind::kStopServer);
    a.term = term;
    return a;
  }

 private:
  static ElectionAction of(Kind k) {
    ElectionAction a;
    a.kind = k;
    return a;
  }
};

// "write slot=0 seq=1 term=1 vote=1->0 ...", "send vote term=1 from=1 to=0", for tests and traces.
std::string election_action_string(const ElectionAction& a);

enum class ElectionRole : uint8_t { kFollower, kCandidate, kLeader };
const char* election_role_name(ElectionRole r);

class ElectionCore {
 public:
  using Actions = std::vector<ElectionAction>;

  explicit ElectionCore(const ElectionConfig& cfg);

  // The first event. `blocks`: every slot's block that decoded (kOk); a zeroed (never written)
  // block is left out, at most one block per slot. Starts as a follower with no server.
  // Precondition: a core started with the rid of this slot's latest ELECT (the same member
  // restarting its core after a failed write) has no server of that term running any more; its
  // STOP is written at once.
  Actions start(const std::vector<QuorumBlock>& blocks, sim::Duration jitter);

  // Precondition of every event below: start() was called.
  Actions election_timer_fired(sim::Time now, sim::Duration jitter);
  Actions heartbeat_timer_fired();
  Actions receive(const QuorumMessage& m, sim::Time now, sim::Duration jitter);
  // The server started by kStartServer has fenced the earlier leaders and serves.
  Actions server_up(sim::Time now);
  // The server started by kStartServer is fully down (asked to stop, failed, or gave up).
  Actions server_stopped(sim::Time now, sim::Duration jitter);

  // "" or the first broken promise: the block model invalid, a leader or candidate without its
  // own vote in its term, a leader without ELECT of its term or without a running server, more
  // votes than slots, or a heartbeat of this leader's own term from another slot (two leaders).
  std::string check() const;

  // ---- inspection, for tests and traces ----
  ElectionRole role() const { return role_; }
  uint64_t term() const { return block_.term; }
  // This slot's block as it is once every write asked for so far is done.
  const QuorumBlock& block() const { return block_; }
  // The leader of term() when known (this slot itself while leading).
  std::optional<uint32_t> leader() const { return leader_; }
  bool server_running() const { return server_running_; }
  size_t votes() const { return votes_.size(); }
  uint32_t votes_needed() const { return votes_needed_; }
  const ElectionConfig& config() const { return cfg_; }

 private:
  // Raises the term: a follower of it, not knowing its leader; a leader is told to stop.
  void adopt_term(uint64_t term, Actions* out);
  void campaign(sim::Time now, sim::Duration jitter, Actions* out);
  void become_leader(sim::Time now, Actions* out);
  // Emits the write of block_ if it changed since the last one. Everything that sends or
  // starts goes through it first, so a promise is never made before it is durable.
  void persist(Actions* out);
  void send(uint32_t to, QuorumMsgType type, Actions* out);
  void broadcast(QuorumMsgType type, Actions* out);
  void arm_election_timer(sim::Duration jitter, Actions* out);

  ElectionConfig cfg_;
  uint32_t votes_needed_;
  bool started_ = false;
  QuorumBlock block_;
  bool dirty_ = false;
  ElectionRole role_ = ElectionRole::kFollower;
  std::optional<uint32_t> leader_;
  std::set<uint32_t> votes_;  // candidate: the slots that voted for it in term()
  bool server_running_ = false;
  std::string two_leaders_;  // kept for check(), not asserted, so a run reports it
};

}  // namespace simfs::fs
