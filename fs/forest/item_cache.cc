#include "fs/forest/item_cache.h"

namespace simfs::fs {

sim::Errno ItemCache::get(const Key& key, std::vector<uint8_t>* value) {
  auto it = dirty_.find(key);
  if (it != dirty_.end()) {
    if (it->second.deleted) return ENOENT;
    *value = it->second.value;
    return 0;
  }
  Item item;
  sim::Errno e = forest_.lookup(key, &item);
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
    // The forest's next live item at or after pos that the transaction has not deleted or
    // replaced.
    Item t;
    bool have_tree = false;
    sim::Errno e = forest_.next(pos, last, &t);
    if (e == 0) {
      have_tree = true;
    } else if (e != ENOENT) {
      return e;
    }
    auto d = dirty_.lower_bound(pos);
    while (d != dirty_.end() && d->first <= last && d->second.deleted && (!have_tree || d->first < t.key)) ++d;
    bool have_dirty = d != dirty_.end() && d->first <= last;
    if (have_dirty && (!have_tree || d->first <= t.key)) {
      if (d->second.deleted) {  // it hides the forest item at the same key
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

sim::Errno ItemCache::write_dirty(Btree& log, uint64_t seq, uint64_t* added) {
  *added = 0;
  std::vector<Item> items;
  items.reserve(dirty_.size());
  Item below;
  for (auto& [key, d] : dirty_) {
    if (d.deleted) {
      // Nothing to hide: created and deleted within the transaction, or never there.
      sim::Errno e = forest_.lookup(key, &below);
      if (e == ENOENT) continue;
      if (e) return e;
    }
    items.push_back(Item{key, seq, d.deleted, d.deleted ? std::vector<uint8_t>{} : d.value});
  }
  // A run of keys per leaf, each leaf copied once.
  for (size_t i = 0; i < items.size();) {
    size_t applied = 0, new_keys = 0;
    sim::Errno e = log.put_batch(std::span<const Item>(items).subspan(i), &applied, &new_keys);
    if (e) return e;
    *added += new_keys;
    i += applied;
  }
  return 0;
}

}  // namespace simfs::fs
