// ItemCache: the items a transaction has changed, in memory, over the forest (the fs tree and
// the log trees) they are read from. At commit they are written into the mount's open log tree.
// Reads see the transaction's own changes first.
//
// Contract:
// - put/del only touch memory; nothing reaches the tree until write_dirty(), so a transaction
//   is atomic by construction: a crash before its commit leaves no trace of it.
// - get and next return the state the forest will have after write_dirty(): dirty values win,
//   dirty deletions hide forest items.
// - write_dirty() writes every change into the log tree in key order (deterministic block
//   layout), stamped with the given seq, which must exceed every seq in the forest: a value
//   as an item, a deletion as a deletion item, and a deletion of a key the forest does not hold
//   not at all. It leaves the changes in memory; clear_dirty() drops them once the commit is
//   durable. An error leaves the log tree partly written, which only a failed commit can see
//   (the mount then stops).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "fs/btree/btree.h"
#include "fs/forest/forest.h"

namespace simfs::fs {

class ItemCache {
 public:
  explicit ItemCache(Forest& forest) : forest_(forest) {}

  sim::Errno get(const Key& key, std::vector<uint8_t>* value);
  void put(const Key& key, std::vector<uint8_t> value);
  void del(const Key& key);
  // The first live item with from <= key <= last; ENOENT when there is none.
  sim::Errno next(const Key& from, const Key& last, Item* out);

  size_t dirty_count() const { return dirty_.size(); }
  // Bumped by every put/del: lets an operation tell whether it changed anything.
  uint64_t mods() const { return mods_; }
  size_t dirty_bytes() const { return dirty_bytes_; }
  // *added: keys the log tree did not hold before.
  sim::Errno write_dirty(Btree& log, uint64_t seq, uint64_t* added);
  void clear_dirty() {
    dirty_.clear();
    dirty_bytes_ = 0;
  }

 private:
  struct Dirty {
    bool deleted = false;
    std::vector<uint8_t> value;
  };
  Forest& forest_;
  std::map<Key, Dirty> dirty_;
  size_t dirty_bytes_ = 0;
  uint64_t mods_ = 0;
};

}  // namespace simfs::fs
