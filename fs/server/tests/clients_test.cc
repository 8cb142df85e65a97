// Mounted clients leaving: FAREWELL (a clean unmount) and reclaim of a client that disconnected
// and did not come back in time (fenced first). Either way the client is gone completely — its
// locks, its open log tree and, last, its durable mounted-client record.
#include <gtest/gtest.h>

#include <cstdint>

#include "fs/lock/lock_keys.h"
#include "fs/server/tests/server_world.h"

namespace simfs::fs {
namespace {

using proto::Cmd;
using proto::LockMessage;
using testing::Answer;
using testing::ServerWorld;

// A mounted client with an open transaction and a READ lock: something of it in every
// structure a reclaim must clean up.
void mount_client(ServerWorld& w, uint64_t rid, std::optional<uint32_t> node = std::nullopt) {
  ASSERT_EQ(w.greet(rid, node), 0);
  proto::LogTrees lt;
  ASSERT_EQ(w.get_log_trees(rid, &lt), 0);
  Answer g = w.call(rid, Cmd::kLock,
                    proto::encode(LockMessage{inode_lock_key(kFirstIno), LockMode::kNull, LockMode::kRead, 0}));
  ASSERT_TRUE(g.replied);
  ASSERT_EQ(g.err, 0);
  ASSERT_TRUE(w.server->locks().has_entries(rid));
}

// Nothing of `rid` is left: not in memory, not in the durable image.
void expect_gone(ServerWorld& w, uint64_t rid) {
  EXPECT_FALSE(w.server->mounted(rid));
  EXPECT_FALSE(w.server->locks().has_entries(rid));
  EXPECT_EQ(w.server->locks().check(), "");
  const SuperBlock sb = w.durable_super();
  EXPECT_EQ(sb, w.server->stable_super());
  std::string problem;
  EXPECT_FALSE(w.durable_lookup(sb.clients_root, mounted_client_key(rid), &problem).has_value());
  EXPECT_EQ(problem, "");
  // Its open log tree held no items: it is erased, not kept for a merge.
  EXPECT_FALSE(w.durable_lookup(sb.logs_root, log_tree_key(rid, 1), &problem).has_value());
  EXPECT_EQ(problem, "");
}

TEST(ServerFarewell, FarewellReclaimsTheClient) {
  ServerWorld w(31);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 1));
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 2));
    Answer a = w.call(1, Cmd::kFarewell);
    ASSERT_TRUE(a.replied);
    EXPECT_EQ(a.err, 0);
    expect_gone(w, 1);
    EXPECT_EQ(w.links.forgotten, std::vector<uint64_t>{1});
    // The other client is untouched.
    EXPECT_TRUE(w.server->mounted(2));
    EXPECT_EQ(w.server->locks().granted_mode(2, inode_lock_key(kFirstIno)), LockMode::kRead);
    EXPECT_TRUE(w.durable_lookup(w.durable_super().clients_root, mounted_client_key(2)).has_value());
  });
}

TEST(ServerFarewell, FarewellAgainIsAnsweredAtOnce) {
  ServerWorld w(32);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 1));
    ASSERT_EQ(w.call(1, Cmd::kFarewell).err, 0);
    const uint64_t seq = w.server->stable_super().seq;
    // The resend (its answer was lost): success, without a commit or waiting for one.
    testing::Pending again = w.send(1, Cmd::kFarewell);
    ASSERT_TRUE(again->ready());
    EXPECT_EQ(ServerWorld::wait(again).err, 0);
    EXPECT_EQ(w.server->stable_super().seq, seq);
    // Anything else from it is refused: it is no longer a member.
    EXPECT_EQ(w.call(1, Cmd::kGetLogTrees).err, ENOLINK);
  });
}

TEST(ServerFarewell, FarewellHandsTheLockToTheWaiter) {
  ServerWorld w(33);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 1));
    ASSERT_EQ(w.greet(2), 0);
    const Key key = inode_lock_key(kFirstIno);
    testing::Pending write =
        w.send(2, Cmd::kLock, proto::encode(LockMessage{key, LockMode::kNull, LockMode::kWrite, 0}));
    ASSERT_EQ(w.links.of(Cmd::kLock).size(), 1u);  // rid 1 asked to drop its READ
    EXPECT_FALSE(write->ready());
    // It leaves instead of answering: the writer gets the lock.
    ASSERT_EQ(w.call(1, Cmd::kFarewell).err, 0);
    Answer g = ServerWorld::wait(write);
    ASSERT_TRUE(g.replied);
    EXPECT_EQ(g.err, 0);
    EXPECT_EQ(w.server->locks().granted_mode(2, key), LockMode::kWrite);
    EXPECT_EQ(w.server->locks().check(), "");
  });
}

