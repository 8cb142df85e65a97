// LockClient: a mount's side of the lock service (scoutfs-design §4, "Client side"). Local
// tasks take a lock in a mode for the length of an operation; the mount asks the server for a
// mode only when the one it holds does not satisfy the use, and keeps granted modes cached
// after the users are gone, until the server invalidates them.
//
// Contract:
// - acquire(lock, mode) parks until the mount holds a mode that satisfies `mode` and no local
//   user conflicts with it (READ users share; WRITE users are alone; WRITE_ONLY users share
//   with each other), then counts the caller as a user until release(). Callers acquire their
//   locks in key order (lock_keys.h), so two tasks or two mounts never wait on each other in a
//   cycle. An error means the mount cannot get locks any more (its link is down for good).
// - A grant is applied as its response arrives (before any later push is looked at). On the
//   first grant of a mode that can read, on_populate runs (in the acquiring task) to load the
//   range into the item cache before any user reads it.
// - Invalidations are handled per lock, in arrival order, by a worker: it waits until the local
//   users are compatible with the mode the server asked for; if the lock could have dirtied
//   the current transaction it commits it first (on_sync), so every item written under the
//   lock is durable before the answer; unless WRITE drops to READ it drops the lock's cached
//   items (on_drop); then it answers with the mode it now holds. Duplicate invalidations, and
//   ones for modes already dropped, are answered at once.
// - Lock recovery: report() gives every lock held, in key order, with the mode it had before
//   an invalidation still in progress (the server has not seen that answer).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "fs/base/bugs.h"
#include "fs/base/env.h"
#include "fs/client/server_link.h"
#include "fs/lock/lock_keys.h"
#include "fs/lock/lock_mode.h"
#include "sim/sync.h"

namespace simfs::fs {

struct LockClientHooks {
  // Commit the current transaction (an invalidated lock dirtied it). Runs in the worker task.
  std::function<sim::Errno()> sync;
  // Did the current transaction change items under this lock?
  std::function<bool(const Key& lock)> dirtied;
  // Forget the cached items of this range (the mount may no longer read them).
  std::function<void(const LockRange& range)> drop;
  // Load the range into the item cache (a mode that can read was just granted). Runs in the
  // acquiring task; may park.
  std::function<sim::Errno(const LockRange& range)> populate;
  // Optional observer: an invalidation's answer is about to go out, dropping `from` to `to`;
  // `dirty` says the current transaction still holds changes under the lock (then the next
  // holder would read without them: the oracle's lock.dirty_answer).
  std::function<void(const Key& lock, LockMode from, LockMode to, bool dirty)> answering;
  // Optional observer: a grant just took effect (the mode this mount now holds). A conflict
  // between two mounts' modes can only begin here (the oracle's lock.compatible).
  std::function<void(const Key& lock, LockMode mode)> granted;
};

class LockClient {
 public:
  LockClient(NodeEnv env, ServerLink& link, LockClientHooks hooks, BugSet bugs);
  ~LockClient();

  struct Use {
    Key lock;
    LockMode mode = LockMode::kNull;
    uint64_t write_seq = 0;  // the grant's (WRITE and WRITE_ONLY), for item seqs
  };
  sim::Errno acquire(const Key& lock, LockMode mode, Use* out);
  void release(const Use& use);

  // Pushes from the server.
  void on_invalidate(const proto::Header& h, const proto::LockMessage& m);
  void on_recover(const proto::Header& h, const proto::LockRecoverRequest& m);
  // The link is gone for good: every waiter fails.
  void shutdown();

  // Asks the server to take back idle locks beyond `keep` (least recently used first).
  void shrink_idle(size_t keep);

  LockMode held(const Key& lock) const;
  uint64_t write_seq(const Key& lock) const;
  size_t lock_count() const { return locks_.size(); }
  // Every lock with a mode, in key order (the oracle's live lock check).
  std::vector<std::pair<Key, LockMode>> held_locks() const;
  // The locks something waits on or holds, for a liveness report: key, mode, users, request
  // and invalidation state.
  std::string busy_report() const;

 private:
  struct Invalidation {
    proto::Header header;
    proto::LockMessage msg;
  };
  struct State {
    LockMode mode = LockMode::kNull;
    uint64_t write_seq = 0;
    bool request_pending = false;
    bool populated = false;       // the range is in the item cache for the mode held
    bool populating = false;
    bool invalidating = false;
    LockMode mode_before_invalidation = LockMode::kNull;
    uint32_t readers = 0, writers = 0, write_only = 0;
    std::deque<Invalidation> invalidations;
    bool worker = false;
    uint64_t last_use = 0;
    sim::WaitQueue waiters;
  };
  bool users_allow(const State& s, LockMode mode) const;
  void request(const Key& lock, State& s, LockMode mode);
  void run_invalidations(Key lock);

  NodeEnv env_;
  ServerLink& link_;
  LockClientHooks hooks_;
  BugSet bugs_;
  // unique_ptr: a State's WaitQueue must not move while tasks wait on it.
  std::map<Key, std::unique_ptr<State>> locks_;
  uint64_t clock_ = 0;
  bool shut_down_ = false;
  std::shared_ptr<bool> alive_;
};

}  // namespace simfs::fs
