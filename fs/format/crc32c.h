// CRC32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of every metadata block.
//
// Contract: crc32c(data) is the standard CRC-32C (initial value ~0, final xor ~0), so known
// answers from RFC 3720 and other implementations hold. crc32c_extend(crc32c(a), b) equals
// crc32c(a ++ b), which lets a caller checksum a block in pieces without copying it.
//
// Two implementations with the same result: the CPU's crc32 instruction where the host has it
// (x86-64 SSE4.2, chosen once at run time), else a portable table (slicing-by-8). Only the speed
// depends on the host; the value never does, and a test checks that the two agree.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace simfs::fs {

// Continues a checksum: `crc` is a previous result (0 for none), `data` the bytes that follow.
uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data);

// The portable implementation, always: for tests and hosts without the instruction.
uint32_t crc32c_extend_portable(uint32_t crc, std::span<const uint8_t> data);
// Whether crc32c_extend uses the CPU's instruction on this host.
bool crc32c_hardware();

inline uint32_t crc32c(std::span<const uint8_t> data) { return crc32c_extend(0, data); }

inline uint32_t crc32c(std::string_view s) {
  return crc32c(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

}  // namespace simfs::fs
