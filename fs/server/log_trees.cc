// GET_LOG_TREES and COMMIT_LOG_TREES: opening and recording a mount's transactions, and the
// allocator exchange around them (scoutfs-design §1 "Transactions", §3 "Client allocators").
//
// The server is the only writer of log tree records. Between a mount's COMMIT_LOG_TREES and its
// next GET_LOG_TREES the server owns the mount's allocators: it takes the freed blocks back
// (they are free once this server commit is durable, since the mount's commit that freed them
// already is) and refills avail. During a merge round it also finalizes the mount's open tree
// and hands its allocators to a new open tree.
#include <algorithm>

#include "fs/alloc/alloc_list.h"
#include "fs/base/assert.h"
#include "fs/forest/forest.h"
#include "fs/server/server.h"

namespace simfs::fs {

sim::Errno Server::load_records(uint64_t rid, std::vector<LogTreeRef>* out) {
  out->clear();
  bool bad = false;
  sim::Errno e = logs_tree_->for_each(log_tree_key(rid, 0), log_tree_key(rid, UINT64_MAX), [&](const Item& it) {
    LogTreeRef r{rid, it.key.first, {}};
    if (it.deletion || !decode_log_tree(it.value, &r.v)) {
      bad = true;
      return false;
    }
    out->push_back(r);
    return true;
  });
  if (e) return e;
  return bad ? EIO : 0;
}

sim::Errno Server::load_all_records(std::vector<LogTreeRef>* out) {
  out->clear();
  bool bad = false;
  const Key first = log_tree_key(1, 0), last = log_tree_key(UINT64_MAX, UINT64_MAX);
  sim::Errno e = logs_tree_->for_each(first, last, [&](const Item& it) {
    if (it.key.type != kTypeLogTree) return true;
    LogTreeRef r{it.key.ino, it.key.first, {}};
    if (it.deletion || !decode_log_tree(it.value, &r.v)) {
      bad = true;
      return false;
    }
    out->push_back(r);
    return true;
  });
  if (e) return e;
  return bad ? EIO : 0;
}

sim::Errno Server::log_records(std::vector<LogRecord>* out) {
  std::vector<LogTreeRef> recs;
  if (sim::Errno e = load_all_records(&recs)) return e;
  out->clear();
  for (const LogTreeRef& r : recs) out->push_back(LogRecord{r.rid, r.nr, r.v});
  return 0;
}

sim::Errno Server::put_record(const LogTreeRef& r, bool exists) {
  Item it{log_tree_key(r.rid, r.nr), meta_->next_seq(), false, encode_log_tree(r.v)};
  return exists ? logs_tree_->update(it) : logs_tree_->insert(it);
}

sim::Errno Server::free_list(const AllocListHead& head) {
  std::vector<uint64_t> entries, blocks;
  if (sim::Errno e = load_alloc_list(*cache_, head, &entries, &blocks)) return e;
  for (uint64_t b : entries) meta_->free(b);
  for (uint64_t b : blocks) meta_->free(b);
  return 0;
}

sim::Errno Server::free_tree_blocks(const BtreeRoot& root) {
  if (root.height == 0) return 0;
  Btree t(*cache_, meta_->btree_allocator(), root, forest_btree_config(sb_.btree_fill));
  FreeCursor cursor;
  // Bounded by the tree's blocks: every call frees at least one.
  while (!cursor.done) {
    if (sim::Errno e = t.free_blocks(&cursor, std::max<size_t>(256, kBtreeHeightMax))) return e;
  }
  return 0;
}

sim::Errno Server::take_freed(LogTreeValue* v) {
  if (sim::Errno e = free_list(v->meta_freed)) return e;
  v->meta_freed = AllocListHead{};
  if (v->data_freed.root.height != 0) {
    BitmapAlloc freed(*cache_, meta_->btree_allocator(), kAllocData, v->data_freed);
    std::vector<BitmapAlloc::Run> runs;
    if (sim::Errno e = freed.collect(&runs)) return e;
    if (sim::Errno e = data_alloc_->free_runs(runs)) return e;
    if (sim::Errno e = free_tree_blocks(v->data_freed.root)) return e;
  }
  v->data_freed = AllocRoot{};
  return 0;
}

sim::Errno Server::return_allocators(LogTreeValue* v) {
  if (sim::Errno e = take_freed(v)) return e;
  // Avail goes to freed, not back to avail: a dead mount may have written into those blocks
  // without referencing them, and nothing may reuse them before this commit is durable.
  if (sim::Errno e = free_list(v->meta_avail)) return e;
  v->meta_avail = AllocListHead{};
  if (v->data_avail.root.height != 0) {
    BitmapAlloc avail(*cache_, meta_->btree_allocator(), kAllocData, v->data_avail);
    std::vector<BitmapAlloc::Run> runs;
    if (sim::Errno e = avail.collect(&runs)) return e;
    if (sim::Errno e = data_alloc_->free_runs(runs)) return e;
    if (sim::Errno e = free_tree_blocks(v->data_avail.root)) return e;
  }
  v->data_avail = AllocRoot{};
  return 0;
}

sim::Errno Server::refill(LogTreeValue* v) {
  if (v->meta_avail.total_nr < cfg_.meta_avail_low && meta_->free_blocks() > cfg_.meta_reserve) {
    std::vector<uint64_t> entries, old_blocks;
    if (sim::Errno e = load_alloc_list(*cache_, v->meta_avail, &entries, &old_blocks)) return e;
    const uint64_t spare = meta_->free_blocks() - cfg_.meta_reserve;
    const uint64_t want = std::min<uint64_t>(cfg_.meta_avail_target - entries.size(), spare);
    if (sim::Errno e = meta_->alloc_for_list(want, &entries)) return e;
    std::sort(entries.begin(), entries.end());
    std::vector<uint64_t> blocks;
    for (size_t i = 0; i < alloc_list_blocks_for(entries.size()); ++i) {
      const uint64_t b = meta_->alloc();
      if (b == 0) return ENOSPC;
      blocks.push_back(b);
    }
    for (uint64_t b : old_blocks) meta_->free(b);
    v->meta_avail = write_alloc_list(*cache_, entries, blocks, [this] { return meta_->next_seq(); });
  }
  if (v->data_avail.total_len < cfg_.data_avail_low && data_alloc_->free_count() > 0) {
    std::vector<BitmapAlloc::Run> runs;
    if (sim::Errno e = data_alloc_->take(cfg_.data_avail_target - v->data_avail.total_len, &runs)) return e;
    BitmapAlloc avail(*cache_, meta_->btree_allocator(), kAllocData, v->data_avail);
    if (sim::Errno e = avail.free_runs(runs)) return e;
    v->data_avail = avail.alloc_root();
  }
  return 0;
}

sim::Errno Server::get_log_trees(uint64_t rid, proto::LogTrees* out) {
  // Reclaimed after handle() let the request in (its farewell or a reclaim ran first): a new
  // record would outlive the client, with allocators and an open transaction nothing reclaims.
  if (!mounted(rid)) return ENOLINK;  // gone, or being reclaimed
  std::vector<LogTreeRef> recs;
  if (sim::Errno e = load_records(rid, &recs)) return e;
  LogTreeRef open;
  bool exists = !recs.empty() && !recs.back().v.finalized;
  if (exists) {
    open = recs.back();
    // Executed again (a resend to a new server, or the answer was lost): the transaction it
    // opened is still open. Hand out the same one.
    if (open.v.get_trans_seq > open.v.commit_trans_seq) {
      *out = proto::LogTrees{rid, open.nr, open.v};
      return 0;
    }
  } else {
    open = LogTreeRef{rid, recs.empty() ? 1 : recs.back().nr + 1, {}};
  }
  if (exists && finalize_from_ != 0 && open.v.item_count > 0) {
    // A merge round: this tree takes no more writes. Its allocators move to the new open tree.
    LogTreeRef fin = open;
    fin.v.finalized = true;
    fin.v.finalize_seq = meta_->next_seq();
    fin.v.meta_avail = AllocListHead{};
    fin.v.meta_freed = AllocListHead{};
    fin.v.data_avail = AllocRoot{};
    fin.v.data_freed = AllocRoot{};
    if (sim::Errno e = put_record(fin, true)) return e;
    ++stats_.finalized;
    env_.event("server_log_finalize", {{"rid", rid}, {"nr", fin.nr}, {"items", fin.v.item_count},
                                       {"max_seq", fin.v.max_seq}, {"finalize_seq", fin.v.finalize_seq}});
    LogTreeValue next;
    next.meta_avail = open.v.meta_avail;
    next.meta_freed = open.v.meta_freed;
    next.data_avail = open.v.data_avail;
    next.data_freed = open.v.data_freed;
    next.commit_trans_seq = open.v.commit_trans_seq;
    next.get_trans_seq = open.v.commit_trans_seq;
    next.inode_delta = 0;
    open = LogTreeRef{rid, fin.nr + 1, next};
    exists = false;
  }
  if (sim::Errno e = take_freed(&open.v)) return e;
  if (sim::Errno e = refill(&open.v)) return e;
  open.v.get_trans_seq = meta_->next_seq();
  // No item of the tree can be older than its first transaction; an empty tree starts anew.
  if (open.v.item_count == 0) open.v.first_seq = open.v.get_trans_seq;
  if (sim::Errno e = put_record(open, exists)) return e;
  open_trans_[rid] = open.v.get_trans_seq;
  *out = proto::LogTrees{rid, open.nr, open.v};
  return 0;
}

sim::Errno Server::commit_log_trees(uint64_t rid, const proto::LogTrees& in) {
  std::vector<LogTreeRef> recs;
  if (sim::Errno e = load_records(rid, &recs)) return e;
  auto it = std::find_if(recs.begin(), recs.end(), [&](const LogTreeRef& r) { return r.nr == in.nr; });
  // Not ours to commit into any more (finalized by a reclaim): the mount was cut off.
  if (it == recs.end() || it->v.finalized) return ESTALE;
  LogTreeRef r = *it;
  // Executed again: that transaction is recorded already.
  if (r.v.commit_trans_seq == in.value.get_trans_seq && r.v.commit_trans_seq == r.v.get_trans_seq) return 0;
  if (r.v.get_trans_seq != in.value.get_trans_seq) return ESTALE;
  const LogTreeValue& c = in.value;
  r.v.root = c.root;
  r.v.item_count = c.item_count;
  r.v.max_seq = c.max_seq;
  r.v.meta_avail = c.meta_avail;
  r.v.meta_freed = c.meta_freed;
  r.v.data_avail = c.data_avail;
  r.v.data_freed = c.data_freed;
  r.v.inode_delta = c.inode_delta;
  r.v.bloom.merge_from(c.bloom);  // never loses a bit: a reader skipping the tree would miss items
  r.v.commit_trans_seq = r.v.get_trans_seq;
  if (sim::Errno e = put_record(r, true)) return e;
  open_trans_.erase(rid);
  recorded_.emplace_back(rid, r.v.commit_trans_seq);
  env_.event("server_log_commit", {{"rid", rid}, {"nr", r.nr}, {"trans_seq", r.v.commit_trans_seq},
                                   {"items", r.v.item_count}, {"max_seq", r.v.max_seq}});
  return 0;
}

}  // namespace simfs::fs
