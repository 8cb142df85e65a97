// ElectionWorld: N ElectionCores wired together by a tiny pure harness, for the tests of this
// folder only. No event loop: the test decides every step (deliver, duplicate or drop a
// message, fire a timer, a server coming up or stopping, a crash, a restart), so a schedule is
// just a sequence of calls and a RapidCheck property can draw it.
//
// What it models:
// - each slot's quorum block is bytes on a "device" (encode_quorum_block / decode_quorum_block,
//   so the codec is exercised too); a kWriteBlock is durable as soon as it is performed;
// - the network is a bag of envelopes; any may be delivered, duplicated or dropped;
// - a crash can come between any two actions of a list (the rest are never performed);
// - a server starts by reading every block and following fence_plan(): superseded servers stop
//   at once, and each fence target whose server still runs is fenced, which, as in scoutfs's
//   test fence script (a forced unmount), takes its whole member down.
//
// What it checks as it goes (violation() is the first broken rule, "" while none):
// - a slot's persisted term and vote term never decrease, and it never persists two different
//   votes in one term (across restarts too);
// - nothing is sent before the term it carries is durable, and a VOTE only after that vote is;
// - a server starts only after its ELECT is durable, at most one slot starts a server per
//   term, and only with votes_needed durable votes for it in that term;
// - after fencing, no other server is serving when a new one starts (invariant 32's shape),
//   servers serve in increasing term order, and no fence names a leader of a later term;
// - every live core's check() is "" and its block() equals what is on its device.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fs/format/quorum_block.h"
#include "fs/quorum/election_core.h"
#include "fs/quorum/fence_plan.h"

namespace simfs::fs::testing_quorum {

constexpr uint64_t kWorldFsid = 0x5153494d46534944ull;

class ElectionWorld {
 public:
  using Actions = ElectionCore::Actions;

  struct Envelope {
    uint32_t to = 0;
    QuorumMessage msg;
  };

  struct Member {
    std::unique_ptr<ElectionCore> core;  // null while down
    uint64_t incarnation = 0;            // bumped by every start
    std::vector<uint8_t> device;         // this slot's block; empty: never written
    bool server_running = false;         // started and not yet reported stopped
    bool serving = false;                // passed its fence plan
    bool reported_up = false;
    bool stop_asked = false;
    bool election_armed = false;
    bool heartbeat_armed = false;
  };

  explicit ElectionWorld(uint32_t slots) : slots_(slots), members_(slots) {}

  uint32_t slots() const { return slots_; }
  const Member& member(uint32_t s) const { return members_.at(s); }
  const ElectionCore& core(uint32_t s) const { return *members_.at(s).core; }
  bool up(uint32_t s) const { return members_.at(s).core != nullptr; }
  const std::vector<Envelope>& net() const { return net_; }
  const std::string& violation() const { return violation_; }
  const std::map<uint64_t, uint32_t>& leaders() const { return leaders_; }  // term -> slot that served it
  sim::Time now() const { return now_; }
  void advance(sim::Duration d) { now_ += d; }
  static uint64_t rid_of(uint32_t slot, uint64_t incarnation) { return 1000 * incarnation + slot; }

  // Every block on the devices that decodes.
  std::vector<QuorumBlock> blocks() {
    std::vector<QuorumBlock> out;
    for (uint32_t s = 0; s < slots_; ++s) {
      if (members_[s].device.empty()) continue;
      QuorumBlock b;
      const QuorumBlockCheck c = decode_quorum_block(members_[s].device, kWorldFsid, s, &b);
      if (c != QuorumBlockCheck::kOk) {
        fail("slot " + std::to_string(s) + " block does not decode: " + quorum_block_check_name(c));
        continue;
      }
      out.push_back(b);
    }
    return out;
  }
  std::optional<QuorumBlock> block(uint32_t s) {
    for (const QuorumBlock& b : blocks()) {
      if (b.slot == s) return b;
    }
    return std::nullopt;
  }

  // ---- the schedule ----

