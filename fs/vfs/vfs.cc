#include "fs/vfs/vfs.h"

#include <algorithm>
#include <cstring>

#include "fs/base/assert.h"

namespace simfs::fs {

// Runs one operation: holds the mount's mutex, refuses to start on a stopped mount, and after
// the body either lets the transaction grow (maybe_commit) or, if the body failed after
// changing something it cannot take back, stops the mount.
class Vfs::Op {
 public:
  explicit Op(Vfs& v) : v_(v), guard_(v.m_.mutex()), start_mods_(v.m_.mods()) {}
  sim::Errno begin(size_t items, uint64_t data_blocks = 0, bool deleting = false) {
    if (sim::Errno e = v_.m_.failed()) return e;
    // Reads reserve nothing, so a full filesystem can still be read.
    sim::Errno e = items || data_blocks ? v_.m_.reserve(items, data_blocks, deleting) : 0;
    start_mods_ = v_.m_.mods();
    return e;
  }
  sim::Errno finish(sim::Errno e) {
    v_.m_.op_done();  // before maybe_commit: a commit made now contains this operation
    if (e == 0) return v_.m_.maybe_commit();
    if (v_.m_.mods() != start_mods_) {
      v_.m_.fail(e);
      return EIO;
    }
    // Nothing changed: a plain error. Device and metadata errors surface as EIO.
    return e == ESTALE ? EIO : e;
  }

 private:
  Vfs& v_;
  sim::LockGuard guard_;
  uint64_t start_mods_;
};

namespace {

sim::Errno check_name(std::string_view name) {
  if (name.size() > kNameMax) return ENAMETOOLONG;
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos)
    return EINVAL;
  return 0;
}

// A read of an item that must exist or must decode: anything else is damage.
sim::Errno io(sim::Errno e) { return e == ESTALE ? EIO : e; }

uint8_t dtype_of(uint32_t mode) { return static_cast<uint8_t>(mode >> 12); }

}  // namespace

// ---- helpers (mutex held) ----

sim::Errno Vfs::get_inode(uint64_t ino, InodeValue* out) {
  std::vector<uint8_t> v;
  sim::Errno e = m_.items().get(inode_key(ino), &v);
  if (e) return io(e);
  return decode_inode(v, out) ? 0 : EIO;
}

sim::Errno Vfs::get_dir(uint64_t dir, InodeValue* out) {
  sim::Errno e = get_inode(dir, out);
  if (e) return e;
  return is_dir(out->mode) ? 0 : ENOTDIR;
}

sim::Errno Vfs::find_entry(uint64_t dir, std::string_view name, DirentValue* out) {
  const uint64_t h = name_hash(name);
  Key pos = dirent_key(dir, h, 0);
  const Key last = dirent_key(dir, h, UINT64_MAX);
  for (;;) {
    Item it;
    sim::Errno e = m_.items().next(pos, last, &it);
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
  m_.items().put(dirent_key(dir, name_hash(name), de.pos), v);
  m_.items().put(readdir_key(dir, de.pos), std::move(v));
  m_.items().put(link_key(ino, dir, de.pos), encode_link(name));
  if (is_dir(mode) && count_link) ++d.nlink;
  d.mtime_ns = d.ctime_ns = m_.now_ns();
  put_inode(dir, d);
  return 0;
}

sim::Errno Vfs::remove_entry(uint64_t dir, const DirentValue& de, bool child_is_dir) {
  InodeValue d;
  sim::Errno e = get_dir(dir, &d);
  if (e) return e;
  m_.items().del(dirent_key(dir, name_hash(de.name), de.pos));
  m_.items().del(readdir_key(dir, de.pos));
  m_.items().del(link_key(de.ino, dir, de.pos));
  if (child_is_dir) --d.nlink;
  d.mtime_ns = d.ctime_ns = m_.now_ns();
  put_inode(dir, d);
  return 0;
}

sim::Errno Vfs::dir_empty(uint64_t dir, bool* empty) {
  Item it;
  sim::Errno e = m_.items().next(readdir_key(dir, 0), readdir_key(dir, UINT64_MAX), &it);
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
  sim::Errno e = m_.items().next(type_first(dir, kTypeLink), type_last(dir, kTypeLink), &it);
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
    sim::Errno e = m_.items().next(pos, last, &it);
    if (e == ENOENT) break;
    if (e) return io(e);
    if (it.key.type == kTypeExtent) {
      ExtentMap map;
      if (!decode_extent(it.value, &map)) return EIO;
      const bool leak = m_.config().bugs.has(Bug::kLeakOnDelete);  // BUG (planted) when set
      for (uint64_t b : map)
        if (b && !leak && (e = m_.free_data(b))) return e;
    }
    m_.items().del(it.key);
    if (it.key == last) break;
    pos = key_successor(it.key);
  }
  m_.items().del(orphan_key(ino));
  m_.inodes_changed(-1);
  open_.erase(ino);
  return 0;
}

