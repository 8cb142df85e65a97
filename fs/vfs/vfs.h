// Vfs: the filesystem operations workloads call — a VFS-like API by inode number, with POSIX
// errors. Paths are resolved by the caller with lookup(), as a kernel's VFS would.
//
// Contract:
// - Every operation is atomic: it runs under the mount's mutex, makes all its changes in one
//   transaction, and either completes or returns an error having changed nothing. (A failed
//   commit is the exception: the mount stops and the durable state is the last commit.)
// - Errors: ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, ENAMETOOLONG (name > kNameMax), EINVAL
//   (bad name, rename of a directory into its own subtree, readlink of a non-symlink), EPERM
//   (hard link to a directory), EFBIG (offset past kFileSizeMax), ENOSPC, ENODATA (missing
//   xattr), ERANGE/E2BIG (xattr name/value too long), EIO (damaged metadata, device errors, or a
//   stopped mount).
// - Inode numbers are never reused. Readdir positions are stable: an entry keeps its position
//   until removed, and positions are never reused in a directory.
// - Unlinking the last link of an open file makes it an orphan: its data stays readable through
//   the open reference; the last close (or the next mount, after a crash) deletes it.
// - Durability: nothing is durable until a commit: fsync/sync commit; so does the mount's timer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fs/format/items.h"
#include "fs/client/mount.h"

namespace simfs::fs {

struct Attr {
  uint64_t ino = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  uint64_t size = 0;
  uint64_t atime_ns = 0;
  uint64_t mtime_ns = 0;
  uint64_t ctime_ns = 0;
};

struct SetAttr {
  std::optional<uint32_t> mode;  // permission bits (07777); the file type never changes
  std::optional<uint32_t> uid, gid;
  std::optional<uint64_t> size;  // truncate or extend (sparse)
  std::optional<uint64_t> atime_ns, mtime_ns;
};

struct DirEntry {
  uint64_t pos = 0;
  uint64_t ino = 0;
  uint8_t dtype = 0;
  std::string name;
};

constexpr unsigned kRenameNoReplace = 1;
constexpr unsigned kXattrCreate = 1;
constexpr unsigned kXattrReplace = 2;

class Vfs {
 public:
  explicit Vfs(Mount& m) : m_(m) {}

  sim::Errno lookup(uint64_t dir, std::string_view name, uint64_t* ino);
  sim::Errno getattr(uint64_t ino, Attr* out);
  sim::Errno setattr(uint64_t ino, const SetAttr& set);
  sim::Errno create(uint64_t dir, std::string_view name, uint32_t mode, uint64_t* ino);
  sim::Errno mkdir(uint64_t dir, std::string_view name, uint32_t mode, uint64_t* ino);
  sim::Errno symlink(uint64_t dir, std::string_view name, std::string_view target, uint64_t* ino);
  sim::Errno readlink(uint64_t ino, std::string* target);
  sim::Errno link(uint64_t ino, uint64_t dir, std::string_view name);
  sim::Errno unlink(uint64_t dir, std::string_view name);
  sim::Errno rmdir(uint64_t dir, std::string_view name);
  sim::Errno rename(uint64_t odir, std::string_view oname, uint64_t ndir, std::string_view nname, unsigned flags = 0);
  sim::Errno read(uint64_t ino, uint64_t off, size_t len, std::vector<uint8_t>* out);
  sim::Errno write(uint64_t ino, uint64_t off, std::span<const uint8_t> data);
  sim::Errno truncate(uint64_t ino, uint64_t size);
  sim::Errno fsync(uint64_t ino);
  sim::Errno sync();
  // Entries with position >= pos, in position order, at most max of them.
  sim::Errno readdir(uint64_t dir, uint64_t pos, size_t max, std::vector<DirEntry>* out);
  sim::Errno setxattr(uint64_t ino, std::string_view name, std::string_view value, unsigned flags = 0);
  sim::Errno getxattr(uint64_t ino, std::string_view name, std::string* value);
  sim::Errno listxattr(uint64_t ino, std::vector<std::string>* names);  // sorted by name
  sim::Errno removexattr(uint64_t ino, std::string_view name);
  sim::Errno open(uint64_t ino);
  sim::Errno close(uint64_t ino);
  Mount::Statfs statfs();
  // After mount: deletes the inodes a crash left orphaned (no open reference survives a crash).
  sim::Errno recover_orphans();

 private:
  class Op;
  sim::Errno get_inode(uint64_t ino, InodeValue* out);
  void put_inode(uint64_t ino, const InodeValue& v) { m_.items().put(inode_key(ino), encode_inode(v)); }
  sim::Errno get_dir(uint64_t dir, InodeValue* out);
  sim::Errno find_entry(uint64_t dir, std::string_view name, DirentValue* out);
  // The entry `name` in directory `dir` and the inode it names (checking the name and dir).
  sim::Errno find_child(uint64_t dir, std::string_view name, DirentValue* de, InodeValue* child);
  sim::Errno add_entry(uint64_t dir, std::string_view name, uint64_t ino, uint32_t mode, bool count_link = true);
  sim::Errno remove_entry(uint64_t dir, const DirentValue& d, bool child_is_dir);
  sim::Errno dir_empty(uint64_t dir, bool* empty);
  sim::Errno parent_of(uint64_t dir, uint64_t* parent);
  sim::Errno drop_link(uint64_t ino);  // nlink--, and delete or orphan at zero
  sim::Errno delete_inode(uint64_t ino);
  sim::Errno make_node(uint64_t dir, std::string_view name, uint32_t mode, std::string_view target, uint64_t* ino);
  sim::Errno find_xattr(uint64_t ino, std::string_view name, Key* key, XattrValue* out);
  sim::Errno load_extent(uint64_t ino, uint64_t region, ExtentMap* out);
  void store_extent(uint64_t ino, uint64_t region, const ExtentMap& m);
  sim::Errno truncate_blocks(uint64_t ino, uint64_t old_size, uint64_t new_size);
  sim::Errno do_write(uint64_t ino, InodeValue& inode, uint64_t off, std::span<const uint8_t> data);

  Mount& m_;
  std::map<uint64_t, uint32_t> open_;  // open references per inode
};

}  // namespace simfs::fs
