// The wire format of the client-server protocol: the message header, the commands, and the
// errors a response can carry. docs/protocol.md describes every message in prose.
//
// Contract:
// - A message on a stream is a header followed by exactly `data_len` bytes of payload. Every
//   field is encoded explicitly, little-endian (sim/bytes.h); no host struct reaches the wire.
// - decode_message() accepts only what encode_message() can produce for a known command: a bad
//   command, unknown flag bits, an unknown error, a payload longer than kDataMax, or a length
//   that disagrees with the bytes that follow is rejected with a reason. The connection that
//   received it is then broken (fs/net): a peer that sends garbage is never interpreted.
// - seq numbers a connection's messages (1, 2, ...; greetings carry 0 and are never resent);
//   recv_seq acknowledges every message of the peer up to it; id matches a response to its
//   request (the response echoes the request's id and command).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sim/errors.h"

namespace simfs::fs::proto {

enum class Cmd : uint8_t {
  kGreeting = 1,       // client -> server, first on every connection
  kAllocInodes = 2,    // client -> server: a batch of inode numbers
  kGetLogTrees = 3,    // client -> server: open the next transaction (refilled allocators)
  kCommitLogTrees = 4, // client -> server: record a committed transaction's log tree
  kSyncLogTrees = 5,   // server -> client: commit your transaction now (log trees finalize)
  kGetRoots = 6,       // client -> server: the stable fs and logs roots, for reading
  kGetLastSeq = 7,     // client -> server: the highest seq no open transaction can go below
  kLock = 8,           // client -> server: a lock request (the grant is its response);
                       // server -> client: an invalidation (the answer is its response)
  kLockRecover = 9,    // server -> client: report your locks (after a server restart)
  kStatfs = 10,        // client -> server: free space and inode counts
  kFarewell = 11,      // client -> server: this mount is leaving; reclaim it
  kGetLogMerge = 12,   // client -> server: a piece of the log merge to do (ENOENT: none now)
  kCommitLogMerge = 13, // client -> server: the result of a piece (or its failure)
};
constexpr uint8_t kCmdFirst = 1;
constexpr uint8_t kCmdLast = 13;
const char* cmd_name(Cmd c);
bool cmd_valid(uint8_t c);

constexpr uint8_t kFlagResponse = 1;
constexpr uint8_t kFlagsKnown = kFlagResponse;

// Errors a response may carry: only those a caller reacts to differently.
enum class WireError : uint8_t {
  kNone = 0,
  kNoEnt = 1,    // no such thing (an already-finished request re-executed)
  kNoMem = 2,
  kIo = 3,       // the server's device failed; the request may be retried
  kNoSpc = 4,    // out of space
  kInval = 5,    // a malformed or refused request (wrong fsid or format in a greeting)
  kNoLink = 6,   // the peer is going away (server shutting down, client reclaimed)
  kStale = 7,    // the request names state the server no longer has (retry with fresh state)
};
constexpr uint8_t kWireErrorLast = 7;
WireError to_wire(sim::Errno e);  // unknown errnos travel as kIo
sim::Errno from_wire(WireError e);

struct Header {
  uint64_t seq = 0;
  uint64_t recv_seq = 0;
  uint64_t id = 0;
  Cmd cmd = Cmd::kGreeting;
  uint8_t flags = 0;
  WireError error = WireError::kNone;  // responses only
  uint32_t data_len = 0;
  bool response() const { return flags & kFlagResponse; }
  bool operator==(const Header&) const = default;
};
constexpr size_t kHeaderBytes = 3 * 8 + 1 + 1 + 1 + 4;  // 31
// The largest payload: enough for a log tree record or a lock-recovery batch, small enough
// that a message is one simulated network write.
constexpr uint32_t kDataMax = 8192;

// A whole message: header then payload (header.data_len == payload.size()).
std::vector<uint8_t> encode_message(const Header& h, std::span<const uint8_t> payload);
// Decodes a whole message. On failure returns false and says why in *why.
bool decode_message(std::span<const uint8_t> bytes, Header* h, std::vector<uint8_t>* payload, std::string* why);

}  // namespace simfs::fs::proto
