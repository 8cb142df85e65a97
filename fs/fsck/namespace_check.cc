// The namespace: what the filesystem's items (the merged forest view, cx.live) say about its
// files, checked for agreement. Each record is checked on its own first (it decodes, sits under
// the right key, belongs to an inode that exists), then against the records it must agree with:
// - a directory entry has its readdir twin, a link backref on the inode it names, and that
//   inode, whose type it repeats; every readdir item and backref has its entry;
// - every directory is reachable from the root and named once, and nlink counts what links it
//   (a directory's subdirectories, a file's backrefs);
// - an unlinked inode (a removed directory too) has an orphan item, and an orphan item an
//   unlinked inode;
// - a symlink has its target, of its size; extents belong to regular files, lie within the file
//   and map data blocks of the device (claimed for the data partition sweep).
//
// Reports: inode.corrupt, inode.nlink, item.unknown, item.no_inode, xattr.corrupt,
// dirent.corrupt, dirent.not_dir, dirent.hash, dirent.pos, dirent.no_readdir,
// dirent.readdir_mismatch, dirent.no_backref, dirent.backref_name, dirent.dangling,
// dirent.dtype, readdir.no_dirent, link.corrupt, link.no_dirent, symlink.corrupt,
// symlink.not_lnk, symlink.size, symlink.missing, root.missing, root.not_dir, dir.links,
// dir.unreachable, orphan.missing, orphan.no_inode, orphan.linked, extent.not_reg,
// extent.corrupt, extent.past_eof, data.out_of_range, super.next_ino, super.inode_count.
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "fs/fsck/checkers.h"

namespace simfs::fs::fsck_internal {

namespace {

// What the items say about one inode.
struct InodeState {
  InodeValue v;
  bool valid = false;             // its inode item decodes
  uint64_t backrefs = 0;          // link backref items on it
  uint64_t subdirs = 0;           // entries in it that name directories
  std::vector<uint64_t> parents;  // directories whose entries name this directory
  bool symlink = false;           // it has a symlink target item
};

// A directory entry that decodes.
struct Entry {
  Key key;
  DirentValue d;
  const std::vector<uint8_t>* raw;  // its value, which its readdir twin repeats
};

class NamespaceCheck {
 public:
  explicit NamespaceCheck(FsckContext& cx) : cx_(cx) {}

  // Reads the items into the index (per item, in key order), then checks it.
  void run() {
    index_inodes();
    for (const Item* it : cx_.live) index_item(*it);
    for (const Entry& e : entries_) check_entry(e);
    check_readdirs_named();
    check_backrefs_named();
    check_root();
    const std::set<uint64_t> reached = reached_from_root();
    check_inodes(reached);
    check_orphans();
    for (const Item* it : extents_) check_extent(*it);
  }

 private:
  // ---- indexing the items ----

  // First, so that every other record can be checked against its inode.
  void index_inodes() {
    for (const Item* itp : cx_.live) {
      const Item& it = *itp;
      const Key& k = it.key;
      if (k.zone != kZoneFs || k.type != kTypeInode || k.first != 0 || k.second != 0) continue;
      InodeState& i = inodes_[k.ino];
      i.valid = decode_inode(it.value, &i.v);
      if (!i.valid) cx_.add("inode.corrupt", 0, k, "inode " + num(k.ino) + " does not decode");
      if (k.ino >= cx_.sb.next_ino) {
        cx_.add("super.next_ino", 0, k,
                "inode " + num(k.ino) + " is not below the super's next_ino " + num(cx_.sb.next_ino));
      }
    }
  }

