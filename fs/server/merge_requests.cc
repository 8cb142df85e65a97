// The log merge handed out to the clients (scoutfs-design §2.3, seed 000 "compact using net
// requests"): the server splits the key space into pieces over disjoint fs tree blocks, each
// with its own blocks to allocate from, and splices the clients' results back.
//
// - A piece (GET_LOG_MERGE) is the fs tree block at merge_level_ that covers batch_next_, with
//   its key range from there to the block's end; when the tree is too short for that level,
//   the whole tree from batch_next_ on. The ranges of one level partition the key space and a
//   batch never splices until it ends, so no two pieces in flight share a block. Each piece is
//   a durable request record (the blocks it may allocate included) before it is answered, so
//   any crash or disconnect can take those blocks back.
// - A result (COMMIT_LOG_MERGE) waits in memory; the answer waits for the splice, so a server
//   crash before it only costs the client a resend to the next server.
// - Once no piece is outstanding, the batch is spliced: every result's subtree replaces its
//   block (set_parent, then rebalance at each start), what they replaced is freed, and the
//   merge position moves to the lowest key still to merge (a failed, abandoned or partial
//   piece's), or past the batch. Merging a range again is harmless: the merge keeps an item
//   whose seq is at least the input's.
// - A piece that stops because its subtree's root would split or empty (a height stop) makes
//   the next batch use blocks one level up, where that split happens inside the subtree.
// - A client that disconnects abandons its pieces: their ranges are merged again by others,
//   and their blocks wait until its result arrives anyway or it is reclaimed (fenced), since it
//   may still be writing into them.
#include <algorithm>

#include "fs/alloc/alloc_list.h"
#include "fs/base/assert.h"
#include "fs/forest/forest.h"
#include "fs/server/server.h"

