#include "fs/item_cache.h"

namespace simfs::fs {

sim::Errno ItemCache::get(const Key& key, std::vector<uint8_t>* value) {
  auto it = dirty_.find(key);
  if (it != dirty_.end()) {
    if (it->second.deleted) return ENOENT;
    *value = it->second.value;
    return 0;
  }
  Item item;
  sim::Errno e = tree_.lookup(key, &item);
  if (e) return e;
  *value = std::move(item.value);
  return 0;
}

void ItemCache::put(const Key& key, std::vector<uint8_t> value) {
  Dirty& d = dirty_[key];
  ++mods_;
  dirty_bytes_ += value.size() + kKeyBytes;
  d.deleted = false;
  d.value = std::move(value);
}

void ItemCache::del(const Key& key) {
  Dirty& d = dirty_[key];
  ++mods_;
  dirty_bytes_ += kKeyBytes;
  d.deleted = true;
  d.value.clear();
}

sim::Errno ItemCache::next(const Key& from, const Key& last, Item* out) {
  Key pos = from;
  for (;;) {
    if (pos > last) return ENOENT;
    // The tree's next item at or after pos that the transaction has not deleted or replaced.
    Item t;
    bool have_tree = false;
    sim::Errno e = tree_.next(pos, &t);
    if (e == 0 && t.key <= last) {
      have_tree = true;
    } else if (e && e != ENOENT) {
      return e;
    }
    auto d = dirty_.lower_bound(pos);
    while (d != dirty_.end() && d->first <= last && d->second.deleted && (!have_tree || d->first < t.key)) ++d;
    bool have_dirty = d != dirty_.end() && d->first <= last;
    if (have_dirty && (!have_tree || d->first <= t.key)) {
      if (d->second.deleted) {  // it hides the tree item at the same key
        if (d->first == Key::max()) return ENOENT;
        pos = key_successor(d->first);
        continue;
      }
      *out = Item{d->first, 0, false, d->second.value};
      return 0;
    }
    if (!have_tree) return ENOENT;
    *out = std::move(t);
    return 0;
  }
}

sim::Errno ItemCache::write_dirty(uint64_t seq) {
  for (auto& [key, d] : dirty_) {
    sim::Errno e;
    if (d.deleted) {
      e = tree_.erase(key);
      if (e == ENOENT) e = 0;  // created and deleted within the transaction
    } else {
      Item item{key, seq, false, d.value};
      e = tree_.insert(item);
      if (e == EEXIST) e = tree_.update(item);
    }
    if (e) return e;
  }
  return 0;
}

}  // namespace simfs::fs
