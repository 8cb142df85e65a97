#include "fs/proto/wire.h"

#include "fs/base/assert.h"
#include "sim/bytes.h"

namespace simfs::fs::proto {

const char* cmd_name(Cmd c) {
  switch (c) {
    case Cmd::kGreeting: return "greeting";
    case Cmd::kAllocInodes: return "alloc_inodes";
    case Cmd::kGetLogTrees: return "get_log_trees";
    case Cmd::kCommitLogTrees: return "commit_log_trees";
    case Cmd::kSyncLogTrees: return "sync_log_trees";
    case Cmd::kGetRoots: return "get_roots";
    case Cmd::kGetLastSeq: return "get_last_seq";
    case Cmd::kLock: return "lock";
    case Cmd::kLockRecover: return "lock_recover";
    case Cmd::kStatfs: return "statfs";
    case Cmd::kFarewell: return "farewell";
    case Cmd::kGetLogMerge: return "get_log_merge";
    case Cmd::kCommitLogMerge: return "commit_log_merge";
  }
  return "unknown";
}

bool cmd_valid(uint8_t c) { return c >= kCmdFirst && c <= kCmdLast; }

WireError to_wire(sim::Errno e) {
  switch (e) {
    case 0: return WireError::kNone;
    case ENOENT: return WireError::kNoEnt;
    case ENOMEM: return WireError::kNoMem;
    case EIO: return WireError::kIo;
    case ENOSPC: return WireError::kNoSpc;
    case EINVAL: return WireError::kInval;
    case ENOLINK: return WireError::kNoLink;
    case ESTALE: return WireError::kStale;
  }
  // The caller cannot react to an errno the protocol does not name; EIO is "failed, may retry".
  return WireError::kIo;
}

sim::Errno from_wire(WireError e) {
  switch (e) {
    case WireError::kNone: return 0;
    case WireError::kNoEnt: return ENOENT;
    case WireError::kNoMem: return ENOMEM;
    case WireError::kIo: return EIO;
    case WireError::kNoSpc: return ENOSPC;
    case WireError::kInval: return EINVAL;
    case WireError::kNoLink: return ENOLINK;
    case WireError::kStale: return ESTALE;
  }
  return EIO;  // unreachable for a decoded header (decode_message rejects unknown errors)
}

namespace {

// The rules on the header fields alone, shared by both directions so that encode_message can
// only produce what decode_message accepts. Returns "" when the header is valid.
std::string header_problem(uint8_t cmd, uint8_t flags, uint8_t error, uint64_t seq, uint32_t data_len) {
  if (!cmd_valid(cmd)) return "unknown command " + std::to_string(cmd);
  if (flags & ~kFlagsKnown) return "unknown flags " + std::to_string(flags);
  if (error > kWireErrorLast) return "unknown error " + std::to_string(error);
  if (error != 0 && !(flags & kFlagResponse)) return "error " + std::to_string(error) + " on a request";
  if (data_len > kDataMax) return "data_len " + std::to_string(data_len) + " over the maximum";
  // Greetings are never resent, so they take no part in the sequence numbering.
  if (static_cast<Cmd>(cmd) == Cmd::kGreeting && seq != 0) return "greeting with seq " + std::to_string(seq);
  return "";
}

}  // namespace

std::vector<uint8_t> encode_message(const Header& h, std::span<const uint8_t> payload) {
  // Sending what the peer must reject would break the connection far from the bug.
  FS_ASSERT(h.data_len == payload.size());
  FS_ASSERT(header_problem(static_cast<uint8_t>(h.cmd), h.flags, static_cast<uint8_t>(h.error), h.seq, h.data_len)
                .empty());
  std::vector<uint8_t> out;
  out.reserve(kHeaderBytes + payload.size());
  sim::ByteWriter w(out);
  w.u64(h.seq);
  w.u64(h.recv_seq);
  w.u64(h.id);
  w.u8(static_cast<uint8_t>(h.cmd));
  w.u8(h.flags);
  w.u8(static_cast<uint8_t>(h.error));
  w.u32(h.data_len);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

bool decode_message(std::span<const uint8_t> bytes, Header* h, std::vector<uint8_t>* payload, std::string* why) {
  if (bytes.size() < kHeaderBytes) {
    *why = "short header: " + std::to_string(bytes.size()) + " bytes";
    return false;
  }
  sim::ByteReader r(bytes.first(kHeaderBytes));
  Header d;
  d.seq = r.u64();
  d.recv_seq = r.u64();
  d.id = r.u64();
  const uint8_t cmd = r.u8();
  d.flags = r.u8();
  const uint8_t error = r.u8();
  d.data_len = r.u32();
  FS_ASSERT(r.ok());  // exactly kHeaderBytes were read from a span of that size
  std::string problem = header_problem(cmd, d.flags, error, d.seq, d.data_len);
  if (problem.empty() && d.data_len != bytes.size() - kHeaderBytes) {
    problem = "data_len " + std::to_string(d.data_len) + " but " + std::to_string(bytes.size() - kHeaderBytes) +
              " bytes follow the header";
  }
  if (!problem.empty()) {
    *why = problem;
    return false;
  }
  // Only now are the enum values known to be in range.
  d.cmd = static_cast<Cmd>(cmd);
  d.error = static_cast<WireError>(error);
  *h = d;
  payload->assign(bytes.begin() + kHeaderBytes, bytes.end());
  return true;
}

}  // namespace simfs::fs::proto
