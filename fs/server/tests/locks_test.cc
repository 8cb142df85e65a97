// The lock server through the server's request seam: grants are the responses to LOCK
// requests, invalidations go out through ClientLinks and their answers come back through the
// push's `done`. The decisions are LockServerCore's (tested in fs/lock); these tests check the
// server moves the messages and hands out write_seqs above every seq used before.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include "fs/lock/lock_keys.h"
#include "fs/server/tests/server_world.h"

namespace simfs::fs {
namespace {

using proto::Cmd;
using proto::LockMessage;
using testing::Answer;
using testing::Pending;
using testing::ServerWorld;

Pending request(ServerWorld& w, uint64_t rid, const Key& key, LockMode old_mode, LockMode mode) {
  return w.send(rid, Cmd::kLock, proto::encode(LockMessage{key, old_mode, mode, 0}));
}

LockMessage grant_of(const Answer& a) {
  LockMessage m;
  EXPECT_TRUE(a.replied);
  EXPECT_EQ(a.err, 0);
  EXPECT_TRUE(proto::decode(a.data, &m));
  return m;
}

// The client's answer to an invalidation: it dropped to what was asked.
void answer_invalidation(testing::FakeLinks::Push& p) {
  LockMessage inv;
  ASSERT_TRUE(proto::decode(p.data, &inv));
  p.done(net::Reply{0, proto::encode(LockMessage{inv.key, inv.old_mode, inv.new_mode, 0})});
}

TEST(ServerLocks, ReadersShareAndAWriterInvalidatesThem) {
  ServerWorld w(21);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    for (uint64_t rid : {1, 2, 3}) ASSERT_EQ(w.greet(rid), 0);
    const Key key = inode_lock_key(kFirstIno);
    // Seqs in use before the write grant: a transaction's, and the counter in the super.
    proto::LogTrees lt;
    ASSERT_EQ(w.get_log_trees(1, &lt), 0);
    const uint64_t seq_before = std::max(lt.value.get_trans_seq, w.server->stable_super().server_seq);

    // Two readers: both granted at once, no write_seq.
    for (uint64_t rid : {1, 2}) {
      LockMessage g = grant_of(ServerWorld::wait(request(w, rid, key, LockMode::kNull, LockMode::kRead)));
      EXPECT_EQ(g.key, key);
      EXPECT_EQ(g.new_mode, LockMode::kRead);
      EXPECT_EQ(g.write_seq, 0u);
    }
    EXPECT_TRUE(w.links.of(Cmd::kLock).empty());

    // A writer: both readers are asked to drop to NULL, and it waits for them.
    Pending write = request(w, 3, key, LockMode::kNull, LockMode::kWrite);
    auto invs = w.links.of(Cmd::kLock);
    ASSERT_EQ(invs.size(), 2u);
    std::vector<uint64_t> asked;
    for (auto* p : invs) {
      LockMessage m;
      ASSERT_TRUE(proto::decode(p->data, &m));
      EXPECT_EQ(m.key, key);
      EXPECT_EQ(m.old_mode, LockMode::kRead);
      EXPECT_EQ(m.new_mode, LockMode::kNull);
      asked.push_back(p->rid);
    }
    std::sort(asked.begin(), asked.end());
    EXPECT_EQ(asked, (std::vector<uint64_t>{1, 2}));
    EXPECT_FALSE(write->ready());

    answer_invalidation(*invs[0]);
    EXPECT_FALSE(write->ready()) << "granted while a reader still holds the lock";
    answer_invalidation(*invs[1]);
    ASSERT_TRUE(write->ready());
    LockMessage g = grant_of(ServerWorld::wait(write));
    EXPECT_EQ(g.new_mode, LockMode::kWrite);
    EXPECT_GT(g.write_seq, seq_before);
    EXPECT_EQ(w.server->locks().granted_mode(3, key), LockMode::kWrite);
    EXPECT_EQ(w.server->locks().granted_mode(1, key), LockMode::kNull);
    EXPECT_EQ(w.server->locks().check(), "");
  });
}

TEST(ServerLocks, WriteSeqsKeepRisingAcrossGrantsAndTransactions) {
  ServerWorld w(22);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    for (uint64_t rid : {1, 2}) ASSERT_EQ(w.greet(rid), 0);
    const Key key = inode_lock_key(kFirstIno);
    uint64_t last = w.server->stable_super().server_seq;
    // The lock moves between two writers; each grant's write_seq is above everything before,
    // transactions opened in between included.
    for (int i = 0; i < 4; ++i) {
      const uint64_t rid = 1 + i % 2;
      Pending p = request(w, rid, key, LockMode::kNull, LockMode::kWrite);
      for (auto* inv : w.links.of(Cmd::kLock)) answer_invalidation(*inv);
      w.links.pushes.clear();
      LockMessage g = grant_of(ServerWorld::wait(p));
      EXPECT_GT(g.write_seq, last) << "grant " << i;
      last = g.write_seq;
      proto::LogTrees lt;
      ASSERT_EQ(w.get_log_trees(rid, &lt), 0);
      EXPECT_GT(lt.value.get_trans_seq, last);
      last = lt.value.get_trans_seq;
      ASSERT_EQ(w.commit_log_trees(rid, lt), 0);
    }
    EXPECT_EQ(w.server->locks().check(), "");
  });
}

TEST(ServerLocks, MalformedLockKeyIsRefused) {
  ServerWorld w(23);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    // An item key that is not the first key of a lock range.
    Answer a = ServerWorld::wait(request(w, 1, inode_key(kFirstIno), LockMode::kNull, LockMode::kRead));
    ASSERT_TRUE(a.replied);
    EXPECT_EQ(a.err, EINVAL);
    EXPECT_FALSE(w.server->locks().has_entries(1));
  });
}

}  // namespace
}  // namespace simfs::fs
