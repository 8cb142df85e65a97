#include "oracle/fs_checker.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

#include "oracle/fs_capture.h"
#include "sim/errors.h"

namespace oracle {

using namespace simfs::fs;

namespace {

// Mostly short names that collide often (so renames replace, links clash, rmdir meets entries),
// a few more so directories grow past a handful of entries, and the longest name allowed and
// one byte more (ENAMETOOLONG).
const std::string kLongest(255, 'L');
const std::string kTooLong(256, 'T');
const std::string kNames[] = {"a", "b", "c", "dd", "e", "f", "g", "h", "a-somewhat-longer-name", "i", kLongest, kTooLong};
constexpr uint32_t kNameCount = std::size(kNames);

// Where in a file an access goes: mostly the first 40 KiB, sometimes across the boundary of the
// second or third extent region (128 KiB each: fs/items.h kExtentRegionBytes).
uint64_t file_offset(uint32_t pick, uint32_t step) {
  static constexpr uint64_t kBases[] = {0, 0, 0, 0, 0, 0, 128 * 1024 - 3000, 256 * 1024 - 5000};
  return kBases[pick % std::size(kBases)] + (step % 40) * 997;
}
const char* const kKindNames[] = {"create", "mkdir", "unlink", "rmdir", "rename", "link", "symlink", "write",
                                  "truncate", "read", "setxattr", "removexattr", "open", "close", "fsync", "sync",
                                  "setattr"};
static_assert(std::size(kKindNames) == FsOp::kKinds, "one name per FsOp kind");

std::string name_of(uint32_t v) { return kNames[v % kNameCount]; }

std::string err(int e) { return e ? sim::errno_name(e) : "ok"; }

// Bytes a write puts down: a pattern from the op's fields, so shrinking keeps them valid.
std::string pattern(uint32_t seed, uint32_t len) {
  std::string s(len, '\0');
  for (uint32_t i = 0; i < len; ++i) s[i] = static_cast<char>('A' + (seed + i * 7) % 26);
  return s;
}

}  // namespace

const char* FsOp::kind_name(Kind k) { return kKindNames[k % kKinds]; }

std::string FsOp::describe() const {
  return std::string(kKindNames[kind % kKinds]) + "(" + std::to_string(a) + "," + std::to_string(b) + "," +
         std::to_string(c) + "," + std::to_string(d) + ",len=" + std::to_string(len) + ")";
}

std::vector<uint64_t> FsChecker::dirs() const { return model_.inode_numbers(ModelInode::Type::kDir); }
std::vector<uint64_t> FsChecker::files() const { return model_.inode_numbers(ModelInode::Type::kFile); }
std::vector<uint64_t> FsChecker::all() const { return model_.inode_numbers(); }

const PosixModel& FsChecker::model_at(uint64_t ops) const {
  auto it = history_.upper_bound(ops);
  return it == history_.begin() ? base_ : std::prev(it)->second;
}

void FsChecker::record(uint64_t ops, const PosixModel& m) {
  history_[ops] = m;
}

std::string FsChecker::step(Vfs& vfs, Mount& mount, const FsOp& op, bool* io_error) {
  ++ops_;
  if (io_error) *io_error = false;
  const MountStats& st = mount.stats();
  // Forget states no crash can bring back any more.
  while (!history_.empty() && history_.begin()->first < st.ops_durable) {
    auto first = history_.begin();
    if (std::next(first) != history_.end() && std::next(first)->first <= st.ops_durable) {
      base_ = first->second;
      history_.erase(first);
    } else {
      break;
    }
  }
  const uint64_t index = st.ops_done + 1;  // this operation's number on the mount
  PosixModel next = model_;
  const std::vector<uint64_t> ds = dirs(), fs = files(), everything = all();
  const uint64_t dir = ds[op.a % ds.size()];
  const uint64_t dir2 = ds[op.c % ds.size()];
  const uint64_t file = fs.empty() ? 0 : fs[op.a % fs.size()];
  const uint64_t any = everything[op.a % everything.size()];
  const std::string name = name_of(op.b), name2 = name_of(op.d);
  // The inode number a create would get (a stopped mount has none: its create fails anyway).
  uint64_t new_ino = 0;
  if (mount.peek_ino(&new_ino) != 0) new_ino = 0;
  int want = 0, got = 0;
  // The operation as the filesystem saw it, for messages.
  std::string what = op.describe() + " [dir " + std::to_string(dir) + " '" + PosixModel::shown(name) + "', dir2 " +
                     std::to_string(dir2) + " '" + PosixModel::shown(name2) + "', file " + std::to_string(file) + "]";
  auto predict_then_run = [&](auto model_fn, auto fs_fn) {
    want = model_fn(next);
    record(index, want == 0 ? next : model_);
    got = fs_fn();
  };
  switch (op.kind % FsOp::kKinds) {
    case FsOp::kCreate: {
      uint64_t ino = 0;
      predict_then_run([&](PosixModel& m) { return m.create(dir, name, 0644, new_ino); },
                       [&] { return vfs.create(dir, name, 0644, &ino); });
      if (got == 0 && want == 0 && ino != new_ino) return what + ": created inode " + std::to_string(ino) + ", expected " + std::to_string(new_ino);
      break;
    }
    case FsOp::kMkdir: {
      uint64_t ino = 0;
      predict_then_run([&](PosixModel& m) { return m.mkdir(dir, name, 0755, new_ino); },
                       [&] { return vfs.mkdir(dir, name, 0755, &ino); });
      if (got == 0 && want == 0 && ino != new_ino) return what + ": created inode " + std::to_string(ino) + ", expected " + std::to_string(new_ino);
      break;
    }
    case FsOp::kSymlink: {
      uint64_t ino = 0;
      const std::string target = "t/" + name2;
      predict_then_run([&](PosixModel& m) { return m.symlink(dir, name, target, new_ino); },
                       [&] { return vfs.symlink(dir, name, target, &ino); });
      if (got == 0 && want == 0 && ino != new_ino) return what + ": created inode " + std::to_string(ino) + ", expected " + std::to_string(new_ino);
      break;
    }
    case FsOp::kUnlink:
      predict_then_run([&](PosixModel& m) { return m.unlink(dir, name); }, [&] { return vfs.unlink(dir, name); });
      break;
    case FsOp::kRmdir:
      predict_then_run([&](PosixModel& m) { return m.rmdir(dir, name); }, [&] { return vfs.rmdir(dir, name); });
      break;
    case FsOp::kRename: {
      const bool noreplace = op.len & 1;
      predict_then_run([&](PosixModel& m) { return m.rename(dir, name, dir2, name2, noreplace); },
                       [&] { return vfs.rename(dir, name, dir2, name2, noreplace ? kRenameNoReplace : 0); });
      break;
    }
    case FsOp::kLink:
      if (!file) return "";
      predict_then_run([&](PosixModel& m) { return m.link(file, dir2, name2); }, [&] { return vfs.link(file, dir2, name2); });
      break;
    case FsOp::kWrite: {
      if (!file) return "";
      const uint64_t off = file_offset(op.b, op.c);
      const std::string bytes = pattern(op.d, op.len % 9000);
      predict_then_run([&](PosixModel& m) { return m.write(file, off, bytes); },
                       [&] { return vfs.write(file, off, std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())); });
      break;
    }
    case FsOp::kTruncate: {
      if (!file) return "";
      const uint64_t size = file_offset(op.b, op.c) + (op.d % 60) * 701;
      predict_then_run([&](PosixModel& m) { return m.truncate(file, size); }, [&] { return vfs.truncate(file, size); });
      break;
    }
    case FsOp::kRead: {
      if (!file) return "";
      const uint64_t off = file_offset(op.b, op.c);
      std::vector<uint8_t> out;
      predict_then_run([&](PosixModel&) { return 0; }, [&] { return vfs.read(file, off, op.len % 12000, &out); });
      if (got == 0) {
        const std::string& data = model_.at(file).data;
        const std::string expect = off >= data.size() ? "" : data.substr(off, op.len % 12000);
        if (std::string(out.begin(), out.end()) != expect)
          return what + ": read " + std::to_string(out.size()) + " bytes that differ from the " +
                 std::to_string(expect.size()) + " the model holds";
      }
      break;
    }
    case FsOp::kSetxattr: {
      const std::string value = pattern(op.d, op.len % 50);
      predict_then_run([&](PosixModel& m) { return m.setxattr(any, "user." + name2, value); },
                       [&] { return vfs.setxattr(any, "user." + name2, value); });
      break;
    }
    case FsOp::kRemovexattr:
      predict_then_run([&](PosixModel& m) { return m.removexattr(any, "user." + name2); },
                       [&] { return vfs.removexattr(any, "user." + name2); });
      break;
    case FsOp::kOpen:
      if (!file) return "";
      predict_then_run([&](PosixModel& m) { return m.open(file); }, [&] { return vfs.open(file); });
      if (got == 0) open_.push_back(file);
      break;
    case FsOp::kClose: {
      if (open_.empty()) return "";
      const size_t i = op.a % open_.size();
      const uint64_t ino = open_[i];
      predict_then_run([&](PosixModel& m) { return m.close(ino); }, [&] { return vfs.close(ino); });
      if (got == 0) open_.erase(open_.begin() + static_cast<long>(i));
      break;
    }
    case FsOp::kFsync:
      if (!file) return "";
      predict_then_run([&](PosixModel&) { return 0; }, [&] { return vfs.fsync(file); });
      break;
    case FsOp::kSync:
      predict_then_run([&](PosixModel&) { return 0; }, [&] { return vfs.sync(); });
      break;
    case FsOp::kSetattr: {
      // chmod + chown of any inode (a truncate through setattr is kTruncate's business).
      SetAttr set;
      set.mode = (op.d * 0421u) & 07777u;
      set.uid = op.c % 5;
      set.gid = op.len % 3;
      predict_then_run([&](PosixModel& m) { return m.setattr(any, *set.mode, *set.uid, *set.gid); },
                       [&] { return vfs.setattr(any, set); });
      break;
    }
    default:
      return "";
  }
  if (got == ENOSPC && want != ENOSPC && allow_enospc_) {
    // As for EIO below: not done, unless the mount stopped (then recovery is the judge).
    if (!mount.failed()) record(index, model_);
    ++enospc_;
    return "";
  }
  if (got == EIO && want != EIO && allow_eio_) {
    // Not done — unless the mount stopped with it half done, in which case only the commit in
    // flight (if any) could hold it, and recovery is the judge.
    if (!mount.failed()) record(index, model_);
    if (io_error) *io_error = true;
    return "";
  }
  if (got != want) return what + " returned " + err(got) + ", the model expects " + err(want);
  if (want == 0) model_ = std::move(next);
  return "";
}

