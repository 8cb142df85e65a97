// LockServerCore: the lock server's decisions as a pure state machine. It takes decoded events
// (a client's request, its answer to an invalidation, lock recovery, a client leaving) and
// returns the messages to send as actions; the caller owns the network, the clock and the
// persistent seq counter.
//
// State: per lock key, three FIFO lists of client entries — granted (what each client holds),
// requested (what clients wait for, oldest first) and invalidated (holders asked to drop to a
// lower mode, not yet answered). Locks with no entries are forgotten.
//
// Guarantees:
// - Safety: every two holders of a lock with different rids are compatible (lock_grant_compatible
//   both ways). A holder with an invalidation outstanding still counts at its old mode: nothing
//   is granted on a lock while any of its invalidations is unanswered.
// - FIFO fairness: requests are granted in arrival order. The oldest request's conflicting
//   holders are invalidated and every later request waits behind it, even a compatible one.
// - Liveness: once every invalidation is answered, every request is granted (unless its client
//   leaves). A lock never waits with no invalidation outstanding, except during recovery.
// - WRITE and WRITE_ONLY grants carry write_seq = next_seq(); other grants carry 0. check()
//   reports a write_seq that is not above every write_seq granted or recovered before it.
// - Determinism: state is ordered containers only; the same events give the same actions in
//   the same order. Every loop is bounded by the entries it walks.
//
// Recovery: a restarted server calls begin_recovery() with every mounted rid before any other
// event. Until recovered() or farewell() has been called for each of them, nothing is granted
// or invalidated; requests queue. Each client reports what it holds (recover_entry, the old mode
// while an invalidation of its own was in progress), which becomes granted state.
//
// Errors: the core does not fail. Events that the protocol makes impossible or stale are
// ignored, not trusted:
// - a second request from a rid that already has one queued on the lock replaces it in place
//   (its mode and net_id; the replaced request is never answered). That is a client resending
//   to a server that may or may not have seen the first copy;
// - an invalidation answer for an entry that is not on the invalidated list (a duplicate, or
//   for an unknown lock), or one that claims to keep more than the invalidation asked for (its
//   mode neither the asked mode nor NULL), changes nothing;
// - recover_entry from a rid that is not recovering (it already finished, or left) is dropped,
//   so a lock reported after a client's farewell cannot stay orphaned; a NULL entry is dropped.
// The protocol assumes one outstanding message per (client, lock) in each direction and
// in-order delivery: an answer to an older invalidation arriving after a newer one was sent
// cannot be told apart from the newer one's answer.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fs/format/key.h"
#include "fs/lock/lock_mode.h"

namespace simfs::fs {

struct LockAction {
  enum class Kind : uint8_t { kGrant, kInvalidate };
  Kind kind = Kind::kGrant;
  uint64_t rid = 0;  // whom to send it to
  Key lock;
  uint64_t net_id = 0;  // kGrant: the id of the request it answers; kInvalidate: 0
  LockMode old_mode = LockMode::kNull;
  LockMode new_mode = LockMode::kNull;
  uint64_t write_seq = 0;  // WRITE and WRITE_ONLY grants, else 0
  bool operator==(const LockAction&) const = default;
};

// "grant rid=1 lock=1.16.0.0.0 net_id=7 read->write seq=3", for test failures and traces.
std::string lock_action_string(const LockAction& a);

struct LockEntry {
  uint64_t rid = 0;
  // granted: the mode held. requested: the mode wanted. invalidated: the mode held until the
  // answer arrives.
  LockMode mode = LockMode::kNull;
  // requested: the id its grant answers. granted and invalidated: the id of the request that
  // was granted (0 when recovered).
  uint64_t net_id = 0;
  // invalidated only: the mode the holder was asked to drop to.
  LockMode invalidation_mode = LockMode::kNull;
};

struct LockState {
  std::deque<LockEntry> granted;
  std::deque<LockEntry> requested;
  std::deque<LockEntry> invalidated;
  bool empty() const { return granted.empty() && requested.empty() && invalidated.empty(); }
};

class LockServerCore {
 public:
  // next_seq hands out write_seqs. It must return more than max_recovered_write_seq() once
  // recovery entries have been reported: the caller raises its counter before recovery ends.
  explicit LockServerCore(std::function<uint64_t()> next_seq);

  std::vector<LockAction> request(uint64_t rid, const Key& lock, uint64_t net_id, LockMode mode);
  // The client's answer to an invalidation: it now holds `now` on the lock.
  std::vector<LockAction> invalidated(uint64_t rid, const Key& lock, LockMode now);

  // Precondition: a new core, no event yet.
  void begin_recovery(const std::vector<uint64_t>& rids);
  // One entry of a recovering rid's LOCK_RECOVER answer; replaces what that rid holds there.
  void recover_entry(uint64_t rid, const Key& lock, LockMode mode, uint64_t write_seq);
  // The rid has reported all its locks. When it was the last one recovering, every lock is
  // processed and the waiting requests get their actions.
  std::vector<LockAction> recovered(uint64_t rid);
  // The rid is gone (unmounted or fenced): every entry of it is dropped, its recovery ends, and
  // whoever waited on it proceeds.
  std::vector<LockAction> farewell(uint64_t rid);

  uint64_t max_recovered_write_seq() const { return max_recovered_write_seq_; }
  // Planted bug "incompatible_grant" (fs/base/bugs.h): a WRITE request is granted while other
  // mounts still hold the lock for reading.
  void plant_incompatible_grant() { plant_incompatible_grant_ = true; }

  // "" or a description of the first broken invariant: holders of different rids compatible;
  // a rid at most once among a lock's holders and at most once among its requests; no NULL
  // holder; no lock kept without entries; no lock waiting with nothing invalidated outside
  // recovery; no grant while recovering; write_seqs strictly increasing.
  std::string check() const;

  // ---- inspection, for tests and the oracle ----

  // The mode on the granted list for (rid, lock); NULL when none (also while it is invalidated).
  LockMode granted_mode(uint64_t rid, const Key& lock) const;
  // Whether rid has any entry (granted, requested or invalidated) on any lock.
  bool has_entries(uint64_t rid) const;
  // nullptr when the lock has no entries.
  const LockState* find(const Key& lock) const;
  const std::map<Key, LockState>& locks() const { return locks_; }
  size_t lock_count() const { return locks_.size(); }
  bool in_recovery() const { return !recovering_.empty(); }
  bool recovering(uint64_t rid) const { return recovering_.count(rid) != 0; }

 private:
  void process(const Key& lock, std::vector<LockAction>* out);
  void process_all(std::vector<LockAction>* out);
  void grant(const Key& lock, LockState& s, const LockEntry& req, std::vector<LockAction>* out);

  std::function<uint64_t()> next_seq_;
  std::map<Key, LockState> locks_;
  std::set<uint64_t> recovering_;
  uint64_t max_recovered_write_seq_ = 0;
  uint64_t last_write_seq_ = 0;  // the highest granted
  // Violations of the core's own promises, kept for check() rather than asserted, so an oracle
  // reports them with the run that caused them.
  uint64_t grants_during_recovery_ = 0;
  std::string write_seq_violation_;
  bool plant_incompatible_grant_ = false;
};

}  // namespace simfs::fs