  // (Re)starts a down member from the blocks on the devices, with a new rid.
  void start(uint32_t s, sim::Duration jitter = 0, size_t crash_before = SIZE_MAX) {
    Member& m = members_.at(s);
    if (m.core) return;
    ++m.incarnation;
    ElectionConfig cfg;
    cfg.fsid = kWorldFsid;
    cfg.slot_count = slots_;
    cfg.slot = s;
    cfg.rid = rid_of(s, m.incarnation);
    m.core = std::make_unique<ElectionCore>(cfg);
    const std::vector<QuorumBlock> on_disk = blocks();
    exec(s, m.core->start(on_disk, jitter), crash_before);
    if (up(s) && block(s) && core(s).term() < block(s)->term) fail("restarted below its persisted term");
  }

  void crash(uint32_t s) {
    Member& m = members_.at(s);
    m.core.reset();
    m.server_running = m.serving = m.reported_up = m.stop_asked = false;
    m.election_armed = m.heartbeat_armed = false;
  }

  void fire_election(uint32_t s, sim::Duration jitter = 0, size_t crash_before = SIZE_MAX) {
    if (!up(s)) return;
    members_[s].election_armed = false;
    exec(s, members_[s].core->election_timer_fired(now_, jitter), crash_before);
  }

  void fire_heartbeat(uint32_t s, size_t crash_before = SIZE_MAX) {
    if (!up(s)) return;
    members_[s].heartbeat_armed = false;
    exec(s, members_[s].core->heartbeat_timer_fired(), crash_before);
  }

  // Delivers net()[i]; `keep` leaves a copy in flight (a duplicate to come).
  void deliver(size_t i, bool keep = false, sim::Duration jitter = 0, size_t crash_before = SIZE_MAX) {
    const Envelope e = net_.at(i);
    if (!keep) net_.erase(net_.begin() + static_cast<std::ptrdiff_t>(i));
    if (!up(e.to)) return;  // lost: the member is down
    exec(e.to, members_[e.to].core->receive(e.msg, now_, jitter), crash_before);
  }
  void drop(size_t i) { net_.erase(net_.begin() + static_cast<std::ptrdiff_t>(i)); }
  // Puts a message in flight as if `m.from` had sent it (a late copy, say).
  void inject(uint32_t to, const QuorumMessage& m) { net_.push_back({to, m}); }
  // The first envelope to `to` of `type`, if any.
  std::optional<size_t> find(uint32_t to, QuorumMsgType type) const {
    for (size_t i = 0; i < net_.size(); ++i) {
      if (net_[i].to == to && net_[i].msg.type == type) return i;
    }
    return std::nullopt;
  }
  // Delivers everything in flight, oldest first, including what deliveries send (bounded).
  void deliver_all(size_t limit = 10000) {
    for (size_t n = 0; n < limit && !net_.empty(); ++n) deliver(0);
  }
  void drop_all() { net_.clear(); }

  void server_up(uint32_t s, size_t crash_before = SIZE_MAX) {
    Member& m = members_.at(s);
    if (!up(s) || !m.serving || m.reported_up) return;
    m.reported_up = true;
    exec(s, m.core->server_up(now_), crash_before);
  }

  // The server of `s` is down: asked to stop, or failed on its own.
  void server_stops(uint32_t s, sim::Duration jitter = 0, size_t crash_before = SIZE_MAX) {
    Member& m = members_.at(s);
    if (!up(s) || !m.server_running) return;
    m.server_running = m.serving = m.reported_up = m.stop_asked = false;
    exec(s, m.core->server_stopped(now_, jitter), crash_before);
  }

  // ---- reading the outcome ----

  // The slots whose core leads, in slot order.
  std::vector<uint32_t> current_leaders() const {
    std::vector<uint32_t> out;
    for (uint32_t s = 0; s < slots_; ++s) {
      if (up(s) && core(s).role() == ElectionRole::kLeader) out.push_back(s);
    }
    return out;
  }

  // Every member up, exactly one leader serving, everyone in its term and following it, and
  // no other server running.
  bool converged() const {
    const std::vector<uint32_t> ls = current_leaders();
    if (ls.size() != 1) return false;
    const uint32_t l = ls[0];
    if (!members_[l].serving) return false;
    for (uint32_t s = 0; s < slots_; ++s) {
      if (!up(s) || core(s).term() != core(l).term() || core(s).leader() != l) return false;
      if (s != l && members_[s].server_running) return false;
    }
    return true;
  }

