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

// Nothing of `rid` is left: not in memory, not in the durable image (once the commit of
// reclaim's second step, the record's erasure, is durable).
void expect_gone(ServerWorld& w, uint64_t rid) {
  EXPECT_FALSE(w.server->mounted(rid));
  EXPECT_TRUE(w.wait_until([&] {
    return w.durable_super() == w.server->stable_super() &&
           !w.durable_lookup(w.durable_super().clients_root, mounted_client_key(rid)).has_value();
  }));
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

// Reclaim in two steps: the node crashes after the first (the farewell's commit: log tree
// finalized, allocators returned, record flagged) is durable and before the second (the
// record's erasure) is. The next server finishes the reclaim at its start: the flagged record
// goes in its first commit, the mount is reported gone, nobody waits for its lock recovery,
// and its greeting is refused.
TEST(ServerReclaimSteps, ACrashBetweenTheStepsIsFinishedByTheNextServer) {
  ServerWorld w(37);
  std::vector<uint64_t> gone;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 1, 7u));
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 2, 8u));
    ASSERT_EQ(w.call(1, Cmd::kFarewell).err, 0);
    w.crash_and_restart();  // before the erasure's commit is durable
    const SuperBlock sb = w.durable_super();
    std::optional<Item> rec = w.durable_lookup(sb.clients_root, mounted_client_key(1));
    ASSERT_TRUE(rec.has_value()) << "the crash came after the second step: nothing to resume";
    MountedClientValue v;
    ASSERT_TRUE(decode_mounted_client(rec->value, &v));
    EXPECT_TRUE(v.flags & kMountedClientReclaiming);

    w.server = std::make_unique<Server>(NodeEnv(w.n), *w.mh, *w.dh, w.cfg);
    ServerObserver o;
    o.mount_gone = [&](uint64_t rid) { gone.push_back(rid); };
    w.server->set_observer(o);
    w.server->set_links(&w.links);
    ASSERT_EQ(w.on_node("server.start", [&] { return w.server->start(); }), 0);
    EXPECT_EQ(gone, std::vector<uint64_t>{1});
    // Its log tree was settled in the first step: the reclaim left nothing open.
    std::optional<LogTreeValue> lt = w.log_record(1, 1);
    EXPECT_TRUE(!lt.has_value() || lt->finalized);
    EXPECT_FALSE(w.server->mounted(1));
    EXPECT_TRUE(w.server->mounted(2));
    // Erased in the start's own commit.
    EXPECT_FALSE(w.durable_lookup(w.durable_super().clients_root, mounted_client_key(1)).has_value());
    EXPECT_TRUE(w.durable_lookup(w.durable_super().clients_root, mounted_client_key(2)).has_value());
    // The mount that left may not come back; the other recovers as usual.
    EXPECT_EQ(w.greet(1, 7u, 1), ENOLINK);
    EXPECT_EQ(w.greet(2, 8u, 1), 0);
    EXPECT_TRUE(w.fenced.empty());
  });
}

// The second step on its own: once the farewell is answered the record is flagged in memory
// and erased by the next commit, without another request.
TEST(ServerReclaimSteps, TheRecordGoesInTheCommitAfterTheFirstStep) {
  ServerWorld w(38);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 1, 7u));
    Answer a = w.call(1, Cmd::kFarewell);
    ASSERT_EQ(a.err, 0);
    // The answer's commit holds the flagged record (reclaim's first step).
    std::optional<Item> rec = w.durable_lookup(a.durable.clients_root, mounted_client_key(1));
    ASSERT_TRUE(rec.has_value());
    MountedClientValue v;
    ASSERT_TRUE(decode_mounted_client(rec->value, &v));
    EXPECT_TRUE(v.flags & kMountedClientReclaiming);
    expect_gone(w, 1);
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

// Two clients time out together; the second greets again while the first is being fenced and
// reclaimed (its commit takes a while). The reclaim loop judges each client again just before
// fencing it: the one that came back in time stays. (It once decided for both at the start of
// the pass, and fenced a client that had reconnected: found by the nightly scenario.)
TEST(ServerReclaim, AClientThatReconnectsWhileAnotherIsReclaimedStays) {
  ServerWorld w(36);
  w.cfg.reconnect_timeout = 300 * sim::kMillisecond;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 1, 7u));
    ASSERT_NO_FATAL_FAILURE(mount_client(w, 2, 8u));
    w.on_fence = [&](uint64_t rid) {
      if (rid == 1) w.server->client_connected(2);
    };
    w.server->client_disconnected(1);
    w.server->client_disconnected(2);
    ASSERT_TRUE(w.wait_until([&] { return !w.server->mounted(1); }));
    sim::this_task::sleep(4 * w.cfg.reconnect_timeout);
    ASSERT_EQ(w.fenced.size(), 1u);
    EXPECT_EQ(w.fenced[0].first, 1u);
    EXPECT_TRUE(w.server->mounted(2));
    EXPECT_TRUE(w.server->locks().has_entries(2));
    expect_gone(w, 1);
  });
}

