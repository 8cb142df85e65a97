#include "fs/format/lock_bloom.h"

namespace simfs::fs {

namespace {

// splitmix64's finalizer: every input bit reaches every output bit, so the three 9-bit slices
// taken below are independent enough for a filter this small.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t key_hash(const Key& k) {
  uint64_t h = mix((static_cast<uint64_t>(k.zone) << 8) | k.type);
  h = mix(h ^ k.ino);
  h = mix(h ^ k.first);
  return mix(h ^ k.second);
}

template <typename F>
void for_each_bit(const Key& lock, F f) {
  const uint64_t h = key_hash(lock);
  for (size_t i = 0; i < kLockBloomHashes; ++i) f((h >> (i * 16)) % kLockBloomBits);
}

}  // namespace

void LockBloom::add(const Key& lock) {
  for_each_bit(lock, [&](uint64_t bit) { words[bit / 64] |= uint64_t{1} << (bit % 64); });
}

bool LockBloom::may_contain(const Key& lock) const {
  bool all = true;
  for_each_bit(lock, [&](uint64_t bit) { all = all && (words[bit / 64] >> (bit % 64)) & 1; });
  return all;
}

void LockBloom::merge_from(const LockBloom& o) {
  for (size_t i = 0; i < words.size(); ++i) words[i] |= o.words[i];
}

bool LockBloom::empty() const {
  for (uint64_t w : words)
    if (w) return false;
  return true;
}

void encode_lock_bloom(sim::ByteWriter& w, const LockBloom& b) {
  for (uint64_t word : b.words) w.u64(word);
}

LockBloom decode_lock_bloom(sim::ByteReader& r) {
  LockBloom b;
  for (uint64_t& word : b.words) word = r.u64();
  return b;
}

}  // namespace simfs::fs
