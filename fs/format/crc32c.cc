#include "fs/format/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace simfs::fs {
namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

// Slicing-by-8: kTables[k][b] is the CRC of byte b followed by k zero bytes, so eight input
// bytes are folded with eight lookups and no per-byte dependency chain. Built at compile time,
// so there is no initialisation order or first-use race to think about.
using Tables = std::array<std::array<uint32_t, 256>, 8>;
constexpr Tables make_tables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ kPolyReflected : (c >> 1);
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (size_t k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFFu];
  return t;
}

constexpr Tables kTables = make_tables();

}  // namespace

uint32_t crc32c_extend_portable(uint32_t crc, std::span<const uint8_t> data) {
  // The pre/post inversion is part of CRC-32C; undoing it on entry is what makes extend compose.
  uint32_t c = ~crc;
  const uint8_t* p = data.data();
  size_t n = data.size();
  // Bytes are assembled explicitly (little-endian), so the result never depends on the host.
  while (n >= 8) {
    const uint32_t lo = c ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24);
    c = kTables[7][lo & 0xFFu] ^ kTables[6][(lo >> 8) & 0xFFu] ^ kTables[5][(lo >> 16) & 0xFFu] ^
        kTables[4][lo >> 24] ^ kTables[3][p[4]] ^ kTables[2][p[5]] ^ kTables[1][p[6]] ^ kTables[0][p[7]];
    p += 8;
    n -= 8;
  }
  for (; n > 0; --n, ++p) c = kTables[0][(c ^ *p) & 0xFFu] ^ (c >> 8);
  return ~c;
}

#if defined(__x86_64__)
namespace {

// The SSE4.2 crc32 instruction computes exactly CRC-32C (same polynomial, reflected), eight
// bytes per instruction.
__attribute__((target("sse4.2"))) uint32_t crc32c_extend_sse42(uint32_t crc, std::span<const uint8_t> data) {
  uint64_t c = ~crc;
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);  // x86 is little-endian: the same byte order as the table code
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return ~c32;
}

const bool kHardware = __builtin_cpu_supports("sse4.2");

}  // namespace

bool crc32c_hardware() { return kHardware; }

uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data) {
  return kHardware ? crc32c_extend_sse42(crc, data) : crc32c_extend_portable(crc, data);
}
#else
bool crc32c_hardware() { return false; }

uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data) { return crc32c_extend_portable(crc, data); }
#endif

}  // namespace simfs::fs
