#include "oracle/fs_capture.h"

#include <vector>

namespace oracle {

using namespace simfs::fs;

int capture(Vfs& vfs, PosixModel* out, size_t max_inodes) {
  out->clear();
  const InodeMap& inodes = out->inodes();
  std::vector<uint64_t> todo{PosixModel::kRoot};
  while (!todo.empty()) {
    const uint64_t ino = todo.back();
    todo.pop_back();
    if (inodes.count(ino)) continue;  // another hard link to it
    if (inodes.size() >= max_inodes) return EIO;
    Attr a;
    if (int e = vfs.getattr(ino, &a)) return e;
    ModelInode n;
    n.perm = a.mode & 07777;
    n.uid = a.uid;
    n.gid = a.gid;
    n.nlink = a.nlink;
    if (is_dir(a.mode)) {
      n.type = ModelInode::Type::kDir;
      std::vector<DirEntry> ents;
      uint64_t pos = 0;
      for (;;) {
        // A few entries per call, so listing a directory resumes from a position several times.
        if (int e = vfs.readdir(ino, pos, 3, &ents)) return e;
        if (ents.empty()) break;
        for (const DirEntry& d : ents) {
          n.entries[d.name] = d.ino;
          todo.push_back(d.ino);
        }
        pos = ents.back().pos + 1;
      }
    } else if (is_lnk(a.mode)) {
      n.type = ModelInode::Type::kSymlink;
      if (int e = vfs.readlink(ino, &n.target)) return e;
    } else {
      std::vector<uint8_t> data;
      if (int e = vfs.read(ino, 0, a.size, &data)) return e;
      if (data.size() != a.size) return EIO;
      n.data.assign(data.begin(), data.end());
    }
    std::vector<std::string> names;
    if (int e = vfs.listxattr(ino, &names)) return e;
    for (const std::string& x : names)
      if (int e = vfs.getxattr(ino, x, &n.xattrs[x])) return e;
    out->put(ino, std::move(n));
  }
  return 0;
}

}  // namespace oracle
