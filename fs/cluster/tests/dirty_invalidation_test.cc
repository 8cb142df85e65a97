// A lock invalidated while its holder has dirty items under it (docs/locking.md, "The
// invalidation worker"): the holder commits before it answers, so the transaction is durable
// before the other mount's read returns, the reader sees the write, and the write survives the
// writer's crash. And if the holder crashes in the middle of that commit, the reader waits for
// the reclaim and sees the whole transaction or none of it. Mount 1 writes, mount 2 reads; node 0
// runs only the server.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fs/cluster/tests/cluster_test_util.h"

namespace simfs::fs {
namespace {

using cluster_test::bytes;
using cluster_test::invalidating;
using cluster_test::NodeOp;
using cluster_test::run_on;
using cluster_test::skip_to_new_group;
using cluster_test::str;
using testing::ClusterWorld;

std::string read_all(Vfs& v, uint64_t ino) {
  std::vector<uint8_t> got;
  sim::Errno e = v.read(ino, 0, 64, &got);
  return e ? "error " + std::to_string(e) : str(got);
}

// Mount 1 creates "f" and syncs "one" into it, mount 2 reads it (taking READ), and mount 1
// writes "two" (its WRITE back, mount 2's READ invalidated): "two" is dirty under mount 1's WRITE.
void synced_then_dirty(ClusterWorld& w, uint64_t* ino) {
  ASSERT_EQ(w.vfs(1).create(kRootIno, "f", 0644, ino), 0);
  ASSERT_EQ(w.vfs(1).write(*ino, 0, bytes("one")), 0);
  ASSERT_EQ(w.vfs(1).sync(), 0);
  ASSERT_EQ(read_all(w.vfs(2), *ino), "one");
  ASSERT_EQ(w.vfs(1).write(*ino, 0, bytes("two")), 0);
}

// Mount 1 (the writer) crashes; once the server has reclaimed it, a new mount on node 1
// (rebooted again to lift its fence) reads from the durable state alone.
sim::Errno remount_after_writer_crash(ClusterWorld& w, uint64_t writer_rid) {
  w.crash(1);
  if (!w.wait_until([&] { return w.is_gone(writer_rid); }, 5 * sim::kSecond)) return ETIMEDOUT;
  w.crash(1);
  return w.mount(1);
}

// ---- one inode ----

struct OneLock {
  bool durable_before_answer = false;  // the writer's transaction durable when the read returned
  uint64_t writer_commits = 0;         // commits the invalidation made on the writer
  LockMode writer_mode = LockMode::kNull;  // what the writer holds afterwards
  std::string seen;                    // what the reader read
  std::string after_crash;             // what a new mount reads after the writer crashed
  std::vector<std::string> violations;
};

OneLock invalidate_dirty_write(uint64_t seed, BugSet writer_bugs) {
  ClusterWorld w(seed, 3);
  w.stack(1).config().mount.bugs = writer_bugs;
  OneLock out;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({1, 2}), 0);
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs(1).create(kRootIno, "f", 0644, &ino), 0);
    ASSERT_EQ(w.vfs(1).write(ino, 0, bytes("one")), 0);
    ASSERT_EQ(w.vfs(1).sync(), 0);
    ASSERT_EQ(read_all(w.vfs(2), ino), "one");
    // Mount 1 takes its WRITE back (mount 2's READ is invalidated) and dirties "two" under it.
    const Key lock = inode_lock_key(ino);
    ASSERT_EQ(w.vfs(1).write(ino, 0, bytes("two")), 0);
    ASSERT_EQ(w.mount_of(1).locks().held(lock), LockMode::kWrite);
    ASSERT_EQ(w.mount_of(2).locks().held(lock), LockMode::kNull);
    const uint64_t rid = w.rid_of(1);
    const uint64_t seq = w.mount_of(1).trans_seq();
    const uint64_t commits = w.mount_of(1).stats().commits;
    ASSERT_FALSE(w.is_durable(rid, seq));
    // Nobody syncs: mount 2's READ invalidates mount 1's WRITE.
    out.seen = read_all(w.vfs(2), ino);
    out.durable_before_answer = w.is_durable(rid, seq);
    out.writer_commits = w.mount_of(1).stats().commits - commits;
    out.writer_mode = w.mount_of(1).locks().held(lock);
    ASSERT_EQ(remount_after_writer_crash(w, rid), 0);
    out.after_crash = read_all(w.vfs(1), ino);
    out.violations = w.violations;
  });
  return out;
}

