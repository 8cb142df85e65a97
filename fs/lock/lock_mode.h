// LockMode: what a client may do with the items a lock covers, and the two rules built on it —
// the client's (does the mode it holds allow this use?) and the server's (may these two
// client entries be granted at the same time?).
//
// Contract:
// - NULL holds nothing. READ may read and cache; WRITE may read, cache and dirty; WRITE_ONLY
//   may only create, delete or add delta items blind (no reads), so many clients can hold it
//   at once (orphan and index updates).
// - The client rule, lock_mode_satisfies, never consults another client. The server rule,
//   lock_grant_compatible, is not symmetric: it compares a granted entry with a request, and
//   the same-rid cases are how a client upgrades (READ to WRITE keeps its cache) and shrinks (a
//   NULL request conflicts with its own grant, so shrinking becomes a self-invalidation).
// - The wire carries a mode as one byte; lock_mode_valid says whether a byte names a mode.
#pragma once

#include <cstdint>

namespace simfs::fs {

enum class LockMode : uint8_t { kNull = 0, kRead = 1, kWrite = 2, kWriteOnly = 3 };

// "null", "read", "write", "write_only".
const char* lock_mode_name(LockMode m);

bool lock_mode_valid(uint8_t wire);

// Whether a client that holds `held` may go ahead with a use that needs `wanted` without
// asking the server.
bool lock_mode_satisfies(LockMode held, LockMode wanted);
bool lock_mode_can_read(LockMode m);
bool lock_mode_can_write(LockMode m);

// Whether the server may grant `requested` to `requested_rid` while `granted_rid` holds
// `granted`. Shared modes (READ, WRITE_ONLY) share; a rid may upgrade its own READ to WRITE;
// NULL coexists with anything of another rid; everything else conflicts.
bool lock_grant_compatible(uint64_t granted_rid, LockMode granted, uint64_t requested_rid, LockMode requested);

// The mode a conflicting holder is asked to drop to: a writer keeps reading (and its cache)
// when only a reader is waiting; otherwise it drops everything.
LockMode lock_invalidation_mode(LockMode granted, LockMode requested);

}  // namespace simfs::fs