  void index_item(const Item& it) {
    const Key& k = it.key;
    if (k.zone == kZoneOrphan) {
      index_orphan(it);
      return;
    }
    if (k.zone != kZoneFs) {
      cx_.add("item.unknown", 0, k, "an item in zone " + num(k.zone) + " among the filesystem's items");
      return;
    }
    if (k.type == kTypeInode) {
      if (k.first != 0 || k.second != 0) cx_.add("item.unknown", 0, k, "an inode item with a nonzero offset");
      return;
    }
    if (!inodes_.count(k.ino)) {
      if (no_inode_.insert(k.ino).second) {
        cx_.add("item.no_inode", 0, k, "items of inode " + num(k.ino) + ", which does not exist");
      }
      return;
    }
    switch (k.type) {
      case kTypeXattr: check_xattr(it); break;
      case kTypeDirent: index_dirent(it); break;
      case kTypeReaddir: index_readdir(it); break;
      case kTypeLink: index_link(it); break;
      case kTypeExtent: extents_.push_back(&it); break;
      case kTypeSymlink: check_symlink(it); break;
      default: cx_.add("item.unknown", 0, k, "an item of unknown type " + num(k.type));
    }
  }

  void index_orphan(const Item& it) {
    const Key& k = it.key;
    if (k.type != kTypeOrphan || k.first != 0 || k.second != 0 || !it.value.empty()) {
      cx_.add("item.unknown", 0, k, "an item in the orphan zone that is not an orphan item");
    } else {
      orphans_.insert(k.ino);
    }
  }

  void check_xattr(const Item& it) {
    const Key& k = it.key;
    XattrValue x;
    if (!decode_xattr(it.value, &x)) {
      cx_.add("xattr.corrupt", 0, k, "xattr of inode " + num(k.ino) + " does not decode");
    } else if (name_hash(x.name) != k.first) {
      cx_.add("xattr.corrupt", 0, k, "xattr '" + x.name + "' is filed under the wrong name hash");
    }
    ++cx_.report.counts.xattrs;
  }

  void index_dirent(const Item& it) {
    const Key& k = it.key;
    Entry e{k, {}, &it.value};
    if (!decode_dirent(it.value, &e.d)) {
      cx_.add("dirent.corrupt", 0, k, "entry in directory " + num(k.ino) + " does not decode");
    } else {
      entries_.push_back(std::move(e));
    }
  }

  void index_readdir(const Item& it) {
    const Key& k = it.key;
    if (k.second != 0) {
      cx_.add("item.unknown", 0, k, "a readdir item with a nonzero second");
    } else {
      readdirs_[{k.ino, k.first}] = &it.value;
    }
  }

  void index_link(const Item& it) {
    const Key& k = it.key;
    std::string name;
    if (!decode_link(it.value, &name)) {
      cx_.add("link.corrupt", 0, k, "link backref of inode " + num(k.ino) + " does not decode");
    } else {
      links_[{k.ino, k.first, k.second}] = name;
      ++inodes_[k.ino].backrefs;
    }
  }

  void check_symlink(const Item& it) {
    const Key& k = it.key;
    std::string target;
    InodeState& i = inodes_[k.ino];
    if (k.first != 0 || k.second != 0) {
      cx_.add("item.unknown", 0, k, "a symlink item with a nonzero offset");
    } else if (!decode_symlink(it.value, &target)) {
      cx_.add("symlink.corrupt", 0, k, "symlink target of inode " + num(k.ino) + " does not decode");
      i.symlink = true;
    } else {
      i.symlink = true;
      if (i.valid && !is_lnk(i.v.mode)) {
        cx_.add("symlink.not_lnk", 0, k, "inode " + num(k.ino) + " has a symlink target but is not a symlink");
      } else if (i.valid && i.v.size != target.size()) {
        cx_.add("symlink.size", 0, k,
                "symlink " + num(k.ino) + " has size " + num(i.v.size) + " but its target is " + num(target.size()) +
                    " bytes");
      }
    }
  }

  // ---- entries, readdir items and backrefs ----