TEST(DirtyInvalidation, WriterCommitsBeforeTheReaderReads) {
  OneLock r = invalidate_dirty_write(31, BugSet{});
  EXPECT_TRUE(r.durable_before_answer);
  EXPECT_EQ(r.writer_commits, 1u);
  EXPECT_EQ(r.writer_mode, LockMode::kRead);  // WRITE drops to READ for a reader
  EXPECT_EQ(r.seen, "two");
  EXPECT_EQ(r.after_crash, "two");
  EXPECT_TRUE(r.violations.empty());
}

// Planted invalidate_before_commit: the writer answers with its write still dirty. The reader
// populates from durable state without it, and the writer's crash loses it.
TEST(DirtyInvalidation, AnswerBeforeCommitIsCaught) {
  OneLock r = invalidate_dirty_write(31, BugSet::of(Bug::kInvalidateBeforeCommit));
  EXPECT_FALSE(r.durable_before_answer);
  EXPECT_EQ(r.writer_commits, 0u);
  EXPECT_EQ(r.seen, "one");
  EXPECT_EQ(r.after_crash, "one");
}

// ---- two inodes under two locks ----

// Mount 1 dirties inodes A and B, in different lock groups. Mount 2 reads A only: A's lock is
// invalidated, and its data must be durable before the answer. The commit that makes it so takes
// the whole transaction, B's write included, while B's lock stays WRITE on mount 1. A later write
// to B, uncommitted at the crash, is lost whole.
struct TwoLocks {
  bool durable_before_answer = false;
  std::string seen_a;
  LockMode writer_a = LockMode::kNull, writer_b = LockMode::kNull;  // on mount 1 after the read
  LockMode reader_b = LockMode::kNull;                              // on mount 2 after the read
  std::string a_after_crash, b_after_crash;  // read by a new mount once mount 1 is reclaimed
  std::vector<std::string> violations;
};

TwoLocks invalidate_one_of_two(uint64_t seed, BugSet writer_bugs) {
  ClusterWorld w(seed, 3);
  w.stack(1).config().mount.bugs = writer_bugs;
  TwoLocks out;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({1, 2}), 0);
    uint64_t a = 0, b = 0;
    skip_to_new_group(w.mount_of(1));
    ASSERT_EQ(w.vfs(1).create(kRootIno, "a", 0644, &a), 0);
    skip_to_new_group(w.mount_of(1));
    ASSERT_EQ(w.vfs(1).create(kRootIno, "b", 0644, &b), 0);
    const Key la = inode_lock_key(a), lb = inode_lock_key(b);
    ASSERT_NE(la, lb);
    ASSERT_NE(la, inode_lock_key(kRootIno));
    ASSERT_NE(lb, inode_lock_key(kRootIno));
    ASSERT_EQ(w.vfs(1).write(a, 0, bytes("a1")), 0);
    ASSERT_EQ(w.vfs(1).write(b, 0, bytes("b1")), 0);
    ASSERT_EQ(w.vfs(1).sync(), 0);
    ASSERT_EQ(read_all(w.vfs(2), a), "a1");
    ASSERT_EQ(read_all(w.vfs(2), b), "b1");
    // Both locks back to WRITE on mount 1, both dirty in one transaction.
    ASSERT_EQ(w.vfs(1).write(a, 0, bytes("a2")), 0);
    ASSERT_EQ(w.vfs(1).write(b, 0, bytes("b2")), 0);
    ASSERT_EQ(w.mount_of(1).locks().held(la), LockMode::kWrite);
    ASSERT_EQ(w.mount_of(1).locks().held(lb), LockMode::kWrite);
    const uint64_t rid = w.rid_of(1);
    const uint64_t seq = w.mount_of(1).trans_seq();
    out.seen_a = read_all(w.vfs(2), a);
    out.durable_before_answer = w.is_durable(rid, seq);
    out.writer_a = w.mount_of(1).locks().held(la);
    out.writer_b = w.mount_of(1).locks().held(lb);
    out.reader_b = w.mount_of(2).locks().held(lb);
    // B again, under the WRITE mount 1 still holds: the next transaction, never committed.
    ASSERT_EQ(w.vfs(1).write(b, 0, bytes("b3")), 0);
    ASSERT_EQ(remount_after_writer_crash(w, rid), 0);
    out.a_after_crash = read_all(w.vfs(1), a);
    out.b_after_crash = read_all(w.vfs(1), b);
    out.violations = w.violations;
  });
  return out;
}

