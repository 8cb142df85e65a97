// The server's request handlers, called directly (no network): greetings, GET_LOG_TREES,
// COMMIT_LOG_TREES and ALLOC_INODES — what each answers, that the answer comes only once the
// change is durable, and that executing a request again (a resend after failover) is safe.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>

#include "fs/server/tests/server_world.h"

namespace simfs::fs {
namespace {

using proto::Cmd;
using testing::Answer;
using testing::ServerWorld;
constexpr uint64_t kFsid = ServerWorld::kFsid;

// ---- greetings ----

TEST(ServerGreeting, WrongFsidOrFormatIsRefused) {
  ServerWorld w(1);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    EXPECT_EQ(w.greet_with(proto::Greeting{kFsid + 1, format_hash(), 0, 5, 0}, 0), EINVAL);
    EXPECT_EQ(w.greet_with(proto::Greeting{kFsid, format_hash() ^ 1, 0, 5, 0}, 0), EINVAL);
    // Refused greetings leave nothing behind.
    EXPECT_FALSE(w.server->mounted(5));
    EXPECT_EQ(w.server->stable_super().clients_root, BtreeRoot{});
  });
}

TEST(ServerGreeting, NewClientRecordIsDurableBeforeGreetReturns) {
  ServerWorld w(2);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    const SuperBlock before = w.server->stable_super();
    proto::Greeting out;
    ASSERT_EQ(w.greet(5, 3u, 0, &out), 0);
    EXPECT_EQ(out.server_term, w.server->term());
    EXPECT_EQ(out.rid, 5u);
    EXPECT_TRUE(w.server->mounted(5));
    // A server commit holds the record, and the device has it durably — nothing that survives a
    // crash from here on can lack it.
    const SuperBlock& after = w.server->stable_super();
    EXPECT_GT(after.seq, before.seq);
    EXPECT_NE(after.clients_root, before.clients_root);
    EXPECT_EQ(w.durable_super(), after);
    std::string problem;
    auto it = w.durable_lookup(w.durable_super().clients_root, mounted_client_key(5), &problem);
    ASSERT_TRUE(it.has_value()) << problem;
    MountedClientValue v;
    ASSERT_TRUE(decode_mounted_client(it->value, &v));
    EXPECT_EQ(v.node, 3u);
  });
}

TEST(ServerGreeting, GreetingAgainIsAccepted) {
  ServerWorld w(3);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(5), 0);
    const SuperBlock first = w.server->stable_super();
    // The same rid again — a reconnect, or the greeting executed again — both as a first greeting
    // and with the term the first answer gave.
    EXPECT_EQ(w.greet(5), 0);
    EXPECT_EQ(w.greet(5, std::nullopt, w.server->term()), 0);
    EXPECT_TRUE(w.server->mounted(5));
    EXPECT_EQ(w.server->mounted_rids().size(), 1u);
    EXPECT_EQ(w.server->stable_super().clients_root, first.clients_root);  // no second record
  });
}

// The client's connection broke while its first greeting was committing, and it greets again
// on a new one: neither greeting may return before the record is durable.
TEST(ServerGreeting, ConcurrentGreetingsOfANewRidBothWaitForTheRecord) {
  ServerWorld w(18);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    struct Greeted {
      sim::Errno err = -1;
      bool durable = false;  // the record was on the durable image when greet() returned
    };
    auto greeted = std::make_shared<std::array<Greeted, 2>>();
    auto done = std::make_shared<sim::Completion<bool>>();
    for (int i = 0; i < 2; ++i) {
      w.n.spawn("greet", [&w, greeted, done, i] {
        proto::Greeting out;
        (*greeted)[i].err = w.server->greet(proto::Greeting{kFsid, format_hash(), 0, 5, 0}, 0, &out);
        (*greeted)[i].durable = w.durable_lookup(w.durable_super().clients_root, mounted_client_key(5)).has_value();
        if ((*greeted)[0].err != -1 && (*greeted)[1].err != -1) done->set(true);
      });
    }
    ASSERT_NE(done->wait_until(sim::this_task::now() + ServerWorld::kWait), nullptr);
    for (const Greeted& g : *greeted) {
      EXPECT_EQ(g.err, 0);
      EXPECT_TRUE(g.durable) << "greet() returned before the record was durable";
    }
  });
}

