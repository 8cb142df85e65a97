#include "oracle/cluster_checker.h"

#include <algorithm>
#include <cerrno>

#include "oracle/fs_capture.h"
#include "sim/errors.h"

namespace oracle {

namespace {
std::string err(int e) { return e ? sim::errno_name(e) : "ok"; }
}  // namespace

void ClusterChecker::mounted(uint64_t rid) {
  if (!clients_.count(rid)) clients_[rid] = next_client_++;
}

int ClusterChecker::client_of(uint64_t rid) const {
  auto it = clients_.find(rid);
  return it == clients_.end() ? 0 : it->second;
}

bool ClusterChecker::lost(const Entry& e) const {
  if (e.gone_marker || !e.op.changes() || !gone_.count(e.rid)) return false;
  auto d = durable_.find(e.rid);
  return d == durable_.end() || e.trans_seq > d->second;
}

bool ClusterChecker::final(const Entry& e) const {
  if (e.gone_marker || !e.op.changes() || gone_.count(e.rid)) return true;
  auto d = durable_.find(e.rid);
  return d != durable_.end() && e.trans_seq <= d->second;
}

std::string ClusterChecker::replay(PosixModel& m, const Entry& e) const {
  if (e.gone_marker) {
    m.drop_client(e.client);
    return "";
  }
  // No copy to roll back to: every model operation changes the model only when it succeeds
  // (posix_model.h), so one whose answer matches leaves exactly what it should. On a mismatch
  // the model may hold a change the filesystem refused; the caller reports it and stops.
  // (Copying the model per operation was a fifth of a long multi_mount run.)
  std::string mismatch;
  const int want = apply_op(m, e.client, e.op, e.got, &mismatch);
  if (want != e.got.err) return e.op.describe() + " returned " + err(e.got.err) + ", the model expects " + err(want);
  if (!mismatch.empty()) return e.op.describe() + ": " + mismatch;
  return "";
}

ClusterVerdict ClusterChecker::run(uint64_t rid, simfs::fs::Vfs& vfs, simfs::fs::Mount& mount, const FsOp& op,
                                   bool* not_done) {
  if (not_done) *not_done = false;
  mounted(rid);
  const ResolvedOp r = resolve_op(model_, op, open_[rid]);
  const FsOutcome got = run_op(vfs, r);
  if (got.err == -1) return {};  // nothing to act on
  ++ops_;
  // The linearization point: the call has returned, with every lock it held just released.
  const bool stopped = mount.failed() != 0;
  if ((got.err == EIO && allow_eio_) || (got.err == ENOSPC && allow_enospc_)) {
    // Not done (a stopped mount's half-done change dies with its transaction).
    PosixModel probe = model_;
    std::string mismatch;
    const int want = apply_op(probe, client_of(rid), r, got, &mismatch);
    if (want != got.err) {
      if (not_done) *not_done = true;
      return {};
    }
  }
  (void)stopped;
  // The transaction the operation's changes are in: the mount may have committed it on the
  // way out (dirty-item limit) and be in the next one already.
  const uint64_t held = vfs.held_trans_seq();
  Entry e{rid, client_of(rid), r, got, held ? held : mount.trans_seq(), false};
  if (std::string f = replay(model_, e); !f.empty()) return {"fs.op_result", f};
  if (r.op.kind % FsOp::kKinds == FsOp::kOpen && got.err == 0) open_[rid].push_back(r.file);
  if (r.op.kind % FsOp::kKinds == FsOp::kClose && got.err == 0) {
    auto& o = open_[rid];
    o.erase(std::find(o.begin(), o.end(), r.open_ino));
  }
  log_.push_back(std::move(e));
  fold();
  return {};
}

void ClusterChecker::transaction_durable(uint64_t rid, uint64_t trans_seq) {
  uint64_t& d = durable_[rid];
  d = std::max(d, trans_seq);
  fold();
}

ClusterVerdict ClusterChecker::mount_gone(uint64_t rid) {
  if (gone_.count(rid)) return {};
  gone_.insert(rid);
  Entry marker;
  marker.rid = rid;
  marker.client = client_of(rid);
  marker.gone_marker = true;
  log_.push_back(marker);
  open_.erase(rid);
  ClusterVerdict v = rebuild();
  fold();
  return v;
}

void ClusterChecker::farewell(uint64_t rid) {
  durable_[rid] = UINT64_MAX;
  fold();
}

ClusterVerdict ClusterChecker::rebuild() {
  PosixModel m = base_;
  uint64_t lost = 0;
  for (const Entry& e : log_) {
    if (this->lost(e)) {
      ++lost;
      continue;
    }
    // A lost mount's own reads may have seen its own uncommitted writes: they were judged when
    // they returned, and go with it (its opens end at its gone marker).
    if (!e.gone_marker && !e.op.changes() && gone_.count(e.rid)) continue;
    if (std::string f = replay(m, e); !f.empty()) {
      model_ = std::move(m);
      return {"fs.durability", "with the transactions of the lost mounts taken out, an answer no longer fits: " + f};
    }
  }
  lost_ += lost;
  model_ = std::move(m);
  return {};
}

void ClusterChecker::fold() {
  // Entries whose fate is settled, from the front, become part of the base: the log stays as
  // short as durability is behind.
  size_t n = 0;
  while (n < log_.size() && final(log_[n])) {
    if (!lost(log_[n])) (void)replay(base_, log_[n]);
    ++n;
  }
  if (n) log_.erase(log_.begin(), log_.begin() + static_cast<long>(n));
}

ClusterVerdict ClusterChecker::check_view(uint64_t rid, simfs::fs::Vfs& vfs) {
  PosixModel got;
  if (int e = capture(vfs, &got)) {
    if (e == EIO && allow_eio_) return {};
    return {"fs.state", "mount " + std::to_string(rid) + ": reading the whole filesystem failed with " + err(e)};
  }
  std::string d = PosixModel::diff(model_, got);
  if (d.empty()) return {};
  return {"fs.state", "mount " + std::to_string(rid) + "'s view differs from the model: " + d};
}

}  // namespace oracle
