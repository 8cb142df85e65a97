#include "fs/forest/item_cache.h"

#include <algorithm>

#include "fs/base/assert.h"

namespace simfs::fs {

void ItemCache::populate(const Key& first, const Key& last, std::vector<Item> live) {
  drop(first, last);
  ranges_[first] = last;
  for (Item& it : live) {
    FS_ASSERT(first <= it.key && it.key <= last && !it.deletion);
    auto [e, inserted] = entries_.try_emplace(it.key);
    if (!inserted && e->second.dirty) continue;  // our own change is newer than the forest
    e->second.value = std::move(it.value);
    e->second.deleted = false;
    e->second.persistent = true;
  }
  // Dirty entries already in the range whose key the forest does not hold stay as they are.
}

void ItemCache::drop(const Key& first, const Key& last) {
  // Ranges are disjoint and sorted: the overlapping ones are a run starting at the last range
  // that begins at or before `first` (if it reaches it) or the first one after.
  auto r = ranges_.upper_bound(first);
  if (r != ranges_.begin() && std::prev(r)->second >= first) --r;
  while (r != ranges_.end() && r->first <= last) r = ranges_.erase(r);
  for (auto it = entries_.lower_bound(first); it != entries_.end() && it->first <= last;) {
    if (it->second.dirty) {
      ++it;  // only a planted bug drops a range it wrote into before committing
    } else {
      it = entries_.erase(it);
    }
  }
}

bool ItemCache::covered(const Key& first, const Key& last) const {
  auto r = ranges_.upper_bound(first);
  if (r == ranges_.begin()) return false;
  --r;
  return r->first <= first && last <= r->second;
}

sim::Errno ItemCache::get(const Key& key, std::vector<uint8_t>* value) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.deleted) return ENOENT;
  *value = it->second.value;
  return 0;
}

sim::Errno ItemCache::next(const Key& from, const Key& last, Item* out) const {
  for (auto it = entries_.lower_bound(from); it != entries_.end() && it->first <= last; ++it) {
    if (it->second.deleted) continue;
    *out = Item{it->first, 0, false, it->second.value};
    return 0;
  }
  return ENOENT;
}

void ItemCache::put(const Key& key, std::vector<uint8_t> value, uint64_t write_seq) {
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  // A key new to a cached range is not in the forest; a blind write cannot know.
  if (inserted) e.persistent = !covered(key);
  if (!e.dirty) dirty_keys_.insert(key);
  dirty_bytes_ += value.size() + kKeyBytes;
  ++mods_;
  e.value = std::move(value);
  e.deleted = false;
  e.dirty = true;
  e.write_seq = write_seq;
}

void ItemCache::del(const Key& key, uint64_t write_seq) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (covered(key)) return;  // not there
    it = entries_.try_emplace(key).first;
    it->second.persistent = true;  // blind: it may exist
  }
  Entry& e = it->second;
  if (!e.dirty) dirty_keys_.insert(key);
  dirty_bytes_ += kKeyBytes;
  ++mods_;
  e.value.clear();
  e.deleted = true;
  e.dirty = true;
  e.write_seq = write_seq;
}

bool ItemCache::dirty_in(const Key& first, const Key& last) const {
  auto it = dirty_keys_.lower_bound(first);
  return it != dirty_keys_.end() && *it <= last;
}

sim::Errno ItemCache::write_dirty(Btree& log, uint64_t trans_seq, uint64_t* added, uint64_t* max_seq,
                                  bool ignore_write_seq, const std::function<void(const Item&)>& on_write) const {
  *added = 0;
  std::vector<Item> items;
  items.reserve(dirty_keys_.size());
  for (const Key& key : dirty_keys_) {
    const Entry& e = entries_.at(key);
    if (e.deleted && !e.persistent) continue;  // nothing durable to hide
    const uint64_t seq = ignore_write_seq ? trans_seq : std::max(trans_seq, e.write_seq);  // BUG (planted) when ignored
    *max_seq = std::max(*max_seq, seq);
    items.push_back(Item{key, seq, e.deleted, e.deleted ? std::vector<uint8_t>{} : e.value});
    if (on_write) on_write(items.back());
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

void ItemCache::clear_dirty() {
  for (const Key& key : dirty_keys_) {
    auto it = entries_.find(key);
    Entry& e = it->second;
    e.dirty = false;
    // Deleted, or written blind outside what we may read: nothing to keep cached.
    if (e.deleted || !covered(key)) {
      entries_.erase(it);
      continue;
    }
    e.persistent = true;
  }
  dirty_keys_.clear();
  dirty_bytes_ = 0;
}

}  // namespace simfs::fs