TEST(ServerGreeting, UnknownRidClaimingATermIsRefused) {
  ServerWorld w(4);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    // It says it mounted under an earlier server, but this server has no record of it: it was
    // reclaimed and must not go on.
    EXPECT_EQ(w.greet(6, std::nullopt, 1), ENOLINK);
    EXPECT_FALSE(w.server->mounted(6));
  });
}

TEST(ServerGreeting, RequestFromRidThatNeverGreetedIsRefused) {
  ServerWorld w(5);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    const uint64_t seq = w.server->stable_super().seq;
    for (Cmd cmd : {Cmd::kGetLogTrees, Cmd::kGetRoots, Cmd::kStatfs}) {
      Answer a = w.call(9, cmd);
      ASSERT_TRUE(a.replied) << proto::cmd_name(cmd);
      EXPECT_EQ(a.err, ENOLINK) << proto::cmd_name(cmd);
    }
    Answer a = w.call(9, Cmd::kAllocInodes, proto::encode(proto::AllocInodesRequest{4}));
    ASSERT_TRUE(a.replied);
    EXPECT_EQ(a.err, ENOLINK);
    EXPECT_EQ(w.server->stable_super().seq, seq);  // refused before anything changed
  });
}

// ---- GET_LOG_TREES and COMMIT_LOG_TREES ----

TEST(ServerLogTrees, GetOpensATransactionWithRefilledAllocators) {
  ServerWorld w(6);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    proto::LogTrees lt;
    ASSERT_EQ(w.get_log_trees(1, &lt), 0);
    EXPECT_EQ(lt.rid, 1u);
    EXPECT_GT(lt.value.get_trans_seq, lt.value.commit_trans_seq);  // open
    EXPECT_FALSE(lt.value.finalized);
    EXPECT_GE(lt.value.meta_avail.total_nr, w.cfg.meta_avail_low);
    EXPECT_GE(lt.value.data_avail.total_len, w.cfg.data_avail_low);
    // The record is the server's durable state, not only its answer.
    std::string problem;
    auto it = w.durable_lookup(w.durable_super().logs_root, log_tree_key(1, lt.nr), &problem);
    ASSERT_TRUE(it.has_value()) << problem;
    LogTreeValue durable;
    ASSERT_TRUE(decode_log_tree(it->value, &durable));
    EXPECT_EQ(durable, lt.value);
  });
}

TEST(ServerLogTrees, GetExecutedAgainReturnsTheSameTransaction) {
  ServerWorld w(7);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    proto::LogTrees first, again;
    ASSERT_EQ(w.get_log_trees(1, &first), 0);
    // Its answer was lost, say: the client asks again before committing.
    ASSERT_EQ(w.get_log_trees(1, &again), 0);
    EXPECT_EQ(again, first);  // same nr, same get_trans_seq, same allocators
  });
}

TEST(ServerLogTrees, CommitRecordsTheTransaction) {
  ServerWorld w(8);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    proto::LogTrees lt;
    ASSERT_EQ(w.get_log_trees(1, &lt), 0);
    ASSERT_EQ(w.commit_log_trees(1, lt), 0);  // an empty transaction: the record unchanged
    auto rec = w.log_record(1, lt.nr);
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->commit_trans_seq, lt.value.get_trans_seq);
    EXPECT_EQ(rec->get_trans_seq, lt.value.get_trans_seq);
    // And durably so.
    auto it = w.durable_lookup(w.durable_super().logs_root, log_tree_key(1, lt.nr));
    ASSERT_TRUE(it.has_value());
    LogTreeValue durable;
    ASSERT_TRUE(decode_log_tree(it->value, &durable));
    EXPECT_EQ(durable, *rec);
  });
}

