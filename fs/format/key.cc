#include "fs/format/key.h"

#include "fs/base/assert.h"

namespace simfs::fs {

void encode_key(sim::ByteWriter& w, const Key& k) {
  w.u8(k.zone);
  w.u64(k.ino);
  w.u8(k.type);
  w.u64(k.first);
  w.u64(k.second);
}

Key decode_key(sim::ByteReader& r) {
  Key k;
  k.zone = r.u8();
  k.ino = r.u64();
  k.type = r.u8();
  k.first = r.u64();
  k.second = r.u64();
  return k;
}

Key key_successor(const Key& k) {
  FS_ASSERT(k != Key::max());
  // Increment the tuple as one number, least significant field last; each field wraps to zero
  // when it carries into the one before it.
  Key n = k;
  if (++n.second != 0) return n;
  if (++n.first != 0) return n;
  if (++n.type != 0) return n;
  if (++n.ino != 0) return n;
  ++n.zone;
  return n;
}

std::string key_string(const Key& k) {
  return std::to_string(k.zone) + "." + std::to_string(k.ino) + "." + std::to_string(k.type) + "." +
         std::to_string(k.first) + "." + std::to_string(k.second);
}

}  // namespace simfs::fs
