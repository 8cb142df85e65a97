#include "fs/lock/lock_server_core.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <memory>
#include <ostream>
#include <vector>

#include "fs/lock/lock_keys.h"

namespace simfs::fs {

// Outside the anonymous namespace so gtest finds it by argument-dependent lookup.
void PrintTo(const LockAction& a, std::ostream* os) { *os << lock_action_string(a); }

namespace {

using M = LockMode;
using Actions = std::vector<LockAction>;

LockAction grant(uint64_t rid, const Key& lock, uint64_t net_id, M old_mode, M new_mode, uint64_t write_seq = 0) {
  return LockAction{LockAction::Kind::kGrant, rid, lock, net_id, old_mode, new_mode, write_seq};
}

LockAction invalidate(uint64_t rid, const Key& lock, M old_mode, M new_mode) {
  return LockAction{LockAction::Kind::kInvalidate, rid, lock, 0, old_mode, new_mode, 0};
}

class LockServerCoreTest : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_EQ(core_.check(), ""); }

  uint64_t seq_ = 0;
  LockServerCore core_{[this] { return ++seq_; }};
  const Key lock_ = inode_lock_key(16);
};

TEST_F(LockServerCoreTest, TwoReadersShare) {
  EXPECT_EQ(core_.request(1, lock_, 10, M::kRead), (Actions{grant(1, lock_, 10, M::kNull, M::kRead)}));
  EXPECT_EQ(core_.request(2, lock_, 20, M::kRead), (Actions{grant(2, lock_, 20, M::kNull, M::kRead)}));
  EXPECT_EQ(core_.granted_mode(1, lock_), M::kRead);
  EXPECT_EQ(core_.granted_mode(2, lock_), M::kRead);
}

TEST_F(LockServerCoreTest, WriterWaitsForEveryReaderToDropToNull) {
  core_.request(1, lock_, 10, M::kRead);
  core_.request(2, lock_, 20, M::kRead);
  EXPECT_EQ(core_.request(3, lock_, 30, M::kWrite),
            (Actions{invalidate(1, lock_, M::kRead, M::kNull), invalidate(2, lock_, M::kRead, M::kNull)}));
  EXPECT_EQ(core_.invalidated(1, lock_, M::kNull), Actions{});
  EXPECT_EQ(core_.invalidated(2, lock_, M::kNull), (Actions{grant(3, lock_, 30, M::kNull, M::kWrite, 1)}));
  EXPECT_EQ(core_.granted_mode(1, lock_), M::kNull);
  EXPECT_EQ(core_.granted_mode(3, lock_), M::kWrite);
}

TEST_F(LockServerCoreTest, ReaderOfAWrittenLockLetsTheWriterKeepReading) {
  core_.request(1, lock_, 10, M::kWrite);
  EXPECT_EQ(core_.request(2, lock_, 20, M::kRead), (Actions{invalidate(1, lock_, M::kWrite, M::kRead)}));
  EXPECT_EQ(core_.invalidated(1, lock_, M::kRead), (Actions{grant(2, lock_, 20, M::kNull, M::kRead)}));
  EXPECT_EQ(core_.granted_mode(1, lock_), M::kRead);
}

TEST_F(LockServerCoreTest, UpgradeReadToWriteWithoutDropping) {
  core_.request(1, lock_, 10, M::kRead);
  EXPECT_EQ(core_.request(1, lock_, 11, M::kWrite), (Actions{grant(1, lock_, 11, M::kRead, M::kWrite, 1)}));
  EXPECT_EQ(core_.granted_mode(1, lock_), M::kWrite);
  EXPECT_EQ(core_.find(lock_)->granted.size(), 1u);
}

TEST_F(LockServerCoreTest, UpgradeInvalidatesOtherReadersOnly) {
  core_.request(1, lock_, 10, M::kRead);
  core_.request(2, lock_, 20, M::kRead);
  EXPECT_EQ(core_.request(1, lock_, 11, M::kWrite), (Actions{invalidate(2, lock_, M::kRead, M::kNull)}));
  EXPECT_EQ(core_.invalidated(2, lock_, M::kNull), (Actions{grant(1, lock_, 11, M::kRead, M::kWrite, 1)}));
}