std::string FsChecker::check_live(Vfs& vfs, bool* io_error) {
  PosixModel got;
  if (int e = capture(vfs, &got)) {
    if (e == EIO && allow_eio_ && io_error) {
      *io_error = true;
      return "";
    }
    return "reading the whole filesystem failed with " + err(e);
  }
  std::string d = PosixModel::diff(model_, got);
  return d.empty() ? "" : "the live filesystem differs from the model: " + d;
}

void FsChecker::crash_seen(const MountStats& last) {
  durable_ = model_at(last.ops_durable);
  inflight_ = model_at(last.ops_committing);
}

std::string FsChecker::check_recovered(Vfs& vfs, bool* io_error) {
  PosixModel got;
  if (int e = capture(vfs, &got)) {
    if (e == EIO && allow_eio_ && io_error) {
      *io_error = true;
      return "";
    }
    return "reading the recovered filesystem failed with " + err(e);
  }
  const std::string d = PosixModel::diff(durable_, got);
  const std::string f = PosixModel::diff(inflight_, got);
  if (!d.empty() && !f.empty())
    return "after recovery the filesystem is neither the last durable commit (" + d + ") nor the commit in flight (" + f + ")";
  // Recovery picked one of them: continue from it, on a fresh mount whose operations count
  // from zero again.
  model_ = got;
  base_ = got;
  history_.clear();
  open_.clear();
  return "";
}

}  // namespace oracle
