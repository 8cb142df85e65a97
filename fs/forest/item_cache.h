// ItemCache: a mount's items in memory — the key ranges its locks cover, read from the forest
// when a lock is first used for reading, and the changes its open transaction has made
// (scoutfs-design §2.2, item.c). At commit the changes are written into the mount's open log
// tree.
//
// Contract:
// - populate(first, last, live) records that the range is cached, holding exactly the forest's
//   live items in it (and keeps any dirty entries already there). drop() forgets a range and its
//   clean items: the lock that covered it is gone. Reads (get, next) are only valid inside a
//   populated range — what is not cached there does not exist.
// - put/del change only memory, so a transaction is atomic by construction: a crash before its
//   commit leaves no trace. Each change remembers the write_seq of the lock it was made under.
// - A change outside any populated range is a blind write (a WRITE_ONLY lock, e.g. orphan
//   records): a blind delete always writes a deletion item, since the cache cannot know whether
//   the key exists.
// - write_dirty() writes every change into the log tree in key order, each item with seq =
//   max(trans_seq, the write_seq of its lock) — so a write under a newer lock grant always
//   beats an older one, and repeated commits under one grant still rise — as a value, as a
//   deletion item, or not at all for a key created and deleted without ever being durable.
//   clear_dirty() turns the changes into clean cached items once the commit is durable.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "fs/btree/btree.h"

namespace simfs::fs {

class ItemCache {
 public:
  // ---- ranges ----
  void populate(const Key& first, const Key& last, std::vector<Item> live);
  void drop(const Key& first, const Key& last);
  bool covered(const Key& first, const Key& last) const;
  bool covered(const Key& key) const { return covered(key, key); }

  // ---- reads ----
  sim::Errno get(const Key& key, std::vector<uint8_t>* value) const;
  // The first live item with from <= key <= last; ENOENT when there is none.
  sim::Errno next(const Key& from, const Key& last, Item* out) const;

  // ---- changes ----
  void put(const Key& key, std::vector<uint8_t> value, uint64_t write_seq = 0);
  void del(const Key& key, uint64_t write_seq = 0);

  // ---- commit ----
  size_t dirty_count() const { return dirty_keys_.size(); }
  size_t dirty_bytes() const { return dirty_bytes_; }
  // Bumped by every put/del: lets an operation tell whether it changed anything.
  uint64_t mods() const { return mods_; }
  bool dirty_in(const Key& first, const Key& last) const;
  // *added: keys the log tree did not hold before; *max_seq: the highest seq written (or
  // unchanged when nothing was). ignore_write_seq plants bug item_seq_ignores_write_seq.
  // on_write (if set) sees every item written, before it is (the mount's lock bloom).
  sim::Errno write_dirty(Btree& log, uint64_t trans_seq, uint64_t* added, uint64_t* max_seq,
                         bool ignore_write_seq = false,
                         const std::function<void(const Item&)>& on_write = {}) const;
  void clear_dirty();

  size_t cached_items() const { return entries_.size(); }
  size_t cached_ranges() const { return ranges_.size(); }

 private:
  struct Entry {
    std::vector<uint8_t> value;
    bool deleted = false;
    bool persistent = false;  // the forest may hold the key (a deletion must be written)
    bool dirty = false;
    uint64_t write_seq = 0;
  };
  std::map<Key, Entry> entries_;
  std::map<Key, Key> ranges_;  // first -> last, disjoint
  // The keys of the dirty entries: a commit visits these, not the whole cache (which holds
  // every item of every lock this mount has cached).
  std::set<Key> dirty_keys_;
  size_t dirty_bytes_ = 0;
  uint64_t mods_ = 0;
};

}  // namespace simfs::fs
