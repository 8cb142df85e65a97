// The logs tree and the log trees, and the forest view they make with the fs tree.
//
// Each logs tree record describes one mount's log tree. The records of a mount are in key order
// (their nr rises), only the newest may still take writes, and only finalized trees have a
// merge position. Each log tree is walked and held to its record's item count and max_seq.
// merge_forest() then builds what the filesystem holds: per key the newest item across the fs
// tree and the log trees. A finalized tree's items below its merge position must already be in
// the fs tree, since merging erases them from the log tree only after writing them there.
//
// Reports: logs.bad_record, logs.order, logs.merge_next, logs.seq, logs.count, logs.bloom,
// logs.unmerged, item.deletion, and what walk_tree reports for each tree (tree_walk.cc).
#include <algorithm>
#include <map>
#include <set>

#include "fs/lock/lock_keys.h"

#include "fs/fsck/checkers.h"

namespace simfs::fs::fsck_internal {

namespace {

// A record's fields against its mount's other records and the super. `open_seen`: an earlier
// record of this mount was an open tree.
void check_record(FsckContext& cx, const Key& k, const LogTreeValue& v, bool* open_seen) {
  // Only a mount's newest log tree takes writes; older ones wait to be merged.
  if (*open_seen) {
    cx.add("logs.order", 0, k, "log tree " + key_string(k) + " comes after its mount's open log tree");
  }
  if (!v.finalized) *open_seen = true;
  if (!v.finalized && v.merge_next != Key::min()) {
    cx.add("logs.merge_next", 0, k,
           "open log tree " + key_string(k) + " has a merge position (only finalized trees merge)");
  }
  if (v.max_seq > cx.sb.server_seq) {
    cx.add("logs.seq", 0, k,
           "log tree record " + key_string(k) + " has max_seq " + num(v.max_seq) + " beyond the super's server_seq " +
               num(cx.sb.server_seq));
  }
}

// Walks the log tree a record describes; a tree read whole must hold what its record says.
LogWalk walk_log_tree(FsckContext& cx, const Key& k, const LogTreeValue& v) {
  LogWalk lw{TreeWalk{"log tree " + num(k.ino) + "." + num(k.first), Owner::kLogTree, true, {}, cx.forest_config}, v};
  walk_tree(cx, v.root, &lw.walk);
  if (!lw.walk.complete) return lw;
  uint64_t max_seq = 0;
  for (const Item& it : lw.walk.items) max_seq = std::max(max_seq, it.seq);
  if (lw.walk.items.size() != v.item_count) {
    cx.add("logs.count", v.root.ref.blkno, k,
           lw.walk.name + " holds " + num(lw.walk.items.size()) + " items, its record says " + num(v.item_count));
  }
  if (max_seq != v.max_seq) {
    cx.add("logs.seq", v.root.ref.blkno, k,
           lw.walk.name + "'s newest item has seq " + num(max_seq) + ", its record says " + num(v.max_seq));
  }
  // Readers skip a log tree whose bloom lacks their lock: an item under a lock the bloom does
  // not name is invisible to every populate of that lock. One finding per lock.
  std::set<Key> missing;
  for (const Item& it : lw.walk.items) {
    if (it.key.zone != kZoneFs && it.key.zone != kZoneOrphan) continue;
    const Key lock = lock_key_for_item(it.key);
    if (v.bloom.may_contain(lock) || !missing.insert(lock).second) continue;
    cx.add("logs.bloom", v.root.ref.blkno, it.key,
           lw.walk.name + " holds " + (it.deletion ? "a deletion" : "an item") + " under lock " + key_string(lock) +
               " that its record's bloom does not name");
  }
  return lw;
}

using Winners = std::map<Key, const Item*>;

// The fs tree's items by key. It holds no tombstones: a deletion there is a finding.
Winners fs_tree_items(FsckContext& cx) {
  Winners win;
  for (const Item& it : cx.fs.items) {
    if (it.deletion) {
      cx.add("item.deletion", 0, it.key, "a deletion item in the fs tree (it holds no tombstones)");
      continue;
    }
    win.emplace(it.key, &it);  // a repeated key: btree.structure says so
  }
  return win;
}

// The server merges every finalized tree older than the merge status's input seq together, in
// key order: below its position, each key's newest version across those inputs (the one the
// merge chose) is in the fs tree already — a put at its seq or newer, a deletion as an absent
// key (or one written again later).
void check_merged(FsckContext& cx, const Winners& fs_items) {
  if (!cx.merge_status) return;
  std::map<Key, std::pair<const Item*, const LogWalk*>> chosen;
  for (const LogWalk& l : cx.log_trees) {
    if (!l.v.finalized || l.v.finalize_seq >= cx.merge_status->input_seq) continue;
    for (const Item& it : l.walk.items) {
      if (!(it.key < cx.merge_status->next)) break;  // items are in key order
      auto [c, fresh] = chosen.try_emplace(it.key, &it, &l);
      if (!fresh && it.seq > c->second.first->seq) c->second = {&it, &l};
    }
  }
  for (const auto& [key, c] : chosen) {
    const Item& it = *c.first;
    auto f = fs_items.find(key);
    const bool held = f != fs_items.end();
    const bool ok = it.deletion ? !held || f->second->seq > it.seq : held && f->second->seq >= it.seq;
    if (!ok) {
      cx.add("logs.unmerged", 0, key,
             c.second->walk.name + (it.deletion ? ": a deletion" : ": an item") + " with seq " + num(it.seq) +
                 " below the merge position is not reflected in the fs tree");
    }
  }
}

}  // namespace

void check_logs(FsckContext& cx) {
  cx.logs = TreeWalk{"logs tree", Owner::kLogsTree, true, {}, cx.forest_config};
  walk_tree(cx, cx.sb.logs_root, &cx.logs);
  std::set<Key> seen;
  bool open_seen = false;  // for the rid being walked: its open tree (records are in key order)
  uint64_t rid = 0;
  for (const Item& rec : cx.logs.items) {
    const Key& k = rec.key;
    if (!seen.insert(k).second) continue;  // a repeated key: btree.structure says so
    if (k == merge_status_key()) {
      MergeStatusValue st;
      if (rec.deletion || !decode_merge_status(rec.value, &st)) {
        cx.add("logs.bad_record", 0, k, "a merge status record that does not decode");
      } else if (st.input_seq > cx.sb.server_seq) {
        cx.add("logs.seq", 0, k, "the merge status names input seq " + num(st.input_seq) + " beyond the super's server_seq " +
                                     num(cx.sb.server_seq));
      } else {
        cx.merge_status = st;
      }
      continue;
    }
    if (k.zone == kZoneLogs && k.ino == 0 && k.type == kTypeMergeRequest) {
      MergeRequestValue v;
      if (rec.deletion || k.second != 0 || !decode_merge_request(rec.value, &v)) {
        cx.add("logs.bad_record", 0, k, "a merge request record that does not decode");
        cx.lists_complete = false;  // the blocks it holds are unknown
      } else if (k.first > cx.sb.server_seq || v.input_seq > cx.sb.server_seq) {
        cx.add("logs.seq", 0, k, "merge request " + num(k.first) + " names seqs beyond the super's server_seq " +
                                     num(cx.sb.server_seq));
      } else {
        cx.merge_requests.push_back({k, v});
      }
      continue;
    }
    LogTreeValue v;
    if (k.zone != kZoneLogs || k.type != kTypeLogTree || k.second != 0 || rec.deletion ||
        !decode_log_tree(rec.value, &v)) {
      cx.add("logs.bad_record", 0, k, "a logs tree item that is not a log tree record, or does not decode");
      cx.logs.complete = false;  // its tree's items are unknown
      continue;
    }
    if (k.ino != rid) open_seen = false;
    rid = k.ino;
    check_record(cx, k, v, &open_seen);
    cx.log_trees.push_back(walk_log_tree(cx, k, v));
  }
}

// The items the filesystem holds: per key, the highest seq across the fs tree and the log
// trees, without the keys whose winner is a deletion.
void merge_forest(FsckContext& cx) {
  Winners win = fs_tree_items(cx);
  check_merged(cx, win);
  for (const LogWalk& l : cx.log_trees) {
    for (const Item& it : l.walk.items) {
      auto [pos, fresh] = win.emplace(it.key, &it);
      if (!fresh && it.seq > pos->second->seq) pos->second = &it;
    }
  }
  cx.live.clear();
  for (const auto& [k, it] : win) {
    if (!it->deletion) cx.live.push_back(it);
  }
  cx.report.counts.items = cx.live.size();
}

}  // namespace simfs::fs::fsck_internal
