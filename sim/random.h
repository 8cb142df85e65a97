// Random: the one pseudo-random generator of the simulation.
//
// splitmix64 turns a seed into state; xoshiro256** generates. Range reduction, chance, shuffle
// and pick are our own code, so the sequence a seed produces is fixed by this file alone and not
// by the standard library (whose distributions differ between implementations and versions).
//
// Thread safety: none needed; the simulation is single-threaded.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace sim {

// One step of splitmix64: advances `state` and returns the mixed output.
inline uint64_t splitmix64_next(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The splitmix64 output at position `index` (0-based) of the sequence seeded by `seed`.
// Random access: campaign run k's seed is splitmix64_at(campaign_seed, k).
inline uint64_t splitmix64_at(uint64_t seed, uint64_t index) {
  uint64_t state = seed + index * 0x9E3779B97F4A7C15ull;
  return splitmix64_next(state);
}

// 64-bit FNV-1a of a string: stable across builds and hosts (unlike std::hash).
constexpr uint64_t fnv1a64(std::string_view s, uint64_t h = 0xcbf29ce484222325ull) {
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

class Random {
 public:
  explicit Random(uint64_t seed = 0) { reseed(seed); }

  // Seed for an independent stream named `name` (network, disk, ...), derived from the run seed
  // so that adding draws to one subsystem does not shift another's choices.
  static uint64_t stream_seed(uint64_t run_seed, std::string_view name) {
    uint64_t state = run_seed ^ fnv1a64(name);
    return splitmix64_next(state);
  }

  void reseed(uint64_t seed) {
    uint64_t sm = seed;
    for (auto& w : s_) w = splitmix64_next(sm);
  }

  // xoshiro256**: the next raw 64-bit value.
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n), unbiased (Lemire's multiply-shift with rejection). n == 0 returns 0.
  uint64_t uniform(uint64_t n) {
    if (n == 0) return 0;
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform in [lo, hi] inclusive. Requires lo <= hi.
  int64_t range(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    if (span == UINT64_MAX) return static_cast<int64_t>(next());
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + uniform(span + 1));
  }

  // True with probability num/den. den == 0 or num == 0 is never; num >= den is always.
  bool chance(uint64_t num, uint64_t den) {
    if (num == 0 || den == 0) return false;
    if (num >= den) return true;
    return uniform(den) < num;
  }

  // Fisher-Yates, from the back.
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) {
      size_t j = uniform(i);
      using std::swap;
      swap(v[i - 1], v[j]);
    }
  }

  // A uniformly chosen element. Requires !v.empty().
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[uniform(v.size())]; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace sim
