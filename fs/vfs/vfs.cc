#include "fs/vfs/vfs.h"

#include <algorithm>
#include <cstring>

#include "fs/base/assert.h"
#include "fs/lock/lock_keys.h"
#include "fs/vfs/vfs_op.h"
#include "sim/task.h"

namespace simfs::fs {

using namespace vfs_internal;

Vfs::Op& Vfs::current_op() {
  auto it = ops_.find(sim::this_task::id());
  FS_ASSERT(it != ops_.end());  // items change only inside an operation
  return *it->second;
}

void Vfs::put(const Key& key, std::vector<uint8_t> value) {
  const Key lock = lock_key_for_item(key);
  Op& op = current_op();
  const LockClient::Use* u = op.use_of(lock);
  FS_ASSERT(u && lock_mode_can_write(u->mode));  // a change outside a lock held for writing
  op.changed();
  m_.dirtied(lock);
  m_.items().put(key, std::move(value), item_write_seq(key, *u));
}

void Vfs::del(const Key& key) {
  const Key lock = lock_key_for_item(key);
  Op& op = current_op();
  const LockClient::Use* u = op.use_of(lock);
  FS_ASSERT(u && lock_mode_can_write(u->mode));
  op.changed();
  m_.dirtied(lock);
  m_.items().del(key, item_write_seq(key, *u));
}

uint64_t Vfs::item_write_seq(const Key& key, const LockClient::Use& u) {
  // An orphan record is written under the orphan lock, which every mount holds WRITE_ONLY at
  // once: its write_seq orders nothing between mounts, and a later change of the record by
  // one mount could lose to an earlier one by another (the record of an unlinked inode deleted
  // for good by a stale "linked back in" deletion). The operation also holds the inode's own
  // lock for writing, whose grants are exclusive and rising: its write_seq orders the changes
  // of one inode's record across mounts (scoutfs-design §2.2, the primary lock's write_seq).
  uint64_t seq = u.write_seq;
  if (key.zone == kZoneOrphan && !m_.config().bugs.has(Bug::kOrphanSeqIgnoresInodeLock)) {  // BUG (planted) when skipped
    if (const LockClient::Use* primary = current_op().use_of(inode_lock_key(key.ino))) {
      seq = std::max(seq, primary->write_seq);
    }
  }
  return seq;
}

sim::Errno Vfs::get(const Key& key, std::vector<uint8_t>* value) {
  FS_ASSERT(m_.items().covered(key));  // a read outside a lock held for reading
  return m_.items().get(key, value);
}

sim::Errno Vfs::next(const Key& from, const Key& last, Item* out) {
  FS_ASSERT(m_.items().covered(from, last));
  return m_.items().next(from, last, out);
}


// ---- helpers (mutex held) ----

sim::Errno Vfs::get_inode(uint64_t ino, InodeValue* out) {
  std::vector<uint8_t> v;
  sim::Errno e = get(inode_key(ino), &v);
  if (e) return io(e);
  return decode_inode(v, out) ? 0 : EIO;
}

sim::Errno Vfs::get_reachable(uint64_t ino, InodeValue* out) {
  sim::Errno e = get_inode(ino, out);
  // Unlinked, waiting to be deleted: reachable only through this mount's open reference (as a
  // process reaches an unlinked file only through its descriptor).
  if (!e && out->nlink == 0 && !open_.count(ino)) return ENOENT;
  return e;
}

sim::Errno Vfs::get_dir(uint64_t dir, InodeValue* out) {
  sim::Errno e = get_inode(dir, out);
  if (e) return e;
  if (!is_dir(out->mode)) return ENOTDIR;
  // Removed (waiting to be deleted once no mount has it open): nothing new goes in.
  return out->nlink == 0 ? ENOENT : 0;
}

sim::Errno Vfs::find_entry(uint64_t dir, std::string_view name, DirentValue* out) {
  const uint64_t h = name_hash(name);
  Key pos = dirent_key(dir, h, 0);
  const Key last = dirent_key(dir, h, UINT64_MAX);
  for (;;) {
    Item it;
    sim::Errno e = next(pos, last, &it);
    if (e) return io(e);
    if (!decode_dirent(it.value, out) || out->pos != it.key.second) return EIO;
    if (out->name == name) return 0;
    if (it.key == last) return ENOENT;
    pos = key_successor(it.key);
  }
}

sim::Errno Vfs::add_entry(uint64_t dir, std::string_view name, uint64_t ino, uint32_t mode, bool count_link) {
  InodeValue d;
  sim::Errno e = get_dir(dir, &d);
  if (e) return e;
  DirentValue de{ino, d.next_readdir_pos++, dtype_of(mode), std::string(name)};
  auto v = encode_dirent(de);
  put(dirent_key(dir, name_hash(name), de.pos), v);
  put(readdir_key(dir, de.pos), std::move(v));
  put(link_key(ino, dir, de.pos), encode_link(name));
  if (is_dir(mode) && count_link) ++d.nlink;
  d.mtime_ns = d.ctime_ns = m_.now_ns();
  put_inode(dir, d);
  return 0;
}

sim::Errno Vfs::remove_entry(uint64_t dir, const DirentValue& de, bool child_is_dir) {
  InodeValue d;
  sim::Errno e = get_dir(dir, &d);
  if (e) return e;
  del(dirent_key(dir, name_hash(de.name), de.pos));
  del(readdir_key(dir, de.pos));
  del(link_key(de.ino, dir, de.pos));
  if (child_is_dir) --d.nlink;
  d.mtime_ns = d.ctime_ns = m_.now_ns();
  put_inode(dir, d);
  return 0;
}

sim::Errno Vfs::dir_empty(uint64_t dir, bool* empty) {
  Item it;
  sim::Errno e = next(readdir_key(dir, 0), readdir_key(dir, UINT64_MAX), &it);
  if (e && e != ENOENT) return io(e);
  *empty = e == ENOENT;
  return 0;
}

sim::Errno Vfs::parent_of(uint64_t dir, uint64_t* parent) {
  if (dir == kRootIno) {
    *parent = kRootIno;
    return 0;
  }
  // A directory has exactly one link: its backref names the parent.
  Item it;
  sim::Errno e = next(type_first(dir, kTypeLink), type_last(dir, kTypeLink), &it);
  if (e) return io(e) == ENOENT ? EIO : io(e);
  *parent = it.key.first;
  return 0;
}

sim::Errno Vfs::delete_inode(uint64_t ino) {
  // Every record of the inode sorts together: walk them, freeing the data extents map.
  Key pos = inode_first(ino);
  const Key last = inode_last(ino);
  for (;;) {
    Item it;
    sim::Errno e = next(pos, last, &it);
    if (e == ENOENT) break;
    if (e) return io(e);
    if (it.key.type == kTypeExtent) {
      ExtentMap map;
      if (!decode_extent(it.value, &map)) return EIO;
      const bool leak = m_.config().bugs.has(Bug::kLeakOnDelete);  // BUG (planted) when set
      for (uint64_t b : map)
        if (b && !leak && (e = m_.free_data(b))) return e;
    }
    del(it.key);
    if (it.key == last) break;
    pos = key_successor(it.key);
  }
  del(orphan_key(ino));
  m_.inodes_changed(-1);
  return 0;
}

sim::Errno Vfs::drop_link(uint64_t ino) {
  InodeValue v;
  sim::Errno e = get_inode(ino, &v);
  if (e) return e == ENOENT ? EIO : e;
  if (v.nlink == 0) return EIO;
  --v.nlink;
  v.ctime_ns = m_.now_ns();
  put_inode(ino, v);
  if (v.nlink == 0) orphan(ino);
  return 0;
}

void Vfs::orphan(uint64_t ino) {
  // The inode's items go once no mount has it open (its open lock, taken for writing, tells):
  // the orphan record keeps it findable across crashes until then.
  put(orphan_key(ino), {});
  queue_orphan(ino);
}

sim::Errno Vfs::retry_short_of_space(const std::function<sim::Errno()>& once) {
  enospc_retry_task_ = sim::this_task::id();
  sim::Errno e = once();
  enospc_retry_task_ = 0;
  if (e != ENOSPC) return e;
  if (orphans_pending() == 0) {
    m_.op_done();  // no retry: the ENOSPC was this call's answer
    return e;
  }
  // Unlinked inodes waiting to be deleted still hold their space: let them go (bounded: one
  // held open somewhere stays), commit so the space can be handed out again, and try once more.
  for (int i = 0; i < 1000 && orphans_pending() > 0; ++i) sim::this_task::sleep(sim::kMillisecond);
  if (sim::Errno c = m_.commit()) return c;
  return once();
}

sim::Errno Vfs::make_node(uint64_t dir, std::string_view name, uint32_t mode, std::string_view target,
                          uint64_t* ino) {
  return retry_short_of_space([&] { return make_node_once(dir, name, mode, target, ino); });
}

sim::Errno Vfs::make_node_once(uint64_t dir, std::string_view name, uint32_t mode, std::string_view target,
                               uint64_t* ino) {
  // The new inode's number first: its lock is taken with the directory's, in key order.
  uint64_t n = 0;
  if (sim::Errno e = m_.alloc_ino(&n)) return count_call(e == ESHUTDOWN ? EIO : e);
  Op op(*this);
  op.write(dir).write(n);
  sim::Errno e = op.begin(8);
  if (!e) e = check_name(name);
  InodeValue d;
  if (!e) e = get_dir(dir, &d);
  DirentValue existing;
  if (!e) {
    e = find_entry(dir, name, &existing);
    e = e == 0 ? EEXIST : e == ENOENT ? 0 : e;
  }
  if (!e && is_lnk(mode) && target.size() > kSymlinkMax) e = ENAMETOOLONG;
  if (!e && is_lnk(mode) && target.empty()) e = ENOENT;  // as Linux: an empty target
  if (e) return op.finish(e);
  m_.inodes_changed(+1);
  InodeValue v;
  v.mode = mode;
  v.nlink = is_dir(mode) ? 2 : 1;
  v.atime_ns = v.mtime_ns = v.ctime_ns = m_.now_ns();
  if (is_lnk(mode)) {
    v.size = target.size();
    put(symlink_key(n), encode_symlink(target));
  }
  put_inode(n, v);
  e = add_entry(dir, name, n, mode);
  if (!e) *ino = n;
  return op.finish(e);
}

// ---- namespace operations ----

sim::Errno Vfs::lookup(uint64_t dir, std::string_view name, uint64_t* ino) {
  Op op(*this);
  op.read(dir);
  sim::Errno e = op.begin(0);
  if (!e) e = check_name(name);
  InodeValue d;
  if (!e) e = get_dir(dir, &d);
  DirentValue de;
  if (!e) e = find_entry(dir, name, &de);
  if (!e) *ino = de.ino;
  return op.finish(e);
}

sim::Errno Vfs::getattr(uint64_t ino, Attr* out) {
  Op op(*this);
  op.read(ino);
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_reachable(ino, &v);
  if (!e) *out = Attr{ino, v.mode, v.uid, v.gid, v.nlink, v.size, v.atime_ns, v.mtime_ns, v.ctime_ns};
  return op.finish(e);
}

sim::Errno Vfs::create(uint64_t dir, std::string_view name, uint32_t mode, uint64_t* ino) {
  return make_node(dir, name, kModeReg | (mode & 07777), {}, ino);
}
sim::Errno Vfs::mkdir(uint64_t dir, std::string_view name, uint32_t mode, uint64_t* ino) {
  return make_node(dir, name, kModeDir | (mode & 07777), {}, ino);
}
sim::Errno Vfs::symlink(uint64_t dir, std::string_view name, std::string_view target, uint64_t* ino) {
  return make_node(dir, name, kModeLnk | 0777, target, ino);
}

sim::Errno Vfs::readlink(uint64_t ino, std::string* target) {
  Op op(*this);
  op.read(ino);
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_reachable(ino, &v);
  if (!e && !is_lnk(v.mode)) e = EINVAL;
  std::vector<uint8_t> raw;
  if (!e) {
    e = io(get(symlink_key(ino), &raw));
    if (e == ENOENT) e = EIO;  // a symlink inode without its target
  }
  if (!e && !decode_symlink(raw, target)) e = EIO;
  return op.finish(e);
}

sim::Errno Vfs::link(uint64_t ino, uint64_t dir, std::string_view name) {
  return retry_short_of_space([&] { return link_once(ino, dir, name); });
}

sim::Errno Vfs::link_once(uint64_t ino, uint64_t dir, std::string_view name) {
  Op op(*this);
  op.write(ino).write(dir).want(orphan_lock_key(), LockMode::kWriteOnly);
  sim::Errno e = op.begin(6);
  if (!e) e = check_name(name);
  InodeValue v, d;
  if (!e) e = get_reachable(ino, &v);
  if (!e && is_dir(v.mode)) e = EPERM;
  if (!e) e = get_dir(dir, &d);
  DirentValue existing;
  if (!e) {
    e = find_entry(dir, name, &existing);
    e = e == 0 ? EEXIST : e == ENOENT ? 0 : e;
  }
  if (e) return op.finish(e);
  ++v.nlink;
  v.ctime_ns = m_.now_ns();
  put_inode(ino, v);
  del(orphan_key(ino));  // linking an open orphan back in (linkat of an O_TMPFILE)
  return op.finish(add_entry(dir, name, ino, v.mode));
}

sim::Errno Vfs::find_child(uint64_t dir, std::string_view name, DirentValue* de, InodeValue* child) {
  sim::Errno e = check_name(name);
  InodeValue d;
  if (!e) e = get_dir(dir, &d);
  if (!e) e = find_entry(dir, name, de);
  if (e) return e;
  e = get_inode(de->ino, child);
  return e == ENOENT ? EIO : e;  // an entry naming no inode: the tree is damaged
}

sim::Errno Vfs::child_ino(uint64_t dir, std::string_view name, uint64_t* ino, uint8_t* dtype) {
  Op op(*this, /*counted=*/false);
  op.read(dir);
  sim::Errno e = op.begin(0);
  DirentValue de;
  if (!e) e = check_name(name);
  InodeValue d;
  if (!e) e = get_dir(dir, &d);
  if (!e) e = find_entry(dir, name, &de);
  if (!e) *ino = de.ino;
  if (!e && dtype) *dtype = de.dtype;
  return op.finish(e);
}

// unlink and rmdir learn the child's inode only by looking it up, so they look first (with the
// directory's lock alone), then take both locks in key order and check that the name still
// names that inode; if it changed meanwhile they start over.
sim::Errno Vfs::remove(uint64_t dir, std::string_view name, bool want_dir) {
  for (int attempt = 0; attempt < kRetriesMax; ++attempt) {
    uint64_t ino = 0;
    if (sim::Errno e = child_ino(dir, name, &ino)) return count_call(e);
    Op op(*this);
    op.write(dir).write(ino).want(orphan_lock_key(), LockMode::kWriteOnly);
    sim::Errno e = op.begin(6, 0, /*deleting=*/true);
    DirentValue de;
    InodeValue v;
    InodeValue d;
    if (!e) e = get_dir(dir, &d);
    if (!e) e = find_entry(dir, name, &de);
    // Renamed or replaced meanwhile: the inode we locked is not the one the name names now
    // (and that one's items are not ours to read).
    if (!e && de.ino != ino) continue;
    if (!e) {
      e = get_inode(de.ino, &v);
      if (e == ENOENT) e = EIO;  // an entry naming no inode: the tree is damaged
    }
    if (!e && want_dir && !is_dir(v.mode)) e = ENOTDIR;
    if (!e && !want_dir && is_dir(v.mode)) e = EISDIR;
    bool empty = true;
    if (!e && want_dir) e = dir_empty(de.ino, &empty);
    if (want_dir && m_.config().bugs.has(Bug::kRmdirNotEmpty)) empty = true;  // BUG (planted)
    if (!e && !empty) e = ENOTEMPTY;
    if (e) return op.finish(e);
    e = remove_entry(dir, de, want_dir);
    if (!e && want_dir) {
      v.nlink = 0;
      v.ctime_ns = m_.now_ns();
      put_inode(de.ino, v);
      orphan(de.ino);
    } else if (!e) {
      e = drop_link(de.ino);
    }
    return op.finish(e);
  }
  return count_call(EIO);  // a name that keeps changing under us: give up rather than loop
}

sim::Errno Vfs::unlink(uint64_t dir, std::string_view name) { return remove(dir, name, false); }
sim::Errno Vfs::rmdir(uint64_t dir, std::string_view name) { return remove(dir, name, true); }

sim::Errno Vfs::rename(uint64_t odir, std::string_view oname, uint64_t ndir, std::string_view nname, unsigned flags) {
  if (sim::Errno e = check_name(oname)) return count_call(e);
  if (sim::Errno e = check_name(nname)) return count_call(e);
  if (flags & ~kRenameNoReplace) return count_call(EINVAL);
  // The rename lock first, alone: it freezes every directory's parent across the cluster, so the
  // walk up from the new parent stays true until the rename is done.
  LockClient::Use rename_use;
  if (m_.locks().acquire(rename_lock_key(), LockMode::kWrite, &rename_use)) return count_call(EIO);
  struct Release {
    Mount& m;
    LockClient::Use& u;
    ~Release() { m.locks().release(u); }
  } release{m_, rename_use};
  for (int attempt = 0; attempt < kRetriesMax; ++attempt) {
    uint64_t src = 0, tgt = 0;
    uint8_t src_type = 0;
    if (sim::Errno e = child_ino(odir, oname, &src, &src_type)) return count_call(e);
    sim::Errno te = child_ino(ndir, nname, &tgt);
    if (te && te != ENOENT) return count_call(te);
    if (te == ENOENT) tgt = 0;
    // A directory must not move below itself: walk up from the new parent to the root, one
    // lock at a time. The answer counts only after the checks POSIX makes first (below).
    sim::Errno below = 0;
    if (odir != ndir && is_dir(uint32_t{src_type} << 12)) {
      for (uint64_t p = ndir, steps = 0; p != kRootIno && !below; ++steps) {
        if (p == src) {
          below = EINVAL;
          break;
        }
        if (steps > (uint64_t{1} << 20)) {
          below = EIO;  // a cycle: the tree on disk is damaged
          break;
        }
        Op up(*this, /*counted=*/false);
        up.read(p);
        sim::Errno e = up.begin(0);
        uint64_t parent = 0;
        InodeValue pv;
        if (!e) e = get_inode(p, &pv);
        if (!e) e = parent_of(p, &parent);
        below = up.finish(e);
        p = parent;
      }
    }
    Op op(*this);
    op.write(odir).write(ndir).write(src).want(orphan_lock_key(), LockMode::kWriteOnly);
    if (tgt) op.write(tgt);
    sim::Errno e = op.begin(12, 0, /*deleting=*/true);
    InodeValue od, nd, sv;
    if (!e) e = get_dir(odir, &od);
    if (!e) e = get_dir(ndir, &nd);
    DirentValue sde, tde;
    if (!e) e = find_entry(odir, oname, &sde);
    bool have_target = false;
    InodeValue tv;
    if (!e) {
      e = find_entry(ndir, nname, &tde);
      have_target = e == 0;
      if (e == ENOENT) e = 0;
    }
    // Changed meanwhile: the names no longer name the inodes we locked.
    if (!e && (sde.ino != src || (have_target ? tde.ino : 0) != tgt)) continue;
    if (!e) e = get_inode(sde.ino, &sv);
    if (e) return op.finish(e);
    if (have_target) {
      if (tde.ino == sde.ino) return op.finish(0);  // two links to one inode: POSIX says do nothing
      if (flags & kRenameNoReplace) e = EEXIST;
      if (!e) e = get_inode(tde.ino, &tv);
      if (!e && is_dir(sv.mode) && !is_dir(tv.mode)) e = ENOTDIR;
      if (!e && !is_dir(sv.mode) && is_dir(tv.mode)) e = EISDIR;
      bool empty = true;
      if (!e && is_dir(tv.mode)) e = dir_empty(tde.ino, &empty);
      if (!e && !empty) e = ENOTEMPTY;
    }
    if (!e && is_dir(sv.mode) && odir != ndir) e = below;
    if (e) return op.finish(e);
    if (have_target) {
      e = remove_entry(ndir, tde, is_dir(tv.mode));
      if (!e && is_dir(tv.mode)) {
        tv.nlink = 0;
        tv.ctime_ns = m_.now_ns();
        put_inode(tde.ino, tv);
        orphan(tde.ino);
      } else if (!e) {
        e = drop_link(tde.ino);
      }
    }
    // BUG (planted, rename_dir_nlink): the parents' link counts are left as they were.
    const bool count_links = !(m_.config().bugs.has(Bug::kRenameDirNlink) && odir != ndir);
    if (!e) e = remove_entry(odir, sde, is_dir(sv.mode) && count_links);
    if (!e) e = add_entry(ndir, nname, sde.ino, sv.mode, count_links);
    if (!e) {
      InodeValue s2;
      e = get_inode(sde.ino, &s2);
      if (!e) {
        s2.ctime_ns = m_.now_ns();
        put_inode(sde.ino, s2);
      }
    }
    return op.finish(e);
  }
  return count_call(EIO);
}

sim::Errno Vfs::readdir(uint64_t dir, uint64_t pos, size_t max, std::vector<DirEntry>* out) {
  Op op(*this);
  op.read(dir);
  out->clear();
  sim::Errno e = op.begin(0);
  InodeValue d;
  if (!e) e = get_dir(dir, &d);
  Key k = readdir_key(dir, std::max(pos, kFirstReaddirPos));
  const Key last = readdir_key(dir, UINT64_MAX);
  while (!e && out->size() < max) {
    Item it;
    e = next(k, last, &it);
    if (e == ENOENT) {
      e = 0;
      break;
    }
    if (e) break;
    DirentValue de;
    if (!decode_dirent(it.value, &de) || de.pos != it.key.first) {
      e = EIO;
      break;
    }
    out->push_back(DirEntry{de.pos, de.ino, de.dtype, de.name});
    if (it.key == last) break;
    k = key_successor(it.key);
  }
  return op.finish(io(e));
}

// ---- attributes ----

sim::Errno Vfs::setattr(uint64_t ino, const SetAttr& set) {
  return retry_short_of_space([&] { return setattr_once(ino, set); });
}

sim::Errno Vfs::setattr_once(uint64_t ino, const SetAttr& set) {
  Op op(*this);
  op.write(ino);
  sim::Errno e = op.begin(4, 0, /*deleting=*/true);
  InodeValue v;
  if (!e) e = get_reachable(ino, &v);
  if (!e && set.size && !is_reg(v.mode)) e = is_dir(v.mode) ? EISDIR : EINVAL;
  if (!e && set.size && *set.size > kFileSizeMax) e = EFBIG;
  // Shrinking into the middle of a durable block copies that block (its tail is zeroed): one
  // new data block, which must be there before anything changes.
  if (!e && set.size && *set.size < v.size && *set.size % kDataBlockSize) {
    ExtentMap map;
    const uint64_t blk = *set.size / kDataBlockSize;
    e = load_extent(ino, blk / kExtentRegionBlocks, &map);
    const uint64_t b = e ? 0 : map[blk % kExtentRegionBlocks];
    const bool planted = m_.config().bugs.has(Bug::kTruncateNoReserve);  // BUG (planted) when set
    if (b && !m_.data_block_is_new(b) && !planted && !m_.reserve_data(1)) e = ENOSPC;
  }
  if (e) return op.finish(e);
  if (set.size && *set.size != v.size) {
    e = truncate_blocks(ino, v.size, *set.size);
    if (e) return op.finish(e);
    v.size = *set.size;
    v.mtime_ns = m_.now_ns();
  }
  if (set.mode) v.mode = (v.mode & kModeTypeMask) | (*set.mode & 07777);
  if (set.uid) v.uid = *set.uid;
  if (set.gid) v.gid = *set.gid;
  if (set.atime_ns) v.atime_ns = *set.atime_ns;
  if (set.mtime_ns) v.mtime_ns = *set.mtime_ns;
  v.ctime_ns = m_.now_ns();
  put_inode(ino, v);
  return op.finish(0);
}

sim::Errno Vfs::truncate(uint64_t ino, uint64_t size) {
  SetAttr s;
  s.size = size;
  return setattr(ino, s);
}

}  // namespace simfs::fs
