// Vfs: the filesystem operations workloads call — a VFS-like API by inode number, with POSIX
// errors. Paths are resolved by the caller with lookup(), as a kernel's VFS would.
//
// Contract:
// - Every operation is atomic: it runs under the locks of what it touches, makes all its changes
//   in one transaction, and either completes or returns an error having changed nothing. (A
//   failed commit is the exception: the mount stops and the durable state is the last commit.)
// - Errors: ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, ENAMETOOLONG (name > kNameMax), EINVAL
//   (bad name, rename of a directory into its own subtree, readlink of a non-symlink), EPERM
//   (hard link to a directory), EFBIG (offset past kFileSizeMax), ENOSPC, ENODATA (missing
//   xattr), ERANGE/E2BIG (xattr name/value too long), EIO (damaged metadata, device errors, or a
//   stopped mount).
// - Inode numbers are never reused. Readdir positions are stable: an entry keeps its position
//   until removed, and positions are never reused in a directory.
// - Unlinking the last link makes the inode an orphan: while any mount has it open its data stays
//   readable there; once none has (its open lock can be taken for writing), a background task
//   deletes it. recover_orphans() queues the orphans a crash left.
// - Concurrency: operations of one mount run concurrently; each takes the locks of the inodes
//   it touches (fs/lock/lock_keys.h) in key order, so it sees and makes changes atomically.
// - Durability: nothing is durable until a commit: fsync/sync commit; so does the mount's timer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fs/format/items.h"
#include "fs/client/mount.h"
#include "sim/task.h"

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
  ~Vfs() { *alive_ = false; }
  Vfs(const Vfs&) = delete;
  Vfs& operator=(const Vfs&) = delete;
  // Orphans queued for deletion and not yet deleted (tests wait for it to drain).
  size_t orphans_pending() const { return orphans_queued_.size(); }
  // The transaction (trans_seq) that the calling task's last operation held, which holds its
  // changes; 0 if it held none. The mount's trans_seq() after the call is not it when the
  // operation's own commit (its dirty-item limit) moved the mount on to the next transaction.
  uint64_t held_trans_seq() const {
    auto it = held_trans_.find(sim::this_task::id());
    return it == held_trans_.end() ? 0 : it->second;
  }
  uint64_t orphans_deleted() const { return orphans_deleted_; }

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
  // After mount: queues every orphan for deletion (a crashed mount's open references are gone
  // once the server has reclaimed it).
  sim::Errno recover_orphans();

 private:
  class Op;
  sim::Errno get_inode(uint64_t ino, InodeValue* out);
  // get_inode for an operation that names the inode by number: ENOENT for an unlinked inode
  // this mount does not have open.
  sim::Errno get_reachable(uint64_t ino, InodeValue* out);
  void put_inode(uint64_t ino, const InodeValue& v) { put(inode_key(ino), encode_inode(v)); }
  // Item access for operations: changes carry the write_seq of the lock that covers them and
  // must be under a lock the operation holds for writing; reads under one held for reading.
  Op& current_op();
  void put(const Key& key, std::vector<uint8_t> value);
  void del(const Key& key);
  // The write_seq a change of `key` made under `u` carries (its item's seq is at least this).
  uint64_t item_write_seq(const Key& key, const LockClient::Use& u);
  sim::Errno get(const Key& key, std::vector<uint8_t>* value);
  sim::Errno next(const Key& from, const Key& last, Item* out);
  sim::Errno get_dir(uint64_t dir, InodeValue* out);
  sim::Errno find_entry(uint64_t dir, std::string_view name, DirentValue* out);
  // The entry `name` in directory `dir` and the inode it names (checking the name and dir).
  sim::Errno find_child(uint64_t dir, std::string_view name, DirentValue* de, InodeValue* child);
  sim::Errno add_entry(uint64_t dir, std::string_view name, uint64_t ino, uint32_t mode, bool count_link = true);
  sim::Errno remove_entry(uint64_t dir, const DirentValue& d, bool child_is_dir);
  sim::Errno dir_empty(uint64_t dir, bool* empty);
  sim::Errno parent_of(uint64_t dir, uint64_t* parent);
  sim::Errno drop_link(uint64_t ino);  // nlink--, and orphan at zero
  void orphan(uint64_t ino);
  void queue_orphan(uint64_t ino);
  sim::Errno delete_orphan(uint64_t ino);
  sim::Errno child_ino(uint64_t dir, std::string_view name, uint64_t* ino, uint8_t* dtype = nullptr);
  sim::Errno remove(uint64_t dir, std::string_view name, bool want_dir);
  // Bounds the look-then-lock retries of operations whose names changed under them.
  static constexpr int kRetriesMax = 64;
  sim::Errno delete_inode(uint64_t ino);
  sim::Errno make_node(uint64_t dir, std::string_view name, uint32_t mode, std::string_view target, uint64_t* ino);
  sim::Errno make_node_once(uint64_t dir, std::string_view name, uint32_t mode, std::string_view target, uint64_t* ino);
  sim::Errno setattr_once(uint64_t ino, const SetAttr& set);
  sim::Errno write_once(uint64_t ino, uint64_t off, std::span<const uint8_t> data);
  sim::Errno setxattr_once(uint64_t ino, std::string_view name, std::string_view value, unsigned flags);
  sim::Errno link_once(uint64_t ino, uint64_t dir, std::string_view name);
  // Runs `once`; on ENOSPC with orphans still to delete, lets them go and runs it again.
  sim::Errno retry_short_of_space(const std::function<sim::Errno()>& once);
  // A call that ends without running its counted operation counts itself.
  sim::Errno count_call(sim::Errno e) {
    m_.op_done();
    return e;
  }
  sim::Errno find_xattr(uint64_t ino, std::string_view name, Key* key, XattrValue* out);
  sim::Errno load_extent(uint64_t ino, uint64_t region, ExtentMap* out);
  void store_extent(uint64_t ino, uint64_t region, const ExtentMap& m);
  sim::Errno truncate_blocks(uint64_t ino, uint64_t old_size, uint64_t new_size);
  sim::Errno do_write(uint64_t ino, InodeValue& inode, uint64_t off, std::span<const uint8_t> data);

  Mount& m_;
  std::map<uint64_t, uint32_t> open_;  // open references per inode
  std::map<sim::TaskId, uint64_t> held_trans_;  // per task: held_trans_seq()
  std::map<sim::TaskId, Op*> ops_;     // the operation each task is running
  std::map<uint64_t, LockClient::Use> open_uses_;  // each open inode's open-lock use
  std::set<uint64_t> orphans_queued_;
  sim::TaskId enospc_retry_task_ = 0;  // its ENOSPC is retried (retry_short_of_space)
  uint64_t orphans_deleted_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace simfs::fs
