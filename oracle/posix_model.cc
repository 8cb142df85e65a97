#include "oracle/posix_model.h"

#include <algorithm>
#include <cerrno>
#include <vector>

namespace oracle {

namespace {
using Type = ModelInode::Type;
}

PosixModel::PosixModel() {
  ModelInode root;
  root.type = Type::kDir;
  root.perm = 0755;
  root.nlink = 2;
  put(kRoot, root);
}

bool PosixModel::operator==(const PosixModel& o) const {
  if (inodes_.size() != o.inodes_.size()) return false;
  for (auto a = inodes_.begin(), b = o.inodes_.begin(); a != inodes_.end(); ++a, ++b) {
    if (a->first != b->first) return false;
    if (a->second != b->second && !(*a->second == *b->second)) return false;  // shared: equal
  }
  return true;
}

const ModelInode* PosixModel::find(uint64_t ino, int client) const {
  if (auto it = inodes_.find(ino); it != inodes_.end()) return it->second.get();
  if (auto it = orphans_.find(ino); it != orphans_.end() && is_open_by(ino, client)) return it->second.get();
  return nullptr;
}

bool PosixModel::is_open_by(uint64_t ino, int client) const {
  auto it = opens_.find(ino);
  if (it == opens_.end()) return false;
  auto c = it->second.find(client);
  return c != it->second.end() && c->second > 0;
}

namespace {
void sorted_insert(std::vector<uint64_t>& v, uint64_t x) {
  // New inodes take ever larger numbers: almost always an append.
  if (v.empty() || v.back() < x) {
    v.push_back(x);
    return;
  }
  auto it = std::lower_bound(v.begin(), v.end(), x);
  if (it == v.end() || *it != x) v.insert(it, x);
}
void sorted_erase(std::vector<uint64_t>& v, uint64_t x) {
  auto it = std::lower_bound(v.begin(), v.end(), x);
  if (it != v.end() && *it == x) v.erase(it);
}
}  // namespace

void PosixModel::link_node(uint64_t ino, std::shared_ptr<const ModelInode> n) {
  auto [it, fresh] = inodes_.try_emplace(ino);
  if (!fresh) sorted_erase(by_type_[static_cast<size_t>(it->second->type)], ino);
  sorted_insert(by_type_[static_cast<size_t>(n->type)], ino);
  if (fresh) sorted_insert(all_, ino);
  it->second = std::move(n);
}

void PosixModel::unlink_node(InodeMap::iterator it) {
  sorted_erase(by_type_[static_cast<size_t>(it->second->type)], it->first);
  sorted_erase(all_, it->first);
  inodes_.erase(it);
}

void PosixModel::clear() {
  inodes_.clear();
  all_.clear();
  for (auto& v : by_type_) v.clear();
}

void PosixModel::remove_node(uint64_t ino) {
  auto it = inodes_.find(ino);
  if (it == inodes_.end()) return;
  if (opens_.count(ino)) orphans_[ino] = it->second;
  unlink_node(it);
}

int PosixModel::open(uint64_t ino, int client) {
  if (!find(ino, client)) return ENOENT;
  ++opens_[ino][client];
  return 0;
}

int PosixModel::close(uint64_t ino, int client) {
  if (!is_open_by(ino, client)) return EINVAL;
  auto& per = opens_[ino];
  if (--per[client] == 0) per.erase(client);
  if (per.empty()) {
    opens_.erase(ino);
    orphans_.erase(ino);  // the last reference to an unlinked inode: gone
  }
  return 0;
}

void PosixModel::drop_client(int client) {
  for (auto it = opens_.begin(); it != opens_.end();) {
    it->second.erase(client);
    if (it->second.empty()) {
      orphans_.erase(it->first);
      it = opens_.erase(it);
    } else {
      ++it;
    }
  }
}

ModelInode& PosixModel::mut(uint64_t ino) {
  auto found = inodes_.find(ino);
  std::shared_ptr<const ModelInode>& p = found != inodes_.end() ? found->second : orphans_.at(ino);
  if (p.use_count() > 1) p = std::make_shared<const ModelInode>(*p);
  // Created non-const by make_shared and now owned by this model alone.
  return const_cast<ModelInode&>(*p);
}

int PosixModel::check_name(std::string_view name) const {
  if (name.size() > kNameMax) return ENAMETOOLONG;
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) return EINVAL;
  return 0;
}

int PosixModel::get_dir(uint64_t dir, const ModelInode** out) const {
  auto it = inodes_.find(dir);
  if (it == inodes_.end()) return ENOENT;
  if (it->second->type != Type::kDir) return ENOTDIR;
  *out = it->second.get();
  return 0;
}

int PosixModel::lookup(uint64_t dir, std::string_view name, uint64_t* ino) const {
  const ModelInode* d = nullptr;
  if (int e = check_name(name)) return e;
  if (int e = get_dir(dir, &d)) return e;
  auto it = d->entries.find(std::string(name));
  if (it == d->entries.end()) return ENOENT;
  *ino = it->second;
  return 0;
}

