// The payloads of the client-server protocol, one struct per message, with validating codecs.
// docs/protocol.md says who sends each, what the handler does, and what it does when the same
// request is executed again (after a resend to a new server).
//
// Contract:
// - encode(x) gives the payload bytes; decode(bytes, &x) accepts exactly what encode can
//   produce: the exact length (no trailing bytes), valid lock modes, bounded counts, consistent
//   roots. It returns false for anything else and never reads past the input. Any key decodes:
//   whether a key names a lock is the lock layer's judgement, not the codec's.
// - Messages with no payload (GET_LOG_TREES, GET_ROOTS and GET_LAST_SEQ requests, SYNC_LOG_TREES,
//   FAREWELL, STATFS request, the empty responses) have none: data_len 0, checked by
//   decode_empty.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "fs/format/format.h"
#include "fs/format/items.h"
#include "fs/format/key.h"
#include "fs/lock/lock_mode.h"

namespace simfs::fs::proto {

using Bytes = std::vector<uint8_t>;

bool decode_empty(std::span<const uint8_t> in);

// GREETING, both directions. The client sends the term of the server it last talked to (0 on a
// mount's first connection); the server answers with its own term. A new term tells the client
// that it is talking to a new server: it resets its connection state and resends its requests.
constexpr uint64_t kGreetFarewell = 1;  // the client is unmounting (sent with its FAREWELL)
constexpr uint64_t kGreetVoter = 2;     // the client holds a quorum slot
// Response only: the server has no connection state for this client (it never had, or forgot
// it at a farewell), so the client must renumber its messages from 1 even though the term is
// the one it knows.
constexpr uint64_t kGreetNewSession = 4;
constexpr uint64_t kGreetFlagsKnown = kGreetFarewell | kGreetVoter | kGreetNewSession;
struct Greeting {
  uint64_t fsid = 0;
  uint64_t format_hash = 0;
  uint64_t server_term = 0;
  uint64_t rid = 0;
  uint64_t flags = 0;
  bool operator==(const Greeting&) const = default;
};
Bytes encode(const Greeting& m);
bool decode(std::span<const uint8_t> in, Greeting* m);

// ALLOC_INODES: the request asks for `count` numbers; the response gives [first, first+count).
constexpr uint64_t kAllocInodesMax = 1024;
struct AllocInodesRequest {
  uint64_t count = 0;
  bool operator==(const AllocInodesRequest&) const = default;
};
struct AllocInodesResponse {
  uint64_t first = 0;
  uint64_t count = 0;
  bool operator==(const AllocInodesResponse&) const = default;
};
Bytes encode(const AllocInodesRequest& m);
bool decode(std::span<const uint8_t> in, AllocInodesRequest* m);
Bytes encode(const AllocInodesResponse& m);
bool decode(std::span<const uint8_t> in, AllocInodesResponse* m);

// A mount's open log tree record: GET_LOG_TREES response, COMMIT_LOG_TREES request.
struct LogTrees {
  uint64_t rid = 0;
  uint64_t nr = 0;
  LogTreeValue value;
  bool operator==(const LogTrees&) const = default;
};
Bytes encode(const LogTrees& m);
bool decode(std::span<const uint8_t> in, LogTrees* m);

// GET_ROOTS response: the roots of the last durable super (never in-memory state).
struct Roots {
  BtreeRoot fs_root;
  BtreeRoot logs_root;
  uint64_t super_seq = 0;
  bool operator==(const Roots&) const = default;
};
Bytes encode(const Roots& m);
bool decode(std::span<const uint8_t> in, Roots* m);

// GET_LAST_SEQ response.
struct LastSeq {
  uint64_t seq = 0;
  bool operator==(const LastSeq&) const = default;
};
Bytes encode(const LastSeq& m);
bool decode(std::span<const uint8_t> in, LastSeq* m);

// LOCK, every direction: a request {key, old = the mode the client holds, new = the mode it
// wants}; a grant (response) {key, old, new, write_seq}; an invalidation {key, old = the mode
// the server thinks it holds, new = the mode it must drop to}; the answer {key, old, new = the
// mode it now holds}. Old and new let either side resolve messages that cross.
struct LockMessage {
  Key key;
  LockMode old_mode = LockMode::kNull;
  LockMode new_mode = LockMode::kNull;
  uint64_t write_seq = 0;
  bool operator==(const LockMessage&) const = default;
};
Bytes encode(const LockMessage& m);
bool decode(std::span<const uint8_t> in, LockMessage* m);

// LOCK_RECOVER: the server asks for the client's locks from `start` on; the client answers with
// a batch in key order, and `done` when nothing follows. A lock being invalidated is reported
// with the mode it had before the invalidation (the server has not seen the answer).
struct LockRecoverRequest {
  Key start;
  bool operator==(const LockRecoverRequest&) const = default;
};
struct LockRecoverEntry {
  Key key;
  LockMode mode = LockMode::kNull;
  uint64_t write_seq = 0;
  bool operator==(const LockRecoverEntry&) const = default;
};
constexpr size_t kLockRecoverBatchMax = 64;
struct LockRecoverResponse {
  std::vector<LockRecoverEntry> entries;  // at most kLockRecoverBatchMax, keys increasing
  bool done = false;
  bool operator==(const LockRecoverResponse&) const = default;
};
Bytes encode(const LockRecoverRequest& m);
bool decode(std::span<const uint8_t> in, LockRecoverRequest* m);
Bytes encode(const LockRecoverResponse& m);
bool decode(std::span<const uint8_t> in, LockRecoverResponse* m);

// STATFS response, from the stable super and the allocators it names.
struct Statfs {
  uint64_t meta_blocks_total = 0;
  uint64_t meta_blocks_free = 0;
  uint64_t data_blocks_total = 0;
  uint64_t data_blocks_free = 0;
  uint64_t next_ino = 0;
  uint64_t inode_count = 0;
  bool operator==(const Statfs&) const = default;
};
Bytes encode(const Statfs& m);
bool decode(std::span<const uint8_t> in, Statfs* m);

// GET_LOG_MERGE request: `nonce` is the client's own number for this request, so the same
// request executed again (resent to a new server) is handed the same piece of work.
struct LogMergeGet {
  uint64_t nonce = 0;
  bool operator==(const LogMergeGet&) const = default;
};
Bytes encode(const LogMergeGet& m);
bool decode(std::span<const uint8_t> in, LogMergeGet* m);

// GET_LOG_MERGE response: a piece of the log merge (fs/server/merge_requests.cc). Merge every
// item of the input trees with start <= key <= end into the subtree (per key the highest seq;
// a deletion erases), allocating only from avail, and answer with COMMIT_LOG_MERGE.
constexpr size_t kLogMergeInputsMax = 192;
constexpr size_t kLogMergeBlocksMax = 256;
struct LogMergeRequest {
  uint64_t id = 0;
  uint64_t input_seq = 0;
  Key start;
  Key end;
  BtreeRoot subtree;
  // The subtree's root level in the fs tree (subtree.height - 1): it must keep its height so it
  // can be spliced back. 0: the subtree is the whole fs tree, which may grow or shrink.
  uint8_t level = 0;
  std::vector<BtreeRoot> inputs;  // at most kLogMergeInputsMax, none empty
  std::vector<uint64_t> avail;    // at most kLogMergeBlocksMax block numbers
  bool operator==(const LogMergeRequest&) const = default;
};
Bytes encode(const LogMergeRequest& m);
bool decode(std::span<const uint8_t> in, LogMergeRequest* m);

// COMMIT_LOG_MERGE request: what became of a piece. Its blocks are written and FLUSHed. The
// response (empty) comes once the server no longer needs anything from the client for it.
constexpr uint8_t kLogMergeFailed = 1;      // nothing of it may be used (error says why)
constexpr uint8_t kLogMergePartial = 2;     // keys from `remaining` on were not merged
constexpr uint8_t kLogMergeHeightStop = 4;  // partial because the subtree's root would split or empty
constexpr uint8_t kLogMergeFlagsKnown = kLogMergeFailed | kLogMergePartial | kLogMergeHeightStop;
struct LogMergeCompletion {
  uint64_t id = 0;
  uint8_t flags = 0;
  uint8_t error = 0;   // a WireError, when failed
  Key remaining;       // when partial
  BtreeRoot root;      // the new subtree (when not failed)
  uint32_t merged = 0; // keys it inserted, updated or erased
  std::vector<uint64_t> used;   // avail blocks the new subtree holds (at most kLogMergeBlocksMax)
  std::vector<uint64_t> freed;  // blocks of the old subtree it no longer references
  bool operator==(const LogMergeCompletion&) const = default;
};
Bytes encode(const LogMergeCompletion& m);
bool decode(std::span<const uint8_t> in, LogMergeCompletion* m);

}  // namespace simfs::fs::proto
