#include "fs/quorum/quorum_message_codec.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace simfs::fs {
namespace {

constexpr uint64_t kFsid = 0x1234;

TEST(QuorumMessageCodec, RoundTripsEveryType) {
  for (uint8_t t = 0; t <= static_cast<uint8_t>(QuorumMsgType::kResignation); ++t) {
    const QuorumMessage m{static_cast<QuorumMsgType>(t), 7, 2};
    const std::vector<uint8_t> b = encode_quorum_message(kFsid, m);
    EXPECT_EQ(b.size(), kQuorumMessageBytes);
    QuorumMessage out;
    EXPECT_EQ(decode_quorum_message(b, kFsid, 3, &out), "");
    EXPECT_EQ(out, m);
  }
}

TEST(QuorumMessageCodec, RefusesWhatNoMemberOfThisFilesystemSends) {
  const std::vector<uint8_t> good = encode_quorum_message(kFsid, {QuorumMsgType::kVote, 5, 1});
  QuorumMessage out;
  EXPECT_NE(decode_quorum_message(good, kFsid + 1, 3, &out).find("another filesystem"), std::string::npos);
  EXPECT_NE(decode_quorum_message(good, kFsid, 1, &out).find("from slot 1 of 1"), std::string::npos);
  std::vector<uint8_t> shorter(good.begin(), good.end() - 1);
  EXPECT_NE(decode_quorum_message(shorter, kFsid, 3, &out).find("length"), std::string::npos);
  std::vector<uint8_t> bad_type = good;
  bad_type[12] = 9;
  EXPECT_NE(decode_quorum_message(bad_type, kFsid, 3, &out).find("unknown type 9"), std::string::npos);
  const std::vector<uint8_t> term0 = encode_quorum_message(kFsid, {QuorumMsgType::kVote, 0, 1});
  EXPECT_EQ(decode_quorum_message(term0, kFsid, 3, &out), "term 0");
  std::vector<uint8_t> reserved = good;
  reserved.back() = 1;
  EXPECT_EQ(decode_quorum_message(reserved, kFsid, 3, &out), "reserved byte set");
}

// Any damage to a datagram is either refused or decodes to a message the encoder writes the same
// bytes for: nothing else gets through, and nothing reads past the input.
RC_GTEST_PROP(QuorumMessageCodecProp, DamagedDatagramsAreRefusedOrExact, ()) {
  const auto type = static_cast<QuorumMsgType>(*rc::gen::inRange<uint8_t>(0, 4));
  const QuorumMessage m{type, *rc::gen::inRange<uint64_t>(1, 1000), *rc::gen::inRange<uint32_t>(0, 5)};
  std::vector<uint8_t> b = encode_quorum_message(kFsid, m);
  const size_t at = *rc::gen::inRange<size_t>(0, b.size());
  const int how = *rc::gen::inRange(0, 3);
  if (how == 0) b[at] ^= static_cast<uint8_t>(*rc::gen::inRange(1, 256));
  else if (how == 1) b.resize(at);
  else b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), static_cast<uint8_t>(*rc::gen::inRange(0, 256)));
  QuorumMessage out;
  if (decode_quorum_message(b, kFsid, 5, &out).empty()) {
    RC_ASSERT(encode_quorum_message(kFsid, out) == b);
  }
}

}  // namespace
}  // namespace simfs::fs
