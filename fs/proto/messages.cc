#include "fs/proto/messages.h"

#include <initializer_list>

#include "fs/base/assert.h"
#include "fs/format/btree_block.h"
#include "fs/proto/wire.h"
#include "sim/bytes.h"

namespace simfs::fs::proto {

// Every payload is little-endian, field by field in declaration order. Each decoder checks the
// exact length first (so the reader never runs out and nothing trails), then reads every field,
// then applies the same validity predicate the encoder asserts: whatever one side can send, the
// other accepts, and nothing else.

namespace {

constexpr size_t kModeBytes = 1;
constexpr size_t kLockRecoverEntryBytes = kKeyBytes + kModeBytes + 8;

uint8_t mode_byte(LockMode m) { return static_cast<uint8_t>(m); }

// Any byte casts to a LockMode (its underlying type is fixed); valid() then rejects the bytes
// that name no mode, the same check the encoder asserts.
LockMode read_mode(sim::ByteReader& r) { return static_cast<LockMode>(r.u8()); }

bool modes_valid(std::initializer_list<LockMode> modes) {
  for (LockMode m : modes)
    if (!lock_mode_valid(mode_byte(m))) return false;
  return true;
}

// The rule fs/format applies to the roots in a log tree record: an empty tree has no block, a
// non-empty one has a block and a plausible height.
bool root_sane(const BtreeRoot& r) { return r.height <= kBtreeHeightMax && (r.height == 0) == r.ref.empty(); }

bool valid(const Greeting& m) { return (m.flags & ~kGreetFlagsKnown) == 0; }
bool valid(const AllocInodesRequest& m) { return m.count >= 1 && m.count <= kAllocInodesMax; }
bool valid(const AllocInodesResponse& m) { return m.count <= kAllocInodesMax && m.first <= UINT64_MAX - m.count; }
bool valid(const Roots& m) { return root_sane(m.fs_root) && root_sane(m.logs_root); }
bool valid(const LockMessage& m) { return modes_valid({m.old_mode, m.new_mode}); }
bool valid(const LockRecoverResponse& m) {
  if (m.entries.size() > kLockRecoverBatchMax) return false;
  for (size_t i = 0; i < m.entries.size(); ++i) {
    if (!modes_valid({m.entries[i].mode})) return false;
    if (i > 0 && !(m.entries[i - 1].key < m.entries[i].key)) return false;
  }
  return true;
}

bool valid(const LogMergeRequest& m) {
  if (m.inputs.size() > kLogMergeInputsMax || m.avail.size() > kLogMergeBlocksMax) return false;
  if (m.end < m.start || m.input_seq == 0 || !root_sane(m.subtree)) return false;
  if (m.level != 0 && (m.subtree.height != m.level + 1 || m.subtree.ref.empty())) return false;
  for (const BtreeRoot& r : m.inputs)
    if (!root_sane(r) || r.height == 0) return false;
  return true;
}
bool valid(const LogMergeCompletion& m) {
  if ((m.flags & ~kLogMergeFlagsKnown) != 0 || m.error > kWireErrorLast) return false;
  if (m.used.size() > kLogMergeBlocksMax || m.freed.size() > kLogMergeBlocksMax || !root_sane(m.root)) return false;
  const bool failed = m.flags & kLogMergeFailed;
  if (failed) {
    return m.flags == kLogMergeFailed && m.error != 0 && m.root.height == 0 && m.merged == 0 && m.used.empty() &&
           m.freed.empty();
  }
  if (m.error != 0) return false;
  // A height stop is a kind of partial result.
  return !(m.flags & kLogMergeHeightStop) || (m.flags & kLogMergePartial);
}

// Finishes a decode whose length was checked up front: stores the fields if they are valid.
template <typename T>
bool finish(const sim::ByteReader& r, const T& decoded, T* out) {
  if (!(r.ok() && valid(decoded))) return false;
  *out = decoded;
  return true;
}

}  // namespace

bool decode_empty(std::span<const uint8_t> in) { return in.empty(); }

// ---- GREETING ----

Bytes encode(const Greeting& m) {
  FS_ASSERT(valid(m));
  Bytes out;
  sim::ByteWriter w(out);
  w.u64(m.fsid);
  w.u64(m.format_hash);
  w.u64(m.server_term);
  w.u64(m.rid);
  w.u64(m.flags);
  return out;
}

bool decode(std::span<const uint8_t> in, Greeting* m) {
  if (in.size() != 5 * 8) return false;
  sim::ByteReader r(in);
  Greeting d;
  d.fsid = r.u64();
  d.format_hash = r.u64();
  d.server_term = r.u64();
  d.rid = r.u64();
  d.flags = r.u64();
  return finish(r, d, m);
}

// ---- ALLOC_INODES ----

Bytes encode(const AllocInodesRequest& m) {
  FS_ASSERT(valid(m));
  Bytes out;
  sim::ByteWriter w(out);
  w.u64(m.count);
  return out;
}

bool decode(std::span<const uint8_t> in, AllocInodesRequest* m) {
  if (in.size() != 8) return false;
  sim::ByteReader r(in);
  AllocInodesRequest d;
  d.count = r.u64();
  return finish(r, d, m);
}

Bytes encode(const AllocInodesResponse& m) {
  FS_ASSERT(valid(m));
  Bytes out;
  sim::ByteWriter w(out);
  w.u64(m.first);
  w.u64(m.count);
  return out;
}

bool decode(std::span<const uint8_t> in, AllocInodesResponse* m) {
  if (in.size() != 2 * 8) return false;
  sim::ByteReader r(in);
  AllocInodesResponse d;
  d.first = r.u64();
  d.count = r.u64();
  return finish(r, d, m);
}

// ---- GET_LOG_TREES / COMMIT_LOG_TREES ----

// rid, nr, then the log tree record exactly as the logs tree stores it; the record's decoder
// checks its own length and consistency, so only the 16-byte prefix is checked here.
Bytes encode(const LogTrees& m) {
  Bytes out;
  sim::ByteWriter w(out);
  w.u64(m.rid);
  w.u64(m.nr);
  const std::vector<uint8_t> value = encode_log_tree(m.value);
  out.insert(out.end(), value.begin(), value.end());
  return out;
}

bool decode(std::span<const uint8_t> in, LogTrees* m) {
  if (in.size() < 2 * 8) return false;
  sim::ByteReader r(in.first(2 * 8));
  LogTrees d;
  d.rid = r.u64();
  d.nr = r.u64();
  if (!r.ok() || !decode_log_tree(in.subspan(2 * 8), &d.value)) return false;
  *m = d;
  return true;
}

// ---- GET_ROOTS ----

Bytes encode(const Roots& m) {
  FS_ASSERT(valid(m));
  Bytes out;
  sim::ByteWriter w(out);
  encode_btree_root(w, m.fs_root);
  encode_btree_root(w, m.logs_root);
  w.u64(m.super_seq);
  return out;
}

bool decode(std::span<const uint8_t> in, Roots* m) {
  if (in.size() != 2 * kBtreeRootBytes + 8) return false;
  sim::ByteReader r(in);
  Roots d;
  d.fs_root = decode_btree_root(r);
  d.logs_root = decode_btree_root(r);
  d.super_seq = r.u64();
  return finish(r, d, m);
}

// ---- GET_LAST_SEQ ----

Bytes encode(const LastSeq& m) {
  Bytes out;
  sim::ByteWriter w(out);
  w.u64(m.seq);
  return out;
}

bool decode(std::span<const uint8_t> in, LastSeq* m) {
  if (in.size() != 8) return false;
  sim::ByteReader r(in);
  m->seq = r.u64();
  return true;
}

// ---- LOCK ----

// Any decodable key is accepted: whether a key names a lock is the lock layer's question.
Bytes encode(const LockMessage& m) {
  FS_ASSERT(valid(m));
  Bytes out;
  sim::ByteWriter w(out);
  encode_key(w, m.key);
  w.u8(mode_byte(m.old_mode));
  w.u8(mode_byte(m.new_mode));
  w.u64(m.write_seq);
  return out;
}

bool decode(std::span<const uint8_t> in, LockMessage* m) {
  if (in.size() != kKeyBytes + 2 * kModeBytes + 8) return false;
  sim::ByteReader r(in);
  LockMessage d;
  d.key = decode_key(r);
  d.old_mode = read_mode(r);
  d.new_mode = read_mode(r);
  d.write_seq = r.u64();
  return finish(r, d, m);
}

// ---- LOCK_RECOVER ----

Bytes encode(const LockRecoverRequest& m) {
  Bytes out;
  sim::ByteWriter w(out);
  encode_key(w, m.start);
  return out;
}

bool decode(std::span<const uint8_t> in, LockRecoverRequest* m) {
  if (in.size() != kKeyBytes) return false;
  sim::ByteReader r(in);
  m->start = decode_key(r);
  return true;
}

// done u8, entry count u32, then the entries. The count is checked against the batch limit
// before it sizes anything, so a damaged count cannot make the decoder allocate.
Bytes encode(const LockRecoverResponse& m) {
  FS_ASSERT(valid(m));
  Bytes out;
  sim::ByteWriter w(out);
  w.u8(m.done ? 1 : 0);
  w.u32(static_cast<uint32_t>(m.entries.size()));
  for (const LockRecoverEntry& e : m.entries) {
    encode_key(w, e.key);
    w.u8(mode_byte(e.mode));
    w.u64(e.write_seq);
  }
  return out;
}

bool decode(std::span<const uint8_t> in, LockRecoverResponse* m) {
  if (in.size() < 1 + 4) return false;
  sim::ByteReader r(in);
  const uint8_t done = r.u8();
  const uint32_t count = r.u32();
  if (done > 1 || count > kLockRecoverBatchMax || in.size() != 1 + 4 + count * kLockRecoverEntryBytes) return false;
  LockRecoverResponse d;
  d.done = done == 1;
  d.entries.resize(count);
  for (LockRecoverEntry& e : d.entries) {
    e.key = decode_key(r);
    e.mode = read_mode(r);
    e.write_seq = r.u64();
  }
  return finish(r, d, m);
}

// ---- STATFS ----

Bytes encode(const Statfs& m) {
  Bytes out;
  sim::ByteWriter w(out);
  w.u64(m.meta_blocks_total);
  w.u64(m.meta_blocks_free);
  w.u64(m.data_blocks_total);
  w.u64(m.data_blocks_free);
  w.u64(m.next_ino);
  w.u64(m.inode_count);
  return out;
}

bool decode(std::span<const uint8_t> in, Statfs* m) {
  if (in.size() != 6 * 8) return false;
  sim::ByteReader r(in);
  Statfs d;
  d.meta_blocks_total = r.u64();
  d.meta_blocks_free = r.u64();
  d.data_blocks_total = r.u64();
  d.data_blocks_free = r.u64();
  d.next_ino = r.u64();
  d.inode_count = r.u64();
  *m = d;
  return true;
}

// ---- GET_LOG_MERGE / COMMIT_LOG_MERGE ----

Bytes encode(const LogMergeGet& m) {
  Bytes out;
  sim::ByteWriter w(out);
  w.u64(m.nonce);
  return out;
}

bool decode(std::span<const uint8_t> in, LogMergeGet* m) {
  if (in.size() != 8) return false;
  sim::ByteReader r(in);
  m->nonce = r.u64();
  return r.ok();
}

namespace {
constexpr size_t kLogMergeRequestFixedBytes = 2 * 8 + 2 * kKeyBytes + kBtreeRootBytes + 1 + 4 + 4;
constexpr size_t kLogMergeCompletionFixedBytes = 8 + 1 + 1 + kKeyBytes + kBtreeRootBytes + 4 + 4 + 4;
static_assert(kHeaderBytes + kLogMergeRequestFixedBytes + kLogMergeInputsMax * kBtreeRootBytes +
                      kLogMergeBlocksMax * 8 <= kHeaderBytes + kDataMax);
static_assert(kLogMergeCompletionFixedBytes + 2 * kLogMergeBlocksMax * 8 <= kDataMax);

void put_blocks(sim::ByteWriter& w, const std::vector<uint64_t>& v) {
  w.u32(static_cast<uint32_t>(v.size()));
  for (uint64_t b : v) w.u64(b);
}
// Reads a count then that many block numbers, refusing a count above `max` or past the input
// before anything is sized.
bool get_blocks(sim::ByteReader& r, size_t max, std::vector<uint64_t>* v) {
  const uint32_t n = r.u32();
  if (!r.ok() || n > max || r.remaining() < size_t{n} * 8) return false;
  v->resize(n);
  for (uint64_t& b : *v) b = r.u64();
  return r.ok();
}
}  // namespace

Bytes encode(const LogMergeRequest& m) {
  FS_ASSERT(valid(m));
  Bytes out;
  sim::ByteWriter w(out);
  w.u64(m.id);
  w.u64(m.input_seq);
  encode_key(w, m.start);
  encode_key(w, m.end);
  encode_btree_root(w, m.subtree);
  w.u8(m.level);
  w.u32(static_cast<uint32_t>(m.inputs.size()));
  for (const BtreeRoot& r : m.inputs) encode_btree_root(w, r);
  put_blocks(w, m.avail);
  return out;
}

bool decode(std::span<const uint8_t> in, LogMergeRequest* m) {
  if (in.size() < kLogMergeRequestFixedBytes) return false;
  sim::ByteReader r(in);
  LogMergeRequest d;
  d.id = r.u64();
  d.input_seq = r.u64();
  d.start = decode_key(r);
  d.end = decode_key(r);
  d.subtree = decode_btree_root(r);
  d.level = r.u8();
  const uint32_t n = r.u32();
  if (!r.ok() || n > kLogMergeInputsMax || r.remaining() < size_t{n} * kBtreeRootBytes) return false;
  d.inputs.resize(n);
  for (BtreeRoot& root : d.inputs) root = decode_btree_root(r);
  if (!get_blocks(r, kLogMergeBlocksMax, &d.avail) || r.remaining() != 0) return false;
  return finish(r, d, m);
}

Bytes encode(const LogMergeCompletion& m) {
  FS_ASSERT(valid(m));
  Bytes out;
  sim::ByteWriter w(out);
  w.u64(m.id);
  w.u8(m.flags);
  w.u8(m.error);
  encode_key(w, m.remaining);
  encode_btree_root(w, m.root);
  w.u32(m.merged);
  put_blocks(w, m.used);
  put_blocks(w, m.freed);
  return out;
}

bool decode(std::span<const uint8_t> in, LogMergeCompletion* m) {
  if (in.size() < kLogMergeCompletionFixedBytes) return false;
  sim::ByteReader r(in);
  LogMergeCompletion d;
  d.id = r.u64();
  d.flags = r.u8();
  d.error = r.u8();
  d.remaining = decode_key(r);
  d.root = decode_btree_root(r);
  d.merged = r.u32();
  if (!get_blocks(r, kLogMergeBlocksMax, &d.used) || !get_blocks(r, kLogMergeBlocksMax, &d.freed)) return false;
  if (r.remaining() != 0) return false;
  return finish(r, d, m);
}

}  // namespace simfs::fs::proto