TEST_F(LockServerCoreTest, NullRequestFromTheHolderSelfInvalidates) {
  core_.request(1, lock_, 10, M::kRead);
  EXPECT_EQ(core_.request(1, lock_, 11, M::kNull), (Actions{invalidate(1, lock_, M::kRead, M::kNull)}));
  EXPECT_EQ(core_.invalidated(1, lock_, M::kNull), (Actions{grant(1, lock_, 11, M::kNull, M::kNull)}));
  EXPECT_EQ(core_.lock_count(), 0u);  // a null grant keeps nothing
}

TEST_F(LockServerCoreTest, LaterCompatibleRequestWaitsBehindEarlierConflictingOne) {
  core_.request(1, lock_, 10, M::kRead);
  EXPECT_EQ(core_.request(2, lock_, 20, M::kWrite), (Actions{invalidate(1, lock_, M::kRead, M::kNull)}));
  // Rid 3's read is compatible with rid 1's read, but rid 2 asked first.
  EXPECT_EQ(core_.request(3, lock_, 30, M::kRead), Actions{});
  EXPECT_EQ(core_.invalidated(1, lock_, M::kNull),
            (Actions{grant(2, lock_, 20, M::kNull, M::kWrite, 1), invalidate(2, lock_, M::kWrite, M::kRead)}));
  EXPECT_EQ(core_.invalidated(2, lock_, M::kRead), (Actions{grant(3, lock_, 30, M::kNull, M::kRead)}));
}

TEST_F(LockServerCoreTest, WriteSeqsStrictlyIncreaseAndOnlyWritesGetThem) {
  const Key other = inode_lock_key(32);
  std::vector<uint64_t> seqs;
  uint64_t net = 100;
  for (int i = 0; i < 6; ++i) {
    const uint64_t rid = 1 + (i % 2);
    const M mode = i % 3 == 2 ? M::kWriteOnly : M::kWrite;
    Actions out = core_.request(rid, lock_, ++net, mode);
    // The other rid holds a conflicting mode; it answers by dropping everything.
    for (const LockAction& a : Actions(out)) {
      if (a.kind == LockAction::Kind::kInvalidate) {
        Actions more = core_.invalidated(a.rid, a.lock, a.new_mode);
        out.insert(out.end(), more.begin(), more.end());
      }
    }
    for (const LockAction& a : out) {
      if (a.kind == LockAction::Kind::kGrant) seqs.push_back(a.write_seq);
    }
  }
  Actions read = core_.request(3, other, ++net, M::kRead);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].write_seq, 0u);
  ASSERT_EQ(seqs.size(), 6u);
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
}

TEST_F(LockServerCoreTest, RecoveryGrantsNothingUntilEveryRidRecovered) {
  core_.begin_recovery({1, 2});
  core_.recover_entry(1, lock_, M::kWrite, 50);
  core_.recover_entry(2, inode_lock_key(32), M::kRead, 7);
  EXPECT_EQ(core_.request(3, lock_, 30, M::kRead), Actions{});
  EXPECT_EQ(core_.request(3, inode_lock_key(48), 31, M::kWrite), Actions{});  // no conflict, still waits
  EXPECT_EQ(core_.recovered(1), Actions{});
  EXPECT_TRUE(core_.in_recovery());
  EXPECT_EQ(core_.granted_mode(1, lock_), M::kWrite);
  EXPECT_EQ(core_.max_recovered_write_seq(), 50u);
  EXPECT_EQ(core_.check(), "");
  seq_ = std::max(seq_, core_.max_recovered_write_seq());  // the server raises its counter
  EXPECT_EQ(core_.recovered(2), (Actions{invalidate(1, lock_, M::kWrite, M::kRead),
                                         grant(3, inode_lock_key(48), 31, M::kNull, M::kWrite, 51)}));
  EXPECT_FALSE(core_.in_recovery());
  EXPECT_EQ(core_.invalidated(1, lock_, M::kRead), (Actions{grant(3, lock_, 30, M::kNull, M::kRead)}));
}