TEST(DirtyInvalidation, InvalidatedLockDurableOthersRideAlong) {
  TwoLocks r = invalidate_one_of_two(32, BugSet{});
  EXPECT_TRUE(r.durable_before_answer);
  EXPECT_EQ(r.seen_a, "a2");
  EXPECT_EQ(r.writer_a, LockMode::kRead);
  EXPECT_EQ(r.writer_b, LockMode::kWrite);  // not invalidated
  EXPECT_EQ(r.reader_b, LockMode::kNull);
  EXPECT_EQ(r.a_after_crash, "a2");
  EXPECT_EQ(r.b_after_crash, "b2");  // committed with A's transaction; "b3" was not
  EXPECT_TRUE(r.violations.empty());
}

TEST(DirtyInvalidation, AnswerBeforeCommitOfOneOfTwoIsCaught) {
  TwoLocks r = invalidate_one_of_two(32, BugSet::of(Bug::kInvalidateBeforeCommit));
  EXPECT_FALSE(r.durable_before_answer);
  EXPECT_EQ(r.seen_a, "a1");
  EXPECT_EQ(r.a_after_crash, "a1");
  EXPECT_EQ(r.b_after_crash, "b1");
}

// ---- the holder crashes while it commits for the invalidation ----

// Mount 1 crashes inside the invalidation worker's commit, with its COMMIT_LOG_TREES (or the
// server's answer to it) held on the wire. Mount 2's read waits for the reclaim, then sees the
// write exactly when the server had made it durable.
struct HolderCrash {
  bool durable_at_crash = false;
  bool gone_when_read_returned = false;  // the reclaim was durable before the read returned
  NodeOp read;
  std::string seen;
  std::vector<int> fenced;
  std::vector<std::string> violations;
};

HolderCrash crash_holder_mid_invalidation(uint64_t seed, bool hold_answer) {
  ClusterWorld w(seed, 3);
  HolderCrash out;
  std::vector<uint8_t> got;
  uint64_t rid = 0;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({1, 2}), 0);
    uint64_t ino = 0;
    ASSERT_NO_FATAL_FAILURE(synced_then_dirty(w, &ino));
    rid = w.rid_of(1);
    const uint64_t seq = w.mount_of(1).trans_seq();
    const uint64_t sent = w.stack(1).link()->stats().sent;
    const uint32_t commit = net::message_type(proto::Cmd::kCommitLogTrees, hold_answer);
    const int filter = hold_answer
                           ? w.net.add_filter({commit, 0, 1, sim::MessageFilter::Action::kDelay, 10 * sim::kSecond})
                           : w.net.add_filter({commit, 1, 0, sim::MessageFilter::Action::kDelay, 10 * sim::kSecond});
    run_on(w, 2, "read", [&] {
      sim::Errno e = w.vfs(2).read(ino, 0, 64, &got);
      out.gone_when_read_returned = w.is_gone(rid);
      return e;
    }, &out.read);
    ASSERT_TRUE(w.wait_until([&] {
      if (!invalidating(w.mount_of(1))) return false;
      return hold_answer ? w.is_durable(rid, seq) : w.stack(1).link()->stats().sent > sent;
    }, sim::kSecond, 10 * sim::kMicrosecond));
    out.durable_at_crash = w.is_durable(rid, seq);
    w.crash(1);
    w.net.remove_filter(filter);
    ASSERT_TRUE(w.wait_until([&] { return out.read.done; }, 5 * sim::kSecond));
    out.seen = str(got);
    out.fenced = w.fenced;
    out.violations = w.violations;
  });
  return out;
}

TEST(DirtyInvalidation, HolderCrashAfterDurableCommitKeepsTheWrite) {
  HolderCrash r = crash_holder_mid_invalidation(33, /*hold_answer=*/true);
  EXPECT_TRUE(r.durable_at_crash);
  EXPECT_EQ(r.read.rc, 0);
  EXPECT_TRUE(r.gone_when_read_returned);
  EXPECT_EQ(r.seen, "two");
  EXPECT_EQ(r.fenced, std::vector<int>{1});
  EXPECT_TRUE(r.violations.empty());
}

TEST(DirtyInvalidation, HolderCrashBeforeCommitArrivedLosesTheWrite) {
  HolderCrash r = crash_holder_mid_invalidation(34, /*hold_answer=*/false);
  EXPECT_FALSE(r.durable_at_crash);
  EXPECT_EQ(r.read.rc, 0);
  EXPECT_TRUE(r.gone_when_read_returned);
  EXPECT_EQ(r.seen, "one");
  EXPECT_EQ(r.fenced, std::vector<int>{1});
  EXPECT_TRUE(r.violations.empty());
}

