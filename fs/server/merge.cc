// The log merge's rounds: finalize every open log tree together, hand the merge of the
// finalized trees into the fs tree to the clients (merge_requests.cc), and remove the inputs
// when every key is merged.
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
  std::vector<LogTreeRef> recs;
  if (sim::Errno e = load_all_records(&recs)) return e;
  logged_items_ = 0;
  for (const LogTreeRef& r : recs) logged_items_ += r.v.item_count;
  if (merge_) {
    // The work is the clients' (merge_requests.cc); here it is spliced once a batch is in.
    bool spliced = false;
    std::vector<Reply> replies;
    if (sim::Errno e = splice_merge_batch(&spliced, &replies)) return e;
    if (!spliced) return 0;
    const uint64_t gen = dirtied();
    if (!replies.empty()) {
      // The clients' results are answered once the splice that used them is durable.
      std::shared_ptr<bool> alive = alive_;
      auto pending = std::make_shared<std::vector<Reply>>(std::move(replies));
      env_.spawn("server.merge_answers", [this, alive, gen, pending] {
        if (!*alive || !wait_durable(gen) || !*alive) return;
        for (Reply& r : *pending) r(0, {});
      }, /*daemon=*/true);
    }
    return 0;
  }
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
  // BUG (planted, merge_finalize_one_at_a_time): the merge starts once any tree is finalized,
  // while open trees may still hold older versions of its keys.
  if (blocked && cfg_.bugs.has(Bug::kMergeFinalizeOneAtATime)) blocked = false;
  if (blocked || !finalized_any) return 0;
  MergeStatusValue st{meta_->next_seq(), Key::min()};
  Item it{merge_status_key(), meta_->next_seq(), false, encode_merge_status(st)};
  if (sim::Errno e = logs_tree_->insert(it)) return e;
  merge_ = st;
  batch_next_ = st.next;
  batch_end_ = false;
  redo_.reset();
  merge_level_ = 1;
  height_stopped_ = false;
  finalize_from_ = 0;
  env_.event("server_merge_start", {{"input_seq", st.input_seq}, {"max_input_seq", max_in}});
  dirtied();
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