TEST_F(LockServerCoreTest, RecoveryEntriesFromRidsNotRecoveringAreDropped) {
  core_.begin_recovery({1, 2});
  core_.recover_entry(9, lock_, M::kWrite, 80);  // never mounted
  EXPECT_EQ(core_.recovered(1), Actions{});
  core_.recover_entry(1, lock_, M::kWrite, 90);  // already done
  EXPECT_EQ(core_.farewell(2), Actions{});       // fenced: recovery ends
  core_.recover_entry(2, lock_, M::kWrite, 99);  // reported after its farewell
  EXPECT_EQ(core_.lock_count(), 0u);
  EXPECT_EQ(core_.max_recovered_write_seq(), 0u);
  EXPECT_EQ(core_.request(3, lock_, 30, M::kWrite), (Actions{grant(3, lock_, 30, M::kNull, M::kWrite, 1)}));
}

TEST_F(LockServerCoreTest, FarewellDropsEverythingOfTheRidAndWaitersProceed) {
  const Key other = inode_lock_key(32);
  core_.request(1, lock_, 10, M::kWrite);
  core_.request(1, other, 11, M::kRead);
  core_.request(2, other, 20, M::kRead);
  EXPECT_EQ(core_.request(2, lock_, 21, M::kRead), (Actions{invalidate(1, lock_, M::kWrite, M::kRead)}));
  EXPECT_EQ(core_.request(3, other, 30, M::kWrite),
            (Actions{invalidate(1, other, M::kRead, M::kNull), invalidate(2, other, M::kRead, M::kNull)}));
  EXPECT_EQ(core_.request(1, other, 12, M::kWrite), Actions{});  // queued behind rid 3
  EXPECT_EQ(core_.farewell(1), (Actions{grant(2, lock_, 21, M::kNull, M::kRead)}));
  EXPECT_FALSE(core_.has_entries(1));
  EXPECT_EQ(core_.invalidated(2, other, M::kNull), (Actions{grant(3, other, 30, M::kNull, M::kWrite, 2)}));
  EXPECT_EQ(core_.farewell(3), Actions{});
  EXPECT_EQ(core_.farewell(2), Actions{});
  EXPECT_EQ(core_.lock_count(), 0u);
}

TEST_F(LockServerCoreTest, DuplicateAndUnknownInvalidationAnswersAreIgnored) {
  core_.request(1, lock_, 10, M::kRead);
  core_.request(2, lock_, 20, M::kWrite);
  EXPECT_EQ(core_.invalidated(1, lock_, M::kNull), (Actions{grant(2, lock_, 20, M::kNull, M::kWrite, 1)}));
  EXPECT_EQ(core_.invalidated(1, lock_, M::kNull), Actions{});
  EXPECT_EQ(core_.invalidated(1, lock_, M::kRead), Actions{});
  EXPECT_EQ(core_.invalidated(1, inode_lock_key(64), M::kNull), Actions{});
  EXPECT_EQ(core_.granted_mode(1, lock_), M::kNull);
  EXPECT_EQ(core_.granted_mode(2, lock_), M::kWrite);
  EXPECT_EQ(core_.lock_count(), 1u);
}

TEST_F(LockServerCoreTest, AnswerKeepingMoreThanAskedIsRefused) {
  core_.request(1, lock_, 10, M::kWrite);
  EXPECT_EQ(core_.request(2, lock_, 20, M::kWrite), (Actions{invalidate(1, lock_, M::kWrite, M::kNull)}));
  EXPECT_EQ(core_.invalidated(1, lock_, M::kRead), Actions{});
  EXPECT_EQ(core_.find(lock_)->invalidated.size(), 1u);
  EXPECT_EQ(core_.invalidated(1, lock_, M::kNull), (Actions{grant(2, lock_, 20, M::kNull, M::kWrite, 2)}));
}

