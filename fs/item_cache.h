// ItemCache: the items a transaction has changed, in memory, over the tree they will be
// written into at commit. Reads see the transaction's own changes first.
//
// Contract:
// - put/del only touch memory; nothing reaches the tree until write_dirty(), so a transaction
//   is atomic by construction: a crash before its commit leaves no trace of it.
// - get and next return the state the tree will have after write_dirty(): dirty values win,
//   dirty deletions hide tree items.
// - write_dirty() applies every change to the tree in key order (deterministic block layout)
//   and stamps the given seq on written items. It leaves the changes in memory; clear_dirty()
//   drops them once the commit is durable. An error leaves the tree partly written, which only
//   a failed commit can see (the mount then stops).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "fs/btree.h"

namespace simfs::fs {

class ItemCache {
 public:
  explicit ItemCache(Btree& tree) : tree_(tree) {}

  sim::Errno get(const Key& key, std::vector<uint8_t>* value);
  void put(const Key& key, std::vector<uint8_t> value);
  void del(const Key& key);
  // The first live item with from <= key <= last; ENOENT when there is none.
  sim::Errno next(const Key& from, const Key& last, Item* out);

  size_t dirty_count() const { return dirty_.size(); }
  // Bumped by every put/del: lets an operation tell whether it changed anything.
  uint64_t mods() const { return mods_; }
  size_t dirty_bytes() const { return dirty_bytes_; }
  sim::Errno write_dirty(uint64_t seq);
  void clear_dirty() {
    dirty_.clear();
    dirty_bytes_ = 0;
  }

 private:
  struct Dirty {
    bool deleted = false;
    std::vector<uint8_t> value;
  };
  Btree& tree_;
  std::map<Key, Dirty> dirty_;
  size_t dirty_bytes_ = 0;
  uint64_t mods_ = 0;
};

}  // namespace simfs::fs