TEST(ServerLogTrees, CommitExecutedAgainIsANoOp) {
  ServerWorld w(9);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    proto::LogTrees lt;
    ASSERT_EQ(w.get_log_trees(1, &lt), 0);
    ASSERT_EQ(w.commit_log_trees(1, lt), 0);
    auto recorded = w.log_record(1, lt.nr);
    ASSERT_TRUE(recorded.has_value());
    // The same commit again (a resend): success, and the record stays as it was.
    EXPECT_EQ(w.commit_log_trees(1, lt), 0);
    EXPECT_EQ(w.log_record(1, lt.nr), recorded);
  });
}

TEST(ServerLogTrees, CommitOfATransactionNotHandedOutIsStale) {
  ServerWorld w(10);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    proto::LogTrees lt;
    ASSERT_EQ(w.get_log_trees(1, &lt), 0);
    proto::LogTrees wrong = lt;
    wrong.value.get_trans_seq += 100;
    EXPECT_EQ(w.commit_log_trees(1, wrong), ESTALE);
    proto::LogTrees other_tree = lt;
    other_tree.nr += 1;
    EXPECT_EQ(w.commit_log_trees(1, other_tree), ESTALE);
    // Neither touched the open transaction: the right commit still goes through.
    auto rec = w.log_record(1, lt.nr);
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->commit_trans_seq, lt.value.commit_trans_seq);
    EXPECT_EQ(w.commit_log_trees(1, lt), 0);
    // After it is recorded, a commit naming another seq is still stale.
    EXPECT_EQ(w.commit_log_trees(1, wrong), ESTALE);
  });
}

TEST(ServerLogTrees, CommitForAnotherRidIsRefused) {
  ServerWorld w(11);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    ASSERT_EQ(w.greet(2), 0);
    proto::LogTrees lt;
    ASSERT_EQ(w.get_log_trees(1, &lt), 0);
    // rid 2 cannot commit into rid 1's tree.
    EXPECT_EQ(w.commit_log_trees(2, lt), EINVAL);
    EXPECT_EQ(w.log_record(1, lt.nr)->commit_trans_seq, lt.value.commit_trans_seq);
  });
}

TEST(ServerLogTrees, GetAfterCommitOpensANewTransaction) {
  ServerWorld w(12);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    proto::LogTrees first, next;
    ASSERT_EQ(w.get_log_trees(1, &first), 0);
    ASSERT_EQ(w.commit_log_trees(1, first), 0);
    ASSERT_EQ(w.get_log_trees(1, &next), 0);
    EXPECT_EQ(next.nr, first.nr);  // the same open tree (no merge round)
    EXPECT_GT(next.value.get_trans_seq, first.value.get_trans_seq);
    EXPECT_EQ(next.value.commit_trans_seq, first.value.get_trans_seq);
    // An old commit resent after the new transaction opened changes nothing.
    EXPECT_EQ(w.commit_log_trees(1, first), ESTALE);
    EXPECT_EQ(w.log_record(1, next.nr), next.value);
  });
}

// ---- durability of answers ----

// Every state-changing answer is sent only once the server commit holding it is on the device.
TEST(ServerDurability, StateChangingRepliesComeAfterTheirCommit) {
  ServerWorld w(13);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    auto check = [&](const char* what, const Answer& a, uint64_t seq_before) {
      ASSERT_TRUE(a.replied) << what;
      ASSERT_EQ(a.err, 0) << what;
      EXPECT_GT(a.stable_seq, seq_before) << what;
      EXPECT_EQ(a.durable.seq, a.stable_seq) << what << ": the stable super is not on the device yet";
    };
    uint64_t seq = w.server->stable_super().seq;
    Answer inodes = w.call(1, Cmd::kAllocInodes, proto::encode(proto::AllocInodesRequest{8}));
    check("alloc_inodes", inodes, seq);
    proto::AllocInodesResponse batch;
    ASSERT_TRUE(proto::decode(inodes.data, &batch));
    EXPECT_GE(inodes.durable.next_ino, batch.first + batch.count);

    seq = w.server->stable_super().seq;
    Answer get = w.call(1, Cmd::kGetLogTrees);
    check("get_log_trees", get, seq);
    proto::LogTrees lt;
    ASSERT_TRUE(proto::decode(get.data, &lt));
    EXPECT_GE(get.durable.server_seq, lt.value.get_trans_seq);

    seq = w.server->stable_super().seq;
    check("commit_log_trees", w.call(1, Cmd::kCommitLogTrees, proto::encode(lt)), seq);
  });
}