TEST_F(LockServerCoreTest, SecondRequestFromARidReplacesItsQueuedOne) {
  core_.request(1, lock_, 10, M::kWrite);
  EXPECT_EQ(core_.request(2, lock_, 20, M::kWrite), (Actions{invalidate(1, lock_, M::kWrite, M::kNull)}));
  core_.request(3, lock_, 30, M::kWrite);
  EXPECT_EQ(core_.request(2, lock_, 21, M::kRead), Actions{});  // keeps its place ahead of rid 3
  EXPECT_EQ(core_.find(lock_)->requested.size(), 2u);
  EXPECT_EQ(core_.invalidated(1, lock_, M::kNull),
            (Actions{grant(2, lock_, 21, M::kNull, M::kRead), invalidate(2, lock_, M::kRead, M::kNull)}));
}

TEST(LockServerCoreCheck, ReportsConflictingRecoveredHolders) {
  LockServerCore core([] { return uint64_t{1}; });
  core.begin_recovery({1, 2});
  core.recover_entry(1, inode_lock_key(0), M::kWrite, 3);
  EXPECT_EQ(core.check(), "");
  core.recover_entry(2, inode_lock_key(0), M::kRead, 0);
  EXPECT_NE(core.check(), "");
}

TEST(LockServerCoreCheck, ReportsAWriteSeqThatDoesNotRise) {
  LockServerCore core([] { return uint64_t{5}; });
  core.request(1, inode_lock_key(0), 1, M::kWrite);
  EXPECT_EQ(core.check(), "");
  core.request(2, inode_lock_key(16), 2, M::kWriteOnly);
  EXPECT_NE(core.check(), "");
}

// ---- property: model clients against the core ----

constexpr size_t kClients = 3;
constexpr size_t kLocks = 3;

bool takes_write_seq(M m) { return m == M::kWrite || m == M::kWriteOnly; }

// What two mounts may hold at once, written out independently of lock_grant_compatible: nothing
// beside anything, readers together, blind writers together.
bool modes_may_coexist(M a, M b) {
  return a == M::kNull || b == M::kNull || (a == M::kRead && b == M::kRead) ||
         (a == M::kWriteOnly && b == M::kWriteOnly);
}

// What one mount believes about each lock, updated only by the messages it receives and the
// answers it sends.
struct ModelClient {
  std::array<M, kLocks> mode{};
  std::array<uint64_t, kLocks> write_seq{};
  std::array<bool, kLocks> pending{};
  std::array<uint64_t, kLocks> pending_net_id{};
  std::array<M, kLocks> pending_mode{};
  std::map<size_t, M> invalidations;  // lock index -> the mode asked for, not yet answered
};

class Cluster {
 public:
  Cluster() {
    core_ = std::make_unique<LockServerCore>([this] { return ++seq_; });
  }

  void request(size_t c, size_t l, M mode) {
    ModelClient& cl = clients_[c];
    cl.pending[l] = true;
    cl.pending_net_id[l] = next_net_id_++;
    cl.pending_mode[l] = mode;
    queue_[l].push_back(c);
    deliver(core_->request(c, keys_[l], cl.pending_net_id[l], mode));
  }

  void answer(size_t c, size_t l) {
    ModelClient& cl = clients_[c];
    const M now = cl.invalidations.at(l);
    cl.invalidations.erase(l);
    cl.mode[l] = now;
    deliver(core_->invalidated(c, keys_[l], now));
  }

  void farewell(size_t c) {
    forget(c);  // it rejoins later with nothing
    deliver(core_->farewell(c));
  }