// Two copies of the farewell in flight at once (sent, then resent on a new connection before
// the first was answered): both answered, the client reclaimed once.
TEST(ServerFarewell, ConcurrentFarewellsReclaimOnce) {
  ServerWorld w(37);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 1));
    testing::Pending first = w.send(1, Cmd::kFarewell);
    testing::Pending second = w.send(1, Cmd::kFarewell);
    EXPECT_EQ(ServerWorld::wait(first).err, 0);
    EXPECT_EQ(ServerWorld::wait(second).err, 0);
    expect_gone(w, 1);
    EXPECT_EQ(w.server->stats().reclaimed, 1u);
  });
}

// A request that passed the membership check but runs after the client was reclaimed must not
// leave anything of it behind: "no record" means "nothing of it is left".
TEST(ServerFarewell, TransactionRequestedAsTheClientLeavesIsNotLeftBehind) {
  ServerWorld w(38);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 1));
    proto::LogTrees lt;
    ASSERT_EQ(w.get_log_trees(1, &lt), 0);
    ASSERT_EQ(w.commit_log_trees(1, lt), 0);
    testing::Pending bye = w.send(1, Cmd::kFarewell);
    testing::Pending get = w.send(1, Cmd::kGetLogTrees);
    EXPECT_EQ(ServerWorld::wait(bye).err, 0);
    Answer g = ServerWorld::wait(get);
    ASSERT_TRUE(g.replied);
    expect_gone(w, 1);
    std::vector<Server::LogRecord> recs;
    ASSERT_EQ(w.on_node("log_records", [&] { return w.server->log_records(&recs); }), 0);
    for (const Server::LogRecord& r : recs) EXPECT_NE(r.rid, 1u) << "a log tree of a reclaimed client";
    // Nor does an open transaction of it hold back the last seq for everyone else.
    ASSERT_EQ(w.greet(2), 0);
    Answer a = w.call(2, Cmd::kGetLastSeq);
    proto::LastSeq last;
    ASSERT_TRUE(a.replied && proto::decode(a.data, &last));
    EXPECT_GE(last.seq, w.server->stable_super().server_seq);
  });
}

// ---- reclaim of a client that did not come back ----

TEST(ServerReclaim, DisconnectedClientIsFencedThenReclaimed) {
  ServerWorld w(34);
  w.cfg.reconnect_timeout = 300 * sim::kMillisecond;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    constexpr uint32_t kOtherNode = 7;  // not the server's node: it may still be alive
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 1, kOtherNode));
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 2, kOtherNode));
    const sim::Time lost = sim::this_task::now();
    w.server->client_disconnected(1);
    ASSERT_TRUE(w.wait_until([&] { return !w.server->mounted(1); }));
    EXPECT_GE(sim::this_task::now() - lost, w.cfg.reconnect_timeout);
    ASSERT_EQ(w.fenced.size(), 1u);
    EXPECT_EQ(w.fenced[0], std::make_pair(uint64_t{1}, kOtherNode));
    EXPECT_TRUE(w.fenced_while_mounted) << "reclaimed before it was fenced";
    // The reclaim is durable once the next commit is: wait for it, then nothing is left.
    ASSERT_TRUE(w.wait_until([&] { return w.durable_super() == w.server->stable_super(); }));
    ASSERT_TRUE(w.wait_until([&] {
      return !w.durable_lookup(w.durable_super().clients_root, mounted_client_key(1)).has_value();
    }));
    expect_gone(w, 1);
    EXPECT_TRUE(w.server->mounted(2));
    EXPECT_EQ(w.server->stats().reclaimed, 1u);
  });
}

TEST(ServerReclaim, ClientThatReconnectsInTimeStays) {
  ServerWorld w(35);
  w.cfg.reconnect_timeout = 300 * sim::kMillisecond;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 1, 7u));
    w.server->client_disconnected(1);
    sim::this_task::sleep(w.cfg.reconnect_timeout / 2);
    w.server->client_connected(1);
    sim::this_task::sleep(4 * w.cfg.reconnect_timeout);
    EXPECT_TRUE(w.server->mounted(1));
    EXPECT_TRUE(w.fenced.empty());
    EXPECT_TRUE(w.server->locks().has_entries(1));
  });
}

TEST(ServerReclaim, FailedFenceStopsTheServerWithoutReclaiming) {
  ServerWorld w(36);
  w.cfg.reconnect_timeout = 300 * sim::kMillisecond;
  w.fence_ok = false;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 1, 7u));
    const SuperBlock before = w.server->stable_super();
    w.server->client_disconnected(1);
    ASSERT_TRUE(w.wait_until([&] { return w.server->stopped(); }));
    // A client that might still be writing must not have its allocators handed to anyone.
    EXPECT_EQ(w.fenced.size(), 1u);
    EXPECT_TRUE(w.server->mounted(1));
    EXPECT_EQ(w.durable_super(), before);
    EXPECT_TRUE(w.durable_lookup(before.clients_root, mounted_client_key(1)).has_value());
  });
}

}  // namespace
}  // namespace simfs::fs
