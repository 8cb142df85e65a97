#include "fs/crc32c.h"

#include <array>

namespace simfs::fs {
namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

// Built at compile time, so there is no initialisation order or first-use race to think about.
constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ kPolyReflected : (c >> 1);
    t[i] = c;
  }
  return t;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

}  // namespace

uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data) {
  // The pre/post inversion is part of CRC-32C; undoing it on entry is what makes extend compose.
  uint32_t c = ~crc;
  for (uint8_t b : data) c = kTable[(c ^ b) & 0xFFu] ^ (c >> 8);
  return ~c;
}

}  // namespace simfs::fs
