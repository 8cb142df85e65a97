#include "fs/forest/forest.h"

#include <map>

namespace simfs::fs {

sim::Errno Forest::lookup(const Key& key, Item* out) {
  bool found = false;
  Item it;
  for (Btree* t : trees_) {
    sim::Errno e = t->lookup(key, &it);
    if (e == ENOENT) continue;
    if (e) return e;
    if (!found || it.seq > out->seq) {
      *out = std::move(it);
      found = true;
    }
  }
  if (!found || out->deletion) return ENOENT;
  return 0;
}

sim::Errno Forest::next(const Key& from, const Key& last, Item* out) {
  Key pos = from;
  Item it;
  for (;;) {
    if (pos > last) return ENOENT;
    // The smallest key at or after pos in any tree, and its highest-seq version.
    bool found = false;
    for (Btree* t : trees_) {
      sim::Errno e = t->next(pos, &it);
      if (e == ENOENT) continue;
      if (e) return e;
      if (it.key > last) continue;
      if (!found || it.key < out->key || (it.key == out->key && it.seq > out->seq)) {
        *out = std::move(it);
        found = true;
      }
    }
    if (!found) return ENOENT;
    if (!out->deletion) return 0;
    if (out->key == Key::max()) return ENOENT;
    pos = key_successor(out->key);  // deleted: look past it
  }
}

sim::Errno Forest::read_range(const Key& first, const Key& last, std::vector<Item>* out) {
  // Per key the highest seq wins; equal seqs name the same write, so either copy serves.
  std::map<Key, Item> best;
  for (Btree* t : trees_) {
    sim::Errno e = t->for_each(first, last, [&](const Item& it) {
      auto [b, inserted] = best.try_emplace(it.key, it);
      if (!inserted && it.seq > b->second.seq) b->second = it;
      return true;
    });
    if (e) return e;
  }
  for (auto& [k, it] : best)
    if (!it.deletion) out->push_back(std::move(it));
  return 0;
}

}  // namespace simfs::fs