// A first greeting whose record became durable but whose answer never reached the client (it
// died meanwhile): no connection was attached, so none reports a disconnect. The record still
// times out and is reclaimed like a lost client's.
TEST(ServerReclaim, AGreetingWhoseAnswerWasNeverSentTimesOut) {
  ServerWorld w(37);
  w.cfg.reconnect_timeout = 300 * sim::kMillisecond;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet_with(proto::Greeting{ServerWorld::kFsid, format_hash(), 0, 1, 0}, 7u, nullptr,
                           /*attach=*/false),
              0);
    ASSERT_TRUE(w.server->mounted(1));
    ASSERT_TRUE(w.wait_until([&] { return !w.server->mounted(1); }));
    ASSERT_EQ(w.fenced.size(), 1u);
    expect_gone(w, 1);
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


// ---- the quorum rule for voters' farewells ----

namespace quorum_rule {

// A voting mount `rid` on `node` (its greeting carries the VOTER flag).
void greet_voter(ServerWorld& w, uint64_t rid, uint32_t node) {
  ASSERT_EQ(w.greet_with(proto::Greeting{ServerWorld::kFsid, format_hash(), 0, rid, proto::kGreetVoter}, node), 0);
}

// Three slots (two votes needed), voters 1, 2, 3 on nodes 1, 2, 3, and a non-voter 4.
void three_voters_and_one_other(ServerWorld& w) {
  for (uint64_t rid = 1; rid <= 3; ++rid) ASSERT_NO_FATAL_FAILURE(greet_voter(w, rid, static_cast<uint32_t>(rid)));
  ASSERT_EQ(w.greet(4, 4), 0);
}

TEST(ServerFarewellQuorum, AVoterGoesWhileAMajorityStays) {
  ServerWorld w(41);
  w.cfg.quorum_slots = 3;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(three_voters_and_one_other(w));
    Answer a = w.call(1, Cmd::kFarewell);  // voters 2 and 3 stay: two of three
    ASSERT_TRUE(a.replied);
    EXPECT_EQ(a.err, 0);
    EXPECT_FALSE(w.server->mounted(1));
  });
}

TEST(ServerFarewellQuorum, AVoterWaitsUntilAnotherVoterMountsAgain) {
  ServerWorld w(42);
  w.cfg.quorum_slots = 3;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(three_voters_and_one_other(w));
    ASSERT_EQ(w.call(1, Cmd::kFarewell).err, 0);
    // Voter 3 alone would be left, with mount 4 still needing a server: 2 must wait.
    testing::Pending bye = w.send(2, Cmd::kFarewell);
    sim::this_task::sleep(sim::kSecond);
    EXPECT_FALSE(bye->ready());
    EXPECT_TRUE(w.server->mounted(2));
    // The non-voter leaves at once all the same.
    EXPECT_EQ(w.call(4, Cmd::kFarewell).err, 0);
    // Node 1 mounts again (a new mount of it): now two voters stay without 2.
    ASSERT_NO_FATAL_FAILURE(greet_voter(w, 5, 1));
    Answer a = ServerWorld::wait(bye);
    ASSERT_TRUE(a.replied);
    EXPECT_EQ(a.err, 0);
    EXPECT_FALSE(w.server->mounted(2));
  });
}

// A voter that is disconnected may be reclaimed any moment: it does not count as staying. Voter
// 1's farewell waits while voter 2 is away (only 3 would be sure to stay) and goes once 2 is
// back. (The reclaim loop once answered a farewell counting a voter it reclaimed in the same
// pass: mount_unmount_race --seed 0xbb93b47e50da3162.)
TEST(ServerFarewellQuorum, ADisconnectedVoterDoesNotCountAsStaying) {
  ServerWorld w(48);
  w.cfg.quorum_slots = 3;
  w.cfg.reconnect_timeout = 10 * sim::kSecond;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(three_voters_and_one_other(w));
    w.server->client_disconnected(2);
    testing::Pending bye = w.send(1, Cmd::kFarewell);
    sim::this_task::sleep(sim::kSecond);
    EXPECT_FALSE(bye->ready());
    EXPECT_TRUE(w.server->mounted(1));
    w.server->client_connected(2);
    Answer a = ServerWorld::wait(bye);
    ASSERT_TRUE(a.replied);
    EXPECT_EQ(a.err, 0);
    EXPECT_FALSE(w.server->mounted(1));
  });
}

