// A transaction cut by a crash around its COMMIT_LOG_TREES (docs/protocol.md, "Failure cases"):
// the mount has written its blocks, FLUSHed and sent the commit. Whatever the crash, another
// mount afterwards sees the whole transaction or none of it: all of it once the server made the
// record durable (even if the mount never learned), none of it if the request never reached the
// server. And a commit the server answered survives a server crash right after the answer.
//
// The moments are found without races: a network filter holds (delays by far longer than the
// test) the message that must not arrive, and the test task polls for the fact that marks the
// moment (the server's durability report, the mount's sent count or commit count).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fs/cluster/tests/cluster_test_util.h"

namespace simfs::fs {
namespace {

using cluster_test::bytes;
using cluster_test::NodeOp;
using cluster_test::run_on;
using cluster_test::str;
using testing::ClusterWorld;

constexpr int kFiles = 6;            // half in one inode lock group, half in the next
constexpr int kParts = kFiles + 2;   // the files, their directory, and the rewrite of "base"
constexpr sim::Duration kHold = 10 * sim::kSecond;  // a held message arrives long after the test

uint32_t commit_type(bool response) { return net::message_type(proto::Cmd::kCommitLogTrees, response); }

// One transaction's worth of changes on mount `m` (nothing committed, under several locks):
// directory "t" with kFiles files "f<i>" holding "v<i>", and "base" rewritten from "old" to
// "new". Small enough that no commit trigger (an allocator running low, too many dirty items)
// splits it.
void write_transaction(Mount& m, Vfs& v, uint64_t base) {
  const uint64_t commits = m.stats().commits;
  uint64_t dir = 0;
  ASSERT_EQ(v.mkdir(kRootIno, "t", 0755, &dir), 0);
  for (int i = 0; i < kFiles; ++i) {
    if (i == kFiles / 2) cluster_test::skip_to_new_group(m);
    uint64_t ino = 0;
    ASSERT_EQ(v.create(dir, "f" + std::to_string(i), 0644, &ino), 0);
    ASSERT_EQ(v.write(ino, 0, bytes("v" + std::to_string(i))), 0);
  }
  ASSERT_EQ(v.write(base, 0, bytes("new")), 0);
  ASSERT_EQ(m.stats().commits, commits) << "the transaction was split by a commit";
}

// How many of the transaction's kParts changes mount `v` sees.
int parts_visible(Vfs& v, uint64_t base) {
  int parts = 0;
  std::vector<uint8_t> got;
  if (v.read(base, 0, 16, &got) == 0 && str(got) == "new") ++parts;
  uint64_t dir = 0;
  if (v.lookup(kRootIno, "t", &dir) != 0) return parts;
  ++parts;
  for (int i = 0; i < kFiles; ++i) {
    uint64_t ino = 0;
    if (v.lookup(dir, "f" + std::to_string(i), &ino) != 0) continue;
    if (v.read(ino, 0, 16, &got) == 0 && str(got) == "v" + std::to_string(i)) ++parts;
  }
  return parts;
}

// Mount 1 commits a transaction and crashes with the commit cut at `cut` (the request or the
// answer held in the network). Mount 0, and afterwards a new mount on node 2, count what they see
// once the server has reclaimed mount 1.
struct CutCommit {
  bool durable_at_crash = false;   // the server had reported the transaction durable
  bool answered_at_crash = false;  // the mount had learned it (its commit count moved)
  int seen_by_survivor = -1;       // parts of the transaction mount 0 sees
  int seen_by_new_mount = -1;      // parts a new mount on node 2 sees
  std::string base;                // "base" as the new mount reads it
  std::vector<std::string> violations;
};

CutCommit crash_with_commit_cut(uint64_t seed, bool hold_answer) {
  ClusterWorld w(seed, 3);
  CutCommit out;
  NodeOp sync;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({0, 1}), 0);
    uint64_t base = 0;
    ASSERT_EQ(w.vfs(1).create(kRootIno, "base", 0644, &base), 0);
    ASSERT_EQ(w.vfs(1).write(base, 0, bytes("old")), 0);
    ASSERT_EQ(w.vfs(1).sync(), 0);
    write_transaction(w.mount_of(1), w.vfs(1), base);
    if (::testing::Test::HasFatalFailure()) return;
    const uint64_t rid = w.rid_of(1);
    const uint64_t seq = w.mount_of(1).trans_seq();
    const uint64_t commits = w.mount_of(1).stats().commits;
    const uint64_t sent = w.stack(1).link()->stats().sent;
    const int filter = hold_answer ? w.net.add_filter({commit_type(true), 0, 1, sim::MessageFilter::Action::kDelay, kHold})
                                   : w.net.add_filter({commit_type(false), 1, 0, sim::MessageFilter::Action::kDelay, kHold});
    run_on(w, 1, "sync", [&] { return w.vfs(1).sync(); }, &sync);
    if (hold_answer) {
      // The server made the record durable; its answer is still on the wire.
      ASSERT_TRUE(w.wait_until([&] { return w.is_durable(rid, seq); }, sim::kSecond, 10 * sim::kMicrosecond));
    } else {
      // The commit's first message is COMMIT_LOG_TREES, sent once its blocks are written and
      // FLUSHed; it is held on the wire. Give the server every chance to have seen it anyway.
      ASSERT_TRUE(w.wait_until([&] { return w.stack(1).link()->stats().sent > sent; }, sim::kSecond,
                               10 * sim::kMicrosecond));
      w.sleep(100 * sim::kMillisecond);
    }
    out.durable_at_crash = w.is_durable(rid, seq);
    out.answered_at_crash = sync.done || w.mount_of(1).stats().commits != commits;
    w.crash(1);
    w.net.remove_filter(filter);
    ASSERT_TRUE(w.wait_until([&] { return w.is_gone(rid); }, 5 * sim::kSecond));
    EXPECT_EQ(w.fenced, std::vector<int>{1});
    out.seen_by_survivor = parts_visible(w.vfs(0), base);
    ASSERT_EQ(w.mount(2), 0);
    out.seen_by_new_mount = parts_visible(w.vfs(2), base);
    std::vector<uint8_t> got;
    ASSERT_EQ(w.vfs(2).read(base, 0, 16, &got), 0);
    out.base = str(got);
    out.violations = w.violations;
  });
  EXPECT_FALSE(sync.done);  // the node crashed under it
  return out;
}

