// Mounted clients leaving: farewell (a clean unmount) and reclaim (a client that disconnected
// and did not come back in time, or did not recover its locks after a server restart, is fenced
// first). Reclaim runs in two steps. The first is one server commit, in order: its requests
// are refused from the start, its open log tree is finalized (so its items are merged, its
// allocators returned), its merge pieces are given back, and its mounted-client record is
// flagged kMountedClientReclaiming; its locks are dropped once that commit is durable, and
// only then is the mount gone. The second erases the record — so "no record" means "nothing
// of it is left". A crash before the first commit is durable redoes the whole reclaim on the
// next server (every step finds what is left of it); a crash between the two leaves a flagged
// record, which the next server erases at its start without waiting for the mount.
//
// The farewell rule (scoutfs-design §5): a mount that does not vote is answered at once. A
// voting mount is answered only while a majority of the quorum's slots stays mounted without
// it, or when every voter still mounted is saying farewell and no other mount is left: a
// voter that left early would leave the mounts behind it unable to elect a new server. The
// others wait — until a voter mounts again, or the rest leave too. Counted are the records the
// server holds, so a crashed voter still counts until it is reclaimed.
#include <map>
#include <set>
#include <string_view>

#include "fs/base/assert.h"
#include "fs/quorum/election_core.h"
#include "fs/server/server.h"

