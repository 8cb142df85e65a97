#include "oracle/fs_ops.h"

#include <cerrno>
#include <iterator>

#include "sim/errors.h"

namespace oracle {

using namespace simfs::fs;

namespace {

// The names and offsets the single-mount checker uses (fs_checker.cc), so both workloads reach
// the same corners: colliding short names, the longest name and one too long, accesses across
// extent-region boundaries.
const std::string kLongest(255, 'L');
const std::string kTooLong(256, 'T');
const std::string kNames[] = {"a", "b", "c", "dd", "e", "f", "g", "h", "a-somewhat-longer-name", "i", kLongest, kTooLong};
std::string name_of(uint32_t v) { return kNames[v % std::size(kNames)]; }
uint64_t file_offset(uint32_t pick, uint32_t step) {
  static constexpr uint64_t kBases[] = {0, 0, 0, 0, 0, 0, 128 * 1024 - 3000, 256 * 1024 - 5000};
  return kBases[pick % std::size(kBases)] + (step % 40) * 997;
}
std::string pattern(uint32_t seed, uint32_t len) {
  std::string s(len, '\0');
  for (uint32_t i = 0; i < len; ++i) s[i] = static_cast<char>('A' + (seed + i * 7) % 26);
  return s;
}
}  // namespace

bool ResolvedOp::changes() const {
  switch (op.kind % FsOp::kKinds) {
    case FsOp::kRead:
    case FsOp::kOpen:
    case FsOp::kClose:
    case FsOp::kFsync:
    case FsOp::kSync:
      return false;
    default:
      return true;
  }
}

std::string ResolvedOp::describe() const {
  return op.describe() + " [dir " + std::to_string(dir) + " '" + PosixModel::shown(name) + "', dir2 " +
         std::to_string(dir2) + " '" + PosixModel::shown(name2) + "', file " + std::to_string(file) + ", any " +
         std::to_string(any) + "]";
}

ResolvedOp resolve_op(const PosixModel& m, const FsOp& op, const std::vector<uint64_t>& open) {
  using Type = ModelInode::Type;
  const std::vector<uint64_t>& ds = m.inode_numbers(Type::kDir);
  const std::vector<uint64_t>& fs = m.inode_numbers(Type::kFile);
  const std::vector<uint64_t>& all = m.inode_numbers();
  ResolvedOp r;
  r.op = op;
  r.dir = ds[op.a % ds.size()];
  r.dir2 = ds[op.c % ds.size()];
  r.file = fs.empty() ? 0 : fs[op.a % fs.size()];
  r.any = all[op.a % all.size()];
  r.open_ino = open.empty() ? 0 : open[op.a % open.size()];
  r.name = name_of(op.b);
  r.name2 = name_of(op.d);
  r.off = file_offset(op.b, op.c);
  r.size = file_offset(op.b, op.c) + (op.d % 60) * 701;
  r.read_len = op.len % 12000;
  r.noreplace = op.len & 1;
  r.mode = (op.d * 0421u) & 07777u;
  r.uid = op.c % 5;
  r.gid = op.len % 3;
  switch (op.kind % FsOp::kKinds) {
    case FsOp::kWrite: r.bytes = pattern(op.d, op.len % 9000); break;
    case FsOp::kSetxattr: r.bytes = pattern(op.d, op.len % 50); break;
    case FsOp::kSymlink: r.bytes = "t/" + r.name2; break;
    default: break;
  }
  return r;
}

FsOutcome run_op(Vfs& vfs, const ResolvedOp& r) {
  FsOutcome o;
  auto span = [](const std::string& s) { return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()); };
  switch (r.op.kind % FsOp::kKinds) {
    case FsOp::kCreate: o.err = vfs.create(r.dir, r.name, 0644, &o.ino); break;
    case FsOp::kMkdir: o.err = vfs.mkdir(r.dir, r.name, 0755, &o.ino); break;
    case FsOp::kSymlink: o.err = vfs.symlink(r.dir, r.name, r.bytes, &o.ino); break;
    case FsOp::kUnlink: o.err = vfs.unlink(r.dir, r.name); break;
    case FsOp::kRmdir: o.err = vfs.rmdir(r.dir, r.name); break;
    case FsOp::kRename: o.err = vfs.rename(r.dir, r.name, r.dir2, r.name2, r.noreplace ? kRenameNoReplace : 0); break;
    case FsOp::kLink: o.err = r.file ? vfs.link(r.file, r.dir2, r.name2) : -1; break;
    case FsOp::kWrite: o.err = r.file ? vfs.write(r.file, r.off, span(r.bytes)) : -1; break;
    case FsOp::kTruncate: o.err = r.file ? vfs.truncate(r.file, r.size) : -1; break;
    case FsOp::kRead: {
      if (!r.file) {
        o.err = -1;
        break;
      }
      std::vector<uint8_t> out;
      o.err = vfs.read(r.file, r.off, r.read_len, &out);
      o.data.assign(out.begin(), out.end());
      break;
    }
    case FsOp::kSetxattr: o.err = vfs.setxattr(r.any, "user." + r.name2, r.bytes); break;
    case FsOp::kRemovexattr: o.err = vfs.removexattr(r.any, "user." + r.name2); break;
    case FsOp::kOpen: o.err = r.file ? vfs.open(r.file) : -1; break;
    case FsOp::kClose: o.err = r.open_ino ? vfs.close(r.open_ino) : -1; break;
    case FsOp::kFsync: o.err = r.file ? vfs.fsync(r.file) : -1; break;
    case FsOp::kSync: o.err = vfs.sync(); break;
    case FsOp::kSetattr: {
      SetAttr set;
      set.mode = r.mode;
      set.uid = r.uid;
      set.gid = r.gid;
      o.err = vfs.setattr(r.any, set);
      break;
    }
    default: o.err = -1; break;
  }
  return o;
}

