// The VFS: open references and orphans (deletion once no mount has an unlinked inode open).
#include <algorithm>
#include <cstring>

#include "fs/vfs/vfs_op.h"

namespace simfs::fs {

using namespace vfs_internal;

// ---- open references and orphans ----

sim::Errno Vfs::open(uint64_t ino) {
  // Open here already: this mount's use of the open lock covers another open. Taking the lock
  // again could deadlock: while another mount's delete waits to write it, a new use waits for
  // the invalidation, which waits for this mount's last close, which may be the waiting task's
  // own next operation (a liveness failure cluster_smoke found).
  if (auto it = open_.find(ino); it != open_.end()) {
    if (m_.failed()) return count_call(m_.failed());
    ++it->second;
    return count_call(0);
  }
  Op op(*this);
  op.want(open_lock_key(ino), LockMode::kRead).read(ino);
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_reachable(ino, &v);
  // The open lock stays used while the inode is open here, so no mount deletes it meanwhile
  // (deleting takes that lock for writing): the operation's own use of it is kept.
  if (!e && open_[ino]++ == 0) open_uses_[ino] = op.keep(open_lock_key(ino));
  return op.finish(e);
}

sim::Errno Vfs::close(uint64_t ino) {
  auto it = open_.find(ino);
  if (it == open_.end()) return count_call(EINVAL);  // not open: a caller bug, like close(-1)'s EBADF
  if (m_.failed()) return count_call(m_.failed());
  if (--it->second > 0) return count_call(0);
  open_.erase(it);
  m_.locks().release(open_uses_.at(ino));
  open_uses_.erase(ino);
  return count_call(0);
}

void Vfs::queue_orphan(uint64_t ino) {
  if (!orphans_queued_.insert(ino).second) return;
  std::shared_ptr<bool> alive = alive_;
  m_.env().spawn("fs.orphan", [this, alive, ino] {
    if (!*alive) return;
    sim::Errno e = delete_orphan(ino);
    if (!*alive) return;
    orphans_queued_.erase(ino);
    if (!e) ++orphans_deleted_;
  }, /*daemon=*/true);
}

sim::Errno Vfs::delete_orphan(uint64_t ino) {
  Op op(*this, /*counted=*/false);
  // Writing the open lock waits until no mount has the inode open (this one included).
  op.want(open_lock_key(ino), LockMode::kWrite).write(ino).want(orphan_lock_key(), LockMode::kWriteOnly);
  sim::Errno e = op.begin(6, 0, /*deleting=*/true);
  if (e) return op.finish(e);
  if (open_.count(ino)) return op.finish(0);  // opened here again: its last close queues it
  InodeValue v;
  e = get_inode(ino, &v);
  if (e == ENOENT || (e == 0 && v.nlink > 0)) {
    // Deleted by another mount already, or linked back in: only the record is left.
    del(orphan_key(ino));
    return op.finish(0);
  }
  if (e) return op.finish(e);
  return op.finish(delete_inode(ino));
}

sim::Errno Vfs::recover_orphans() {
  // Orphans are read from the stable forest, without the orphan lock: the lock is shared
  // WRITE_ONLY by every mount, and reading under it would invalidate them all.
  std::vector<Item> orphans;
  const Key first{kZoneOrphan, 0, 0, 0, 0};
  const Key last{kZoneOrphan, UINT64_MAX, UINT8_MAX, UINT64_MAX, UINT64_MAX};
  sim::Errno e = m_.read_stable(first, last, &orphans);
  if (e) return e == ESHUTDOWN ? EIO : e;
  for (const Item& it : orphans) queue_orphan(it.key.ino);
  return 0;
}

Mount::Statfs Vfs::statfs() { return m_.statfs(); }

}  // namespace simfs::fs