TEST(ServerFarewellQuorum, TwoRecordsOfOneRebootedNodeCountAsOneVoter) {
  ServerWorld w(43);
  w.cfg.quorum_slots = 3;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(three_voters_and_one_other(w));
    ASSERT_EQ(w.call(3, Cmd::kFarewell).err, 0);
    // Node 2 rebooted: its old mount 2 is not reclaimed yet beside its new mount 6.
    ASSERT_NO_FATAL_FAILURE(greet_voter(w, 6, 2));
    // Without 1, only node 2 would stay: one voter, however many records.
    testing::Pending bye = w.send(1, Cmd::kFarewell);
    sim::this_task::sleep(sim::kSecond);
    EXPECT_FALSE(bye->ready());
    EXPECT_TRUE(w.server->mounted(1));
  });
}

TEST(ServerFarewellQuorum, TheLastVotersLeaveTogetherOnceNobodyElseStays) {
  ServerWorld w(44);
  w.cfg.quorum_slots = 3;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(three_voters_and_one_other(w));
    ASSERT_EQ(w.call(1, Cmd::kFarewell).err, 0);
    testing::Pending two = w.send(2, Cmd::kFarewell);
    testing::Pending three = w.send(3, Cmd::kFarewell);
    sim::this_task::sleep(sim::kSecond);
    // Mount 4 still needs a server: nobody of the two goes.
    EXPECT_FALSE(two->ready());
    EXPECT_FALSE(three->ready());
    ASSERT_EQ(w.call(4, Cmd::kFarewell).err, 0);
    EXPECT_EQ(ServerWorld::wait(two).err, 0);
    EXPECT_EQ(ServerWorld::wait(three).err, 0);
    EXPECT_FALSE(w.server->mounted(2));
    EXPECT_FALSE(w.server->mounted(3));
  });
}

TEST(ServerFarewellQuorum, AWaitingVoterThatIsReclaimedIsNotAnswered) {
  ServerWorld w(45);
  w.cfg.quorum_slots = 3;
  w.cfg.reconnect_timeout = 500 * sim::kMillisecond;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(three_voters_and_one_other(w));
    ASSERT_EQ(w.call(1, Cmd::kFarewell).err, 0);
    testing::Pending bye = w.send(2, Cmd::kFarewell);
    w.server->client_disconnected(2);
    ASSERT_TRUE(w.wait_until([&] { return !w.server->mounted(2); }));
    sim::this_task::sleep(200 * sim::kMillisecond);
    EXPECT_FALSE(bye->ready());
  });
}

TEST(ServerFarewellQuorum, PlantedBugLetsTheVoterGoWithoutAMajority) {
  ServerWorld w(46);
  w.cfg.quorum_slots = 3;
  w.cfg.bugs = BugSet::of(Bug::kFarewellIgnoresMajority);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(three_voters_and_one_other(w));
    ASSERT_EQ(w.call(1, Cmd::kFarewell).err, 0);
    Answer a = w.call(2, Cmd::kFarewell);
    ASSERT_TRUE(a.replied);
    EXPECT_FALSE(w.server->mounted(2));
  });
}

TEST(ServerFarewellQuorum, AFixedServerHasNoRule) {
  ServerWorld w(47);  // quorum_slots 0
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_NO_FATAL_FAILURE(three_voters_and_one_other(w));
    for (uint64_t rid = 1; rid <= 3; ++rid) EXPECT_EQ(w.call(rid, Cmd::kFarewell).err, 0);
  });
}

// Its farewell was done but the answer lost, and the client greets the next server as leaving:
// let in, so that its resent farewell is answered "already gone".
TEST(ServerFarewellQuorum, AGreetingThatSaysFarewellIsLetInWithoutARecord) {
  ServerWorld w(48);
  std::vector<uint64_t> gone;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ServerObserver o;
    o.mount_gone = [&](uint64_t rid) { gone.push_back(rid); };
    w.server->set_observer(o);
    const uint64_t term = w.server->term();
    EXPECT_EQ(w.greet_with(proto::Greeting{ServerWorld::kFsid, format_hash(), term, 9, 0}, 1), ENOLINK);
    EXPECT_EQ(w.greet_with(proto::Greeting{ServerWorld::kFsid, format_hash(), term, 9, proto::kGreetFarewell}, 1), 0);
    EXPECT_FALSE(w.server->mounted(9));
    EXPECT_EQ(w.call(9, Cmd::kFarewell).err, 0);
    // The server that made the farewell durable may have died before telling its observer:
    // this one tells it (again).
    EXPECT_EQ(gone, std::vector<uint64_t>{9});
  });
}

}  // namespace quorum_rule

}  // namespace
}  // namespace simfs::fs
