#include "fs/forest/forest.h"

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

}  // namespace simfs::fs