// The server recorded the commit durably, the mount crashed before the answer reached it: the
// whole transaction survives the reclaim, though the mount never learned it was durable.
TEST(CommitResponseCrash, DurableButUnansweredCommitIsSeenWhole) {
  CutCommit c = crash_with_commit_cut(11, /*hold_answer=*/true);
  EXPECT_TRUE(c.durable_at_crash);
  EXPECT_FALSE(c.answered_at_crash);
  EXPECT_EQ(c.seen_by_survivor, kParts);
  EXPECT_EQ(c.seen_by_new_mount, kParts);
  EXPECT_EQ(c.base, "new");
  EXPECT_TRUE(c.violations.empty());
}

// The mount crashed with its COMMIT_LOG_TREES on the wire: its blocks are on disk, but nothing
// references them, and the whole transaction is lost. The transaction before it stays.
TEST(CommitResponseCrash, CommitThatNeverArrivedIsLostWhole) {
  CutCommit c = crash_with_commit_cut(12, /*hold_answer=*/false);
  EXPECT_FALSE(c.durable_at_crash);
  EXPECT_FALSE(c.answered_at_crash);
  EXPECT_EQ(c.seen_by_survivor, 0);
  EXPECT_EQ(c.seen_by_new_mount, 0);
  EXPECT_EQ(c.base, "old");
  EXPECT_TRUE(c.violations.empty());
}

// The converse on the server's side: mount 1's commit is answered, and the server crashes at
// that moment (node 0 runs no mount). The answer promised durability, so after the restart the
// other mount sees the write.
struct AnsweredCommit {
  bool durable_at_answer = false;  // reported durable when the mount learned its commit was done
  sim::Errno sync_rc = -1;
  sim::Errno lookup_rc = -1;       // mount 2 looking the file up after the restart
  std::string data;
  std::vector<std::string> violations;
};

AnsweredCommit server_crash_after_answer(uint64_t seed, BugSet server_bugs) {
  ClusterWorld w(seed, 3);
  w.stack(0).config().server.bugs = server_bugs;
  AnsweredCommit out;
  NodeOp sync;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({1, 2}), 0);
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs(1).create(kRootIno, "f", 0644, &ino), 0);
    ASSERT_EQ(w.vfs(1).write(ino, 0, bytes("acknowledged")), 0);
    const uint64_t rid = w.rid_of(1);
    const uint64_t seq = w.mount_of(1).trans_seq();
    const uint64_t commits = w.mount_of(1).stats().commits;
    run_on(w, 1, "sync", [&] { return w.vfs(1).sync(); }, &sync);
    // The mount counts a commit as its answer arrives (then asks for its next transaction).
    ASSERT_TRUE(w.wait_until([&] { return w.mount_of(1).stats().commits > commits; }, sim::kSecond,
                             sim::kMicrosecond));
    out.durable_at_answer = w.is_durable(rid, seq);
    w.crash(0);
    ASSERT_EQ(w.start_server(), 0);
    ASSERT_TRUE(w.wait_until([&] { return sync.done; }, 5 * sim::kSecond));
    out.sync_rc = sync.rc;
    uint64_t found = 0;
    out.lookup_rc = w.vfs(2).lookup(kRootIno, "f", &found);
    if (out.lookup_rc == 0) {
      EXPECT_EQ(found, ino);
      std::vector<uint8_t> got;
      EXPECT_EQ(w.vfs(2).read(ino, 0, 64, &got), 0);
      out.data = str(got);
    }
    EXPECT_TRUE(w.fenced.empty());  // both mounts recovered with the new server
    out.violations = w.violations;
  });
  return out;
}

TEST(CommitResponseCrash, AnsweredCommitSurvivesServerCrash) {
  AnsweredCommit c = server_crash_after_answer(21, BugSet{});
  EXPECT_TRUE(c.durable_at_answer);
  EXPECT_EQ(c.sync_rc, 0);
  EXPECT_EQ(c.lookup_rc, 0);
  EXPECT_EQ(c.data, "acknowledged");
  EXPECT_TRUE(c.violations.empty());
}

// Planted reply_before_durable: the answer overtakes the server's commit, the crash takes the
// record with it, and the restarted server hands the mount its old open transaction back. The
// mount's sync still returns 0, yet the write is gone: both checks above catch it.
TEST(CommitResponseCrash, AnswerBeforeDurableIsCaught) {
  AnsweredCommit c = server_crash_after_answer(21, BugSet::of(Bug::kReplyBeforeDurable));
  EXPECT_FALSE(c.durable_at_answer);
  EXPECT_EQ(c.sync_rc, 0);
  EXPECT_EQ(c.lookup_rc, ENOENT);
}

}  // namespace
}  // namespace simfs::fs
