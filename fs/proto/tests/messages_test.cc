#include "fs/proto/messages.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "fs/format/btree_block.h"
#include "fs/proto/wire.h"
#include "sim/bytes.h"

namespace simfs::fs::proto {
namespace {

// ---- generators of valid messages (call inside a property) ----

uint64_t any_u64() { return *rc::gen::arbitrary<uint64_t>(); }

Key any_key() {
  using rc::gen::arbitrary;
  return Key{*arbitrary<uint8_t>(), any_u64(), *arbitrary<uint8_t>(), any_u64(), any_u64()};
}

LockMode any_mode() { return static_cast<LockMode>(*rc::gen::inRange<int>(0, 4)); }

// A sane root: empty (no block, any seq) or a block with a height in 1..kBtreeHeightMax.
BtreeRoot any_root() {
  BtreeRoot r;
  r.height = *rc::gen::inRange<int>(0, kBtreeHeightMax + 1);
  r.ref.blkno = r.height == 0 ? 0 : *rc::gen::inRange<uint64_t>(1, UINT64_MAX);
  r.ref.seq = any_u64();
  return r;
}

// A consistent list head: no block and nothing in it, or a block and a first block that is
// part of the total.
AllocListHead any_list_head() {
  AllocListHead h;
  h.ref.seq = any_u64();
  if (*rc::gen::arbitrary<bool>()) {
    h.ref.blkno = *rc::gen::inRange<uint64_t>(1, UINT64_MAX);
    h.first_nr = *rc::gen::inRange<uint32_t>(1, UINT32_MAX);
    h.total_nr = *rc::gen::inRange<uint64_t>(h.first_nr, UINT64_MAX);
  }
  return h;
}

// What decode_log_tree (fs/format/items.cc) accepts; the codec here only carries the record.
LogTreeValue any_log_tree() {
  LogTreeValue v;
  v.root = any_root();
  v.item_count = v.root.height == 0 ? 0 : *rc::gen::inRange<uint64_t>(1, UINT64_MAX);
  v.max_seq = any_u64();
  v.finalized = *rc::gen::arbitrary<bool>();
  v.merge_next = any_key();
  v.meta_avail = any_list_head();
  v.meta_freed = any_list_head();
  v.data_avail = {any_root(), any_u64()};
  v.data_freed = {any_root(), any_u64()};
  v.get_trans_seq = any_u64();
  v.commit_trans_seq = *rc::gen::inRange<uint64_t>(0, v.get_trans_seq == UINT64_MAX ? UINT64_MAX : v.get_trans_seq + 1);
  v.finalize_seq = v.finalized ? *rc::gen::inRange<uint64_t>(1, UINT64_MAX) : 0;
  v.first_seq = any_u64();
  v.inode_delta = *rc::gen::arbitrary<int64_t>();
  return v;
}

Greeting any_greeting() {
  return Greeting{any_u64(), any_u64(), any_u64(), any_u64(), any_u64() & kGreetFlagsKnown};
}
AllocInodesRequest any_alloc_request() { return {*rc::gen::inRange<uint64_t>(1, kAllocInodesMax + 1)}; }
AllocInodesResponse any_alloc_response() {
  const uint64_t count = *rc::gen::inRange<uint64_t>(0, kAllocInodesMax + 1);
  return {std::min(any_u64(), UINT64_MAX - count), count};
}
LogTrees any_log_trees() { return {any_u64(), any_u64(), any_log_tree()}; }
Roots any_roots() { return {any_root(), any_root(), any_u64()}; }
LastSeq any_last_seq() { return {any_u64()}; }
LockMessage any_lock() { return {any_key(), any_mode(), any_mode(), any_u64()}; }
LockRecoverRequest any_recover_request() { return {any_key()}; }
LockRecoverResponse any_recover_response() {
  LockRecoverResponse m;
  const size_t n = *rc::gen::inRange<size_t>(0, kLockRecoverBatchMax + 1);
  std::vector<Key> keys;
  for (size_t i = 0; i < n; ++i) keys.push_back(any_key());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (const Key& k : keys) m.entries.push_back({k, any_mode(), any_u64()});
  m.done = *rc::gen::arbitrary<bool>();
  return m;
}
Statfs any_statfs() { return {any_u64(), any_u64(), any_u64(), any_u64(), any_u64(), any_u64()}; }
LogMergeGet any_merge_get() { return {any_u64()}; }
std::vector<uint64_t> any_blocks() {
  const size_t n = *rc::gen::inRange<size_t>(0, kLogMergeBlocksMax + 1);
  std::vector<uint64_t> v;
  for (size_t i = 0; i < n; ++i) v.push_back(any_u64());
  return v;
}
LogMergeRequest any_merge_request() {
  LogMergeRequest m;
  m.id = any_u64();
  m.input_seq = *rc::gen::inRange<uint64_t>(1, UINT64_MAX);
  m.start = any_key();
  m.end = any_key();
  if (m.end < m.start) std::swap(m.start, m.end);
  m.subtree = any_root();
  m.level = m.subtree.height >= 2 && *rc::gen::arbitrary<bool>() ? static_cast<uint8_t>(m.subtree.height - 1) : 0;
  const size_t n = *rc::gen::inRange<size_t>(0, kLogMergeInputsMax + 1);
  for (size_t i = 0; i < n; ++i) {
    BtreeRoot r = any_root();
    if (r.height == 0) r = BtreeRoot{BlockRef{1, r.ref.seq}, 1};
    m.inputs.push_back(r);
  }
  m.avail = any_blocks();
  return m;
}
LogMergeCompletion any_merge_completion() {
  LogMergeCompletion m;
  m.id = any_u64();
  if (*rc::gen::arbitrary<bool>()) {
    m.flags = kLogMergeFailed;
    m.error = static_cast<uint8_t>(*rc::gen::inRange<int>(1, kWireErrorLast + 1));
    m.remaining = any_key();
    return m;
  }
  const int kind = *rc::gen::inRange<int>(0, 3);
  m.flags = kind == 0 ? 0 : kind == 1 ? kLogMergePartial : (kLogMergePartial | kLogMergeHeightStop);
  m.remaining = any_key();
  m.root = any_root();
  m.merged = *rc::gen::arbitrary<uint32_t>();
  m.used = any_blocks();
  m.freed = any_blocks();
  return m;
}

// ---- round trips ----

// decode(encode(m)) == m, and the decoder rejects every truncation and every extension.
template <typename T>
void check_round_trip(const T& m) {
  const Bytes b = encode(m);
  T d;
  RC_ASSERT(decode(b, &d));
  RC_ASSERT(d == m);
  const size_t cut = *rc::gen::inRange<size_t>(0, b.size());
  RC_ASSERT(!decode(std::span(b).first(cut), &d));
  Bytes longer = b;
  longer.push_back(*rc::gen::arbitrary<uint8_t>());
  RC_ASSERT(!decode(longer, &d));
}

RC_GTEST_PROP(MessagesRoundTrip, Greeting, ()) { check_round_trip(any_greeting()); }
RC_GTEST_PROP(MessagesRoundTrip, AllocInodesRequest, ()) { check_round_trip(any_alloc_request()); }
RC_GTEST_PROP(MessagesRoundTrip, AllocInodesResponse, ()) { check_round_trip(any_alloc_response()); }
RC_GTEST_PROP(MessagesRoundTrip, LogTrees, ()) { check_round_trip(any_log_trees()); }
RC_GTEST_PROP(MessagesRoundTrip, Roots, ()) { check_round_trip(any_roots()); }
RC_GTEST_PROP(MessagesRoundTrip, LastSeq, ()) { check_round_trip(any_last_seq()); }
RC_GTEST_PROP(MessagesRoundTrip, LockMessage, ()) { check_round_trip(any_lock()); }
RC_GTEST_PROP(MessagesRoundTrip, LockRecoverRequest, ()) { check_round_trip(any_recover_request()); }
RC_GTEST_PROP(MessagesRoundTrip, LockRecoverResponse, ()) { check_round_trip(any_recover_response()); }
RC_GTEST_PROP(MessagesRoundTrip, Statfs, ()) { check_round_trip(any_statfs()); }
RC_GTEST_PROP(MessagesRoundTrip, LogMergeGet, ()) { check_round_trip(any_merge_get()); }
RC_GTEST_PROP(MessagesRoundTrip, LogMergeRequest, ()) { check_round_trip(any_merge_request()); }
RC_GTEST_PROP(MessagesRoundTrip, LogMergeCompletion, ()) { check_round_trip(any_merge_completion()); }

// The codecs refuse what no correct peer sends: a count past its bound (before sizing
// anything), an empty input tree, a failed result that claims blocks, unknown flags.
TEST(MessagesLogMerge, RefusesWhatNoPeerSends) {
  LogMergeRequest rq;
  rq.input_seq = 5;
  rq.inputs = {BtreeRoot{BlockRef{7, 1}, 1}};
  rq.avail = {10, 11};
  Bytes b = encode(rq);
  LogMergeRequest drq;
  ASSERT_TRUE(decode(b, &drq));
  Bytes bad = b;
  const size_t inputs_count_at = 2 * 8 + 2 * kKeyBytes + kBtreeRootBytes + 1;
  bad[inputs_count_at + 3] = 0x7f;  // a huge count
  EXPECT_FALSE(decode(bad, &drq));
  bad = b;
  bad[inputs_count_at + 4 + kBlockRefBytes] = 0;  // input height 0: an empty tree is no input
  EXPECT_FALSE(decode(bad, &drq));

  LogMergeCompletion c;
  c.flags = kLogMergeFailed;
  c.error = static_cast<uint8_t>(WireError::kIo);
  LogMergeCompletion dc;
  ASSERT_TRUE(decode(encode(c), &dc));
  Bytes cb = encode(c);
  cb[8] = 0x80;  // unknown flag
  EXPECT_FALSE(decode(cb, &dc));
  cb = encode(c);
  cb[9] = 0;  // failed with no error
  EXPECT_FALSE(decode(cb, &dc));
  Bytes hb;  // a height stop that is not partial
  {
    sim::ByteWriter w(hb);
    w.u64(0);
    w.u8(kLogMergeHeightStop);
    w.u8(0);
    encode_key(w, Key{});
    encode_btree_root(w, BtreeRoot{});
    w.u32(0);
    w.u32(0);
    w.u32(0);
  }
  EXPECT_FALSE(decode(hb, &dc));
}

TEST(MessagesRoundTrip, Empty) {
  EXPECT_TRUE(decode_empty({}));
  const Bytes one = {0};
  EXPECT_FALSE(decode_empty(one));
}

TEST(MessagesRoundTrip, BoundaryValuesAreAccepted) {
  AllocInodesRequest req;
  for (uint64_t c : {uint64_t{1}, kAllocInodesMax}) EXPECT_TRUE(decode(encode(AllocInodesRequest{c}), &req)) << c;
  AllocInodesResponse resp;
  EXPECT_TRUE(decode(encode(AllocInodesResponse{UINT64_MAX - kAllocInodesMax, kAllocInodesMax}), &resp));
  EXPECT_TRUE(decode(encode(AllocInodesResponse{UINT64_MAX, 0}), &resp));
  Roots roots;
  EXPECT_TRUE(decode(encode(Roots{{{1, 2}, kBtreeHeightMax}, {{0, 9}, 0}, 3}), &roots));
  LockRecoverResponse full;
  for (uint64_t i = 0; i < kLockRecoverBatchMax; ++i) full.entries.push_back({Key{0, i}, LockMode::kWriteOnly, i});
  LockRecoverResponse d;
  EXPECT_TRUE(decode(encode(full), &d));
  EXPECT_EQ(d, full);
}

// ---- layout: where the fields are (the rejection tests below patch bytes at these offsets) ----

constexpr size_t kGreetingFlagsAt = 32;
constexpr size_t kLockOldModeAt = kKeyBytes;
constexpr size_t kLockNewModeAt = kKeyBytes + 1;
constexpr size_t kRecoverDoneAt = 0;
constexpr size_t kRecoverCountAt = 1;
constexpr size_t kRecoverEntriesAt = 5;
constexpr size_t kRecoverEntryBytes = kKeyBytes + 1 + 8;

void put_le(Bytes& b, size_t at, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.at(at + static_cast<size_t>(i)) = static_cast<uint8_t>(v >> (8 * i));
}

TEST(MessagesLayout, FixedSizes) {
  EXPECT_EQ(encode(Greeting{}).size(), 40u);
  EXPECT_EQ(encode(AllocInodesRequest{1}).size(), 8u);
  EXPECT_EQ(encode(AllocInodesResponse{}).size(), 16u);
  EXPECT_EQ(encode(LogTrees{}).size(), 16 + encode_log_tree(LogTreeValue{}).size());
  EXPECT_EQ(encode(Roots{}).size(), 2 * kBtreeRootBytes + 8);
  EXPECT_EQ(encode(LastSeq{}).size(), 8u);
  EXPECT_EQ(encode(LockMessage{}).size(), kKeyBytes + 2 + 8);
  EXPECT_EQ(encode(LockRecoverRequest{}).size(), kKeyBytes);
  EXPECT_EQ(encode(LockRecoverResponse{}).size(), kRecoverEntriesAt);
  EXPECT_EQ(encode(Statfs{}).size(), 48u);
}

TEST(MessagesLayout, FieldOffsets) {
  const Bytes g = encode(Greeting{1, 2, 3, 4, kGreetVoter});
  EXPECT_EQ(g[0], 1);
  EXPECT_EQ(g[24], 4);
  EXPECT_EQ(g[kGreetingFlagsAt], kGreetVoter);
  const Bytes l = encode(LockMessage{Key{7, 8, 9, 10, 11}, LockMode::kRead, LockMode::kWriteOnly, 0x55});
  EXPECT_EQ(l[0], 7);                                // key.zone
  EXPECT_EQ(l[kLockOldModeAt], 1);                   // kRead
  EXPECT_EQ(l[kLockNewModeAt], 3);                   // kWriteOnly
  EXPECT_EQ(l[kLockNewModeAt + 1], 0x55);            // write_seq
  LockRecoverResponse r;
  r.done = true;
  r.entries = {{Key{1}, LockMode::kWrite, 6}, {Key{2}, LockMode::kRead, 7}};
  const Bytes rb = encode(r);
  ASSERT_EQ(rb.size(), kRecoverEntriesAt + 2 * kRecoverEntryBytes);
  EXPECT_EQ(rb[kRecoverDoneAt], 1);
  EXPECT_EQ(rb[kRecoverCountAt], 2);
  EXPECT_EQ(rb[kRecoverEntriesAt], 1);                         // first key's zone
  EXPECT_EQ(rb[kRecoverEntriesAt + kKeyBytes], 2);             // first mode: kWrite
  EXPECT_EQ(rb[kRecoverEntriesAt + kRecoverEntryBytes], 2);    // second key's zone
}

// ---- rejections, one rule each ----

template <typename T>
bool decodes_as(const Bytes& b) {
  T m;
  return decode(b, &m);
}

TEST(MessagesReject, GreetingUnknownFlags) {
  for (int bit = 0; bit < 64; ++bit) {
    const uint64_t f = uint64_t{1} << bit;
    Bytes b = encode(Greeting{});
    put_le(b, kGreetingFlagsAt, f, 8);
    EXPECT_EQ(decodes_as<Greeting>(b), (f & kGreetFlagsKnown) != 0) << bit;
  }
}

TEST(MessagesReject, AllocInodesRequestCountOutOfRange) {
  for (uint64_t c : {uint64_t{0}, kAllocInodesMax + 1, UINT64_MAX}) {
    Bytes b = encode(AllocInodesRequest{1});
    put_le(b, 0, c, 8);
    EXPECT_FALSE(decodes_as<AllocInodesRequest>(b)) << c;
  }
}

TEST(MessagesReject, AllocInodesResponseCountOverMax) {
  Bytes b = encode(AllocInodesResponse{});
  put_le(b, 8, kAllocInodesMax + 1, 8);
  EXPECT_FALSE(decodes_as<AllocInodesResponse>(b));
}

TEST(MessagesReject, AllocInodesResponseOverflows) {
  Bytes b = encode(AllocInodesResponse{});
  put_le(b, 0, UINT64_MAX - 9, 8);  // first + 10 is 2^64
  put_le(b, 8, 10, 8);
  EXPECT_FALSE(decodes_as<AllocInodesResponse>(b));
  put_le(b, 8, 9, 8);  // ends exactly at UINT64_MAX
  EXPECT_TRUE(decodes_as<AllocInodesResponse>(b));
}

TEST(MessagesReject, RootsInsane) {
  const BtreeRoot bad[] = {
      {{5, 1}, kBtreeHeightMax + 1},  // too tall
      {{5, 1}, 255},
      {{0, 1}, 1},  // a height without a block
      {{5, 1}, 0},  // a block without a height
  };
  const BtreeRoot good{{5, 1}, 2};
  for (const BtreeRoot& r : bad) {
    for (int which = 0; which < 2; ++which) {
      // Encode by hand: encode() refuses insane roots.
      Bytes b;
      sim::ByteWriter w(b);
      encode_btree_root(w, which == 0 ? r : good);
      encode_btree_root(w, which == 1 ? r : good);
      w.u64(1);
      EXPECT_FALSE(decodes_as<Roots>(b)) << which << " height " << int{r.height};
    }
  }
}

TEST(MessagesReject, LogTreesBadRecordOrLength) {
  const Bytes good = encode(LogTrees{1, 2, {}});
  ASSERT_TRUE(decodes_as<LogTrees>(good));
  for (size_t n : {size_t{0}, size_t{8}, size_t{15}, size_t{16}, good.size() - 1}) {
    EXPECT_FALSE(decodes_as<LogTrees>(Bytes(good.begin(), good.begin() + static_cast<long>(n)))) << n;
  }
  Bytes longer = good;
  longer.push_back(0);
  EXPECT_FALSE(decodes_as<LogTrees>(longer));
  // A record its own decoder refuses: a height without a block.
  Bytes bad = good;
  bad[16 + kBlockRefBytes] = 1;
  EXPECT_FALSE(decodes_as<LogTrees>(bad));
}

TEST(MessagesReject, LockInvalidModes) {
  for (size_t at : {kLockOldModeAt, kLockNewModeAt}) {
    for (int v : {4, 5, 0x80, 0xFF}) {
      Bytes b = encode(LockMessage{});
      b[at] = static_cast<uint8_t>(v);
      EXPECT_FALSE(decodes_as<LockMessage>(b)) << at << " " << v;
    }
  }
}

TEST(MessagesReject, LockKeysAreNotJudged) {
  // Whether a key names a lock is the lock layer's question; the codec takes any key.
  for (const Key& k : {Key::min(), Key::max(), Key{0xEE, 1, 0xEE, 2, 3}}) {
    LockMessage m;
    EXPECT_TRUE(decode(encode(LockMessage{k, LockMode::kWrite, LockMode::kNull, 1}), &m));
    EXPECT_EQ(m.key, k);
    LockRecoverRequest r;
    EXPECT_TRUE(decode(encode(LockRecoverRequest{k}), &r));
    EXPECT_EQ(r.start, k);
  }
}

LockRecoverResponse two_entries() {
  LockRecoverResponse r;
  r.entries = {{Key{1, 1}, LockMode::kRead, 1}, {Key{1, 2}, LockMode::kWrite, 2}};
  return r;
}

TEST(MessagesReject, LockRecoverTooManyEntries) {
  // A well-formed batch of kLockRecoverBatchMax + 1 entries, written by hand.
  Bytes b;
  sim::ByteWriter w(b);
  w.u8(1);
  w.u32(kLockRecoverBatchMax + 1);
  for (uint64_t i = 0; i <= kLockRecoverBatchMax; ++i) {
    encode_key(w, Key{0, i});
    w.u8(0);
    w.u64(0);
  }
  EXPECT_FALSE(decodes_as<LockRecoverResponse>(b));
  // A huge count must not be trusted to size anything.
  Bytes huge = encode(LockRecoverResponse{});
  put_le(huge, kRecoverCountAt, UINT32_MAX, 4);
  EXPECT_FALSE(decodes_as<LockRecoverResponse>(huge));
}

TEST(MessagesReject, LockRecoverCountDisagreesWithLength) {
  Bytes b = encode(two_entries());
  put_le(b, kRecoverCountAt, 1, 4);
  EXPECT_FALSE(decodes_as<LockRecoverResponse>(b));
  put_le(b, kRecoverCountAt, 3, 4);
  EXPECT_FALSE(decodes_as<LockRecoverResponse>(b));
  EXPECT_FALSE(decodes_as<LockRecoverResponse>(Bytes(b.begin(), b.begin() + 3)));  // no room for a count
}

TEST(MessagesReject, LockRecoverKeysNotIncreasing) {
  LockRecoverResponse r = two_entries();
  Bytes equal = encode(r);
  // Make the second key equal to the first, then smaller.
  std::copy_n(equal.begin() + kRecoverEntriesAt, kKeyBytes, equal.begin() + kRecoverEntriesAt + kRecoverEntryBytes);
  EXPECT_FALSE(decodes_as<LockRecoverResponse>(equal));
  Bytes decreasing = encode(r);
  decreasing[kRecoverEntriesAt + kRecoverEntryBytes + 1] = 0;  // second key's ino: 2 -> 0
  EXPECT_FALSE(decodes_as<LockRecoverResponse>(decreasing));
  ASSERT_TRUE(decodes_as<LockRecoverResponse>(encode(r)));
}

TEST(MessagesReject, LockRecoverDoneNotABoolean) {
  for (int v : {2, 0x80, 0xFF}) {
    Bytes b = encode(two_entries());
    b[kRecoverDoneAt] = static_cast<uint8_t>(v);
    EXPECT_FALSE(decodes_as<LockRecoverResponse>(b)) << v;
  }
}

TEST(MessagesReject, LockRecoverInvalidMode) {
  for (size_t entry : {0, 1}) {
    Bytes b = encode(two_entries());
    b[kRecoverEntriesAt + entry * kRecoverEntryBytes + kKeyBytes] = 4;
    EXPECT_FALSE(decodes_as<LockRecoverResponse>(b)) << entry;
  }
}

TEST(MessagesEncodeDeathTest, RefusesWhatDecodeWouldReject) {
  EXPECT_DEATH(encode(AllocInodesRequest{0}), "FS_ASSERT");
  EXPECT_DEATH(encode(LockMessage{Key{}, static_cast<LockMode>(4), LockMode::kNull, 0}), "FS_ASSERT");
  LockRecoverResponse r = two_entries();
  std::swap(r.entries[0], r.entries[1]);
  EXPECT_DEATH(encode(r), "FS_ASSERT");
}

// ---- fuzz: mutated messages ----

// Every (command, direction) and its payload: a generator of valid payloads, and the decoder
// for it followed by the matching encoder (false when the decoder refuses).
struct Kind {
  Cmd cmd;
  bool response;
  std::function<Bytes()> any;
  std::function<bool(std::span<const uint8_t>, Bytes*)> reencode;
};

template <typename T>
Kind kind(Cmd cmd, bool response, T (*gen)()) {
  return {cmd, response, [gen] { return encode(gen()); },
          [](std::span<const uint8_t> in, Bytes* out) {
            T m;
            if (!decode(in, &m)) return false;
            *out = encode(m);
            return true;
          }};
}

Kind empty(Cmd cmd, bool response) {
  return {cmd, response, [] { return Bytes{}; },
          [](std::span<const uint8_t> in, Bytes* out) {
            out->clear();
            return decode_empty(in);
          }};
}

const std::vector<Kind>& kinds() {
  static const std::vector<Kind> k = {
      kind(Cmd::kGreeting, false, any_greeting),
      kind(Cmd::kGreeting, true, any_greeting),
      kind(Cmd::kAllocInodes, false, any_alloc_request),
      kind(Cmd::kAllocInodes, true, any_alloc_response),
      empty(Cmd::kGetLogTrees, false),
      kind(Cmd::kGetLogTrees, true, any_log_trees),
      kind(Cmd::kCommitLogTrees, false, any_log_trees),
      empty(Cmd::kCommitLogTrees, true),
      empty(Cmd::kSyncLogTrees, false),
      empty(Cmd::kSyncLogTrees, true),
      empty(Cmd::kGetRoots, false),
      kind(Cmd::kGetRoots, true, any_roots),
      empty(Cmd::kGetLastSeq, false),
      kind(Cmd::kGetLastSeq, true, any_last_seq),
      kind(Cmd::kLock, false, any_lock),
      kind(Cmd::kLock, true, any_lock),
      kind(Cmd::kLockRecover, false, any_recover_request),
      kind(Cmd::kLockRecover, true, any_recover_response),
      empty(Cmd::kStatfs, false),
      kind(Cmd::kStatfs, true, any_statfs),
      empty(Cmd::kFarewell, false),
      empty(Cmd::kFarewell, true),
      kind(Cmd::kGetLogMerge, false, any_merge_get),
      kind(Cmd::kGetLogMerge, true, any_merge_request),
      kind(Cmd::kCommitLogMerge, false, any_merge_completion),
      empty(Cmd::kCommitLogMerge, true),
  };
  return k;
}

const Kind& kind_of(const Header& h) {
  for (const Kind& k : kinds())
    if (k.cmd == h.cmd && k.response == h.response()) return k;
  RC_FAIL("no kind for a decoded header");
}

Bytes any_message(const Kind& k) {
  Bytes payload = k.any();
  Header h;
  h.cmd = k.cmd;
  h.flags = k.response ? kFlagResponse : 0;
  h.seq = k.cmd == Cmd::kGreeting ? 0 : any_u64();
  h.recv_seq = any_u64();
  h.id = any_u64();
  h.data_len = static_cast<uint32_t>(payload.size());
  return encode_message(h, payload);
}

// One mutation. Most land in the payload: the header has few bytes a decoder can be fooled by,
// and any damage there stops the message before its payload decoder.
// Appending is splicing at the end, the likeliest way past a missing length check.
enum class Op { kFlip, kTruncate, kSplice, kAppend, kSetDataLen };
struct Mutation {
  uint8_t op = 0;
  bool in_header = false;
  size_t pos = 0;
  uint8_t byte = 0;
  Bytes splice;
};

void apply(Bytes& b, const Mutation& m) {
  // Positions are taken modulo the region mutated: the header, or everything after it.
  const size_t from = m.in_header || b.size() < kHeaderBytes ? 0 : kHeaderBytes;
  const size_t to = m.in_header ? std::min(b.size(), kHeaderBytes) : b.size();
  const size_t at = from + m.pos % (to - from + 1);  // in [from, to]
  switch (static_cast<Op>(m.op % 5)) {
    case Op::kFlip:
      if (at < b.size()) b[at] ^= static_cast<uint8_t>(m.byte | 1);  // always changes
      break;
    case Op::kTruncate:
      b.resize(at);
      break;
    case Op::kSplice:
      b.insert(b.begin() + static_cast<long>(at), m.splice.begin(), m.splice.end());
      break;
    case Op::kAppend:
      b.insert(b.end(), m.splice.begin(), m.splice.end());
      break;
    case Op::kSetDataLen:
      if (b.size() >= kHeaderBytes) put_le(b, 27, m.pos, 4);
      break;
  }
}

// For counterexamples (RapidCheck finds it by argument-dependent lookup).
void showValue(const Mutation& m, std::ostream& os) {
  const char* names[] = {"flip", "truncate", "splice", "append", "set_data_len"};
  os << names[m.op % 5] << (m.in_header ? " header" : " payload") << " pos " << m.pos << " byte " << int{m.byte}
     << " splice " << m.splice.size() << " bytes";
}

rc::Gen<Mutation> any_mutation() {
  using namespace rc;
  return gen::build<Mutation>(gen::set(&Mutation::op),
                              gen::set(&Mutation::in_header, gen::weightedElement<bool>({{1, true}, {4, false}})),
                              gen::set(&Mutation::pos), gen::set(&Mutation::byte),
                              gen::set(&Mutation::splice, gen::nonEmpty(gen::container<Bytes>(gen::arbitrary<uint8_t>()))));
}

void fix_data_len(Bytes& b) {
  if (b.size() >= kHeaderBytes) put_le(b, 27, b.size() - kHeaderBytes, 4);
}

// Decodes a message the way a connection does: the header, then the payload with the decoder
// for its command and direction. Whatever decodes must re-encode to exactly the same bytes.
void decode_and_reencode(const Bytes& b) {
  Header h;
  Bytes payload;
  std::string why;
  if (!decode_message(b, &h, &payload, &why)) {
    RC_ASSERT(!why.empty());
    return;
  }
  RC_ASSERT(encode_message(h, payload) == b);
  Bytes again;
  if (kind_of(h).reencode(payload, &again)) RC_ASSERT(again == payload);
}

// A few mutations, then usually make data_len agree again: that is what lets a damaged payload
// through the header check to its decoder (otherwise nearly every length change stops there).
void mutate(Bytes& b) {
  const size_t n = *rc::gen::inRange<size_t>(1, 5);
  const auto mutations = *rc::gen::container<std::vector<Mutation>>(n, any_mutation());
  for (const Mutation& m : mutations) apply(b, m);
  if (*rc::gen::weightedElement<bool>({{3, true}, {1, false}})) fix_data_len(b);
}

RC_GTEST_PROP(MessagesFuzz, MutatedMessagesDecodeOnlyToThemselves, ()) {
  // A message of every type in every case, each mutated on its own: with one random type per
  // case, 100 cases reach a given decoder only a handful of times, too few to be sure of
  // catching one missing check.
  for (const Kind& k : kinds()) {
    Bytes b = any_message(k);
    mutate(b);
    RC_LOG() << cmd_name(k.cmd) << (k.response ? " response: " : " request: ") << b.size() << " bytes\n";
    // A fresh copy has no spare capacity, so the sanitizer sees any read past its end.
    decode_and_reencode(Bytes(b.begin(), b.end()));
  }
}

RC_GTEST_PROP(MessagesFuzz, RandomBytesDecodeOnlyToThemselves, (const Bytes& bytes)) { decode_and_reencode(bytes); }

RC_GTEST_PROP(MessagesFuzz, PayloadDecodersOnRandomBytes, (const Bytes& bytes)) {
  // Straight to the payload decoders, skipping the header check that filters most inputs.
  for (const Kind& k : kinds()) {
    Bytes again;
    if (k.reencode(bytes, &again)) RC_ASSERT(again == bytes);
  }
}

RC_GTEST_PROP(MessagesFuzz, UnmutatedMessagesDecode, ()) {
  for (const Kind& k : kinds()) {
    const Bytes b = any_message(k);
    Header h;
    Bytes payload, again;
    std::string why;
    RC_ASSERT(decode_message(b, &h, &payload, &why));
    RC_ASSERT(kind_of(h).reencode(payload, &again));
    RC_ASSERT(again == payload);
  }
}

}  // namespace
}  // namespace simfs::fs::proto
