// The log merge, run by the server itself in this slice (the log-merge issue hands the work to
// the clients): finalize every open log tree together, then merge the finalized trees into the
// fs tree a budgeted step per server commit, and remove them when done.
//
// Why finalization is coordinated (scoutfs-design §2.3): the fs tree keeps no deletion items,
// so merging a deletion erases the key outright. If an older version of that key were still in
// a tree that is not an input, it would come back. The merge therefore starts only when no open
// tree can hold an item older than the newest input item: every open tree with items was
// opened (first_seq) after every input's max_seq. Items are written under locks whose write_seq
// orders every write of a key, so anything written later has a higher seq.
#include <algorithm>

#include "fs/base/assert.h"
#include "fs/forest/forest.h"
#include "fs/server/server.h"

namespace simfs::fs {

namespace {
// Items read from each input per step: bounds one step's memory.
constexpr size_t kMergeBatchItems = 512;
}  // namespace

void Server::merge_loop() {
  std::shared_ptr<bool> alive = alive_;
  for (;;) {
    sim::this_task::sleep(cfg_.merge_poll);
    if (!*alive || stopped_) return;
    sim::LockGuard g(mu_);
    if (stopped_) return;
    sim::Errno e = merge_tick();
    if (e == EIO || e == ESTALE) {
      fail(e, "merge");
      return;
    }
  }
}

sim::Errno Server::merge_tick() {
  if (merge_) {
    bool done = false;
    if (sim::Errno e = merge_step(*merge_, &done)) return e;
    if (done) {
      if (sim::Errno e = finish_merge(*merge_)) return e;
      logged_items_ = 0;  // recounted at the next tick
    }
    dirtied();
    return 0;
  }
  std::vector<LogTreeRef> recs;
  if (sim::Errno e = load_all_records(&recs)) return e;
  uint64_t open_items = 0;
  bool finalized_any = false;
  uint64_t max_in = 0;
  for (const LogTreeRef& r : recs) {
    if (r.v.finalized) {
      finalized_any = true;
      max_in = std::max(max_in, r.v.max_seq);
    } else {
      open_items += r.v.item_count;
    }
  }
  logged_items_ = 0;
  for (const LogTreeRef& r : recs) logged_items_ += r.v.item_count;
  if (finalize_from_ == 0) {
    const bool forced = force_merge_ && logged_items_ > 0;
    force_merge_ = false;
    if (open_items < cfg_.log_finalize_items && !finalized_any && !forced) return 0;
    finalize_from_ = meta_->next_seq();
    synced_.clear();
    env_.event("server_merge_round", {{"from", finalize_from_}, {"open_items", open_items}});
  }
  // Every open tree that could hold an item older than an input must be finalized first: ask
  // its mount to commit now (its next GET_LOG_TREES finalizes it).
  bool blocked = false;
  for (const LogTreeRef& r : recs) {
    if (r.v.finalized || r.v.item_count == 0) continue;
    if (finalized_any && r.v.first_seq > max_in) continue;
    blocked = true;
    if (links_ && !synced_.count(r.rid)) {
      synced_.insert(r.rid);
      links_->send(r.rid, proto::Cmd::kSyncLogTrees, {}, [](net::Reply&&) {});
    }
  }
  if (blocked || !finalized_any) return 0;
  MergeStatusValue st{meta_->next_seq(), Key::min()};
  Item it{merge_status_key(), meta_->next_seq(), false, encode_merge_status(st)};
  if (sim::Errno e = logs_tree_->insert(it)) return e;
  merge_ = st;
  finalize_from_ = 0;
  env_.event("server_merge_start", {{"input_seq", st.input_seq}, {"max_input_seq", max_in}});
  dirtied();
  return 0;
}

sim::Errno Server::merge_step(const MergeStatusValue& st, bool* done) {
  *done = false;
  std::vector<LogTreeRef> recs;
  if (sim::Errno e = load_all_records(&recs)) return e;
  std::vector<Item> batch;
  Key cut = Key::max();
  bool more = false;
  const bool drop_deletions = cfg_.bugs.has(Bug::kMergeDropsDeletions);
  for (const LogTreeRef& r : recs) {
    if (!r.v.finalized || r.v.finalize_seq >= st.input_seq || r.v.root.height == 0) continue;
    Btree t(*cache_, meta_->btree_allocator(), r.v.root, forest_btree_config(sb_.btree_fill));
    size_t n = 0;
    sim::Errno e = t.for_each(st.next, Key::max(), [&](const Item& it) {
      if (!(it.deletion && drop_deletions)) batch.push_back(it);  // BUG (planted) when dropped
      if (++n == kMergeBatchItems) {
        // This input has more past here: keys after it cannot be merged from the others yet.
        cut = std::min(cut, it.key);
        more = true;
        return false;
      }
      return true;
    });
    if (e) return e;
  }
  if (more) batch.erase(std::remove_if(batch.begin(), batch.end(), [&](const Item& i) { return i.key > cut; }),
                        batch.end());
  std::stable_sort(batch.begin(), batch.end(), [](const Item& a, const Item& b) {
    return a.key != b.key ? a.key < b.key : a.seq > b.seq;
  });
  MergeStatusValue next = st;
  if (batch.empty() && !more) {
    *done = true;
    return 0;
  }
  // Stay out of the blocks the server keeps for its own commits.
  const uint64_t overshoot = 2u * (fs_tree_->root().height + 1u) + 1u;
  const uint64_t floor = cfg_.meta_reserve / 2 + overshoot;
  if (meta_->free_blocks() <= floor) return 0;
  const size_t budget = std::min<size_t>(cfg_.merge_blocks_per_commit, meta_->free_blocks() - floor);
  if (!batch.empty()) {
    MergeResult r;
    sim::Errno e = fs_tree_->merge(batch, MergeOptions{budget, false}, &r);
    if (e == ERANGE) {
      next.next = r.next;
      if (cfg_.bugs.has(Bug::kMergeResumeSkips)) next.next = key_successor(batch.back().key);  // BUG (planted)
      stats_.merged_items += r.changed;
    } else if (e) {
      return e == ENOSPC ? 0 : e;  // short of space: try again after frees
    } else {
      stats_.merged_items += batch.size();
      if (!more) {
        *done = true;
        return 0;
      }
      next.next = key_successor(cut);
    }
  } else {
    next.next = key_successor(cut);
  }
  Item it{merge_status_key(), meta_->next_seq(), false, encode_merge_status(next)};
  if (sim::Errno e = logs_tree_->update(it)) return e;
  merge_ = next;
  return 0;
}

sim::Errno Server::finish_merge(const MergeStatusValue& st) {
  std::vector<LogTreeRef> recs;
  if (sim::Errno e = load_all_records(&recs)) return e;
  size_t inputs = 0;
  for (const LogTreeRef& r : recs) {
    if (!r.v.finalized || r.v.finalize_seq >= st.input_seq) continue;
    // Every item is in the fs tree now (readers of the roots committed with this change no
    // longer see the input; older roots still name its blocks until they are reused, and a
    // reader that finds one reused retries with new roots).
    if (sim::Errno e = free_tree_blocks(r.v.root)) return e;
    sb_.inode_count = static_cast<uint64_t>(static_cast<int64_t>(sb_.inode_count) + r.v.inode_delta);
    if (sim::Errno e = logs_tree_->erase(log_tree_key(r.rid, r.nr))) return e;
    ++inputs;
  }
  if (sim::Errno e = logs_tree_->erase(merge_status_key())) return e;
  merge_.reset();
  ++stats_.merges;
  env_.event("server_merge_done", {{"input_seq", st.input_seq}, {"inputs", inputs}});
  return 0;
}

}  // namespace simfs::fs
