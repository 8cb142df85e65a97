// Vfs::Op and the small helpers that the VFS's source files share (fs/vfs/*.cc only: not part of
// the VFS's interface). One operation per task at a time; vfs.h says what an operation promises.
#pragma once

#include <string_view>

#include "fs/base/assert.h"
#include "fs/lock/lock_keys.h"
#include "fs/vfs/vfs.h"
#include "sim/task.h"

namespace simfs::fs {

// Runs one operation: takes its locks in key order (so no two tasks or mounts wait on each
// other in a cycle), refuses to start on a stopped mount, holds the transaction while it
// changes anything, and after the body either lets the transaction grow (maybe_commit) or, if
// the body failed after changing something it cannot take back, stops the mount.
class Vfs::Op {
 public:
  // counted: this is the operation a VFS call reports as done (MountStats::ops_done), which an
  // observer numbers calls by. The look-ups some calls make first, and background deletions,
  // are not counted; a call that fails before its operation counts itself (count_call).
  explicit Op(Vfs& v, bool counted = true) : v_(v), task_(sim::this_task::id()), counted_(counted) {
    v_.ops_[task_] = this;
    v_.held_trans_.erase(task_);
  }
  // An operation abandoned without finish() (a look-up that found its names changed, and starts
  // over) changed nothing: it lets go of the transaction and its locks.
  ~Op() {
    if (holding_) v_.m_.release();
    release_all();
    v_.ops_.erase(task_);
    // Only a caller's own operations are asked about afterwards (held_trans_seq); background
    // ones (orphan deletion, one task each) would otherwise leave an entry per task.
    if (!counted_) v_.held_trans_.erase(task_);
  }
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;

  Op& read(uint64_t ino) { return want(inode_lock_key(ino), LockMode::kRead); }
  Op& write(uint64_t ino) { return want(inode_lock_key(ino), LockMode::kWrite); }
  Op& want(const Key& lock, LockMode mode) {
    auto [it, inserted] = wants_.try_emplace(lock, mode);
    if (!inserted && it->second != mode) it->second = LockMode::kWrite;  // both uses: the stronger
    return *this;
  }

  sim::Errno begin(size_t items, uint64_t data_blocks = 0, bool deleting = false) {
    if (sim::Errno e = v_.m_.failed()) return e;
    for (const auto& [lock, mode] : wants_) {
      LockClient::Use u;
      if (sim::Errno e = v_.m_.locks().acquire(lock, mode, &u)) return e == ESHUTDOWN ? EIO : e;
      uses_.push_back(u);
    }
    // Reads hold nothing, so a full filesystem can still be read.
    if (items || data_blocks) {
      if (sim::Errno e = v_.m_.hold(items, data_blocks, deleting)) return e;
      holding_ = true;
      // No commit completes while we hold: this is the transaction our changes go into.
      v_.held_trans_[task_] = v_.m_.trans_seq();
    }
    return 0;
  }
  sim::Errno finish(sim::Errno e) {
    // Before maybe_commit: a commit made now contains this operation. An ENOSPC that the call
    // will retry is not counted here (the retry is).
    if (counted_ && !(e == ENOSPC && v_.enospc_retry_task_ == task_)) v_.m_.op_done();
    sim::Errno r = e;
    if (e != 0 && mods_ != 0) {
      v_.m_.fail(e);
      r = EIO;
    } else if (e == ESTALE) {
      r = EIO;  // nothing changed: a plain error; device and metadata errors surface as EIO
    }
    if (holding_) {
      v_.m_.release();
      holding_ = false;
    }
    if (r == 0) r = v_.m_.maybe_commit();
    release_all();
    return r;
  }
  // A change of this operation (Vfs::put/del count them).
  void changed() { ++mods_; }
  // Hands the operation's use of `lock` to the caller, who keeps it past the operation (an
  // open reference keeps its open lock). Taking it again instead would be out of lock order,
  // and could wait on an invalidation that waits on this very use.
  LockClient::Use keep(const Key& lock) {
    for (auto it = uses_.begin(); it != uses_.end(); ++it) {
      if (it->lock == lock) {
        LockClient::Use u = *it;
        uses_.erase(it);
        return u;
      }
    }
    FS_ASSERT(false);
    return {};
  }
  // The lock taken for `lock`, which must be one of this operation's.
  const LockClient::Use* use_of(const Key& lock) const {
    for (const LockClient::Use& u : uses_)
      if (u.lock == lock) return &u;
    return nullptr;
  }

 private:
  void release_all() {
    for (const LockClient::Use& u : uses_) v_.m_.locks().release(u);
    uses_.clear();
  }
  Vfs& v_;
  sim::TaskId task_;
  bool counted_;
  std::map<Key, LockMode> wants_;  // ordered: acquired in key order
  std::vector<LockClient::Use> uses_;
  bool holding_ = false;
  uint64_t mods_ = 0;
};

namespace vfs_internal {


inline sim::Errno check_name(std::string_view name) {
  if (name.size() > kNameMax) return ENAMETOOLONG;
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos)
    return EINVAL;
  return 0;
}

// A read of an item that must exist or must decode: anything else is damage.
inline sim::Errno io(sim::Errno e) { return e == ESTALE ? EIO : e; }

inline uint8_t dtype_of(uint32_t mode) { return static_cast<uint8_t>(mode >> 12); }


}  // namespace vfs_internal

}  // namespace simfs::fs
