#include "fs/proto/wire.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/bytes.h"

namespace simfs::fs::proto {
namespace {

using Bytes = std::vector<uint8_t>;

uint64_t le(const Bytes& b, size_t off, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | b.at(off + static_cast<size_t>(i));
  return v;
}

// A header built byte by byte, independently of encode_message (which refuses invalid headers),
// followed by `follow` payload bytes.
Bytes raw(uint64_t seq, uint64_t recv_seq, uint64_t id, uint8_t cmd, uint8_t flags, uint8_t error, uint32_t data_len,
          size_t follow) {
  Bytes out;
  sim::ByteWriter w(out);
  w.u64(seq);
  w.u64(recv_seq);
  w.u64(id);
  w.u8(cmd);
  w.u8(flags);
  w.u8(error);
  w.u32(data_len);
  out.resize(out.size() + follow, 0xA5);
  return out;
}

// A valid request/response frame with `n` payload bytes, to change one field at a time.
Bytes raw_ok(uint32_t n) { return raw(5, 4, 3, static_cast<uint8_t>(Cmd::kLock), 0, 0, n, n); }

bool decodes(const Bytes& b, std::string* why = nullptr) {
  Header h;
  Bytes payload;
  std::string w;
  const bool ok = decode_message(b, &h, &payload, &w);
  if (why) *why = w;
  return ok;
}

// ---- layout ----

TEST(WireLayout, HeaderFieldsAtPinnedOffsets) {
  static_assert(kHeaderBytes == 31);
  Header h;
  h.seq = 0x0102030405060708ull;
  h.recv_seq = 0x1112131415161718ull;
  h.id = 0x2122232425262728ull;
  h.cmd = Cmd::kLockRecover;
  h.flags = kFlagResponse;
  h.error = WireError::kStale;
  h.data_len = 3;
  const Bytes payload = {0xE1, 0xE2, 0xE3};
  const Bytes b = encode_message(h, payload);
  ASSERT_EQ(b.size(), kHeaderBytes + 3);
  EXPECT_EQ(b[0], 0x08);  // little-endian: least significant byte first
  EXPECT_EQ(b[7], 0x01);
  EXPECT_EQ(le(b, 0, 8), h.seq);
  EXPECT_EQ(le(b, 8, 8), h.recv_seq);
  EXPECT_EQ(le(b, 16, 8), h.id);
  EXPECT_EQ(b[24], 9);  // kLockRecover
  EXPECT_EQ(b[25], kFlagResponse);
  EXPECT_EQ(b[26], 7);  // kStale
  EXPECT_EQ(le(b, 27, 4), 3u);
  EXPECT_EQ(Bytes(b.begin() + 31, b.end()), payload);
}

TEST(WireLayout, DataLenIsLittleEndian) {
  Header h;
  h.seq = 1;
  h.cmd = Cmd::kStatfs;
  h.data_len = 0x1234;
  const Bytes b = encode_message(h, Bytes(0x1234, 0));
  EXPECT_EQ(b[27], 0x34);
  EXPECT_EQ(b[28], 0x12);
  EXPECT_EQ(b[29], 0);
  EXPECT_EQ(b[30], 0);
}

TEST(WireLayout, CommandNumbersArePinned) {
  // The numbers are the wire format; renumbering breaks every peer of another build.
  EXPECT_EQ(static_cast<int>(Cmd::kGreeting), 1);
  EXPECT_EQ(static_cast<int>(Cmd::kAllocInodes), 2);
  EXPECT_EQ(static_cast<int>(Cmd::kGetLogTrees), 3);
  EXPECT_EQ(static_cast<int>(Cmd::kCommitLogTrees), 4);
  EXPECT_EQ(static_cast<int>(Cmd::kSyncLogTrees), 5);
  EXPECT_EQ(static_cast<int>(Cmd::kGetRoots), 6);
  EXPECT_EQ(static_cast<int>(Cmd::kGetLastSeq), 7);
  EXPECT_EQ(static_cast<int>(Cmd::kLock), 8);
  EXPECT_EQ(static_cast<int>(Cmd::kLockRecover), 9);
  EXPECT_EQ(static_cast<int>(Cmd::kStatfs), 10);
  EXPECT_EQ(static_cast<int>(Cmd::kFarewell), 11);
}

// ---- commands and errors ----

TEST(WireCmd, NamesAndValidity) {
  const char* names[] = {"greeting", "alloc_inodes", "get_log_trees", "commit_log_trees", "sync_log_trees", "get_roots",
                         "get_last_seq", "lock", "lock_recover", "statfs", "farewell", "get_log_merge", "commit_log_merge"};
  for (uint8_t c = kCmdFirst; c <= kCmdLast; ++c) {
    EXPECT_TRUE(cmd_valid(c));
    EXPECT_STREQ(cmd_name(static_cast<Cmd>(c)), names[c - kCmdFirst]);
  }
  EXPECT_FALSE(cmd_valid(0));
  EXPECT_FALSE(cmd_valid(kCmdLast + 1));
  EXPECT_FALSE(cmd_valid(255));
}

TEST(WireError, KnownErrnosMapBothWays) {
  const std::pair<sim::Errno, WireError> map[] = {
      {0, WireError::kNone},           {ENOENT, WireError::kNoEnt}, {ENOMEM, WireError::kNoMem},
      {EIO, WireError::kIo},           {ENOSPC, WireError::kNoSpc}, {EINVAL, WireError::kInval},
      {ENOLINK, WireError::kNoLink},   {ESTALE, WireError::kStale},
  };
  for (const auto& [e, w] : map) {
    EXPECT_EQ(to_wire(e), w) << e;
    EXPECT_EQ(from_wire(w), e) << static_cast<int>(w);
  }
}

TEST(WireError, UnknownErrnosTravelAsIo) {
  for (sim::Errno e : {EPERM, EAGAIN, EEXIST, ENOTDIR, EFBIG, EROFS, -1, 100000}) EXPECT_EQ(to_wire(e), WireError::kIo);
}

// ---- round trip ----

Header any_header() {
  using rc::gen::arbitrary;
  Header h;
  h.cmd = static_cast<Cmd>(*rc::gen::inRange<int>(kCmdFirst, kCmdLast + 1));
  h.seq = h.cmd == Cmd::kGreeting ? 0 : *arbitrary<uint64_t>();
  h.recv_seq = *arbitrary<uint64_t>();
  h.id = *arbitrary<uint64_t>();
  h.flags = *rc::gen::element<uint8_t>(0, kFlagResponse);
  if (h.response()) h.error = static_cast<WireError>(*rc::gen::inRange<int>(0, kWireErrorLast + 1));
  return h;
}

RC_GTEST_PROP(WireRoundTrip, DecodeInvertsEncode, ()) {
  Header h = any_header();
  // Mostly small payloads, sometimes up to the limit.
  const size_t n = *rc::gen::weightedOneOf<size_t>({{9, rc::gen::inRange<size_t>(0, 64)},
                                                     {1, rc::gen::inRange<size_t>(0, kDataMax + 1)}});
  const Bytes payload = *rc::gen::container<Bytes>(n, rc::gen::arbitrary<uint8_t>());
  h.data_len = static_cast<uint32_t>(n);
  const Bytes b = encode_message(h, payload);
  RC_ASSERT(b.size() == kHeaderBytes + n);
  Header d;
  Bytes p;
  std::string why;
  RC_ASSERT(decode_message(b, &d, &p, &why));
  RC_ASSERT(d == h);
  RC_ASSERT(p == payload);
}

TEST(WireRoundTrip, LargestPayloadIsAccepted) {
  EXPECT_TRUE(decodes(raw_ok(kDataMax)));
  EXPECT_TRUE(decodes(raw_ok(0)));
}

// ---- rejections, one rule each ----

TEST(WireReject, ShortHeader) {
  const Bytes full = raw_ok(0);
  for (size_t n = 0; n < kHeaderBytes; ++n) {
    std::string why;
    EXPECT_FALSE(decodes(Bytes(full.begin(), full.begin() + static_cast<long>(n)), &why)) << n;
    EXPECT_NE(why.find("short header"), std::string::npos) << why;
  }
}

TEST(WireReject, UnknownCommand) {
  for (uint8_t c : {uint8_t{0}, uint8_t{kCmdLast + 1}, uint8_t{0x80}, uint8_t{255}}) {
    std::string why;
    EXPECT_FALSE(decodes(raw(1, 0, 1, c, 0, 0, 0, 0), &why)) << int{c};
    EXPECT_NE(why.find("command"), std::string::npos) << why;
  }
}

TEST(WireReject, UnknownFlags) {
  for (uint8_t f : {uint8_t{2}, uint8_t{3}, uint8_t{0x80}, uint8_t{0xFF}}) {
    EXPECT_FALSE(decodes(raw(1, 0, 1, static_cast<uint8_t>(Cmd::kLock), f, 0, 0, 0))) << int{f};
  }
}

TEST(WireReject, UnknownError) {
  for (uint8_t e : {uint8_t{kWireErrorLast + 1}, uint8_t{255}}) {
    EXPECT_FALSE(decodes(raw(1, 0, 1, static_cast<uint8_t>(Cmd::kLock), kFlagResponse, e, 0, 0))) << int{e};
  }
  EXPECT_TRUE(decodes(raw(1, 0, 1, static_cast<uint8_t>(Cmd::kLock), kFlagResponse, kWireErrorLast, 0, 0)));
}

TEST(WireReject, ErrorOnARequest) {
  std::string why;
  EXPECT_FALSE(decodes(raw(1, 0, 1, static_cast<uint8_t>(Cmd::kLock), 0, 3, 0, 0), &why));
  EXPECT_NE(why.find("request"), std::string::npos) << why;
}

TEST(WireReject, DataLenOverTheMaximum) {
  // The bytes are really there: only the limit is broken.
  std::string why;
  EXPECT_FALSE(decodes(raw_ok(kDataMax + 1), &why));
  EXPECT_NE(why.find("maximum"), std::string::npos) << why;
  EXPECT_FALSE(decodes(raw(1, 0, 1, static_cast<uint8_t>(Cmd::kLock), 0, 0, UINT32_MAX, 4)));
}

TEST(WireReject, DataLenDisagreesWithTheBytesThatFollow) {
  const uint8_t lock = static_cast<uint8_t>(Cmd::kLock);
  for (uint32_t n : {0u, 1u, 40u}) {
    EXPECT_FALSE(decodes(raw(1, 0, 1, lock, 0, 0, n, n + 1))) << n;  // one byte too many
    EXPECT_FALSE(decodes(raw(1, 0, 1, lock, 0, 0, n + 1, n))) << n;  // one byte too few
    EXPECT_TRUE(decodes(raw(1, 0, 1, lock, 0, 0, n, n))) << n;
  }
}

TEST(WireReject, GreetingWithNonzeroSeq) {
  const uint8_t g = static_cast<uint8_t>(Cmd::kGreeting);
  EXPECT_TRUE(decodes(raw(0, 0, 1, g, 0, 0, 0, 0)));
  EXPECT_TRUE(decodes(raw(0, 9, 1, g, kFlagResponse, 0, 0, 0)));
  std::string why;
  EXPECT_FALSE(decodes(raw(1, 0, 1, g, 0, 0, 0, 0), &why));
  EXPECT_NE(why.find("greeting"), std::string::npos) << why;
  EXPECT_FALSE(decodes(raw(UINT64_MAX, 0, 1, g, kFlagResponse, 0, 0, 0)));
}

TEST(WireEncodeDeathTest, RefusesWhatDecodeWouldReject) {
  // Sending a header the peer must reject would break the connection far from the bug.
  Header h;
  h.cmd = Cmd::kLock;
  h.data_len = 1;
  EXPECT_DEATH(encode_message(h, Bytes{}), "FS_ASSERT");  // data_len disagrees with the payload
  h.data_len = 0;
  h.error = WireError::kIo;
  EXPECT_DEATH(encode_message(h, Bytes{}), "FS_ASSERT");  // an error on a request
  h = Header{};
  h.seq = 1;
  EXPECT_DEATH(encode_message(h, Bytes{}), "FS_ASSERT");  // a greeting with a seq
}

TEST(WireReject, FailureLeavesTheOutputsAlone) {
  Header h;
  h.id = 77;
  Bytes payload = {1, 2};
  std::string why;
  EXPECT_FALSE(decode_message(raw(1, 0, 1, 0, 0, 0, 0, 0), &h, &payload, &why));
  EXPECT_EQ(h.id, 77u);
  EXPECT_EQ(payload, (Bytes{1, 2}));
  EXPECT_FALSE(why.empty());
}

}  // namespace
}  // namespace simfs::fs::proto
