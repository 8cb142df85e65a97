// CRC32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of every metadata block.
//
// Contract: crc32c(data) is the standard CRC-32C (initial value ~0, final xor ~0), so known
// answers from RFC 3720 and other implementations hold. crc32c_extend(crc32c(a), b) equals
// crc32c(a ++ b), which lets a caller checksum a block in pieces without copying it.
//
// Software table implementation (slicing-by-8): it needs no host CPU features, so every build
// computes the same value, and it keeps checksums a small part of a commit.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace simfs::fs {

// Continues a checksum: `crc` is a previous result (0 for none), `data` the bytes that follow.
uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data);

inline uint32_t crc32c(std::span<const uint8_t> data) { return crc32c_extend(0, data); }

inline uint32_t crc32c(std::string_view s) {
  return crc32c(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

}  // namespace simfs::fs