namespace simfs::fs {

void Server::redo_from(const Key& k) {
  if (!redo_ || k < *redo_) redo_ = k;
}

sim::Errno Server::put_merge_request(const MergeRequest& r, bool exists) {
  Item it{merge_request_key(r.id), meta_->next_seq(), false, encode_merge_request(r.v)};
  return exists ? logs_tree_->update(it) : logs_tree_->insert(it);
}

sim::Errno Server::load_merge_requests() {
  merge_requests_.clear();
  std::vector<std::pair<uint64_t, MergeRequestValue>> found;
  bool bad = false;
  sim::Errno e = logs_tree_->for_each(merge_request_key(0), merge_request_key(UINT64_MAX), [&](const Item& it) {
    MergeRequestValue v;
    if (it.deletion || !decode_merge_request(it.value, &v)) {
      bad = true;
      return false;
    }
    found.emplace_back(it.key.first, v);
    return true;
  });
  if (e) return e;
  if (bad) return EIO;
  batch_next_ = merge_ ? merge_->next : Key::min();
  batch_end_ = false;
  redo_.reset();
  bool batch_resumed = false;
  for (auto& [id, v] : found) {
    MergeRequest r;
    r.id = id;
    r.v = v;
    if (sim::Errno le = load_alloc_list(*cache_, v.avail, &r.avail, &r.list_blocks)) return le;
    meta_->raise_seq(id);
    if (merge_ && v.input_seq == merge_->input_seq) {
      // Pieces of the merge under way: the batch goes on after the last of them.
      if (v.end == Key::max()) {
        batch_end_ = true;
      } else if (batch_next_ < key_successor(v.end)) {
        batch_next_ = key_successor(v.end);
      }
      if (v.flags & kMergeRequestAbandoned) redo_from(v.start);
      batch_resumed = true;
    }
    if (!(v.flags & kMergeRequestAbandoned) && observer_.merge_piece_out) {
      observer_.merge_piece_out(id, v.subtree.ref.blkno, v.level == 0);
    }
    merge_requests_[id] = std::move(r);
  }
  // The pieces of the batch under way that are recorded are not all it handed out: a piece
  // released since the last splice (a failed result, its mount reclaimed) left only its record's
  // erasure, and the point to merge again from (redo_) was in memory only. Every result is lost
  // too. So the batch merges again from the durable position, or the splice after these pieces
  // would move it past keys no piece merged, and finish_merge would drop their input items.
  if (batch_resumed) redo_from(merge_->next);
  return 0;
}

sim::Errno Server::merge_inputs(uint64_t input_seq, std::vector<BtreeRoot>* out) {
  std::vector<LogTreeRef> recs;
  if (sim::Errno e = load_all_records(&recs)) return e;
  out->clear();
  for (const LogTreeRef& r : recs) {
    if (r.v.finalized && r.v.finalize_seq < input_seq && r.v.root.height != 0) out->push_back(r.v.root);
  }
  return 0;
}

sim::Errno Server::get_log_merge(uint64_t rid, const proto::LogMergeGet& g, proto::LogMergeRequest* out) {
  if (!mounted(rid)) return ENOLINK;  // gone, or being reclaimed
  auto respond_with = [&](const MergeRequest& r) -> sim::Errno {
    proto::LogMergeRequest m;
    m.id = r.id;
    m.input_seq = r.v.input_seq;
    m.start = r.v.start;
    m.end = r.v.end;
    m.subtree = r.v.subtree;
    m.level = r.v.level;
    m.avail = r.avail;
    if (sim::Errno e = merge_inputs(r.v.input_seq, &m.inputs)) return e;
    if (m.inputs.size() > proto::kLogMergeInputsMax) return ENOENT;
    *out = std::move(m);
    return 0;
  };
  // Executed again (resent to a new server, or the answer was lost): the same piece.
  size_t mine = 0, in_flight = 0;
  for (const auto& [id, r] : merge_requests_) {
    const bool live = !r.done && !(r.v.flags & kMergeRequestAbandoned);
    if (r.v.rid == rid && r.v.nonce == g.nonce) return live ? respond_with(r) : ENOENT;
    if (live) ++in_flight;
    if (live && r.v.rid == rid) ++mine;
  }
  if (!merge_ || batch_end_ || mine >= cfg_.merge_requests_per_client || in_flight >= cfg_.merge_batch_requests) {
    return ENOENT;
  }
  std::vector<BtreeRoot> inputs;
  if (sim::Errno e = merge_inputs(merge_->input_seq, &inputs)) return e;
  if (inputs.size() > proto::kLogMergeInputsMax) {
    env_.event("server_merge_too_many_inputs", {{"inputs", inputs.size()}}, /*fault=*/true);
    return ENOENT;
  }
  // The blocks it may write: its budget plus one key's overshoot (a path and its splits) and
  // a new root, all outside the server's reserve.
  // When space is short the piece gets what is left above half the server's reserve (the merge
  // is what gives space back, so it must not stall first), as long as one key fits.
  const uint8_t height = fs_tree_->root().height;
  const size_t margin = 2u * (height + 2u) + 2u;
  const uint64_t floor = cfg_.meta_reserve / 2 + 1;
  const uint64_t free = meta_->free_blocks();
  if (free <= floor + margin + 1) return ENOENT;
  const size_t want = static_cast<size_t>(
      std::min<uint64_t>({proto::kLogMergeBlocksMax, cfg_.merge_blocks_per_commit + margin, free - floor - 1}));

  MergeRequest r;
  r.v.rid = rid;
  r.v.nonce = g.nonce;
  r.v.input_seq = merge_->input_seq;
  r.v.start = batch_next_;
  if (height <= merge_level_ + 1) {
    // Too short to hand out blocks at this level: the whole tree, which may grow or shrink.
    // Only alone in its batch, since it covers every other range.
    if (in_flight > 0 || batch_next_ != merge_->next) return ENOENT;
    r.v.end = Key::max();
    r.v.subtree = fs_tree_->root();
    r.v.level = 0;
  } else {
    ParentInfo pi;
    if (sim::Errno e = fs_tree_->parent_range(batch_next_, &pi, merge_level_)) return e;
    r.v.end = pi.end;
    r.v.subtree = BtreeRoot{pi.ref, static_cast<uint8_t>(merge_level_ + 1)};
    r.v.level = merge_level_;
  }
  if (sim::Errno e = meta_->alloc_for_list(want, &r.avail)) return e;
  std::sort(r.avail.begin(), r.avail.end());
  for (size_t i = 0; i < alloc_list_blocks_for(r.avail.size()); ++i) {
    const uint64_t b = meta_->alloc();
    if (b == 0) return ENOSPC;
    r.list_blocks.push_back(b);
  }
  r.v.avail = write_alloc_list(*cache_, r.avail, r.list_blocks, [this] { return meta_->next_seq(); });
  r.id = meta_->next_seq();
  if (sim::Errno e = put_merge_request(r, false)) return e;
  Key piece_end = r.v.end;
  if (r.v.level != 0 && cfg_.bugs.has(Bug::kMergeOverlappingRanges)) {
    // BUG (planted, merge_overlapping_ranges): the next piece starts after the leaf that holds
    // this one's start instead of after its block, so two pieces in flight copy one block.
    ParentInfo leaf;
    if (sim::Errno e = fs_tree_->parent_range(batch_next_, &leaf, 0)) return e;
    piece_end = leaf.end;
  }
  if (piece_end == Key::max()) {
    batch_end_ = true;
  } else {
    batch_next_ = key_successor(piece_end);
  }
  ++stats_.merge_requests;
  if (observer_.merge_piece_out) observer_.merge_piece_out(r.id, r.v.subtree.ref.blkno, r.v.level == 0);
  env_.event("server_merge_request", {{"id", r.id}, {"rid", rid}, {"level", r.v.level},
                                      {"first", key_string(r.v.start)}, {"last", key_string(r.v.end)},
                                      {"blocks", r.avail.size()}});
  const MergeRequest& stored = merge_requests_[r.id] = std::move(r);
  if (sim::Errno e = respond_with(stored)) return e;
  return 0;
}

sim::Errno Server::release_merge_request(uint64_t id) {
  auto it = merge_requests_.find(id);
  if (it == merge_requests_.end()) return 0;
  // Every block handed out goes, whatever the client wrote into it: nothing references them.
  // The blocks its copy replaced are still the fs tree's, so they stay.
  for (uint64_t b : it->second.avail) meta_->free(b);
  for (uint64_t b : it->second.list_blocks) meta_->free(b);
  if (sim::Errno e = logs_tree_->erase(merge_request_key(id))) return e;
  merge_requests_.erase(it);
  if (observer_.merge_piece_gone) observer_.merge_piece_gone(id);
  return 0;
}

sim::Errno Server::abandon_merge_requests(uint64_t rid, bool reclaiming) {
  std::vector<uint64_t> ids;
  for (const auto& [id, r] : merge_requests_)
    if (r.v.rid == rid && !r.done) ids.push_back(id);
  for (uint64_t id : ids) {
    MergeRequest& r = merge_requests_[id];
    const bool current = merge_ && r.v.input_seq == merge_->input_seq;
    if (!(r.v.flags & kMergeRequestAbandoned)) {
      ++stats_.merge_failed;
      if (current) redo_from(r.v.start);
    }
    if (reclaiming) {
      // Fenced: it writes nothing more, so its blocks can go.
      // BUG (planted, merge_reclaim_leaks_allocator): they never do.
      if (cfg_.bugs.has(Bug::kMergeReclaimLeaks)) {
        if (sim::Errno e = logs_tree_->erase(merge_request_key(id))) return e;
        merge_requests_.erase(id);
        if (observer_.merge_piece_gone) observer_.merge_piece_gone(id);
        continue;
      }
      if (sim::Errno e = release_merge_request(id)) return e;
    } else if (!(r.v.flags & kMergeRequestAbandoned)) {
      r.v.flags |= kMergeRequestAbandoned;
      if (sim::Errno e = put_merge_request(r, true)) return e;
      if (observer_.merge_piece_gone) observer_.merge_piece_gone(id);
      env_.event("server_merge_abandoned", {{"id", id}, {"rid", rid}});
    }
  }
  return 0;
}

void Server::commit_log_merge(uint64_t rid, const proto::LogMergeCompletion& c, Reply reply) {
  auto it = merge_requests_.find(c.id);
  if (it == merge_requests_.end()) {
    // Spliced or taken back already: a resend after the merge moved on. Nothing to do.
    reply(0, {});
    return;
  }
  if (it->second.v.rid != rid) return reply(EINVAL, {});
  MergeRequest& r = it->second;
  if (r.done) {
    r.replies.push_back(std::move(reply));  // the same result again: answered with the first
    return;
  }
  const bool abandoned = r.v.flags & kMergeRequestAbandoned;
  const bool current = merge_ && r.v.input_seq == merge_->input_seq;
  bool usable = !(c.flags & proto::kLogMergeFailed) && !abandoned && current;
  if (usable) {
    // Only blocks it was given may be new in its subtree.
    for (uint64_t b : c.used) {
      if (!std::binary_search(r.avail.begin(), r.avail.end(), b)) usable = false;
    }
    if (c.root.height == 0 && r.v.level != 0) usable = false;
    if (!usable) env_.event("server_merge_bad_result", {{"id", c.id}, {"rid", rid}}, /*fault=*/true);
  }
  if (usable) {
    r.done = c;
    r.replies.push_back(std::move(reply));
    if (c.flags & proto::kLogMergeHeightStop) height_stopped_ = true;
    env_.event("server_merge_result", {{"id", c.id}, {"rid", rid}, {"merged", c.merged}, {"used", c.used.size()},
                                       {"partial", (c.flags & proto::kLogMergePartial) != 0},
                                       {"height_stop", (c.flags & proto::kLogMergeHeightStop) != 0}});
    return;
  }
  // Nothing of it is used: its blocks come back and its range is merged again.
  if (!abandoned) {
    ++stats_.merge_failed;
    if (current) redo_from(r.v.start);
  }
  const uint64_t id = c.id;
  run_update("commit_log_merge", std::move(reply), [this, id](proto::Bytes*) {
    return release_merge_request(id);
  });
}

sim::Errno Server::splice_merge_batch(bool* spliced, std::vector<Reply>* replies) {
  *spliced = false;
  if (!merge_) return 0;
  std::vector<uint64_t> done;
  for (const auto& [id, r] : merge_requests_) {
    if (r.v.input_seq != merge_->input_seq) continue;
    if (!r.done && !(r.v.flags & kMergeRequestAbandoned)) return 0;  // one still outstanding
    if (r.done) done.push_back(id);
  }
  if (done.empty() && !redo_ && !batch_end_) return 0;  // nothing handed out yet
  std::sort(done.begin(), done.end(), [&](uint64_t a, uint64_t b) {
    return merge_requests_.at(a).v.start < merge_requests_.at(b).v.start;
  });
  // Splice every subtree first, then fix the seams: a rebalance may join a spliced block with
  // its neighbour, which must then be the neighbour's new version already.
  std::optional<Key> remaining;
  uint64_t merged = 0;
  for (uint64_t id : done) {
    const MergeRequest& r = merge_requests_[id];
    const proto::LogMergeCompletion& c = *r.done;
    merged += c.merged;
    if (c.flags & proto::kLogMergePartial) {
      if (!remaining || c.remaining < *remaining) remaining = c.remaining;
    }
    if (c.root == r.v.subtree) continue;  // nothing changed
    if (r.v.level == 0) {
      fs_tree_ = std::make_unique<Btree>(*cache_, meta_->btree_allocator(), c.root, forest_btree_config(sb_.btree_fill));
    } else if (sim::Errno e = fs_tree_->set_parent(r.v.start, r.v.level, c.root)) {
      return e == EINVAL ? EIO : e;  // a result that does not fit where it was cut from
    }
  }
  for (uint64_t id : done) {
    const MergeRequest& r = merge_requests_[id];
    if (r.v.level != 0 && r.done->root != r.v.subtree) {
      if (sim::Errno e = fs_tree_->rebalance(r.v.start)) return e;
    }
  }
  // What the pieces replaced and the blocks they did not use are free once this is durable.
  for (uint64_t id : done) {
    MergeRequest& r = merge_requests_[id];
    const proto::LogMergeCompletion& c = *r.done;
    for (uint64_t b : c.freed) meta_->free(b);
    std::vector<uint64_t> used = c.used;
    std::sort(used.begin(), used.end());
    for (uint64_t b : r.avail)
      if (!std::binary_search(used.begin(), used.end(), b)) meta_->free(b);
    for (uint64_t b : r.list_blocks) meta_->free(b);
    if (sim::Errno e = logs_tree_->erase(merge_request_key(id))) return e;
    for (Reply& rp : r.replies) replies->push_back(std::move(rp));
    merge_requests_.erase(id);
    if (observer_.merge_piece_gone) observer_.merge_piece_gone(id);
  }
  // Where the merge goes on: the lowest key some piece did not merge, else past the batch.
  std::optional<Key> next = redo_;
  if (remaining && (!next || *remaining < *next)) next = remaining;
  stats_.merged_items += merged;
  ++stats_.merge_splices;
  env_.event("server_merge_splice", {{"pieces", done.size()}, {"merged", merged}, {"level", merge_level_},
                                     {"height", fs_tree_->root().height}});
  merge_level_ = height_stopped_ ? static_cast<uint8_t>(std::min<int>(merge_level_ + 1, kBtreeHeightMax)) : 1;
  height_stopped_ = false;
  redo_.reset();
  *spliced = true;
  if (!next && batch_end_) {
    batch_end_ = false;
    return finish_merge(*merge_);
  }
  MergeStatusValue st = *merge_;
  st.next = next ? *next : batch_next_;
  batch_next_ = st.next;
  batch_end_ = false;
  Item it{merge_status_key(), meta_->next_seq(), false, encode_merge_status(st)};
  if (sim::Errno e = logs_tree_->update(it)) return e;
  merge_ = st;
  return 0;
}

}  // namespace simfs::fs
