// The lock server's network side: requests in, grants as their responses, invalidations out as
// requests whose answers come back as responses, and lock recovery after a restart. The
// decisions are LockServerCore's (fs/lock); this file only moves messages.
#include "fs/base/assert.h"
#include "fs/server/server.h"

namespace simfs::fs {

void Server::lock_request(uint64_t rid, const proto::Header& h, const proto::LockMessage& m, Reply reply) {
  lock_replies_[{rid, h.id}] = std::move(reply);
  env_.event("lock_request", {{"rid", rid}, {"lock", key_string(m.key)}, {"old", lock_mode_name(m.old_mode)},
                              {"mode", lock_mode_name(m.new_mode)}, {"net_id", h.id}});
  apply_lock_actions(locks_.request(rid, m.key, h.id, m.new_mode));
}

void Server::apply_lock_actions(const std::vector<LockAction>& actions) {
  for (const LockAction& a : actions) {
    if (a.kind == LockAction::Kind::kGrant) {
      auto it = lock_replies_.find({a.rid, a.net_id});
      if (it == lock_replies_.end()) continue;  // its client left meanwhile
      Reply reply = std::move(it->second);
      lock_replies_.erase(it);
      env_.event("lock_grant", {{"rid", a.rid}, {"lock", key_string(a.lock)}, {"old", lock_mode_name(a.old_mode)},
                                {"mode", lock_mode_name(a.new_mode)}, {"write_seq", a.write_seq}});
      reply(0, proto::encode(proto::LockMessage{a.lock, a.old_mode, a.new_mode, a.write_seq}));
      continue;
    }
    env_.event("lock_invalidate", {{"rid", a.rid}, {"lock", key_string(a.lock)}, {"old", lock_mode_name(a.old_mode)},
                                   {"mode", lock_mode_name(a.new_mode)}});
    if (!links_) continue;
    const uint64_t rid = a.rid;
    const Key lock = a.lock;
    std::shared_ptr<bool> alive = alive_;
    links_->send(rid, proto::Cmd::kLock, proto::encode(proto::LockMessage{a.lock, a.old_mode, a.new_mode, 0}),
                 [this, alive, rid, lock](net::Reply&& r) {
                   // kMaybeDelivered: the connection is gone for good (reclaim drops the entry).
                   if (!*alive || stopped_ || r.error) return;
                   proto::LockMessage ans;
                   if (!proto::decode(r.data, &ans) || ans.key != lock) return;
                   env_.event("lock_invalidated", {{"rid", rid}, {"lock", key_string(lock)},
                                                   {"mode", lock_mode_name(ans.new_mode)}});
                   apply_lock_actions(locks_.invalidated(rid, lock, ans.new_mode));
                 });
  }
}

void Server::start_lock_recovery(uint64_t rid) { recover_from(rid, Key::min()); }

void Server::recover_from(uint64_t rid, Key start) {
  if (!links_) return;
  std::shared_ptr<bool> alive = alive_;
  links_->send(rid, proto::Cmd::kLockRecover, proto::encode(proto::LockRecoverRequest{start}),
               [this, alive, rid](net::Reply&& r) {
                 if (!*alive || stopped_ || r.error) return;  // redone when it reconnects
                 auto c = clients_.find(rid);
                 if (c == clients_.end() || !c->second.recovering || c->second.reclaiming) return;
                 proto::LockRecoverResponse resp;
                 if (!proto::decode(r.data, &resp)) return;
                 for (const proto::LockRecoverEntry& e : resp.entries) {
                   // Recovered write_seqs may be newer than anything committed: raise the counter
                   // before any new grant can be issued.
                   meta_->raise_seq(e.write_seq);
                   locks_.recover_entry(rid, e.key, e.mode, e.write_seq);
                 }
                 if (!resp.done && !resp.entries.empty()) {
                   recover_from(rid, key_successor(resp.entries.back().key));
                   return;
                 }
                 c->second.recovering = false;
                 env_.event("lock_recovered", {{"rid", rid}, {"pending", locks_.in_recovery()}});
                 if (observer_.client_recovered) observer_.client_recovered(term_, rid);
                 apply_lock_actions(locks_.recovered(rid));
               });
}

}  // namespace simfs::fs