  // One line per member, for failing tests.
  std::string describe() const {
    std::string out;
    for (uint32_t s = 0; s < slots_; ++s) {
      const Member& m = members_[s];
      out += "slot " + std::to_string(s) + ": ";
      if (!m.core) {
        out += "down\n";
        continue;
      }
      const ElectionCore& c = *m.core;
      out += std::string(election_role_name(c.role())) + " term " + std::to_string(c.term()) + " leader " +
             (c.leader() ? std::to_string(*c.leader()) : std::string("?")) + (m.server_running ? " server" : "") +
             (m.serving ? " serving" : "") + (m.stop_asked ? " stop_asked" : "") + " | " +
             quorum_block_string(c.block()) + "\n";
    }
    return out + std::to_string(net_.size()) + " in flight\n";
  }

  // Brings the cluster to one leader with a reliable network and no more failures (invariant
  // 34's shape): restart the fallen, let the messages and stopping servers settle, and if
  // that does not leave one leader, fire the election timer of a member without a server
  // until it campaigns above every term, then settle again.
  void heal() {
    for (int round = 0; round < 4 && !converged(); ++round) {
      for (uint32_t s = 0; s < slots_; ++s) start(s);
      settle();
      if (converged()) break;
      std::optional<uint32_t> c;
      for (uint32_t s = 0; s < slots_; ++s) {
        if (up(s) && !members_[s].server_running && (!c || core(s).term() > core(*c).term())) c = s;
      }
      if (!c) continue;
      // At least once: the greatest term may already be its own (a candidate that restarted).
      for (int i = 0; i < 4 * static_cast<int>(slots_) + 4 && up(*c); ++i) {
        fire_election(*c);
        if (up(*c) && members_[*c].server_running && !members_[*c].serving) server_stops(*c);  // superseded
        if (up(*c) && core(*c).term() > max_term_except(*c)) break;
      }
      settle();
    }
    for (uint32_t s = 0; s < slots_; ++s) start(s);
    settle();
  }

  // Records the first broken rule (tests assert violation() == "").
  void fail(const std::string& why) {
    if (violation_.empty()) violation_ = why;
  }

 private:
  uint64_t max_term_except(uint32_t c) const {
    uint64_t t = 0;
    for (uint32_t s = 0; s < slots_; ++s) {
      if (s != c && up(s)) t = std::max(t, core(s).term());
    }
    return t;
  }

  void settle() {
    for (int i = 0; i < 3; ++i) {
      for (uint32_t s = 0; s < slots_; ++s) {
        if (up(s) && core(s).role() == ElectionRole::kLeader) fire_heartbeat(s);
      }
      deliver_all();
      for (uint32_t s = 0; s < slots_; ++s) {
        if (up(s) && members_[s].stop_asked) server_stops(s);
      }
      deliver_all();
      for (uint32_t s = 0; s < slots_; ++s) server_up(s);
    }
  }

  uint32_t votes_for(uint64_t term, uint32_t candidate) const {
    uint32_t n = 0;
    for (const auto& [key, for_slot] : votes_) {
      if (key.first == term && for_slot == candidate) ++n;
    }
    return n;
  }

