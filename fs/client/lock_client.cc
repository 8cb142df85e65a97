#include "fs/client/lock_client.h"

#include <algorithm>

#include "fs/base/assert.h"

namespace simfs::fs {

LockClient::LockClient(NodeEnv env, ServerLink& link, LockClientHooks hooks, BugSet bugs)
    : env_(env), link_(link), hooks_(std::move(hooks)), bugs_(bugs), alive_(std::make_shared<bool>(true)) {}

LockClient::~LockClient() { *alive_ = false; }

bool LockClient::users_allow(const State& s, LockMode mode) const {
  switch (mode) {
    case LockMode::kRead: return s.writers == 0 && s.write_only == 0;
    case LockMode::kWriteOnly: return s.writers == 0 && s.readers == 0;
    case LockMode::kWrite: return s.writers == 0 && s.readers == 0 && s.write_only == 0;
    case LockMode::kNull: return true;
  }
  return false;
}

sim::Errno LockClient::acquire(const Key& lock, LockMode mode, Use* out) {
  FS_ASSERT(mode != LockMode::kNull);
  auto& slot = locks_[lock];
  if (!slot) slot = std::make_unique<State>();
  State& s = *slot;
  for (;;) {
    if (shut_down_) return ESHUTDOWN;
    if (!s.invalidating && lock_mode_satisfies(s.mode, mode) && users_allow(s, mode)) break;
    if (!s.invalidating && !lock_mode_satisfies(s.mode, mode) && !s.request_pending) {
      // Ask for what this user needs; a user needing more later asks again.
      request(lock, s, mode == LockMode::kRead && s.mode == LockMode::kWrite ? LockMode::kWrite : mode);
    }
    s.waiters.wait("lock.acquire");
  }
  switch (mode) {
    case LockMode::kRead: ++s.readers; break;
    case LockMode::kWrite: ++s.writers; break;
    case LockMode::kWriteOnly: ++s.write_only; break;
    case LockMode::kNull: break;
  }
  s.last_use = ++clock_;
  // First use of a readable mode: load the range. As a user, no invalidation can run under us.
  while (lock_mode_can_read(mode) && !s.populated) {
    if (s.populating) {
      s.waiters.wait("lock.populate");
      continue;
    }
    s.populating = true;
    sim::Errno e = hooks_.populate(lock_range(lock));
    s.populating = false;
    s.waiters.notify_all();
    if (e) {
      release(Use{lock, mode, 0});
      return e;
    }
    s.populated = true;
  }
  *out = Use{lock, mode, s.write_seq};
  return 0;
}

void LockClient::release(const Use& use) {
  auto it = locks_.find(use.lock);
  FS_ASSERT(it != locks_.end());
  State& s = *it->second;
  switch (use.mode) {
    case LockMode::kRead: FS_ASSERT(s.readers > 0); --s.readers; break;
    case LockMode::kWrite: FS_ASSERT(s.writers > 0); --s.writers; break;
    case LockMode::kWriteOnly: FS_ASSERT(s.write_only > 0); --s.write_only; break;
    case LockMode::kNull: break;
  }
  s.waiters.notify_all();
}

void LockClient::request(const Key& lock, State& s, LockMode mode) {
  s.request_pending = true;
  std::shared_ptr<bool> alive = alive_;
  env_.event("lock_want", {{"lock", key_string(lock)}, {"held", lock_mode_name(s.mode)}, {"mode", lock_mode_name(mode)}});
  link_.send_request(proto::Cmd::kLock, proto::encode(proto::LockMessage{lock, s.mode, mode, 0}),
                     [this, alive, lock](net::Reply&& r) {
                       if (!*alive) return;
                       State& st = *locks_[lock];
                       st.request_pending = false;
                       proto::LockMessage g;
                       if (r.error || !proto::decode(r.data, &g) || g.key != lock) {
                         // The link is gone for good, or the server refuses this mount.
                         shut_down_ = true;
                         st.waiters.notify_all();
                         return;
                       }
                       if (!lock_mode_can_read(g.new_mode)) st.populated = false;
                       st.mode = g.new_mode;
                       st.write_seq = lock_mode_can_write(g.new_mode) ? g.write_seq : 0;
                       env_.event("lock_granted", {{"lock", key_string(lock)}, {"mode", lock_mode_name(g.new_mode)},
                                                   {"write_seq", g.write_seq}});
                       if (hooks_.granted) hooks_.granted(lock, g.new_mode);
                       st.waiters.notify_all();
                     });
}

void LockClient::on_invalidate(const proto::Header& h, const proto::LockMessage& m) {
  auto& slot = locks_[m.key];
  if (!slot) slot = std::make_unique<State>();
  State& s = *slot;
  s.invalidations.push_back(Invalidation{h, m});
  if (s.worker) return;
  s.worker = true;
  std::shared_ptr<bool> alive = alive_;
  const Key lock = m.key;
  env_.spawn("lock.invalidate", [this, alive, lock] {
    if (*alive) run_invalidations(lock);
  }, /*daemon=*/true);
}

void LockClient::run_invalidations(Key lock) {
  std::shared_ptr<bool> alive = alive_;
  State& s = *locks_[lock];
  while (!s.invalidations.empty()) {
    if (!*alive || shut_down_) return;
    const Invalidation inv = s.invalidations.front();
    const LockMode target = inv.msg.new_mode;
    // Already at or below what is asked (a duplicate, or crossed with our own drop).
    const bool below = s.mode == LockMode::kNull || (target == LockMode::kRead && s.mode == LockMode::kRead);
    if (!below) {
      s.invalidating = true;
      s.mode_before_invalidation = s.mode;
      while (!users_allow(s, target == LockMode::kNull ? LockMode::kWrite : LockMode::kRead)) {
        s.waiters.wait("lock.invalidate.users");
        if (!*alive || shut_down_) return;
      }
      // Every item written under the lock is durable before anyone else may read or write it.
      if (lock_mode_can_write(s.mode) && hooks_.dirtied(lock) && !bugs_.has(Bug::kInvalidateBeforeCommit)) {
        if (sim::Errno e = hooks_.sync()) {
          // The mount stopped: its transaction is gone, and so is its right to answer.
          env_.event("lock_invalidate_failed", {{"lock", key_string(lock)}, {"err", sim::errno_name(e)}}, true);
          return;
        }
        if (!*alive || shut_down_) return;
      }
      // BUG (planted): invalidate_keeps_mode answers with the lower mode and keeps the old.
      if (!bugs_.has(Bug::kInvalidateKeepsMode)) {
        if (!(s.mode == LockMode::kWrite && target == LockMode::kRead)) {
          hooks_.drop(lock_range(lock));
          s.populated = false;
        }
        s.mode = target;
        if (!lock_mode_can_write(target)) s.write_seq = 0;
      }
      s.invalidating = false;
    }
    const LockMode answered = bugs_.has(Bug::kInvalidateKeepsMode) && !below ? target : s.mode;
    if (!below && hooks_.answering) {
      const LockMode from = s.mode_before_invalidation;
      hooks_.answering(lock, from, answered, lock_mode_can_write(from) && hooks_.dirtied(lock));
    }
    env_.event("lock_drop", {{"lock", key_string(lock)}, {"mode", lock_mode_name(answered)}});
    link_.respond(inv.header, 0, proto::encode(proto::LockMessage{lock, inv.msg.old_mode, answered, 0}));
    s.invalidations.pop_front();
    // BUG (planted): invalidate_no_wakeup forgets the operations waiting for the invalidation.
    if (!bugs_.has(Bug::kInvalidateNoWakeup)) s.waiters.notify_all();
  }
  s.worker = false;
}

void LockClient::on_recover(const proto::Header& h, const proto::LockRecoverRequest& m) {
  proto::LockRecoverResponse resp;
  auto it = locks_.lower_bound(m.start);
  for (; it != locks_.end() && resp.entries.size() < proto::kLockRecoverBatchMax; ++it) {
    const State& s = *it->second;
    // Mid-invalidation the server has not seen our answer: it still thinks we hold the old mode,
    // and we do: users may still run and dirty items wait for the commit.
    LockMode mode = s.invalidating ? s.mode_before_invalidation : s.mode;
    // BUG (planted): recover_new_mode reports the mode the invalidation in flight drops to.
    if (s.invalidating && bugs_.has(Bug::kRecoverNewMode)) mode = s.invalidations.front().msg.new_mode;
    if (mode == LockMode::kNull) continue;
    resp.entries.push_back(proto::LockRecoverEntry{it->first, mode, s.write_seq});
  }
  resp.done = it == locks_.end();
  link_.respond(h, 0, proto::encode(resp));
}

void LockClient::shutdown() {
  shut_down_ = true;
  for (auto& [k, s] : locks_) s->waiters.notify_all();
}

void LockClient::shrink_idle(size_t keep) {
  std::vector<std::pair<uint64_t, Key>> idle;
  for (auto& [k, s] : locks_) {
    if (s->mode != LockMode::kNull && !s->request_pending && !s->invalidating && s->invalidations.empty() &&
        s->readers + s->writers + s->write_only == 0 && !s->populating) {
      idle.emplace_back(s->last_use, k);
    }
  }
  if (idle.size() <= keep) return;
  std::sort(idle.begin(), idle.end());
  for (size_t i = 0; i + keep < idle.size(); ++i) {
    // A NULL request conflicts with our own grant: the server invalidates it, we drop the
    // cache, and the NULL grant ends it.
    request(idle[i].second, *locks_[idle[i].second], LockMode::kNull);
  }
}

std::string LockClient::busy_report() const {
  std::string out;
  for (const auto& [k, s] : locks_) {
    if (s->readers + s->writers + s->write_only == 0 && !s->request_pending && !s->invalidating &&
        s->invalidations.empty() && s->waiters.empty()) {
      continue;
    }
    if (!out.empty()) out += ", ";
    out += key_string(k) + " " + lock_mode_name(s->mode) + " users r" + std::to_string(s->readers) + "/w" +
           std::to_string(s->writers) + "/wo" + std::to_string(s->write_only) +
           (s->request_pending ? " requested" : "") + (s->invalidating ? " invalidating" : "") +
           (s->invalidations.empty() ? "" : " queued" + std::to_string(s->invalidations.size())) +
           (s->waiters.empty() ? "" : " waiters");
  }
  return out;
}

LockMode LockClient::held(const Key& lock) const {
  auto it = locks_.find(lock);
  return it == locks_.end() ? LockMode::kNull : it->second->mode;
}

uint64_t LockClient::write_seq(const Key& lock) const {
  auto it = locks_.find(lock);
  return it == locks_.end() ? 0 : it->second->write_seq;
}

std::vector<std::pair<Key, LockMode>> LockClient::held_locks() const {
  std::vector<std::pair<Key, LockMode>> out;
  for (const auto& [k, s] : locks_)
    if (s->mode != LockMode::kNull) out.emplace_back(k, s->mode);
  return out;
}

}  // namespace simfs::fs