  // A new server: every client resends its pending requests and then either reports what it
  // holds or is fenced, in `order`. Nothing may be granted before the last one is done.
  void restart(const std::vector<size_t>& order, const std::vector<bool>& fence, const std::vector<bool>& finish) {
    core_ = std::make_unique<LockServerCore>([this] { return ++seq_; });
    core_->begin_recovery({0, 1, 2});
    queue_ = {};  // the new server queues requests in the order they are resent
    for (size_t c = 0; c < kClients; ++c) {
      ModelClient& cl = clients_[c];
      // The old server's invalidations either finish locally (answers to it are lost) or are
      // abandoned; the client reports what it then holds.
      for (const auto& [l, to] : cl.invalidations) {
        if (finish[c]) cl.mode[l] = to;
      }
      cl.invalidations.clear();
      for (size_t l = 0; l < kLocks; ++l) {
        if (!cl.pending[l]) continue;
        queue_[l].push_back(c);
        RC_ASSERT(core_->request(c, keys_[l], cl.pending_net_id[l], cl.pending_mode[l]).empty());
      }
    }
    for (size_t i = 0; i < order.size(); ++i) {
      const size_t c = order[i];
      Actions out;
      if (fence[c]) {
        forget(c);
        out = core_->farewell(c);
      } else {
        for (size_t l = 0; l < kLocks; ++l)
          core_->recover_entry(c, keys_[l], clients_[c].mode[l], clients_[c].write_seq[l]);
        seq_ = std::max(seq_, core_->max_recovered_write_seq());
        out = core_->recovered(c);
      }
      if (i + 1 < order.size()) RC_ASSERT(out.empty());
      deliver(out);
    }
    RC_ASSERT(!core_->in_recovery());
  }

  bool any_invalidation() const {
    return std::any_of(clients_.begin(), clients_.end(), [](const ModelClient& c) { return !c.invalidations.empty(); });
  }

  // Every holder agrees with the server, the server's own check passes, and no two clients
  // hold conflicting modes.
  void check() const {
    RC_ASSERT(core_->check() == "");
    for (size_t l = 0; l < kLocks; ++l) {
      for (size_t c = 0; c < kClients; ++c) {
        const ModelClient& cl = clients_[c];
        const M server_view = cl.invalidations.count(l) ? invalidated_mode(c, l) : core_->granted_mode(c, keys_[l]);
        RC_ASSERT(server_view == cl.mode[l]);
        for (size_t d = 0; d < kClients; ++d) {
          if (d != c) RC_ASSERT(modes_may_coexist(cl.mode[l], clients_[d].mode[l]));
        }
      }
    }
  }

  const ModelClient& client(size_t c) const { return clients_[c]; }
  const LockServerCore& core() const { return *core_; }

 private:
  void forget(size_t c) {
    clients_[c] = ModelClient{};
    for (auto& q : queue_) std::erase(q, c);
  }

  M invalidated_mode(size_t c, size_t l) const {
    const LockState* s = core_->find(keys_[l]);
    RC_ASSERT(s != nullptr);
    for (const LockEntry& e : s->invalidated) {
      if (e.rid == c) return e.mode;
    }
    RC_FAIL("client has an invalidation the server does not");
    return M::kNull;
  }

  size_t lock_index(const Key& k) const {
    auto it = std::find(keys_.begin(), keys_.end(), k);
    RC_ASSERT(it != keys_.end());
    return static_cast<size_t>(it - keys_.begin());
  }

  void deliver(const Actions& out) {
    for (const LockAction& a : out) {
      RC_ASSERT(a.rid < kClients);
      ModelClient& cl = clients_[a.rid];
      const size_t l = lock_index(a.lock);
      RC_ASSERT(a.old_mode == cl.mode[l]);
      if (a.kind == LockAction::Kind::kGrant) {
        RC_ASSERT(cl.pending[l]);
        RC_ASSERT(!queue_[l].empty() && queue_[l].front() == a.rid);  // FIFO
        queue_[l].pop_front();
        RC_ASSERT(a.net_id == cl.pending_net_id[l]);
        RC_ASSERT(a.new_mode == cl.pending_mode[l]);
        RC_ASSERT(cl.invalidations.count(l) == 0u);
        RC_ASSERT(takes_write_seq(a.new_mode) == (a.write_seq != 0));
        if (a.write_seq) {
          RC_ASSERT(a.write_seq > last_write_seq_);
          last_write_seq_ = a.write_seq;
          cl.write_seq[l] = a.write_seq;
        }
        cl.mode[l] = a.new_mode;
        cl.pending[l] = false;
      } else {
        RC_ASSERT(cl.invalidations.count(l) == 0u);
        RC_ASSERT(a.new_mode == lock_invalidation_mode(a.old_mode, M::kRead) || a.new_mode == M::kNull);
        cl.invalidations[l] = a.new_mode;
      }
    }
  }