sim::Errno Vfs::drop_link(uint64_t ino) {
  InodeValue v;
  sim::Errno e = get_inode(ino, &v);
  if (e) return e == ENOENT ? EIO : e;
  if (v.nlink == 0) return EIO;
  --v.nlink;
  v.ctime_ns = m_.now_ns();
  if (v.nlink > 0) {
    put_inode(ino, v);
    return 0;
  }
  if (open_.count(ino)) {
    put_inode(ino, v);
    m_.items().put(orphan_key(ino), {});
    return 0;
  }
  return delete_inode(ino);
}

sim::Errno Vfs::make_node(uint64_t dir, std::string_view name, uint32_t mode, std::string_view target,
                          uint64_t* ino) {
  Op op(*this);
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
  const uint64_t n = m_.alloc_ino();
  m_.inodes_changed(+1);
  InodeValue v;
  v.mode = mode;
  v.nlink = is_dir(mode) ? 2 : 1;
  v.atime_ns = v.mtime_ns = v.ctime_ns = m_.now_ns();
  if (is_lnk(mode)) {
    v.size = target.size();
    m_.items().put(symlink_key(n), encode_symlink(target));
  }
  put_inode(n, v);
  e = add_entry(dir, name, n, mode);
  if (!e) *ino = n;
  return op.finish(e);
}

// ---- namespace operations ----

sim::Errno Vfs::lookup(uint64_t dir, std::string_view name, uint64_t* ino) {
  Op op(*this);
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
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_inode(ino, &v);
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
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_inode(ino, &v);
  if (!e && !is_lnk(v.mode)) e = EINVAL;
  std::vector<uint8_t> raw;
  if (!e) {
    e = io(m_.items().get(symlink_key(ino), &raw));
    if (e == ENOENT) e = EIO;  // a symlink inode without its target
  }
  if (!e && !decode_symlink(raw, target)) e = EIO;
  return op.finish(e);
}

