// Small helpers shared by the cluster protocol tests (fs/cluster/tests): byte strings, operations
// run in a task of a node (so that a crash of that node unwinds them, not the test task), inode
// numbers that start a new lock group, and the pairwise compatibility of what two mounts hold.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/lock/lock_keys.h"
#include "fs/lock/lock_mode.h"
#include "fs/testing/cluster_world.h"

namespace simfs::fs::cluster_test {

using testing::ClusterWorld;

inline std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
inline std::string str(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }

// An operation running in a task of a node. `done` stays false if the node crashed under it.
struct NodeOp {
  bool done = false;
  sim::Errno rc = -1;
};
// `op` runs in a task of node `node`; `out` must outlive the run (declare it before w.run).
inline void run_on(ClusterWorld& w, int node, const char* name, std::function<sim::Errno()> op, NodeOp* out) {
  *out = NodeOp{};
  w.nodes[static_cast<size_t>(node)]->spawn(name, [op = std::move(op), out] {
    out->rc = op();
    out->done = true;
  });
}

// Takes (and wastes: inode numbers are never reused) inode numbers on `m` until the next one
// starts a lock group, so the next create gets an inode lock of its own. In the test task.
inline void skip_to_new_group(Mount& m) {
  for (;;) {
    uint64_t next = 0;
    ASSERT_EQ(m.peek_ino(&next), 0);
    if (next % kLockGroupInodes == 0) return;
    ASSERT_EQ(m.alloc_ino(&next), 0);
  }
}

// Whether an invalidation worker of `m` is between its start and its answer (waiting for users,
// or committing what the lock dirtied).
inline bool invalidating(Mount& m) { return m.locks().busy_report().find("invalidating") != std::string::npos; }

// "" when every lock mount a holds is compatible, both ways, with what mount b holds there
// (lock_grant_compatible on the modes the LockClients hold), else the first conflict.
inline std::string held_conflict(uint64_t rid_a, const LockClient& a, uint64_t rid_b, const LockClient& b) {
  for (const auto& [key, mode] : a.held_locks()) {
    const LockMode other = b.held(key);
    if (other == LockMode::kNull) continue;
    if (!lock_grant_compatible(rid_a, mode, rid_b, other) || !lock_grant_compatible(rid_b, other, rid_a, mode)) {
      return key_string(key) + ": rid " + std::to_string(rid_a) + " holds " + lock_mode_name(mode) + ", rid " +
             std::to_string(rid_b) + " holds " + lock_mode_name(other);
    }
  }
  return "";
}

}  // namespace simfs::fs::cluster_test
