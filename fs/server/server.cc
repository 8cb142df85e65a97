// The server's skeleton: start and recovery, commit batching, request dispatch, greetings.
// The handlers live beside it by concern: log_trees.cc, locks.cc, merge.cc, clients.cc.
#include "fs/server/server.h"

#include <algorithm>

#include "fs/base/assert.h"
#include "fs/forest/forest.h"
#include "fs/lock/lock_keys.h"

namespace simfs::fs {

Server::Server(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, ServerConfig cfg)
    : env_(env), meta_disk_(meta), data_disk_(data), cfg_(std::move(cfg)),
      locks_([this] { return next_lock_seq(); }), alive_(std::make_shared<bool>(true)) {}

Server::~Server() { *alive_ = false; }

uint64_t Server::next_lock_seq() { return meta_->next_seq(); }

std::vector<uint64_t> Server::mounted_rids() const {
  std::vector<uint64_t> out;
  for (const auto& [rid, c] : clients_) out.push_back(rid);
  return out;
}

sim::Errno Server::start() {
  if (observer_.starting) observer_.starting();
  SuperBlock sb;
  if (sim::Errno e = read_super(meta_disk_, std::nullopt, &sb)) return e;
  if (sb.format_version != kFormatVersion || sb.format_hash != format_hash()) return EINVAL;
  if (sb.meta_blocks_total != meta_disk_.block_count() || sb.data_blocks_total != data_disk_.block_count())
    return EINVAL;
  if (!btree_fill_valid(sb.btree_fill)) return EINVAL;
  stable_ = sb;
  sb_ = sb;
  cache_ = std::make_unique<BlockCache>(meta_disk_, sb.fsid, cfg_.cache_blocks);
  meta_ = std::make_unique<MetaAlloc>(*cache_, sb);
  if (sim::Errno e = meta_->load()) return e;
  if (cfg_.bugs.has(Bug::kReuseBeforeCommit)) meta_->plant_reuse_before_commit();
  if (cfg_.bugs.has(Bug::kIncompatibleGrant)) locks_.plant_incompatible_grant();
  data_alloc_ = std::make_unique<BitmapAlloc>(*cache_, meta_->btree_allocator(), kAllocData, sb.data_alloc);
  const BtreeConfig forest = forest_btree_config(sb.btree_fill);
  fs_tree_ = std::make_unique<Btree>(*cache_, meta_->btree_allocator(), sb.fs_root, forest);
  logs_tree_ = std::make_unique<Btree>(*cache_, meta_->btree_allocator(), sb.logs_root, forest);
  clients_tree_ = std::make_unique<Btree>(*cache_, meta_->btree_allocator(), sb.clients_root, BtreeConfig{});

  // Every seq handed out before must stay below every seq handed out from now on. Committed
  // ones are in the records; lock write_seqs come back with lock recovery.
  std::vector<LogTreeRef> recs;
  if (sim::Errno e = load_all_records(&recs)) return e;
  for (const LogTreeRef& r : recs) {
    meta_->raise_seq(std::max({r.v.max_seq, r.v.get_trans_seq, r.v.finalize_seq}));
  }
  Item st;
  sim::Errno e = logs_tree_->lookup(merge_status_key(), &st);
  if (e == 0) {
    MergeStatusValue v;
    if (st.deletion || !decode_merge_status(st.value, &v)) return EIO;
    merge_ = v;
  } else if (e != ENOENT) {
    return e;
  }
  if (sim::Errno me = load_merge_requests()) return me;
  bool bad = false;
  std::vector<uint64_t> reclaimed;  // the first step of their reclaim is durable
  e = clients_tree_->for_each(mounted_client_key(0), mounted_client_key(UINT64_MAX), [&](const Item& it) {
    ClientState c;
    if (it.deletion || !decode_mounted_client(it.value, &c.value)) {
      bad = true;
      return false;
    }
    if (c.value.flags & kMountedClientReclaiming) {
      reclaimed.push_back(it.key.ino);
      return true;
    }
    c.disconnected_at = env_.now();
    c.recovering = true;
    clients_[it.key.ino] = c;
    return true;
  });
  if (e) return e;
  if (bad) return EIO;
  // Their reclaim resumes: only the record is left to go, in this server's first commit.
  for (uint64_t rid : reclaimed) {
    if (sim::Errno ee = clients_tree_->erase(mounted_client_key(rid))) return ee;
    env_.event("server_reclaim_done", {{"rid", rid}, {"resumed", true}});
  }
  for (const LogTreeRef& r : recs) {
    if (!r.v.finalized && r.v.get_trans_seq > r.v.commit_trans_seq) open_trans_[r.rid] = r.v.get_trans_seq;
  }
  locks_.begin_recovery(mounted_rids());

  // The new term is durable before anything is answered, so a client can tell this server
  // from every earlier one.
  started_at_ = env_.now();
  term_ = sb.server_term + 1;
  sb_.server_term = term_;
  if (sim::Errno ce = do_commit()) return ce;
  if (observer_.transaction_durable) {
    for (const LogTreeRef& r : recs)
      if (r.v.commit_trans_seq) observer_.transaction_durable(r.rid, r.v.commit_trans_seq);
  }
  // A mount is gone when the first step of its reclaim is durable; the server that made it so
  // may have died before saying it (the observer is told at least once).
  if (observer_.mount_gone)
    for (uint64_t rid : reclaimed) observer_.mount_gone(rid);
  env_.event("server_start", {{"term", term_}, {"seq", stable_.seq}, {"clients", clients_.size()},
                              {"merging", merge_.has_value()}});
  if (observer_.recovering) observer_.recovering(term_, mounted_rids());

  std::shared_ptr<bool> alive = alive_;
  env_.spawn("server.commit", [this, alive] {
    if (*alive) commit_loop();
  }, /*daemon=*/true);
  env_.spawn("server.merge", [this, alive] {
    if (*alive) merge_loop();
  }, /*daemon=*/true);
  env_.spawn("server.reclaim", [this, alive] {
    if (*alive) reclaim_loop();
  }, /*daemon=*/true);
  return 0;
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  commit_cv_.notify_all();
  durable_cv_.notify_all();
}

void Server::fail(sim::Errno e, const char* what) {
  if (stopped_) return;
  stop_error_ = e;
  env_.event("server_stopped", {{"err", sim::errno_name(e)}, {"in", what}}, /*fault=*/true);
  stop();
  if (on_stopped_) on_stopped_(e);
}

// ---- commit batching ----

uint64_t Server::dirtied() {
  ++dirty_gen_;
  commit_cv_.notify_one();
  return dirty_gen_;
}

bool Server::wait_durable(uint64_t gen) {
  sim::LockGuard g(mu_);
  while (durable_gen_ < gen && !stopped_) durable_cv_.wait(mu_);
  return !stopped_;
}

void Server::commit_loop() {
  std::shared_ptr<bool> alive = alive_;
  sim::LockGuard g(mu_);
  for (;;) {
    while (dirty_gen_ == durable_gen_ && !stopped_) commit_cv_.wait(mu_);
    if (!*alive || stopped_) return;
    const uint64_t target = dirty_gen_;
    if (sim::Errno e = do_commit()) {
      fail(e, "commit");
      return;
    }
    durable_gen_ = target;
    durable_cv_.notify_all();
  }
}

sim::Errno Server::do_commit() {
  SuperBlock next = sb_;
  if (sim::Errno e = meta_->prepare_commit(&next)) return e;
  next.seq = stable_.seq + 1;
  next.fs_root = fs_tree_->root();
  next.logs_root = logs_tree_->root();
  next.clients_root = clients_tree_->root();
  next.data_alloc = data_alloc_->alloc_root();
  const size_t blocks = cache_->dirty_count();
  if (sim::Errno e = cache_->writeback(next)) return e;
  fs_tree_->committed();
  logs_tree_->committed();
  clients_tree_->committed();
  data_alloc_->committed();
  meta_->committed();
  stable_ = next;
  sb_ = next;
  ++stats_.commits;
  std::vector<std::pair<uint64_t, uint64_t>> recorded = std::move(recorded_);
  recorded_.clear();
  if (observer_.transaction_durable) {
    for (const auto& [rid, seq] : recorded) observer_.transaction_durable(rid, seq);
  }
  env_.event("server_commit", {{"seq", stable_.seq}, {"blocks", blocks}, {"server_seq", stable_.server_seq}});
  return 0;
}

void Server::run_update(const char* name, Reply reply, std::function<sim::Errno(proto::Bytes* out)> body) {
  std::shared_ptr<bool> alive = alive_;
  const char* body_name = name;
  env_.spawn(std::string("server.") + name,
             [this, alive, body_name, reply = std::move(reply), body = std::move(body)] {
               if (!*alive || stopped_) return;
               proto::Bytes out;
               sim::Errno e;
               uint64_t gen;
               {
                 sim::LockGuard g(mu_);
                 if (stopped_) return;
                 e = body(&out);
                 // EIO is the server's own storage failing, possibly half way through a change:
                 // the server stops, and the next one starts from the last durable state.
                 // Other errors are answers (a stale or malformed request changed nothing).
                 if (e == EIO) {
                   fail(e, body_name);
                   return;
                 }
                 gen = dirtied();
               }
               // BUG (planted, reply_before_durable): COMMIT_LOG_TREES answered before its commit.
               if (body_name == std::string_view("commit_log_trees") && cfg_.bugs.has(Bug::kReplyBeforeDurable)) {
                 reply(e, std::move(out));
                 return;
               }
               if (!wait_durable(gen) || !*alive) return;
               reply(e, std::move(out));
             },
             /*daemon=*/true);
}

// ---- dispatch ----

void Server::handle(uint64_t rid, const proto::Header& h, proto::Bytes data, Reply reply) {
  if (stopped_) return;
  ++stats_.requests;
  auto member = clients_.find(rid);
  if (member == clients_.end() || member->second.reclaiming) {
    // Reclaimed (fenced, or its farewell done), or being reclaimed: it must not go on as a member.
    if (h.cmd == proto::Cmd::kFarewell) {
      reply(0, {});
      // No record: its farewell or reclaim was made durable before, by this server or by an
      // earlier one that may have died before telling its observer. Telling it again is
      // harmless (mount_gone is idempotent) and keeps a crash from hiding the departure.
      if (member == clients_.end() && observer_.mount_gone) observer_.mount_gone(rid);
    } else {
      reply(ENOLINK, {});
    }
    return;
  }
  switch (h.cmd) {
    case proto::Cmd::kAllocInodes: {
      proto::AllocInodesRequest req;
      if (!proto::decode(data, &req)) return reply(EINVAL, {});
      run_update("alloc_inodes", std::move(reply), [this, req](proto::Bytes* out) {
        // Never reused: a batch handed out and lost (the client crashed) stays unused.
        proto::AllocInodesResponse r{sb_.next_ino, req.count};
        sb_.next_ino += req.count;
        *out = proto::encode(r);
        return sim::Errno{0};
      });
      return;
    }
    case proto::Cmd::kGetLogTrees: {
      if (!proto::decode_empty(data)) return reply(EINVAL, {});
      run_update("get_log_trees", std::move(reply), [this, rid](proto::Bytes* out) {
        proto::LogTrees lt;
        sim::Errno e = get_log_trees(rid, &lt);
        if (!e) *out = proto::encode(lt);
        return e;
      });
      return;
    }
    case proto::Cmd::kCommitLogTrees: {
      proto::LogTrees lt;
      if (!proto::decode(data, &lt) || lt.rid != rid) return reply(EINVAL, {});
      run_update("commit_log_trees", std::move(reply),
                 [this, rid, lt](proto::Bytes*) { return commit_log_trees(rid, lt); });
      return;
    }
    case proto::Cmd::kGetRoots: {
      if (!proto::decode_empty(data)) return reply(EINVAL, {});
      reply(0, proto::encode(proto::Roots{stable_.fs_root, stable_.logs_root, stable_.seq}));
      return;
    }
    case proto::Cmd::kGetLastSeq: {
      if (!proto::decode_empty(data)) return reply(EINVAL, {});
      // The highest seq below every transaction still open: no item can still appear at or
      // below it. Bounded by the durable counter: a restarted server hands out seqs above it.
      uint64_t low = stable_.server_seq + 1;
      for (const auto& [r, seq] : open_trans_) low = std::min(low, seq);
      reply(0, proto::encode(proto::LastSeq{low - 1}));
      return;
    }
    case proto::Cmd::kStatfs: {
      if (!proto::decode_empty(data)) return reply(EINVAL, {});
      proto::Statfs s;
      s.meta_blocks_total = stable_.meta_blocks_total;
      s.meta_blocks_free = meta_->free_blocks();
      s.data_blocks_total = stable_.data_blocks_total;
      s.data_blocks_free = data_alloc_->free_count();
      s.next_ino = sb_.next_ino;
      s.inode_count = stable_.inode_count;
      reply(0, proto::encode(s));
      return;
    }
    case proto::Cmd::kLock: {
      proto::LockMessage m;
      if (!proto::decode(data, &m) || !lock_key_valid(m.key)) return reply(EINVAL, {});
      lock_request(rid, h, m, std::move(reply));
      return;
    }
    case proto::Cmd::kFarewell: {
      if (!proto::decode_empty(data)) return reply(EINVAL, {});
      farewell(rid, std::move(reply));
      return;
    }
    case proto::Cmd::kGetLogMerge: {
      proto::LogMergeGet g;
      if (!proto::decode(data, &g)) return reply(EINVAL, {});
      run_update("get_log_merge", std::move(reply), [this, rid, g](proto::Bytes* out) {
        proto::LogMergeRequest m;
        sim::Errno e = get_log_merge(rid, g, &m);
        if (!e) *out = proto::encode(m);
        return e;
      });
      return;
    }
    case proto::Cmd::kCommitLogMerge: {
      proto::LogMergeCompletion c;
      if (!proto::decode(data, &c)) return reply(EINVAL, {});
      commit_log_merge(rid, c, std::move(reply));
      return;
    }
    default:
      reply(EINVAL, {});
      return;
  }
}

// ---- greetings ----

sim::Errno Server::greet(const proto::Greeting& g, uint32_t node, proto::Greeting* out) {
  *out = proto::Greeting{stable_.fsid, format_hash(), term_, g.rid, g.flags};
  if (g.fsid != stable_.fsid || g.format_hash != format_hash()) return EINVAL;
  if (stopped_) return ENOLINK;
  if (auto r = clients_.find(g.rid); r != clients_.end() && r->second.reclaiming) {
    // Being reclaimed: as good as gone (a leaving one's resent farewell is answered "gone").
    return (g.flags & proto::kGreetFarewell) ? 0 : ENOLINK;
  }
  if (clients_.count(g.rid)) {
    // BUG (planted): greeting_not_idempotent — a record this server found at its start (the
    // mount is still to recover) is taken for a first mount's: written again, and the mount
    // counted as recovered with no locks.
    if (cfg_.bugs.has(Bug::kGreetingNotIdempotent) && clients_.at(g.rid).recovering) {
      uint64_t gen;
      {
        sim::LockGuard l(mu_);
        if (stopped_) return ENOLINK;
        ClientState& c = clients_.at(g.rid);
        c.value = MountedClientValue{node, (g.flags & proto::kGreetVoter) ? kMountedClientVoter : 0};
        c.connected = true;
        c.recovering = false;
        Item it{mounted_client_key(g.rid), 0, false, encode_mounted_client(c.value)};
        it.seq = meta_->next_seq();
        if (sim::Errno e = clients_tree_->update(it)) {
          gen = dirtied();
          fail(e, "greeting");
          return e;
        }
        apply_lock_actions(locks_.recovered(g.rid));
        gen = dirtied();
      }
      if (!wait_durable(gen)) return ENOLINK;
      return mounted(g.rid) ? 0 : ENOLINK;
    }
    // Known: a reconnect, or a greeting executed again. Its record may still be on its way to
    // disk (the first greeting is parked on that commit): answer only once it is there.
    if (!wait_durable(dirty_gen_)) return ENOLINK;
    // Reclaimed while we waited (fenced, or its farewell): it must not come back.
    return mounted(g.rid) ? 0 : ENOLINK;
  }
  // Claims to have mounted before, but no record: it was reclaimed and must not go on — unless
  // it is leaving: then its farewell was done (or it was reclaimed after its last commit was
  // durable), and the farewell it resends is answered "already gone".
  if (g.server_term != 0) return (g.flags & proto::kGreetFarewell) ? 0 : ENOLINK;
  // A new mount: its record is durable before it may start a transaction.
  uint64_t gen;
  {
    sim::LockGuard l(mu_);
    if (stopped_) return ENOLINK;
    ClientState c;
    c.value = MountedClientValue{node, (g.flags & proto::kGreetVoter) ? kMountedClientVoter : 0};
    // Connected only once its connection is attached (client_connected): if the answer cannot
    // be sent (the client died meanwhile), no connection will ever report a disconnect, and
    // the record must still time out like a lost client's. (It once stayed "connected" for
    // good, and the last voters' farewells waited on it forever: failover --seed
    // 0x40b12b120085641c.)
    c.connected = false;
    c.disconnected_at = env_.now();
    Item it{mounted_client_key(g.rid), 0, false, encode_mounted_client(c.value)};
    it.seq = meta_->next_seq();
    if (sim::Errno e = clients_tree_->insert(it)) {
      gen = dirtied();
      fail(e, "greeting");
      return e;
    }
    clients_[g.rid] = c;
    env_.event("server_client_added", {{"rid", g.rid}, {"node", node}});
    gen = dirtied();
  }
  if (!wait_durable(gen)) return ENOLINK;
  return mounted(g.rid) ? 0 : ENOLINK;
}

void Server::client_connected(uint64_t rid) {
  auto it = clients_.find(rid);
  if (it == clients_.end() || it->second.reclaiming) return;
  it->second.connected = true;
  if (it->second.recovering) start_lock_recovery(rid);
}

void Server::client_disconnected(uint64_t rid) {
  auto it = clients_.find(rid);
  if (it == clients_.end()) return;
  it->second.connected = false;
  it->second.disconnected_at = env_.now();
  // Its merge pieces go to others; their blocks wait for its result or its reclaim.
  bool holds = false;
  for (const auto& [id, r] : merge_requests_)
    if (r.v.rid == rid && !r.done && !(r.v.flags & kMergeRequestAbandoned)) holds = true;
  if (!holds) return;
  std::shared_ptr<bool> alive = alive_;
  env_.spawn("server.merge_abandon", [this, alive, rid] {
    if (!*alive || stopped_) return;
    sim::LockGuard g(mu_);
    if (stopped_) return;
    auto c = clients_.find(rid);
    if (c == clients_.end() || c->second.connected) return;  // reclaimed, or back already
    if (sim::Errno e = abandon_merge_requests(rid, false)) {
      fail(e == EIO ? EIO : e, "merge_abandon");
      return;
    }
    dirtied();
  }, /*daemon=*/true);
}

}  // namespace simfs::fs