sim::Errno Vfs::link(uint64_t ino, uint64_t dir, std::string_view name) {
  Op op(*this);
  sim::Errno e = op.begin(6);
  if (!e) e = check_name(name);
  InodeValue v, d;
  if (!e) e = get_inode(ino, &v);
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
  m_.items().del(orphan_key(ino));  // linking an open orphan back in (linkat of an O_TMPFILE)
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

sim::Errno Vfs::unlink(uint64_t dir, std::string_view name) {
  Op op(*this);
  sim::Errno e = op.begin(6, 0, /*deleting=*/true);
  DirentValue de;
  InodeValue v;
  if (!e) e = find_child(dir, name, &de, &v);
  if (!e && is_dir(v.mode)) e = EISDIR;
  if (e) return op.finish(e);
  e = remove_entry(dir, de, false);
  if (!e) e = drop_link(de.ino);
  return op.finish(e);
}

sim::Errno Vfs::rmdir(uint64_t dir, std::string_view name) {
  Op op(*this);
  sim::Errno e = op.begin(6, 0, /*deleting=*/true);
  DirentValue de;
  InodeValue v;
  if (!e) e = find_child(dir, name, &de, &v);
  if (!e && !is_dir(v.mode)) e = ENOTDIR;
  bool empty = false;
  if (!e) e = dir_empty(de.ino, &empty);
  if (m_.config().bugs.has(Bug::kRmdirNotEmpty)) empty = true;  // BUG (planted)
  if (!e && !empty) e = ENOTEMPTY;
  if (e) return op.finish(e);
  e = remove_entry(dir, de, true);
  if (!e) e = delete_inode(de.ino);
  return op.finish(e);
}

sim::Errno Vfs::rename(uint64_t odir, std::string_view oname, uint64_t ndir, std::string_view nname, unsigned flags) {
  Op op(*this);
  sim::Errno e = op.begin(12, 0, /*deleting=*/true);
  if (!e) e = check_name(oname);
  if (!e) e = check_name(nname);
  if (!e && (flags & ~kRenameNoReplace)) e = EINVAL;
  InodeValue od, nd, src;
  if (!e) e = get_dir(odir, &od);
  if (!e) e = get_dir(ndir, &nd);
  DirentValue sde, tde;
  if (!e) e = find_entry(odir, oname, &sde);
  if (!e) e = get_inode(sde.ino, &src);
  bool have_target = false;
  InodeValue tgt;
  if (!e) {
    e = find_entry(ndir, nname, &tde);
    have_target = e == 0;
    if (e == ENOENT) e = 0;
  }
  if (!e && have_target) {
    if (tde.ino == sde.ino) return op.finish(0);  // two links to one inode: POSIX says do nothing
    if (flags & kRenameNoReplace) e = EEXIST;
    if (!e) e = get_inode(tde.ino, &tgt);
    if (!e && is_dir(src.mode) && !is_dir(tgt.mode)) e = ENOTDIR;
    if (!e && !is_dir(src.mode) && is_dir(tgt.mode)) e = EISDIR;
    bool empty = true;
    if (!e && is_dir(tgt.mode)) e = dir_empty(tde.ino, &empty);
    if (!e && !empty) e = ENOTEMPTY;
  }
  // A directory must not move below itself: walk up from the new parent to the root.
  if (!e && is_dir(src.mode) && odir != ndir) {
    for (uint64_t p = ndir, steps = 0;; ++steps) {
      if (p == sde.ino) {
        e = EINVAL;
        break;
      }
      if (p == kRootIno) break;
      if (steps > (uint64_t{1} << 32)) {
        e = EIO;  // a cycle: the tree on disk is damaged
        break;
      }
      if ((e = parent_of(p, &p))) break;
    }
  }
  if (e) return op.finish(e);
  if (have_target) {
    e = remove_entry(ndir, tde, is_dir(tgt.mode));
    if (!e) e = is_dir(tgt.mode) ? delete_inode(tde.ino) : drop_link(tde.ino);
  }
  // BUG (planted, rename_dir_nlink): the parents' link counts are left as they were.
  const bool count_links = !(m_.config().bugs.has(Bug::kRenameDirNlink) && odir != ndir);
  if (!e) e = remove_entry(odir, sde, is_dir(src.mode) && count_links);
  if (!e) e = add_entry(ndir, nname, sde.ino, src.mode, count_links);
  if (!e) {
    InodeValue s;
    e = get_inode(sde.ino, &s);
    if (!e) {
      s.ctime_ns = m_.now_ns();
      put_inode(sde.ino, s);
    }
  }
  return op.finish(e);
}

sim::Errno Vfs::readdir(uint64_t dir, uint64_t pos, size_t max, std::vector<DirEntry>* out) {
  Op op(*this);
  out->clear();
  sim::Errno e = op.begin(0);
  InodeValue d;
  if (!e) e = get_dir(dir, &d);
  Key k = readdir_key(dir, std::max(pos, kFirstReaddirPos));
  const Key last = readdir_key(dir, UINT64_MAX);
  while (!e && out->size() < max) {
    Item it;
    e = m_.items().next(k, last, &it);
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
  Op op(*this);
  sim::Errno e = op.begin(4, 1, /*deleting=*/true);
  InodeValue v;
  if (!e) e = get_inode(ino, &v);
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
    if (b && !m_.data_block_is_new(b) && !planted) e = m_.reserve(4, 1, /*deleting=*/false);
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

// ---- file data ----

sim::Errno Vfs::load_extent(uint64_t ino, uint64_t region, ExtentMap* out) {
  std::vector<uint8_t> v;
  sim::Errno e = m_.items().get(extent_key(ino, region), &v);
  if (e == ENOENT) {
    out->fill(0);
    return 0;
  }
  if (e) return io(e);
  return decode_extent(v, out) ? 0 : EIO;
}

void Vfs::store_extent(uint64_t ino, uint64_t region, const ExtentMap& m) {
  if (extent_empty(m))
    m_.items().del(extent_key(ino, region));
  else
    m_.items().put(extent_key(ino, region), encode_extent(m));
}

sim::Errno Vfs::truncate_blocks(uint64_t ino, uint64_t old_size, uint64_t new_size) {
  if (new_size >= old_size) return 0;  // extending is sparse: nothing to map
  // Blocks wholly past the new end are freed; the block holding the new end keeps its head and
  // gets a zeroed tail, so a later extension reads zeros there, never old bytes.
  const uint64_t keep_blocks = (new_size + kDataBlockSize - 1) / kDataBlockSize;
  Key pos = extent_key(ino, keep_blocks / kExtentRegionBlocks);
  const Key last = type_last(ino, kTypeExtent);
  for (;;) {
    Item it;
    sim::Errno e = m_.items().next(pos, last, &it);
    if (e == ENOENT) break;
    if (e) return io(e);
    ExtentMap map;
    if (!decode_extent(it.value, &map)) return EIO;
    const uint64_t base = it.key.first * kExtentRegionBlocks;
    for (uint32_t i = 0; i < kExtentRegionBlocks; ++i) {
      if (map[i] && base + i >= keep_blocks) {
        if ((e = m_.free_data(map[i]))) return e;
        map[i] = 0;
      }
    }
    store_extent(ino, it.key.first, map);
    if (it.key == last) break;
    pos = key_successor(it.key);
  }
  if (new_size % kDataBlockSize) {
    const uint64_t blk = new_size / kDataBlockSize;
    ExtentMap map;
    sim::Errno e = load_extent(ino, blk / kExtentRegionBlocks, &map);
    if (e) return e;
    if (map[blk % kExtentRegionBlocks]) {
      // Writing zeros from new_size to the block's end goes through the normal write path.
      InodeValue v;
      if ((e = get_inode(ino, &v))) return e;
      std::vector<uint8_t> zeros(kDataBlockSize - new_size % kDataBlockSize, 0);
      v.size = new_size;
      return do_write(ino, v, new_size, zeros);
    }
  }
  return 0;
}

sim::Errno Vfs::do_write(uint64_t ino, InodeValue& inode, uint64_t off, std::span<const uint8_t> data) {
  std::vector<uint8_t> block(kDataBlockSize);
  uint64_t done = 0;
  while (done < data.size()) {
    const uint64_t at = off + done;
    const uint64_t blk = at / kDataBlockSize;
    const uint32_t in = static_cast<uint32_t>(at % kDataBlockSize);
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(kDataBlockSize - in, data.size() - done));
    const uint64_t region = blk / kExtentRegionBlocks;
    ExtentMap map;
    sim::Errno e = load_extent(ino, region, &map);
    if (e) return e;
    uint64_t& slot = map[blk % kExtentRegionBlocks];
    const uint64_t old = slot;
    // Start from the old contents for a partial block (zeros past the old end of file).
    std::fill(block.begin(), block.end(), 0);
    if ((in != 0 || n != kDataBlockSize) && old) {
      if ((e = m_.data_disk().read(old, block))) return EIO;
      const uint64_t blk_start = blk * kDataBlockSize;
      if (inode.size < blk_start + kDataBlockSize) {
        const uint64_t valid = inode.size > blk_start ? inode.size - blk_start : 0;
        std::fill(block.begin() + static_cast<long>(valid), block.end(), 0);
      }
    }
    std::memcpy(block.data() + in, data.data() + done, n);
    // Copy on write: a block the durable state maps is never overwritten, so a crash before
    // the commit leaves the old contents intact. A block new in this transaction is rewritten.
    uint64_t target = old;
    if (!old || !m_.data_block_is_new(old)) {
      if ((e = m_.alloc_data(&target))) return e;
    }
    if ((e = m_.data_disk().write(target, block))) return EIO;
    if (target != old) {
      slot = target;
      if (old && (e = m_.free_data(old))) return e;
      store_extent(ino, region, map);
    }
    done += n;
  }
  inode.size = std::max(inode.size, off + data.size());
  return 0;
}

sim::Errno Vfs::write(uint64_t ino, uint64_t off, std::span<const uint8_t> data) {
  Op op(*this);
  const uint64_t blocks = data.empty() ? 0 : (off + data.size() - 1) / kDataBlockSize - off / kDataBlockSize + 1;
  sim::Errno e = op.begin(blocks / kExtentRegionBlocks + 3, blocks);
  InodeValue v;
  if (!e) e = get_inode(ino, &v);
  if (!e && !is_reg(v.mode)) e = is_dir(v.mode) ? EISDIR : EINVAL;
  if (!e && (off > kFileSizeMax || data.size() > kFileSizeMax - off)) e = EFBIG;
  if (e || data.empty()) return op.finish(e);
  e = do_write(ino, v, off, data);
  if (e) return op.finish(e);
  v.mtime_ns = v.ctime_ns = m_.now_ns();
  put_inode(ino, v);
  return op.finish(0);
}

sim::Errno Vfs::read(uint64_t ino, uint64_t off, size_t len, std::vector<uint8_t>* out) {
  Op op(*this);
  out->clear();
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_inode(ino, &v);
  if (!e && !is_reg(v.mode)) e = is_dir(v.mode) ? EISDIR : EINVAL;
  if (e || off >= v.size) return op.finish(e);
  const uint64_t end = std::min<uint64_t>(v.size, off + len);
  out->resize(end - off, 0);
  std::vector<uint8_t> block(kDataBlockSize);
  ExtentMap map;
  uint64_t map_region = UINT64_MAX;
  const bool stale_region = m_.config().bugs.has(Bug::kReadStaleRegion);
  for (uint64_t at = off; at < end && !e;) {
    const uint64_t blk = at / kDataBlockSize;
    const uint32_t in = static_cast<uint32_t>(at % kDataBlockSize);
    const uint64_t n = std::min<uint64_t>(kDataBlockSize - in, end - at);
    if (blk / kExtentRegionBlocks != map_region && !(stale_region && map_region != UINT64_MAX)) {  // BUG (planted)
      map_region = blk / kExtentRegionBlocks;
      e = load_extent(ino, map_region, &map);
      if (e) break;
    }
    if (uint64_t b = map[blk % kExtentRegionBlocks]) {
      if (m_.data_disk().read(b, block)) {
        e = EIO;
        break;
      }
      std::memcpy(out->data() + (at - off), block.data() + in, n);
    }  // a hole reads as zeros
    at += n;
  }
  if (e) out->clear();
  return op.finish(e);
}

sim::Errno Vfs::fsync(uint64_t ino) {
  Op op(*this);
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_inode(ino, &v);
  if (!e) e = m_.commit();
  return op.finish(e);
}

sim::Errno Vfs::sync() {
  Op op(*this);
  sim::Errno e = op.begin(0);
  if (!e) e = m_.commit();
  return op.finish(e);
}

// ---- xattrs ----

sim::Errno Vfs::find_xattr(uint64_t ino, std::string_view name, Key* key, XattrValue* out) {
  const uint64_t h = name_hash(name);
  Key pos = xattr_key(ino, h, 0);
  const Key last = xattr_key(ino, h, UINT64_MAX);
  for (;;) {
    Item it;
    sim::Errno e = m_.items().next(pos, last, &it);
    if (e == ENOENT) {
      *key = pos;  // the first free collision index
      return ENODATA;
    }
    if (e) return io(e);
    if (!decode_xattr(it.value, out)) return EIO;
    if (out->name == name) {
      *key = it.key;
      return 0;
    }
    if (it.key == last) return EIO;
    pos = key_successor(it.key);
  }
}

sim::Errno Vfs::setxattr(uint64_t ino, std::string_view name, std::string_view value, unsigned flags) {
  Op op(*this);
  sim::Errno e = op.begin(2);
  if (!e && name.empty()) e = EINVAL;
  if (!e && name.size() > kXattrNameMax) e = ERANGE;
  if (!e && value.size() > kXattrValueMax) e = E2BIG;
  if (!e && (flags & ~(kXattrCreate | kXattrReplace))) e = EINVAL;
  InodeValue v;
  if (!e) e = get_inode(ino, &v);
  Key key;
  XattrValue x;
  if (!e) {
    e = find_xattr(ino, name, &key, &x);
    if (e == 0 && (flags & kXattrCreate)) e = EEXIST;
    else if (e == ENODATA) e = (flags & kXattrReplace) ? ENODATA : 0;
  }
  if (e) return op.finish(e);
  m_.items().put(key, encode_xattr(XattrValue{std::string(name), std::string(value)}));
  v.ctime_ns = m_.now_ns();
  put_inode(ino, v);
  return op.finish(0);
}

sim::Errno Vfs::getxattr(uint64_t ino, std::string_view name, std::string* value) {
  Op op(*this);
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_inode(ino, &v);
  Key key;
  XattrValue x;
  if (!e) e = find_xattr(ino, name, &key, &x);
  if (!e) *value = x.value;
  return op.finish(e);
}

sim::Errno Vfs::listxattr(uint64_t ino, std::vector<std::string>* names) {
  Op op(*this);
  names->clear();
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_inode(ino, &v);
  Key pos = type_first(ino, kTypeXattr);
  const Key last = type_last(ino, kTypeXattr);
  while (!e) {
    Item it;
    e = m_.items().next(pos, last, &it);
    if (e == ENOENT) {
      e = 0;
      break;
    }
    XattrValue x;
    if (!e && !decode_xattr(it.value, &x)) e = EIO;
    if (e) break;
    names->push_back(x.name);
    if (it.key == last) break;
    pos = key_successor(it.key);
  }
  std::sort(names->begin(), names->end());
  return op.finish(io(e));
}

sim::Errno Vfs::removexattr(uint64_t ino, std::string_view name) {
  Op op(*this);
  sim::Errno e = op.begin(2, 0, /*deleting=*/true);
  InodeValue v;
  if (!e) e = get_inode(ino, &v);
  Key key;
  XattrValue x;
  if (!e) e = find_xattr(ino, name, &key, &x);
  if (e) return op.finish(e);
  m_.items().del(key);
  v.ctime_ns = m_.now_ns();
  put_inode(ino, v);
  return op.finish(0);
}

// ---- open references and orphans ----

sim::Errno Vfs::open(uint64_t ino) {
  Op op(*this);
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_inode(ino, &v);
  if (!e) ++open_[ino];
  return op.finish(e);
}

sim::Errno Vfs::close(uint64_t ino) {
  Op op(*this);
  sim::Errno e = op.begin(4, 0, /*deleting=*/true);
  auto it = open_.find(ino);
  if (!e && it == open_.end()) e = EINVAL;  // not open: a caller bug, like close(-1)'s EBADF
  if (e) return op.finish(e);
  if (--it->second > 0) return op.finish(0);
  open_.erase(it);
  InodeValue v;
  e = get_inode(ino, &v);
  if (e) return op.finish(e);
  return op.finish(v.nlink == 0 ? delete_inode(ino) : 0);
}

sim::Errno Vfs::recover_orphans() {
  Op op(*this);
  sim::Errno e = op.begin(0, 0, /*deleting=*/true);
  const Key first{kZoneOrphan, 0, 0, 0, 0};
  const Key last{kZoneOrphan, UINT64_MAX, UINT8_MAX, UINT64_MAX, UINT64_MAX};
  std::vector<uint64_t> orphans;
  Key pos = first;
  while (!e) {
    Item it;
    e = m_.items().next(pos, last, &it);
    if (e == ENOENT) {
      e = 0;
      break;
    }
    if (e) break;
    orphans.push_back(it.key.ino);
    if (it.key == last) break;
    pos = key_successor(it.key);
  }
  for (uint64_t ino : orphans) {
    if (e) break;
    e = delete_inode(ino);
  }
  if (!e && !orphans.empty()) e = m_.commit();
  return op.finish(io(e));
}

Mount::Statfs Vfs::statfs() {
  sim::LockGuard g(m_.mutex());
  return m_.statfs();
}

}  // namespace simfs::fs