  void exec(uint32_t s, const Actions& actions, size_t crash_before) {
    using K = ElectionAction::Kind;
    const std::string who = "slot " + std::to_string(s) + ": ";
    for (size_t k = 0; k < actions.size(); ++k) {
      if (k == crash_before) {
        crash(s);
        return;
      }
      const ElectionAction& a = actions[k];
      Member& m = members_[s];
      const std::optional<QuorumBlock> disk = block(s);
      const uint64_t durable_term = disk ? disk->term : 0;
      switch (a.kind) {
        case K::kWriteBlock: {
          const QuorumBlock& b = a.block;
          if (b.slot != s || b.fsid != kWorldFsid) fail(who + "writes another slot's block");
          if (disk) {
            if (b.term < disk->term) fail(who + "persisted term decreases: " + quorum_block_string(b));
            if (b.vote_term < disk->vote_term) fail(who + "persisted vote term decreases");
          }
          if (b.vote_term != 0) {
            auto [it, fresh] = votes_.emplace(std::pair{b.vote_term, s}, b.vote_slot);
            if (!fresh && it->second != b.vote_slot) {
              fail(who + "two votes in term " + std::to_string(b.vote_term) + ": for " + std::to_string(it->second) +
                   " and " + std::to_string(b.vote_slot));
            }
          }
          m.device = encode_quorum_block(b);
          QuorumBlock back;
          if (decode_quorum_block(m.device, kWorldFsid, s, &back) != QuorumBlockCheck::kOk || !(back == b)) {
            fail(who + "block does not round-trip");
          }
          break;
        }
        case K::kSend:
        case K::kBroadcast: {
          if (a.msg.from != s) fail(who + "sends as another slot");
          if (a.msg.term > durable_term) {
            fail(who + "sends term " + std::to_string(a.msg.term) + " before it is durable");
          }
          if (a.msg.type == QuorumMsgType::kVote) {
            auto it = votes_.find({a.msg.term, s});
            if (!disk || disk->vote_term != a.msg.term || disk->vote_slot != a.to || it == votes_.end() ||
                it->second != a.to) {
              fail(who + "votes for " + std::to_string(a.to) + " in term " + std::to_string(a.msg.term) +
                   " without a durable vote");
            }
          }
          if (a.kind == K::kSend) {
            net_.push_back({a.to, a.msg});
          } else {
            for (uint32_t t = 0; t < slots_; ++t) {
              if (t != s) net_.push_back({t, a.msg});
            }
          }
          break;
        }
        case K::kArmElectionTimer: m.election_armed = true; break;
        case K::kArmHeartbeatTimer: m.heartbeat_armed = true; break;
        case K::kStartServer: start_server(s, a.term); break;
        case K::kStopServer: m.stop_asked = true; break;
      }
    }
    if (!up(s)) return;
    const std::string why = core(s).check();
    if (!why.empty()) fail(why);
    const std::optional<QuorumBlock> disk = block(s);
    if (disk ? !(*disk == core(s).block()) : core(s).block().term != 0) {
      fail(who + "core's block differs from its device: " + quorum_block_string(core(s).block()));
    }
  }

  void start_server(uint32_t s, uint64_t term) {
    Member& m = members_[s];
    const std::string who = "slot " + std::to_string(s) + ": ";
    const uint64_t rid = rid_of(s, m.incarnation);
    const std::optional<QuorumBlock> disk = block(s);
    if (!disk || disk->elect.term != term || disk->elect.rid != rid) fail(who + "starts a server before its ELECT");
    if (auto [it, fresh] = leaders_.emplace(term, s); !fresh && it->second != s) {
      fail("two leaders in term " + std::to_string(term) + ": slots " + std::to_string(it->second) + " and " +
           std::to_string(s));
    }
    // Written out here rather than taken from quorum_votes_needed, so a wrong count there shows.
    const uint32_t needed = slots_ <= 2 ? 1 : slots_ / 2 + 1;
    if (votes_for(term, s) < needed) {
      fail(who + "leads term " + std::to_string(term) + " with " + std::to_string(votes_for(term, s)) + " of " +
           std::to_string(needed) + " votes");
    }
    m.server_running = true;
    m.reported_up = false;
    const FencePlan plan = fence_plan(blocks(), term, rid);
    if (plan.superseded) {
      m.stop_asked = true;  // its first act: give up; the member hears of it via server_stops
      return;
    }
    // Servers take over in term order: one that would serve below a term already served is
    // an old leader waking up late (its votes were delayed), and must have given up above.
    if (term < max_served_term_) {
      fail(who + "serves term " + std::to_string(term) + " after term " + std::to_string(max_served_term_) +
           " was served");
    }
    max_served_term_ = std::max(max_served_term_, term);
    for (const FenceTarget& t : plan.targets) {
      if (t.term > term) fail(who + "fences a leader of the later term " + std::to_string(t.term));
      if (t.slot == s) continue;  // an earlier incarnation of this slot: long gone
      Member& victim = members_[t.slot];
      if (victim.core && victim.server_running && rid_of(t.slot, victim.incarnation) == t.rid) crash(t.slot);
    }
    for (uint32_t o = 0; o < slots_; ++o) {
      if (o != s && members_[o].serving) {
        fail(who + "serves term " + std::to_string(term) + " while slot " + std::to_string(o) + " still serves");
      }
    }
    m.serving = true;
  }

  uint32_t slots_;
  std::vector<Member> members_;
  std::vector<Envelope> net_;
  sim::Time now_ = 0;
  std::map<uint64_t, uint32_t> leaders_;
  uint64_t max_served_term_ = 0;
  std::map<std::pair<uint64_t, uint32_t>, uint32_t> votes_;  // (term, voter) -> the slot it voted for
  std::string violation_;
};

}  // namespace simfs::fs::testing_quorum
