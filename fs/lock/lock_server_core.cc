#include "fs/lock/lock_server_core.h"

#include <algorithm>
#include <utility>

#include "fs/base/assert.h"

namespace simfs::fs {

namespace {

std::deque<LockEntry>::iterator find_rid(std::deque<LockEntry>& list, uint64_t rid) {
  return std::find_if(list.begin(), list.end(), [rid](const LockEntry& e) { return e.rid == rid; });
}

std::deque<LockEntry>::const_iterator find_rid(const std::deque<LockEntry>& list, uint64_t rid) {
  return std::find_if(list.begin(), list.end(), [rid](const LockEntry& e) { return e.rid == rid; });
}

bool erase_rid(std::deque<LockEntry>& list, uint64_t rid) {
  const size_t before = list.size();
  std::erase_if(list, [rid](const LockEntry& e) { return e.rid == rid; });
  return list.size() != before;
}

bool takes_write_seq(LockMode m) { return m == LockMode::kWrite || m == LockMode::kWriteOnly; }

}  // namespace

std::string lock_action_string(const LockAction& a) {
  std::string s = a.kind == LockAction::Kind::kGrant ? "grant" : "invalidate";
  s += " rid=" + std::to_string(a.rid) + " lock=" + key_string(a.lock);
  if (a.kind == LockAction::Kind::kGrant) s += " net_id=" + std::to_string(a.net_id);
  s += std::string(" ") + lock_mode_name(a.old_mode) + "->" + lock_mode_name(a.new_mode);
  if (a.write_seq) s += " seq=" + std::to_string(a.write_seq);
  return s;
}

LockServerCore::LockServerCore(std::function<uint64_t()> next_seq) : next_seq_(std::move(next_seq)) {}

std::vector<LockAction> LockServerCore::request(uint64_t rid, const Key& lock, uint64_t net_id, LockMode mode) {
  LockState& s = locks_[lock];
  auto queued = find_rid(s.requested, rid);
  if (queued != s.requested.end()) {
    queued->mode = mode;
    queued->net_id = net_id;
  } else {
    s.requested.push_back(LockEntry{rid, mode, net_id, LockMode::kNull});
  }
  std::vector<LockAction> out;
  process(lock, &out);
  return out;
}

std::vector<LockAction> LockServerCore::invalidated(uint64_t rid, const Key& lock, LockMode now) {
  std::vector<LockAction> out;
  auto it = locks_.find(lock);
  if (it == locks_.end()) return out;
  LockState& s = it->second;
  auto inv = find_rid(s.invalidated, rid);
  if (inv == s.invalidated.end()) return out;
  // Keeping more than was asked would let the client hold a mode the next grant conflicts with.
  if (now != LockMode::kNull && now != inv->invalidation_mode) return out;
  LockEntry holder = *inv;
  s.invalidated.erase(inv);
  if (now != LockMode::kNull) {
    holder.mode = now;
    holder.invalidation_mode = LockMode::kNull;
    s.granted.push_back(holder);
  }
  process(lock, &out);
  return out;
}

void LockServerCore::begin_recovery(const std::vector<uint64_t>& rids) {
  FS_ASSERT(locks_.empty() && recovering_.empty() && last_write_seq_ == 0);
  recovering_.insert(rids.begin(), rids.end());
}

void LockServerCore::recover_entry(uint64_t rid, const Key& lock, LockMode mode, uint64_t write_seq) {
  if (!recovering(rid)) return;
  max_recovered_write_seq_ = std::max(max_recovered_write_seq_, write_seq);
  if (mode == LockMode::kNull) return;
  LockState& s = locks_[lock];
  auto held = find_rid(s.granted, rid);
  if (held != s.granted.end()) {
    held->mode = mode;
  } else {
    s.granted.push_back(LockEntry{rid, mode, 0, LockMode::kNull});
  }
}

std::vector<LockAction> LockServerCore::recovered(uint64_t rid) {
  std::vector<LockAction> out;
  if (recovering_.erase(rid) && recovering_.empty()) process_all(&out);
  return out;
}

std::vector<LockAction> LockServerCore::farewell(uint64_t rid) {
  const bool ended_recovery = recovering_.erase(rid) && recovering_.empty();
  std::vector<Key> touched;
  for (auto& [lock, s] : locks_) {
    const bool granted = erase_rid(s.granted, rid);
    const bool requested = erase_rid(s.requested, rid);
    const bool invalidated = erase_rid(s.invalidated, rid);
    if (granted || requested || invalidated) touched.push_back(lock);
  }
  std::vector<LockAction> out;
  if (ended_recovery) {
    process_all(&out);
  } else {
    for (const Key& lock : touched) process(lock, &out);
  }
  return out;
}

void LockServerCore::process_all(std::vector<LockAction>* out) {
  std::vector<Key> keys;
  keys.reserve(locks_.size());
  for (const auto& [lock, s] : locks_) keys.push_back(lock);
  for (const Key& lock : keys) process(lock, out);
}

void LockServerCore::process(const Key& lock, std::vector<LockAction>* out) {
  auto it = locks_.find(lock);
  if (it == locks_.end()) return;
  LockState& s = it->second;
  if (recovering_.empty() && s.invalidated.empty()) {
    // Every pass either grants the head request (the list shrinks) or invalidates and stops.
    while (!s.requested.empty()) {
      const LockEntry req = s.requested.front();
      for (auto g = s.granted.begin(); g != s.granted.end();) {
        // BUG (planted, incompatible_grant): a WRITE request ignores other mounts' READ grants.
        const bool overlooked = plant_incompatible_grant_ && req.mode == LockMode::kWrite &&
                                g->mode == LockMode::kRead && g->rid != req.rid;
        if (overlooked || lock_grant_compatible(g->rid, g->mode, req.rid, req.mode)) {
          ++g;
          continue;
        }
        const LockMode to = lock_invalidation_mode(g->mode, req.mode);
        out->push_back(LockAction{LockAction::Kind::kInvalidate, g->rid, lock, 0, g->mode, to, 0});
        s.invalidated.push_back(LockEntry{g->rid, g->mode, g->net_id, to});
        g = s.granted.erase(g);
      }
      if (!s.invalidated.empty()) break;
      s.requested.pop_front();
      grant(lock, s, req, out);
    }
  }
  if (s.empty()) locks_.erase(it);
}

void LockServerCore::grant(const Key& lock, LockState& s, const LockEntry& req, std::vector<LockAction>* out) {
  if (!recovering_.empty()) ++grants_during_recovery_;
  LockMode old = LockMode::kNull;
  auto held = find_rid(s.granted, req.rid);
  if (held != s.granted.end()) {
    old = held->mode;
    if (req.mode == LockMode::kNull) {
      s.granted.erase(held);
    } else {
      *held = LockEntry{req.rid, req.mode, req.net_id, LockMode::kNull};
    }
  } else if (req.mode != LockMode::kNull) {
    s.granted.push_back(LockEntry{req.rid, req.mode, req.net_id, LockMode::kNull});
  }
  uint64_t seq = 0;
  if (takes_write_seq(req.mode)) {
    seq = next_seq_();
    if (write_seq_violation_.empty() && (seq <= last_write_seq_ || seq <= max_recovered_write_seq_)) {
      write_seq_violation_ = "write_seq " + std::to_string(seq) + " granted on " + key_string(lock) +
                             " is not above the last granted (" + std::to_string(last_write_seq_) +
                             ") and recovered (" + std::to_string(max_recovered_write_seq_) + ")";
    }
    last_write_seq_ = std::max(last_write_seq_, seq);
  }
  out->push_back(LockAction{LockAction::Kind::kGrant, req.rid, lock, req.net_id, old, req.mode, seq});
}

std::string LockServerCore::check() const {
  if (grants_during_recovery_) return std::to_string(grants_during_recovery_) + " grants issued during recovery";
  if (!write_seq_violation_.empty()) return write_seq_violation_;
  for (const auto& [lock, s] : locks_) {
    // Formatted only for a report: this runs for every lock, many times a run.
    auto where = [&lock] { return "lock " + key_string(lock) + ": "; };
    if (s.empty()) return where() + "kept with no entries";
    std::vector<const LockEntry*> holders;
    for (const LockEntry& e : s.granted) holders.push_back(&e);
    for (const LockEntry& e : s.invalidated) holders.push_back(&e);
    for (size_t i = 0; i < holders.size(); ++i) {
      const LockEntry& a = *holders[i];
      if (a.mode == LockMode::kNull) return where() + "rid " + std::to_string(a.rid) + " holds null";
      for (size_t j = i + 1; j < holders.size(); ++j) {
        const LockEntry& b = *holders[j];
        if (a.rid == b.rid) return where() + "rid " + std::to_string(a.rid) + " holds it twice";
        if (!lock_grant_compatible(a.rid, a.mode, b.rid, b.mode) ||
            !lock_grant_compatible(b.rid, b.mode, a.rid, a.mode)) {
          return where() + "rid " + std::to_string(a.rid) + " holds " + lock_mode_name(a.mode) + " while rid " +
                 std::to_string(b.rid) + " holds " + lock_mode_name(b.mode);
        }
      }
    }
    for (size_t i = 0; i < s.requested.size(); ++i) {
      for (size_t j = i + 1; j < s.requested.size(); ++j) {
        if (s.requested[i].rid == s.requested[j].rid) {
          return where() + "rid " + std::to_string(s.requested[i].rid) + " requested it twice";
        }
      }
    }
    if (recovering_.empty() && !s.requested.empty() && s.invalidated.empty()) {
      return where() + "requests wait with no invalidation outstanding";
    }
  }
  return "";
}

LockMode LockServerCore::granted_mode(uint64_t rid, const Key& lock) const {
  const LockState* s = find(lock);
  if (!s) return LockMode::kNull;
  auto held = find_rid(s->granted, rid);
  return held == s->granted.end() ? LockMode::kNull : held->mode;
}

bool LockServerCore::has_entries(uint64_t rid) const {
  for (const auto& [lock, s] : locks_) {
    if (find_rid(s.granted, rid) != s.granted.end() || find_rid(s.requested, rid) != s.requested.end() ||
        find_rid(s.invalidated, rid) != s.invalidated.end()) {
      return true;
    }
  }
  return false;
}

const LockState* LockServerCore::find(const Key& lock) const {
  auto it = locks_.find(lock);
  return it == locks_.end() ? nullptr : &it->second;
}

}  // namespace simfs::fs