// ---- an invalidation while the holder unmounts ----

// Mount 1 has a write dirty under its WRITE and begins to unmount. The unmount first waits for
// its log merge worker (held here: the worker's request for a piece is delayed on the wire), and
// mount 2's read invalidates the lock meanwhile. The invalidation still commits before it
// answers, so the reader sees the write. (Found by mount_unmount_race: an unmounting mount's
// commit hook returned at once, "the unmount's commit is the last one", the answer went out with
// the write still dirty, and the reader populated without it.)
struct UnmountRace {
  bool durable_before_answer = false;
  int dirty_answers = 0;  // answers that went out with changes under the lock still dirty
  std::string seen;       // what the reader read during the unmount
  NodeOp unmount;
  std::string after;      // what a new mount on node 1 reads once the unmount is done
  std::vector<std::string> violations;
};

UnmountRace invalidate_during_unmount(uint64_t seed) {
  ClusterWorld w(seed, 3);
  UnmountRace out;
  w.stack(1).config().mount.on_lock_answer = [&out](const Key&, LockMode, LockMode, bool dirty) {
    out.dirty_answers += dirty ? 1 : 0;
  };
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({1, 2}), 0);
    uint64_t ino = 0;
    ASSERT_NO_FATAL_FAILURE(synced_then_dirty(w, &ino));
    const uint64_t rid = w.rid_of(1);
    const uint64_t seq = w.mount_of(1).trans_seq();
    ASSERT_FALSE(w.is_durable(rid, seq));
    // The merge worker polls every 10 ms: within 50 ms its next request is on the wire, held 2 s.
    const int filter = w.net.add_filter({net::message_type(proto::Cmd::kGetLogMerge, false), 1, 0,
                                         sim::MessageFilter::Action::kDelay, 2 * sim::kSecond});
    w.sleep(50 * sim::kMillisecond);
    run_on(w, 1, "unmount", [&] { return w.stack(1).unmount(); }, &out.unmount);
    w.sleep(sim::kMillisecond);
    ASSERT_FALSE(out.unmount.done);  // waiting for the merge worker
    out.seen = read_all(w.vfs(2), ino);
    out.durable_before_answer = w.is_durable(rid, seq);
    w.net.remove_filter(filter);
    ASSERT_TRUE(w.wait_until([&] { return out.unmount.done; }, 5 * sim::kSecond));
    ASSERT_EQ(w.mount(1), 0);
    out.after = read_all(w.vfs(1), ino);
    out.violations = w.violations;
  });
  return out;
}

TEST(DirtyInvalidation, AnUnmountingHolderStillCommitsBeforeItAnswers) {
  UnmountRace r = invalidate_during_unmount(35);
  EXPECT_EQ(r.seen, "two");
  EXPECT_TRUE(r.durable_before_answer);
  EXPECT_EQ(r.dirty_answers, 0);
  EXPECT_EQ(r.unmount.rc, 0);
  EXPECT_EQ(r.after, "two");
  EXPECT_TRUE(r.violations.empty());
}

// The observer the oracle's lock.dirty_answer uses sees the planted invalidate_before_commit.
TEST(DirtyInvalidation, TheAnswerObserverSeesAnAnswerBeforeTheCommit) {
  ClusterWorld w(36, 3);
  w.stack(1).config().mount.bugs = BugSet::of(Bug::kInvalidateBeforeCommit);
  int dirty = 0, clean = 0;
  w.stack(1).config().mount.on_lock_answer = [&](const Key&, LockMode from, LockMode, bool d) {
    if (from == LockMode::kWrite) ++(d ? dirty : clean);
  };
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({1, 2}), 0);
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs(1).create(kRootIno, "f", 0644, &ino), 0);
    ASSERT_EQ(w.vfs(1).write(ino, 0, bytes("one")), 0);
    ASSERT_EQ(w.vfs(1).sync(), 0);
    ASSERT_EQ(read_all(w.vfs(2), ino), "one");  // a clean WRITE answered: nothing dirty
    ASSERT_EQ(w.vfs(1).write(ino, 0, bytes("two")), 0);
    ASSERT_EQ(read_all(w.vfs(2), ino), "one");  // the planted bug: answered with "two" dirty
  });
  EXPECT_GE(clean, 1);
  EXPECT_GE(dirty, 1);
}

}  // namespace
}  // namespace simfs::fs