namespace simfs::fs {

void Server::reclaim_loop() {
  std::shared_ptr<bool> alive = alive_;
  for (;;) {
    sim::this_task::sleep(100 * sim::kMillisecond);
    if (!*alive || stopped_) return;
    // A voter may have mounted again, or been reclaimed: a waiting farewell may go now.
    answer_farewells();
    std::vector<uint64_t> due;
    for (const auto& [rid, c] : clients_)
      if (reclaim_due(rid, c)) due.push_back(rid);
    for (uint64_t rid : due) {
      auto it = clients_.find(rid);
      // Judged again: the reclaims before this one waited for their commits, and meanwhile
      // this client may have greeted again (a client that came back in time is not fenced).
      if (it == clients_.end()) continue;
      const char* why = reclaim_due(rid, it->second);
      if (!why) continue;
      // Fence before reclaiming: a client that is alive but cut off must not write into the
      // allocators handed back below. (One of our own node's earlier life is dead already; the
      // one running there now is never fenced by its own server: it times out and is
      // reclaimed like the others, but fencing it would cut this server's own device.)
      if (it->second.value.node != static_cast<uint32_t>(env_.node_id())) {
        ++stats_.fenced;
        env_.event("server_fence", {{"rid", rid}, {"node", it->second.value.node}, {"reason", why}}, /*fault=*/true);
        if (fence_ && !fence_(rid, it->second.value.node)) {
          fail(EIO, "fence");
          return;
        }
      }
      uint64_t gen;
      std::vector<uint64_t> after;
      {
        sim::LockGuard g(mu_);
        if (stopped_) return;
        sim::Errno e = reclaim(rid, why, &after);
        if (e) {
          fail(e, "reclaim");
          return;
        }
        gen = dirtied();
      }
      if (links_) links_->forget(rid);
      if (!wait_durable(gen) || !*alive) return;
      if (observer_.mount_gone) observer_.mount_gone(rid);
      drop_locks(after);
      finish_reclaim(rid);
    }
  }
}

const char* Server::reclaim_due(uint64_t rid, const ClientState& c) const {
  if (c.farewell || c.reclaiming) return nullptr;
  // The planted bug: a mount this server has yet to hear from is waited for, however long.
  if (c.recovering && cfg_.bugs.has(Bug::kRecoveryWaitsForever)) return nullptr;
  // A mount on the server's own node from before this server started died with the node,
  // unless it is the one running there now (an elected server can start beside it).
  if (c.recovering && c.value.node == static_cast<uint32_t>(env_.node_id()) && rid != local_rid_) {
    return "client_recovery";
  }
  if (c.recovering && env_.now() - started_at_ >= cfg_.recovery_timeout) return "client_recovery";
  if (!c.connected && env_.now() - c.disconnected_at >= cfg_.reconnect_timeout) return "client_reconnect";
  return nullptr;
}

void Server::drop_locks(const std::vector<uint64_t>& rids) {
  for (uint64_t rid : rids) apply_lock_actions(locks_.farewell(rid));
}

sim::Errno Server::reclaim(uint64_t rid, const char* why, std::vector<uint64_t>* after_durable) {
  // Reclaimed already: a second farewell that was in flight with the first, or a farewell and a
  // timeout reclaim meeting. Nothing of it is left to do.
  auto c = clients_.find(rid);
  if (c == clients_.end() || (c->second.value.flags & kMountedClientReclaiming)) return 0;
  // From here on its requests are refused: nothing new of it may start (the reads below park).
  c->second.reclaiming = true;
  // 1. Its open log tree: finalized (its committed items still count and are merged), with its
  // allocators returned. An empty one just goes.
  std::vector<LogTreeRef> recs;
  if (sim::Errno e = load_records(rid, &recs)) return e;
  if (!recs.empty() && !recs.back().v.finalized) {
    LogTreeRef r = recs.back();
    // BUG (planted): reclaim_leaks_allocators — a dead or fenced client's allocators stay
    // with its finalized record, where nobody ever frees them.
    const bool leak = cfg_.bugs.has(Bug::kReclaimLeaksAllocators) && std::string_view(why) != "farewell";
    if (leak) {
      r.v.meta_avail = AllocListHead{};
      r.v.data_avail = AllocRoot{};
    } else if (sim::Errno e = return_allocators(&r.v)) {
      return e;
    }
    if (r.v.item_count > 0) {
      // Its open transaction (get > commit) is gone with it; the record keeps what it committed.
      r.v.finalized = true;
      r.v.finalize_seq = meta_->next_seq();
      if (sim::Errno e = put_record(r, true)) return e;
    } else {
      if (sim::Errno e = logs_tree_->erase(log_tree_key(rid, r.nr))) return e;
    }
  }
  open_trans_.erase(rid);
  // A farewell waiting for the quorum rule is not answered: it is reclaimed anyway.
  farewells_.erase(rid);
  // Its merge pieces: fenced, it writes nothing more, so their blocks come back (a result
  // already in stays, to be spliced).
  if (sim::Errno e = abandon_merge_requests(rid, true)) return e;
  // 2. Its locks: dropped from the lock state only once this commit is durable (drop_locks), so
  // no waiter is granted (or counted as granted) before the mount's last transaction is
  // settled; until then it keeps holding them. Its waiting requests get no answers.
  after_durable->push_back(rid);
  for (auto it = lock_replies_.begin(); it != lock_replies_.end();) {
    if (it->first.first == rid) {
      it = lock_replies_.erase(it);
    } else {
      ++it;
    }
  }
  // 3. Its record says the above is done, in the same commit: a server that starts from it
  // finishes the reclaim (erases the record) instead of waiting for the mount.
  c->second.value.flags |= kMountedClientReclaiming;
  Item rec{mounted_client_key(rid), meta_->next_seq(), false, encode_mounted_client(c->second.value)};
  if (sim::Errno e = clients_tree_->update(rec)) return e;
  ++stats_.reclaimed;
  env_.event("server_reclaim", {{"rid", rid}, {"why", why}});
  return 0;
}

void Server::finish_reclaim(uint64_t rid) {
  // The second step: the record goes, last. Not waited for: if it is lost with a crash, the
  // next server erases the flagged record at its start.
  sim::LockGuard g(mu_);
  if (stopped_) return;
  auto c = clients_.find(rid);
  if (c == clients_.end() || !(c->second.value.flags & kMountedClientReclaiming)) return;
  sim::Errno e = clients_tree_->erase(mounted_client_key(rid));
  if (e && e != ENOENT) {
    (void)dirtied();
    fail(e, "reclaim");
    return;
  }
  clients_.erase(c);
  env_.event("server_reclaim_done", {{"rid", rid}});
  (void)dirtied();
}

void Server::farewell(uint64_t rid, Reply reply) {
  auto it = clients_.find(rid);
  if (it == clients_.end()) {
    reply(0, {});  // already gone: the farewell was executed before
    return;
  }
  if (it->second.farewell) {
    answer_farewell(rid, std::move(reply));  // a resend of one being answered: it finds it done
    return;
  }
  farewells_[rid] = std::move(reply);  // a resend on a new connection replaces the old answer
  answer_farewells();
}

void Server::answer_farewells() {
  if (farewells_.empty() || stopped_) return;
  const bool rule = cfg_.quorum_slots > 0 && !cfg_.bugs.has(Bug::kFarewellIgnoresMajority);
  // Who stays: the clients not already being answered. Voters are counted by node: a node
  // that rebooted may hold two records for a while, but it is one voter.
  // A voter that is disconnected (or owes lock recovery) does not count as staying: it may be
  // reclaimed any moment (the reclaim loop answers farewells first, then reclaims the ones due),
  // and a majority counted with it would be gone with it. It still keeps the last voters from
  // all leaving together until it is back or reclaimed. (nightly-style churn in
  // mount_unmount_race found a farewell answered on a voter the same pass then reclaimed.)
  std::map<uint64_t, uint32_t> voters;  // voter rid -> its node (the ones present)
  std::set<uint64_t> absent;            // voters disconnected or still to recover
  size_t others = 0;
  for (const auto& [rid, c] : clients_) {
    if (c.farewell || c.reclaiming) continue;
    if (rule && (c.value.flags & kMountedClientVoter)) {
      if (c.connected && !c.recovering) {
        voters[rid] = c.value.node;
      } else {
        absent.insert(rid);
      }
    } else if (!farewells_.count(rid)) {
      ++others;
    }
  }
  auto voter_nodes_without = [&](uint64_t rid) {
    std::set<uint32_t> nodes;
    for (const auto& [r, node] : voters)
      if (r != rid) nodes.insert(node);
    return nodes.size();
  };
  const size_t needed = rule ? quorum_votes_needed(cfg_.quorum_slots) : 0;
  std::vector<uint64_t> go;
  size_t waiting = 0;
  for (const auto& [rid, reply] : farewells_) {
    // An absent voter's farewell waits until it is back (or it is reclaimed, unanswered).
    if (!mounted(rid) || absent.count(rid)) continue;
    // BUG (planted): farewell_ignores_majority — every voter is let go like a non-voter.
    if (!voters.count(rid)) {
      go.push_back(rid);
    } else if (voter_nodes_without(rid) >= needed) {
      go.push_back(rid);  // a majority stays without it
      voters.erase(rid);
    } else {
      ++waiting;
    }
  }
  // Every voter left is saying farewell, and nobody else stays: they all go together.
  if (waiting > 0 && waiting == voters.size() && others == 0 && absent.empty()) {
    for (const auto& [rid, node] : voters) go.push_back(rid);
  }
  for (uint64_t rid : go) {
    auto f = farewells_.find(rid);
    Reply reply = std::move(f->second);
    farewells_.erase(f);
    answer_farewell(rid, std::move(reply));
  }
}

void Server::answer_farewell(uint64_t rid, Reply reply) {
  clients_.at(rid).farewell = true;  // the reclaim loop leaves it to this from now on
  std::shared_ptr<bool> alive = alive_;
  auto after = std::make_shared<std::vector<uint64_t>>();
  run_update("farewell", [this, alive, rid, after, reply = std::move(reply)](sim::Errno e, proto::Bytes data) {
    reply(e, std::move(data));
    if (!*alive) return;
    if (!e && observer_.farewell_done) observer_.farewell_done(rid);
    if (observer_.mount_gone) observer_.mount_gone(rid);
    // BUG (planted): farewell_keeps_locks leaves the departed mount in the lock state.
    if (!cfg_.bugs.has(Bug::kFarewellKeepsLocks)) drop_locks(*after);
    // Answered: the connection goes once the answer has been sent.
    if (links_) links_->forget(rid);
    if (!e) finish_reclaim(rid);
  }, [this, rid, after](proto::Bytes*) {
    // Half a reclaim must never be answered as done: any error is the server's failure.
    sim::Errno e = reclaim(rid, "farewell", after.get());
    return e ? EIO : 0;
  });
}

}  // namespace simfs::fs