  uint64_t seq_ = 0;  // the server's persistent seq: survives restarts
  uint64_t last_write_seq_ = 0;
  uint64_t next_net_id_ = 1;
  std::unique_ptr<LockServerCore> core_;
  std::array<ModelClient, kClients> clients_{};
  std::array<std::deque<size_t>, kLocks> queue_{};  // per lock: who asked, oldest first
  const std::array<Key, kLocks> keys_ = {inode_lock_key(0), inode_lock_key(16), orphan_lock_key()};
};

// A uniform choice in [lo, hi). rc::gen::inRange narrows with the test size, which would keep
// the rare steps (farewell, restart) out of all but the last runs.
size_t pick(size_t lo, size_t hi) { return *rc::gen::resize(100, rc::gen::inRange<size_t>(lo, hi)); }

RC_GTEST_PROP(LockServerCoreProp, ModelClientsNeverConflictAndEveryRequestIsGranted, ()) {
  Cluster cluster;
  const size_t steps = *rc::gen::inRange<size_t>(1, 300);  // grows with the test size
  for (size_t step = 0; step < steps; ++step) {
    const size_t kind = pick(0, 100);
    const size_t c = pick(0, kClients);
    if (kind < 45) {
      const size_t l = pick(0, kLocks);
      if (!cluster.client(c).pending[l]) {
        cluster.request(c, l, static_cast<M>(pick(0, 4)));
      }
    } else if (kind < 85) {
      const auto& inv = cluster.client(c).invalidations;
      if (!inv.empty()) {
        auto it = inv.begin();
        std::advance(it, pick(0, inv.size()));
        cluster.answer(c, it->first);
      }
    } else if (kind < 92) {
      cluster.farewell(c);
    } else {
      std::vector<size_t> order = {0, 1, 2};
      std::vector<size_t> shuffled;
      while (!order.empty()) {
        const size_t i = pick(0, order.size());
        shuffled.push_back(order[i]);
        order.erase(order.begin() + static_cast<std::ptrdiff_t>(i));
      }
      std::vector<bool> fence;
      std::vector<bool> finish;
      for (size_t i = 0; i < kClients; ++i) {
        fence.push_back(pick(0, 5) == 0);
        finish.push_back(pick(0, 2) == 0);
      }
      cluster.restart(shuffled, fence, finish);
    }
    cluster.check();
  }

  // Liveness: once clients answer every invalidation, nothing waits. Each round grants at least
  // the oldest request of every lock that had an invalidation outstanding.
  for (int round = 0; round < 100 && cluster.any_invalidation(); ++round) {
    std::vector<std::pair<size_t, size_t>> outstanding;
    for (size_t c = 0; c < kClients; ++c) {
      for (const auto& [l, to] : cluster.client(c).invalidations) outstanding.emplace_back(c, l);
    }
    for (const auto& [c, l] : outstanding) {
      if (cluster.client(c).invalidations.count(l)) cluster.answer(c, l);
      cluster.check();
    }
  }
  RC_ASSERT(!cluster.any_invalidation());
  for (size_t c = 0; c < kClients; ++c) {
    for (size_t l = 0; l < kLocks; ++l) RC_ASSERT(!cluster.client(c).pending[l]);
  }
  for (const auto& [lock, s] : cluster.core().locks()) RC_ASSERT(s.requested.empty() && s.invalidated.empty());
}

}  // namespace
}  // namespace simfs::fs
