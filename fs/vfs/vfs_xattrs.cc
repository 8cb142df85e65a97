// The VFS: extended attributes.
#include <algorithm>
#include <cstring>

#include "fs/vfs/vfs_op.h"

namespace simfs::fs {

using namespace vfs_internal;

// ---- xattrs ----

sim::Errno Vfs::find_xattr(uint64_t ino, std::string_view name, Key* key, XattrValue* out) {
  const uint64_t h = name_hash(name);
  Key pos = xattr_key(ino, h, 0);
  const Key last = xattr_key(ino, h, UINT64_MAX);
  for (;;) {
    Item it;
    sim::Errno e = next(pos, last, &it);
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
  return retry_short_of_space([&] { return setxattr_once(ino, name, value, flags); });
}

sim::Errno Vfs::setxattr_once(uint64_t ino, std::string_view name, std::string_view value, unsigned flags) {
  Op op(*this);
  op.write(ino);
  sim::Errno e = op.begin(2);
  if (!e && name.empty()) e = EINVAL;
  if (!e && name.size() > kXattrNameMax) e = ERANGE;
  if (!e && value.size() > kXattrValueMax) e = E2BIG;
  if (!e && (flags & ~(kXattrCreate | kXattrReplace))) e = EINVAL;
  InodeValue v;
  if (!e) e = get_reachable(ino, &v);
  Key key;
  XattrValue x;
  if (!e) {
    e = find_xattr(ino, name, &key, &x);
    if (e == 0 && (flags & kXattrCreate)) e = EEXIST;
    else if (e == ENODATA) e = (flags & kXattrReplace) ? ENODATA : 0;
  }
  if (e) return op.finish(e);
  put(key, encode_xattr(XattrValue{std::string(name), std::string(value)}));
  v.ctime_ns = m_.now_ns();
  put_inode(ino, v);
  return op.finish(0);
}

sim::Errno Vfs::getxattr(uint64_t ino, std::string_view name, std::string* value) {
  Op op(*this);
  op.read(ino);
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_reachable(ino, &v);
  Key key;
  XattrValue x;
  if (!e) e = find_xattr(ino, name, &key, &x);
  if (!e) *value = x.value;
  return op.finish(e);
}

sim::Errno Vfs::listxattr(uint64_t ino, std::vector<std::string>* names) {
  Op op(*this);
  op.read(ino);
  names->clear();
  sim::Errno e = op.begin(0);
  InodeValue v;
  if (!e) e = get_reachable(ino, &v);
  Key pos = type_first(ino, kTypeXattr);
  const Key last = type_last(ino, kTypeXattr);
  while (!e) {
    Item it;
    e = next(pos, last, &it);
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
  op.write(ino);
  sim::Errno e = op.begin(2, 0, /*deleting=*/true);
  InodeValue v;
  if (!e) e = get_reachable(ino, &v);
  Key key;
  XattrValue x;
  if (!e) e = find_xattr(ino, name, &key, &x);
  if (e) return op.finish(e);
  del(key);
  v.ctime_ns = m_.now_ns();
  put_inode(ino, v);
  return op.finish(0);
}

}  // namespace simfs::fs
