#include "fs/format/crc32c.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

namespace simfs::fs {
namespace {

using Bytes = std::vector<uint8_t>;

TEST(Crc32c, CheckValue) {
  // The "check" value of the CRC-32C catalogue entry.
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
}

TEST(Crc32c, EmptyInputIsZero) { EXPECT_EQ(crc32c(Bytes{}), 0u); }

// RFC 3720 (iSCSI), appendix B.4.
TEST(Crc32c, Rfc3720Vectors) {
  Bytes zeros(32, 0x00), ones(32, 0xFF), up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
    down[static_cast<size_t>(i)] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(crc32c(up), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down), 0x113FDB5Cu);
}

// Not the plain CRC-32 (IEEE) polynomial: that would give 0xCBF43926 for the check string.
TEST(Crc32c, IsNotIeeeCrc32) { EXPECT_NE(crc32c("123456789"), 0xCBF43926u); }

RC_GTEST_PROP(Crc32c, ExtendComposes, (const Bytes& a, const Bytes& b)) {
  Bytes ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  RC_ASSERT(crc32c_extend(crc32c(a), b) == crc32c(ab));
}

// The instruction path (when this host has it) and the table path give the same value, at
// every length and alignment and when extending.
RC_GTEST_PROP(Crc32c, HardwareAndPortableAgree, (const Bytes& data, uint32_t seed)) {
  const size_t skip = data.empty() ? 0 : *rc::gen::inRange<size_t>(0, data.size());
  std::span<const uint8_t> tail(data.data() + skip, data.size() - skip);
  RC_ASSERT(crc32c_extend(seed, tail) == crc32c_extend_portable(seed, tail));
  RC_ASSERT(crc32c(data) == crc32c_extend_portable(0, data));
}

TEST(Crc32c, PortableKnownAnswers) {
  const std::string_view check = "123456789";
  EXPECT_EQ(crc32c_extend_portable(0, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(check.data()), check.size())),
            0xE3069283u);
  Bytes block(4096);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<uint8_t>(i * 131 + 7);
  EXPECT_EQ(crc32c(block), crc32c_extend_portable(0, block));
  std::printf("crc32c uses the %s implementation on this host\n", crc32c_hardware() ? "SSE4.2" : "portable");
}

RC_GTEST_PROP(Crc32c, DetectsEverySingleBitFlip, (const Bytes& data)) {
  RC_PRE(!data.empty());
  size_t bit = *rc::gen::inRange<size_t>(0, data.size() * 8);
  Bytes flipped = data;
  flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  RC_ASSERT(crc32c(flipped) != crc32c(data));
}

}  // namespace
}  // namespace simfs::fs