  // An entry: in a directory, under its name's hash and its position, with its readdir twin,
  // its backref and its inode.
  void check_entry(const Entry& e) {
    const uint64_t dir = e.key.ino, pos = e.key.second;
    const Key& k = e.key;
    InodeState& di = inodes_[dir];
    const std::string where = "entry '" + e.d.name + "' in directory " + num(dir);
    ++cx_.report.counts.dirents;
    if (di.valid && !is_dir(di.v.mode)) {
      cx_.add("dirent.not_dir", 0, k, where + ": inode " + num(dir) + " is not a directory");
    }
    if (name_hash(e.d.name) != k.first) cx_.add("dirent.hash", 0, k, where + " is filed under the wrong name hash");
    if (e.d.pos != pos || pos < kFirstReaddirPos || (di.valid && is_dir(di.v.mode) && pos >= di.v.next_readdir_pos)) {
      cx_.add("dirent.pos", 0, k,
              where + ": position " + num(e.d.pos) + " (key " + num(pos) + ") outside " + num(kFirstReaddirPos) +
                  ".." + (di.valid ? num(di.v.next_readdir_pos) : std::string("?")));
    }
    entry_at_.emplace(std::make_pair(dir, pos), e.d.ino);
    check_entry_twins(e, where);
    auto t = inodes_.find(e.d.ino);
    if (t == inodes_.end()) {
      cx_.add("dirent.dangling", 0, k, where + " names inode " + num(e.d.ino) + ", which does not exist");
      return;
    }
    InodeState& target = t->second;
    if (!target.valid) return;
    if (e.d.dtype != static_cast<uint8_t>(target.v.mode >> 12)) {
      cx_.add("dirent.dtype", 0, k,
              where + ": type " + num(e.d.dtype) + " but inode " + num(e.d.ino) + " has mode " + num(target.v.mode));
    }
    if (is_dir(target.v.mode)) {
      target.parents.push_back(dir);
      ++di.subdirs;
      children_[dir].push_back(e.d.ino);
    }
  }

  // The readdir item and the backref an entry implies, each saying what the entry says.
  void check_entry_twins(const Entry& e, const std::string& where) {
    const uint64_t dir = e.key.ino, pos = e.key.second;
    const Key& k = e.key;
    auto rd = readdirs_.find({dir, pos});
    if (rd == readdirs_.end()) {
      cx_.add("dirent.no_readdir", 0, k, where + " has no readdir item at position " + num(pos));
    } else if (*rd->second != *e.raw) {
      cx_.add("dirent.readdir_mismatch", 0, k, where + " differs from its readdir item at position " + num(pos));
    }
    auto ln = links_.find({e.d.ino, dir, pos});
    if (ln == links_.end()) {
      cx_.add("dirent.no_backref", 0, k, where + " has no link backref on inode " + num(e.d.ino));
    } else if (ln->second != e.d.name) {
      cx_.add("dirent.backref_name", 0, k,
              where + ": the backref on inode " + num(e.d.ino) + " names '" + ln->second + "'");
    }
  }

  void check_readdirs_named() {
    for (const auto& [at, raw] : readdirs_) {
      (void)raw;
      if (!entry_at_.count(at)) {
        cx_.add("readdir.no_dirent", 0, readdir_key(at.first, at.second),
                "readdir item at position " + num(at.second) + " of directory " + num(at.first) + " has no entry");
      }
    }
  }

  void check_backrefs_named() {
    for (const auto& [l, name] : links_) {
      const auto [ino, dir, pos] = l;
      auto e = entry_at_.find({dir, pos});
      if (e == entry_at_.end() || e->second != ino) {
        cx_.add("link.no_dirent", 0, link_key(ino, dir, pos),
                "backref '" + name + "' of inode " + num(ino) + " names position " + num(pos) + " of directory " +
                    num(dir) + ", where no entry names it");
      }
    }
  }

  // ---- the tree of directories ----

  void check_root() {
    auto root = inodes_.find(kRootIno);
    if (root == inodes_.end()) {
      cx_.add("root.missing", 0, inode_key(kRootIno), "the root directory has no inode");
    } else if (root->second.valid && !is_dir(root->second.v.mode)) {
      cx_.add("root.not_dir", 0, inode_key(kRootIno), "the root inode is not a directory");
    }
  }