int apply_op(PosixModel& m, int client, const ResolvedOp& r, const FsOutcome& got, std::string* mismatch) {
  using Type = ModelInode::Type;
  switch (r.op.kind % FsOp::kKinds) {
    case FsOp::kCreate: return m.create(r.dir, r.name, 0644, got.ino);
    case FsOp::kMkdir: return m.mkdir(r.dir, r.name, 0755, got.ino);
    case FsOp::kSymlink: return m.symlink(r.dir, r.name, r.bytes, got.ino);
    case FsOp::kUnlink: return m.unlink(r.dir, r.name);
    case FsOp::kRmdir: return m.rmdir(r.dir, r.name);
    case FsOp::kRename: return m.rename(r.dir, r.name, r.dir2, r.name2, r.noreplace);
    case FsOp::kLink: return m.link(r.file, r.dir2, r.name2, client);
    case FsOp::kWrite: return m.write(r.file, r.off, r.bytes, client);
    case FsOp::kTruncate: return m.truncate(r.file, r.size, client);
    case FsOp::kRead: {
      const ModelInode* n = m.find(r.file, client);
      if (!n) return ENOENT;
      if (n->type == Type::kDir) return EISDIR;
      if (n->type != Type::kFile) return EINVAL;
      const std::string expect = r.off >= n->data.size() ? "" : n->data.substr(r.off, r.read_len);
      if (got.err == 0 && got.data != expect) {
        *mismatch = "read " + std::to_string(got.data.size()) + " bytes that differ from the " +
                    std::to_string(expect.size()) + " the model holds";
      }
      return 0;
    }
    case FsOp::kSetxattr: return m.setxattr(r.any, "user." + r.name2, r.bytes, client);
    case FsOp::kRemovexattr: return m.removexattr(r.any, "user." + r.name2, client);
    case FsOp::kOpen: return m.open(r.file, client);
    case FsOp::kClose: return m.close(r.open_ino, client);
    case FsOp::kFsync: return m.find(r.file, client) ? 0 : ENOENT;
    case FsOp::kSync: return 0;
    case FsOp::kSetattr: return m.setattr(r.any, r.mode, r.uid, r.gid, client);
    default: return 0;
  }
}

}  // namespace oracle
