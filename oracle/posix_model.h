// PosixModel: an in-memory reference filesystem with the POSIX semantics fs/vfs.h promises, to
// judge the real one against. It knows nothing of blocks, items or commits; it is what a user
// of the filesystem would expect to see.
//
// Contract:
// - Inodes are named by the inode numbers the real filesystem handed out (the model cannot
//   invent them), so create-like calls take the number the filesystem returned.
// - Each operation returns the errno the real filesystem must return, checking in the same
//   order as the VFS (name, parent, existence, type), and changes the model only on success.
// - Open references are per client (a mount): an inode whose last link goes away stays, as an
//   orphan, while any client has it open, and only those clients can still reach it by number
//   (as a process reaches an unlinked file through its descriptor); the last close removes it.
//   Equality and diff() compare the namespace reachable from the root only.
// - capture() (fs_capture.h) builds a model from a real filesystem through its public API,
//   so "the filesystem equals the model" is operator== plus diff() for a readable message.
// - Copying a model is cheap: inodes are shared between copies and copied on their first
//   change (the checker keeps a model per operation that a crash could bring back).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include <string_view>

namespace oracle {

struct ModelInode {
  enum class Type { kFile, kDir, kSymlink };
  Type type = Type::kFile;
  uint32_t perm = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  std::string data;    // file bytes (holes as zeros)
  std::string target;  // symlink target
  std::map<std::string, std::string> xattrs;
  std::map<std::string, uint64_t> entries;  // directory: name -> ino
  bool operator==(const ModelInode&) const = default;
};

// Inodes by number. Shared between model copies: never change one through this map.
using InodeMap = std::map<uint64_t, std::shared_ptr<const ModelInode>>;

class PosixModel {
 public:
  static constexpr uint64_t kRoot = 1;
  static constexpr size_t kNameMax = 255;
  // Extended attribute limits the VFS promises (fs/vfs.h: ERANGE, E2BIG).
  static constexpr size_t kXattrNameMax = 255;
  static constexpr size_t kXattrValueMax = 200;

  PosixModel();

  // Each returns the expected errno; *ino receives the existing inode for lookup.
  int lookup(uint64_t dir, std::string_view name, uint64_t* ino) const;
  int create(uint64_t dir, std::string_view name, uint32_t perm, uint64_t new_ino);
  int mkdir(uint64_t dir, std::string_view name, uint32_t perm, uint64_t new_ino);
  int symlink(uint64_t dir, std::string_view name, std::string_view target, uint64_t new_ino);
  int link(uint64_t ino, uint64_t dir, std::string_view name, int client = 0);
  int unlink(uint64_t dir, std::string_view name);
  int rmdir(uint64_t dir, std::string_view name);
  int rename(uint64_t odir, std::string_view oname, uint64_t ndir, std::string_view nname, bool noreplace);
  // By inode number, as client `client` (which may reach its own open orphans).
  int write(uint64_t ino, uint64_t off, std::string_view bytes, int client = 0);
  int truncate(uint64_t ino, uint64_t size, int client = 0);
  int setxattr(uint64_t ino, std::string_view name, std::string_view value, int client = 0);
  int removexattr(uint64_t ino, std::string_view name, int client = 0);
  int setattr(uint64_t ino, uint32_t perm, uint32_t uid, uint32_t gid, int client = 0);
  int open(uint64_t ino, int client = 0);
  int close(uint64_t ino, int client = 0);
  // The client is gone (its mount crashed): its open references are dropped with it.
  void drop_client(int client);
  // The inode as `client` reaches it by number: linked, or an orphan it has open. Null if not.
  const ModelInode* find(uint64_t ino, int client = 0) const;
  bool is_open_by(uint64_t ino, int client) const;

  const InodeMap& inodes() const { return inodes_; }
  // The linked inode numbers in ascending order, all of them or of one type: what a workload
  // picks its targets from (an index kept beside the map, so a pick costs no walk of it).
  const std::vector<uint64_t>& inode_numbers() const { return all_; }
  const std::vector<uint64_t>& inode_numbers(ModelInode::Type t) const { return by_type_[static_cast<size_t>(t)]; }
  // The inode, which must exist.
  const ModelInode& at(uint64_t ino) const { return *inodes_.at(ino); }
  bool exists(uint64_t ino) const { return inodes_.count(ino) > 0; }
  // For building a model from elsewhere (capture): drops every inode, or sets one.
  void clear();
  void put(uint64_t ino, ModelInode n) { link_node(ino, std::make_shared<const ModelInode>(std::move(n))); }
  bool operator==(const PosixModel& o) const;

  // A name as failure messages show it: long names shortened to their start and length, so a
  // message stays readable (and campaign fingerprints, which blank out quoted names, see it).
  static std::string shown(std::string_view name);

  // How two models differ ("" when equal), for failure messages: the first few differences in
  // inode order, joined by "; ".
  static std::string diff(const PosixModel& want, const PosixModel& got);

 private:
  int check_name(std::string_view name) const;
  int get_dir(uint64_t dir, const ModelInode** out) const;
  int make(uint64_t dir, std::string_view name, ModelInode node, uint64_t new_ino);
  void drop_link(uint64_t ino);
  bool is_ancestor(uint64_t maybe_ancestor, uint64_t dir) const;
  // The inode (which must exist), unshared first so a change reaches only this model.
  ModelInode& mut(uint64_t ino);

  // Removes an inode whose last link went: kept as an orphan while any client has it open.
  void remove_node(uint64_t ino);
  // Every change of inodes_'s key set goes through these two, which keep the indexes.
  void link_node(uint64_t ino, std::shared_ptr<const ModelInode> n);
  void unlink_node(InodeMap::iterator it);

  InodeMap inodes_;
  std::vector<uint64_t> all_;          // the keys of inodes_, ascending
  std::vector<uint64_t> by_type_[3];   // the same, by ModelInode::Type
  InodeMap orphans_;                                     // unlinked but open somewhere
  std::map<uint64_t, std::map<int, uint32_t>> opens_;    // ino -> client -> open references
};

}  // namespace oracle
