#include "fs/key.h"

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

std::string key_string(const Key& k) {
  return std::to_string(k.zone) + "." + std::to_string(k.ino) + "." + std::to_string(k.type) + "." +
         std::to_string(k.first) + "." + std::to_string(k.second);
}

}  // namespace simfs::fs
