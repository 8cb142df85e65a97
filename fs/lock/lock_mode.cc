#include "fs/lock/lock_mode.h"

namespace simfs::fs {

const char* lock_mode_name(LockMode m) {
  switch (m) {
    case LockMode::kNull:
      return "null";
    case LockMode::kRead:
      return "read";
    case LockMode::kWrite:
      return "write";
    case LockMode::kWriteOnly:
      return "write_only";
  }
  return "invalid";
}

bool lock_mode_valid(uint8_t wire) { return wire <= static_cast<uint8_t>(LockMode::kWriteOnly); }

bool lock_mode_satisfies(LockMode held, LockMode wanted) {
  return held == wanted || (held == LockMode::kWrite && wanted == LockMode::kRead) || wanted == LockMode::kNull;
}

bool lock_mode_can_read(LockMode m) { return m == LockMode::kRead || m == LockMode::kWrite; }

bool lock_mode_can_write(LockMode m) { return m == LockMode::kWrite || m == LockMode::kWriteOnly; }

bool lock_grant_compatible(uint64_t granted_rid, LockMode granted, uint64_t requested_rid, LockMode requested) {
  const bool shared = granted == requested && (granted == LockMode::kRead || granted == LockMode::kWriteOnly);
  const bool upgrade = granted_rid == requested_rid && granted == LockMode::kRead && requested == LockMode::kWrite;
  const bool either_is_null =
      granted_rid != requested_rid && (granted == LockMode::kNull || requested == LockMode::kNull);
  return shared || upgrade || either_is_null;
}

LockMode lock_invalidation_mode(LockMode granted, LockMode requested) {
  return granted == LockMode::kWrite && requested == LockMode::kRead ? LockMode::kRead : LockMode::kNull;
}

}  // namespace simfs::fs