int PosixModel::make(uint64_t dir, std::string_view name, ModelInode node, uint64_t new_ino) {
  const ModelInode* d = nullptr;
  if (int e = check_name(name)) return e;
  if (int e = get_dir(dir, &d)) return e;
  if (d->entries.count(std::string(name))) return EEXIST;
  if (node.type == Type::kSymlink && node.target.empty()) return ENOENT;
  if (node.type == Type::kDir) ++mut(dir).nlink;
  mut(dir).entries[std::string(name)] = new_ino;
  put(new_ino, std::move(node));
  return 0;
}

int PosixModel::create(uint64_t dir, std::string_view name, uint32_t perm, uint64_t new_ino) {
  ModelInode n;
  n.perm = perm & 07777;
  n.nlink = 1;
  return make(dir, name, n, new_ino);
}

int PosixModel::mkdir(uint64_t dir, std::string_view name, uint32_t perm, uint64_t new_ino) {
  ModelInode n;
  n.type = Type::kDir;
  n.perm = perm & 07777;
  n.nlink = 2;
  return make(dir, name, n, new_ino);
}

int PosixModel::symlink(uint64_t dir, std::string_view name, std::string_view target, uint64_t new_ino) {
  ModelInode n;
  n.type = Type::kSymlink;
  n.perm = 0777;
  n.nlink = 1;
  n.target = std::string(target);
  return make(dir, name, n, new_ino);
}

int PosixModel::link(uint64_t ino, uint64_t dir, std::string_view name, int client) {
  if (int e = check_name(name)) return e;
  const ModelInode* n = find(ino, client);
  if (!n) return ENOENT;
  if (n->type == Type::kDir) return EPERM;
  const ModelInode* d = nullptr;
  if (int e = get_dir(dir, &d)) return e;
  if (d->entries.count(std::string(name))) return EEXIST;
  // An open orphan linked back in (linkat of an O_TMPFILE) is in the namespace again.
  if (auto o = orphans_.find(ino); o != orphans_.end()) {
    link_node(ino, o->second);
    orphans_.erase(o);
  }
  ++mut(ino).nlink;
  mut(dir).entries[std::string(name)] = ino;
  return 0;
}

void PosixModel::drop_link(uint64_t ino) {
  ModelInode& n = mut(ino);
  if (n.type == Type::kDir) n.nlink = 0;
  else --n.nlink;
  if (n.nlink == 0) remove_node(ino);
}

int PosixModel::unlink(uint64_t dir, std::string_view name) {
  uint64_t ino = 0;
  if (int e = lookup(dir, name, &ino)) return e;
  if (at(ino).type == Type::kDir) return EISDIR;
  mut(dir).entries.erase(std::string(name));
  drop_link(ino);
  return 0;
}

int PosixModel::rmdir(uint64_t dir, std::string_view name) {
  uint64_t ino = 0;
  if (int e = lookup(dir, name, &ino)) return e;
  const ModelInode& n = at(ino);
  if (n.type != Type::kDir) return ENOTDIR;
  if (!n.entries.empty()) return ENOTEMPTY;
  ModelInode& d = mut(dir);
  d.entries.erase(std::string(name));
  --d.nlink;
  mut(ino).nlink = 0;
  remove_node(ino);
  return 0;
}

bool PosixModel::is_ancestor(uint64_t maybe_ancestor, uint64_t dir) const {
  // Searches down from maybe_ancestor: the model keeps no parent pointers.
  if (maybe_ancestor == dir) return true;
  auto it = inodes_.find(maybe_ancestor);
  if (it == inodes_.end() || it->second->type != Type::kDir) return false;
  for (const auto& [name, child] : it->second->entries) {
    auto c = inodes_.find(child);
    if (c != inodes_.end() && c->second->type == Type::kDir && is_ancestor(child, dir)) return true;
  }
  return false;
}

int PosixModel::rename(uint64_t odir, std::string_view oname, uint64_t ndir, std::string_view nname, bool noreplace) {
  if (int e = check_name(oname)) return e;
  if (int e = check_name(nname)) return e;
  const ModelInode* od = nullptr;
  const ModelInode* nd = nullptr;
  if (int e = get_dir(odir, &od)) return e;
  if (int e = get_dir(ndir, &nd)) return e;
  uint64_t src = 0;
  if (int e = lookup(odir, oname, &src)) return e;
  const bool src_dir = at(src).type == Type::kDir;
  uint64_t tgt = 0;
  const bool have_target = lookup(ndir, nname, &tgt) == 0;
  if (have_target) {
    if (tgt == src) return 0;
    if (noreplace) return EEXIST;
    const ModelInode& t = at(tgt);
    const bool tgt_dir = t.type == Type::kDir;
    if (src_dir && !tgt_dir) return ENOTDIR;
    if (!src_dir && tgt_dir) return EISDIR;
    if (tgt_dir && !t.entries.empty()) return ENOTEMPTY;
  }
  if (src_dir && odir != ndir && is_ancestor(src, ndir)) return EINVAL;
  if (have_target) {
    mut(ndir).entries.erase(std::string(nname));
    if (at(tgt).type == Type::kDir) --mut(ndir).nlink;
    drop_link(tgt);
  }
  mut(odir).entries.erase(std::string(oname));
  mut(ndir).entries[std::string(nname)] = src;
  if (src_dir) {
    --mut(odir).nlink;
    ++mut(ndir).nlink;
  }
  return 0;
}