  // The directories reachable from the root through entries.
  std::set<uint64_t> reached_from_root() const {
    std::set<uint64_t> reached;
    std::vector<uint64_t> todo;
    if (inodes_.count(kRootIno)) {
      reached.insert(kRootIno);
      todo.push_back(kRootIno);
    }
    while (!todo.empty()) {
      const uint64_t d = todo.back();
      todo.pop_back();
      auto c = children_.find(d);
      if (c == children_.end()) continue;
      for (uint64_t sub : c->second) {
        if (reached.insert(sub).second) todo.push_back(sub);
      }
    }
    return reached;
  }

  // ---- inodes: links and counts ----

  void check_inodes(const std::set<uint64_t>& reached) {
    FsckCounts& counts = cx_.report.counts;
    for (const auto& [ino, i] : inodes_) {
      if (!i.valid) continue;
      ++counts.inodes;
      if (is_dir(i.v.mode)) {
        check_directory(ino, i, reached);
      } else {
        check_non_directory(ino, i);
      }
    }
    // The super counts the inodes of merged trees; each log tree record the change its own
    // transactions made since.
    int64_t expected = static_cast<int64_t>(cx_.sb.inode_count);
    for (const LogWalk& l : cx_.log_trees) expected += l.v.inode_delta;
    if (static_cast<int64_t>(counts.inodes) != expected) {
      cx_.add("super.inode_count", 0, std::nullopt,
              "the super and the log tree records count " + std::to_string(expected) +
                  " inodes but the filesystem holds " + num(counts.inodes));
    }
  }

  // A directory is named by one entry (the root by none) and reachable from the root; its
  // nlink is 2 (its entry, or the root's own "..", and its ".") plus each subdirectory's "..".
  void check_directory(uint64_t ino, const InodeState& i, const std::set<uint64_t>& reached) {
    const Key k = inode_key(ino);
    ++cx_.report.counts.directories;
    // A removed directory waits on the orphan list until no mount has it open: no links, no
    // entries of its own, no name, not reachable.
    if (i.v.nlink == 0 && orphans_.count(ino) && ino != kRootIno) {
      if (!i.parents.empty() || i.subdirs != 0) {
        cx_.add("dir.links", 0, k, "removed directory " + num(ino) + " is still named or has subdirectories");
      }
      return;
    }
    if (i.v.nlink == 0 && ino != kRootIno && !orphans_.count(ino)) {
      cx_.add("orphan.missing", 0, k, "directory " + num(ino) + " has no links and no orphan item");
    }
    const size_t want_parents = ino == kRootIno ? 0 : 1;
    if (i.parents.size() != want_parents) {
      cx_.add("dir.links", 0, k,
              "directory " + num(ino) + " is named by " + num(i.parents.size()) + " entries, expected " +
                  num(want_parents));
    }
    if (!reached.count(ino)) cx_.add("dir.unreachable", 0, k, "directory " + num(ino) + " cannot be reached from the root");
    if (i.v.nlink != 2 + i.subdirs) {
      cx_.add("inode.nlink", 0, k,
              "directory " + num(ino) + " has nlink " + num(i.v.nlink) + " but " + num(i.subdirs) +
                  " subdirectories (expected " + num(2 + i.subdirs) + ")");
    }
  }

  // A file or symlink is linked once per backref; with none it waits on the orphan list.
  void check_non_directory(uint64_t ino, const InodeState& i) {
    const Key k = inode_key(ino);
    if (is_lnk(i.v.mode)) {
      ++cx_.report.counts.symlinks;
      if (!i.symlink) cx_.add("symlink.missing", 0, k, "symlink " + num(ino) + " has no target item");
    } else {
      ++cx_.report.counts.files;
    }
    if (i.v.nlink != i.backrefs) {
      cx_.add("inode.nlink", 0, k,
              "inode " + num(ino) + " has nlink " + num(i.v.nlink) + " but " + num(i.backrefs) + " link backrefs");
    }
    if (i.v.nlink == 0 && !orphans_.count(ino)) {
      cx_.add("orphan.missing", 0, k, "inode " + num(ino) + " has no links and no orphan item");
    }
  }