// GET_ROOTS answers from the durable super, not from a change still waiting for its commit.
TEST(ServerDurability, GetRootsAnswersFromTheStableSuper) {
  ServerWorld w(14);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    const SuperBlock before = w.server->stable_super();
    // Ask for the roots while GET_LOG_TREES's commit is writing its blocks: the logs tree has
    // changed in memory, not yet on disk.
    testing::Pending roots;
    w.meta.set_write_observer([&](uint64_t) {
      if (!roots) roots = w.send(1, Cmd::kGetRoots);
    });
    ASSERT_EQ(ServerWorld::wait(w.send(1, Cmd::kGetLogTrees)).err, 0);
    w.meta.set_write_observer(nullptr);
    ASSERT_TRUE(roots);
    Answer a = ServerWorld::wait(roots);
    ASSERT_TRUE(a.replied);
    ASSERT_EQ(a.err, 0);
    proto::Roots r;
    ASSERT_TRUE(proto::decode(a.data, &r));
    EXPECT_EQ(r.super_seq, before.seq);
    EXPECT_EQ(r.logs_root, before.logs_root);
    EXPECT_NE(r.logs_root, w.server->stable_super().logs_root);  // the change did happen, later
  });
}

// ---- ALLOC_INODES ----

TEST(ServerInodes, BatchesNeverOverlapAndNextInoMovesPast) {
  ServerWorld w(15);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    ASSERT_EQ(w.greet(2), 0);
    uint64_t end = kFirstIno;
    for (int i = 0; i < 6; ++i) {
      const uint64_t rid = 1 + i % 2;
      Answer a = w.call(rid, Cmd::kAllocInodes, proto::encode(proto::AllocInodesRequest{uint64_t(10 + i)}));
      ASSERT_TRUE(a.replied);
      ASSERT_EQ(a.err, 0);
      proto::AllocInodesResponse r;
      ASSERT_TRUE(proto::decode(a.data, &r));
      EXPECT_EQ(r.count, uint64_t(10 + i));
      EXPECT_GE(r.first, end) << "batch " << i << " overlaps an earlier one";
      end = r.first + r.count;
      EXPECT_GE(w.server->stable_super().next_ino, end);
      EXPECT_GE(a.durable.next_ino, end);
    }
  });
}

TEST(ServerInodes, ResentRequestGetsANewBatch) {
  ServerWorld w(16);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    const proto::Bytes req = proto::encode(proto::AllocInodesRequest{16});
    Answer a = w.call(1, Cmd::kAllocInodes, req, 77);
    Answer b = w.call(1, Cmd::kAllocInodes, req, 77);  // the same request id: a resend
    ASSERT_TRUE(a.replied && b.replied);
    ASSERT_EQ(a.err, 0);
    ASSERT_EQ(b.err, 0);
    proto::AllocInodesResponse ra, rb;
    ASSERT_TRUE(proto::decode(a.data, &ra));
    ASSERT_TRUE(proto::decode(b.data, &rb));
    // The first answer may have been lost with its numbers unused: they are never handed out
    // again, the resend gets numbers past them.
    EXPECT_GE(rb.first, ra.first + ra.count);
    EXPECT_GE(w.server->stable_super().next_ino, rb.first + rb.count);
  });
}

TEST(ServerInodes, MalformedRequestIsRefused) {
  ServerWorld w(17);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_start(), 0);
    ASSERT_EQ(w.greet(1), 0);
    const uint64_t next = w.server->stable_super().next_ino;
    Answer a = w.call(1, Cmd::kAllocInodes, proto::Bytes{1, 2, 3});
    ASSERT_TRUE(a.replied);
    EXPECT_EQ(a.err, EINVAL);
    EXPECT_EQ(w.server->stable_super().next_ino, next);
  });
}

}  // namespace
}  // namespace simfs::fs