int PosixModel::write(uint64_t ino, uint64_t off, std::string_view bytes, int client) {
  const ModelInode* n = find(ino, client);
  if (!n) return ENOENT;
  if (n->type == Type::kDir) return EISDIR;
  if (n->type != Type::kFile) return EINVAL;
  if (bytes.empty()) return 0;
  std::string& d = mut(ino).data;
  if (d.size() < off + bytes.size()) d.resize(off + bytes.size(), '\0');
  d.replace(off, bytes.size(), bytes);
  return 0;
}

int PosixModel::truncate(uint64_t ino, uint64_t size, int client) {
  const ModelInode* n = find(ino, client);
  if (!n) return ENOENT;
  if (n->type == Type::kDir) return EISDIR;
  if (n->type != Type::kFile) return EINVAL;
  mut(ino).data.resize(size, '\0');
  return 0;
}

int PosixModel::setxattr(uint64_t ino, std::string_view name, std::string_view value, int client) {
  if (name.empty()) return EINVAL;
  if (name.size() > kXattrNameMax) return ERANGE;
  if (value.size() > kXattrValueMax) return E2BIG;
  if (!find(ino, client)) return ENOENT;
  mut(ino).xattrs[std::string(name)] = std::string(value);
  return 0;
}

int PosixModel::removexattr(uint64_t ino, std::string_view name, int client) {
  const ModelInode* n = find(ino, client);
  if (!n) return ENOENT;
  if (!n->xattrs.count(std::string(name))) return ENODATA;
  mut(ino).xattrs.erase(std::string(name));
  return 0;
}

int PosixModel::setattr(uint64_t ino, uint32_t perm, uint32_t uid, uint32_t gid, int client) {
  if (!find(ino, client)) return ENOENT;
  ModelInode& n = mut(ino);
  n.perm = perm & 07777;
  n.uid = uid;
  n.gid = gid;
  return 0;
}

std::string PosixModel::shown(std::string_view name) {
  if (name.size() <= 32) return std::string(name);
  return std::string(name.substr(0, 8)) + "...(" + std::to_string(name.size()) + " bytes)";
}

std::string PosixModel::diff(const PosixModel& want, const PosixModel& got) {
  // Up to kShown differences, in inode order: one lost entry usually shows as several (the
  // entry, the child's link count, a subtree no longer reachable), and the set says what
  // happened better than its first line.
  constexpr size_t kShown = 4;
  std::vector<std::string> found;
  size_t more = 0;
  auto note = [&](std::string s) {
    if (found.size() < kShown)
      found.push_back(std::move(s));
    else
      ++more;
  };
  for (const auto& [ino, wp] : want.inodes_) {
    auto it = got.inodes_.find(ino);
    const std::string who = "inode " + std::to_string(ino);
    if (it == got.inodes_.end()) {
      note(who + " is missing");
      continue;
    }
    const ModelInode& w = *wp;
    const ModelInode& g = *it->second;
    if (w.type != g.type) {
      note(who + " has the wrong type");
      continue;
    }
    if (w.perm != g.perm) note(who + " perm " + std::to_string(g.perm) + ", want " + std::to_string(w.perm));
    if (w.nlink != g.nlink) note(who + " nlink " + std::to_string(g.nlink) + ", want " + std::to_string(w.nlink));
    if (w.uid != g.uid || w.gid != g.gid)
      note(who + " owner " + std::to_string(g.uid) + ":" + std::to_string(g.gid) + ", want " + std::to_string(w.uid) +
           ":" + std::to_string(w.gid));
    if (w.data.size() != g.data.size()) {
      note(who + " size " + std::to_string(g.data.size()) + ", want " + std::to_string(w.data.size()));
    } else if (w.data != g.data) {
      size_t i = 0;
      while (w.data[i] == g.data[i]) ++i;
      note(who + " data differs first at byte " + std::to_string(i));
    }
    if (w.target != g.target) note(who + " symlink target '" + g.target + "', want '" + w.target + "'");
    if (w.xattrs != g.xattrs) note(who + " xattrs differ");
    for (const auto& [name, child] : w.entries) {
      auto e = g.entries.find(name);
      if (e == g.entries.end())
        note(who + " lacks entry '" + shown(name) + "' (-> " + std::to_string(child) + ")");
      else if (e->second != child)
        note(who + " entry '" + shown(name) + "' -> " + std::to_string(e->second) + ", want " + std::to_string(child));
    }
    for (const auto& [name, child] : g.entries)
      if (!w.entries.count(name)) note(who + " has an extra entry '" + shown(name) + "' -> " + std::to_string(child));
  }
  for (const auto& [ino, g] : got.inodes_)
    if (!want.inodes_.count(ino)) note("extra inode " + std::to_string(ino));
  std::string out;
  for (const std::string& f : found) out += (out.empty() ? "" : "; ") + f;
  if (more) out += "; and " + std::to_string(more) + " more";
  return out;
}

}  // namespace oracle