  void check_orphans() {
    for (uint64_t ino : orphans_) {
      ++cx_.report.counts.orphans;
      auto i = inodes_.find(ino);
      if (i == inodes_.end()) {
        cx_.add("orphan.no_inode", 0, orphan_key(ino), "orphan item for inode " + num(ino) + ", which does not exist");
      } else if (i->second.valid && i->second.v.nlink != 0) {
        cx_.add("orphan.linked", 0, orphan_key(ino),
                "orphan item for inode " + num(ino) + ", which has nlink " + num(i->second.v.nlink));
      }
    }
  }

  // ---- extents ----

  // Regular files only, inside the file, mapping data blocks in range.
  void check_extent(const Item& it) {
    const Key& k = it.key;
    ++cx_.report.counts.extent_items;
    const InodeState& i = inodes_[k.ino];
    if (i.valid && !is_reg(i.v.mode)) {
      cx_.add("extent.not_reg", 0, k, "inode " + num(k.ino) + " has extents but is not a regular file");
    }
    ExtentMap m;
    if (k.second != 0 || !decode_extent(it.value, &m)) {
      cx_.add("extent.corrupt", 0, k, "extent item of inode " + num(k.ino) + " does not decode");
      return;
    }
    const uint64_t regions_max = kFileSizeMax / kExtentRegionBytes;
    if (k.first > regions_max) {
      cx_.add("extent.past_eof", 0, k, "extent region " + num(k.first) + " lies past the largest file size");
      return;
    }
    const uint64_t base = k.first * kExtentRegionBlocks;
    const uint64_t eof_blocks = i.valid ? (i.v.size + kDataBlockSize - 1) / kDataBlockSize : UINT64_MAX;
    bool past = false;
    for (uint32_t j = 0; j < kExtentRegionBlocks; ++j) {
      const uint64_t b = m[j];
      if (!b) continue;
      if (base + j >= eof_blocks && !past) {
        past = true;
        cx_.add("extent.past_eof", 0, k,
                "inode " + num(k.ino) + " maps file block " + num(base + j) + " but its size " + num(i.v.size) +
                    " ends at block " + num(eof_blocks));
      }
      if (b < kDataBlknoFirst || b >= cx_.data_hi) {
        cx_.add("data.out_of_range", b, k,
                "inode " + num(k.ino) + " maps data block " + num(b) + ", outside the device");
        continue;
      }
      claim_data(k.ino, base + j, b);
    }
  }

  // Claims data block `blkno` for file block `file_block` of `ino`, extending the last claim
  // when it maps the blocks before both.
  void claim_data(uint64_t ino, uint64_t file_block, uint64_t blkno) {
    std::vector<Claim>& claims = cx_.data_claims;
    if (!claims.empty() && claims.back().owner == Owner::kExtent && claims.back().ino == ino &&
        claims.back().start + claims.back().len == blkno && claims.back().file_block + claims.back().len == file_block) {
      ++claims.back().len;
    } else {
      claims.push_back(Claim{blkno, 1, Owner::kExtent, ino, file_block});
    }
  }

  FsckContext& cx_;
  std::map<uint64_t, InodeState> inodes_;
  std::map<std::pair<uint64_t, uint64_t>, const std::vector<uint8_t>*> readdirs_;  // (dir, pos)
  std::map<std::tuple<uint64_t, uint64_t, uint64_t>, std::string> links_;         // (ino, dir, pos) -> name
  std::vector<Entry> entries_;
  std::vector<const Item*> extents_;
  std::set<uint64_t> orphans_;
  std::set<uint64_t> no_inode_;  // inodes whose records were reported as item.no_inode
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> entry_at_;  // (dir, pos) -> the ino an entry names
  std::map<uint64_t, std::vector<uint64_t>> children_;          // dir -> its subdirectories
};

}  // namespace

void check_namespace(FsckContext& cx) { NamespaceCheck(cx).run(); }

}  // namespace simfs::fs::fsck_internal
