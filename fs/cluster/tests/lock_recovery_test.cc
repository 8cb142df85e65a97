// The server crashes in the middle of an invalidation, and a new server rebuilds the lock state
// from the clients (docs/locking.md, "Recovery after a server restart"). Mount 1 (node 1) holds
// an inode lock WRITE with a dirty write under it; mount 2 (node 2) reads the inode, so the
// server invalidates mount 1 to READ. Node 0, which runs only the server, crashes at one of four
// moments of that exchange, each held on the wire by a network filter:
//
//   invalidation   the invalidation is on its way to mount 1, which has not seen it
//   commit         mount 1 is invalidating: its COMMIT_LOG_TREES is on its way to the server
//   commit answer  the server made the commit durable; its answer is on its way back
//   answer         mount 1 committed and dropped to READ; its answer is on its way
//
// After the restart each mount reports its locks, a lock in mid-invalidation at its old mode;
// then the read completes with the write, both mounts hold compatible modes, and the server's
// lock state checks clean. A second round (mount 1 writes again, mount 2 reads) shows the new
// server's grants stay compatible and ordered.
//
// RecoveryReportingTheNewModeIsCaught plants recover_new_mode, the bug of this path: a mount
// mid-invalidation reports the mode it drops to, and the new server grants beside its WRITE.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fs/cluster/tests/cluster_test_util.h"

namespace simfs::fs {
namespace {

using cluster_test::bytes;
using cluster_test::held_conflict;
using cluster_test::invalidating;
using cluster_test::NodeOp;
using cluster_test::run_on;
using cluster_test::skip_to_new_group;
using cluster_test::str;
using testing::ClusterWorld;

enum class Moment { kInvalidation, kCommit, kCommitAnswer, kAnswer };

constexpr sim::Duration kHold = 10 * sim::kSecond;  // a held message arrives long after the test

uint32_t lock_type(bool response) { return net::message_type(proto::Cmd::kLock, response); }
uint32_t commit_type(bool response) { return net::message_type(proto::Cmd::kCommitLogTrees, response); }

// The entry the server has for `rid` on `lock`: its mode, and whether it waits on an invalidation.
struct ServerEntry {
  LockMode mode = LockMode::kNull;
  bool invalidated = false;
};
ServerEntry server_entry(Server& s, const Key& lock, uint64_t rid) {
  ServerEntry out;
  const LockState* st = s.locks().find(lock);
  if (!st) return out;
  for (const LockEntry& e : st->granted)
    if (e.rid == rid) out.mode = e.mode;
  for (const LockEntry& e : st->invalidated) {
    if (e.rid == rid) {
      out.mode = e.mode;
      out.invalidated = true;
    }
  }
  return out;
}

struct Recovery {
  LockMode writer_at_crash = LockMode::kNull;  // mount 1's mode when node 0 crashed
  bool writer_invalidating_at_crash = false;
  bool durable_at_crash = false;               // mount 1's transaction, on the old server
  ServerEntry writer_recovered;                // the new server's entry for mount 1, recovery done
  ServerEntry reader_recovered;
  NodeOp read;
  std::string seen;
  LockMode writer_after = LockMode::kNull, reader_after = LockMode::kNull;
  std::string conflict;                        // between the held modes, after the read
  std::string conflict_while_reading;          // the first seen while the read was under way
  std::string server_check;
  // The second round, on the new server.
  std::string conflict_after_write;
  std::string server_check_after_write;
  std::string seen_after_write;
  std::vector<std::string> violations;
  std::vector<int> fenced;
  std::vector<uint64_t> gone;
};

Recovery crash_server_mid_invalidation(uint64_t seed, Moment moment, BugSet restart_bugs, BugSet mount_bugs = {}) {
  ClusterWorld w(seed, 3);
  Recovery out;
  std::vector<uint8_t> got;
  w.plant(mount_bugs);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({1, 2}), 0);
    // The file's inode lock is its own (not the root directory's, which mount 2 never needs).
    skip_to_new_group(w.mount_of(1));
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs(1).create(kRootIno, "f", 0644, &ino), 0);
    ASSERT_EQ(w.vfs(1).write(ino, 0, bytes("old")), 0);
    ASSERT_EQ(w.vfs(1).sync(), 0);
    ASSERT_EQ(w.vfs(1).write(ino, 0, bytes("new")), 0);
    const Key lock = inode_lock_key(ino);
    ASSERT_EQ(w.mount_of(1).locks().held(lock), LockMode::kWrite);
    const uint64_t rid1 = w.rid_of(1), rid2 = w.rid_of(2);
    const uint64_t seq = w.mount_of(1).trans_seq();
    const uint64_t sent = w.stack(1).link()->stats().sent;
    using Action = sim::MessageFilter::Action;
    int filter = 0;
    switch (moment) {
      case Moment::kInvalidation: filter = w.net.add_filter({lock_type(false), 0, 1, Action::kDelay, kHold}); break;
      case Moment::kCommit: filter = w.net.add_filter({commit_type(false), 1, 0, Action::kDelay, kHold}); break;
      case Moment::kCommitAnswer: filter = w.net.add_filter({commit_type(true), 0, 1, Action::kDelay, kHold}); break;
      case Moment::kAnswer: filter = w.net.add_filter({lock_type(true), 1, 0, Action::kDelay, kHold}); break;
    }
    run_on(w, 2, "read", [&] { return w.vfs(2).read(ino, 0, 64, &got); }, &out.read);
    auto at_moment = [&] {
      switch (moment) {
        case Moment::kInvalidation: return server_entry(w.server(), lock, rid1).invalidated;
        // The invalidation's commit sends COMMIT_LOG_TREES first, blocks written and FLUSHed.
        case Moment::kCommit: return invalidating(w.mount_of(1)) && w.stack(1).link()->stats().sent > sent;
        case Moment::kCommitAnswer: return w.is_durable(rid1, seq);
        case Moment::kAnswer:
          return w.mount_of(1).locks().held(lock) == LockMode::kRead && !invalidating(w.mount_of(1));
      }
      return false;
    };
    ASSERT_TRUE(w.wait_until(at_moment, sim::kSecond, 10 * sim::kMicrosecond));
    EXPECT_FALSE(out.read.done);
    out.writer_at_crash = w.mount_of(1).locks().held(lock);
    out.writer_invalidating_at_crash = invalidating(w.mount_of(1));
    out.durable_at_crash = w.is_durable(rid1, seq);
    w.crash(0);
    w.net.remove_filter(filter);

    // The new server. Its invalidations are held a little, so that the state recovery built can
    // be looked at before anyone answers.
    w.stack(0).config().server.bugs = restart_bugs;
    const int hold = w.net.add_filter({lock_type(false), 0, 1, Action::kDelay, 200 * sim::kMillisecond});
    ASSERT_EQ(w.start_server(), 0);
    ASSERT_TRUE(w.wait_until([&] { return !w.server().locks().in_recovery(); }, 3 * sim::kSecond));
    out.writer_recovered = server_entry(w.server(), lock, rid1);
    out.reader_recovered = server_entry(w.server(), lock, rid2);
    w.net.remove_filter(hold);

    // Until the read is done, watch for the held modes ever conflicting (a mount granted READ
    // while the other still holds WRITE mid-invalidation).
    ASSERT_TRUE(w.wait_until([&] {
      if (out.conflict_while_reading.empty())
        out.conflict_while_reading = held_conflict(rid1, w.mount_of(1).locks(), rid2, w.mount_of(2).locks());
      return out.read.done;
    }, 5 * sim::kSecond, 10 * sim::kMicrosecond));
    out.seen = str(got);
    out.writer_after = w.mount_of(1).locks().held(lock);
    out.reader_after = w.mount_of(2).locks().held(lock);
    out.conflict = held_conflict(rid1, w.mount_of(1).locks(), rid2, w.mount_of(2).locks());
    out.server_check = w.server().locks().check();

    // Round two: mount 1 takes WRITE back from mount 2's READ, mount 2 reads again.
    ASSERT_EQ(w.vfs(1).write(ino, 0, bytes("newer")), 0);
    out.conflict_after_write = held_conflict(rid1, w.mount_of(1).locks(), rid2, w.mount_of(2).locks());
    out.server_check_after_write = w.server().locks().check();
    std::vector<uint8_t> again;
    EXPECT_EQ(w.vfs(2).read(ino, 0, 64, &again), 0);
    out.seen_after_write = str(again);
    EXPECT_EQ(w.mount_of(1).failed(), 0);
    EXPECT_EQ(w.mount_of(2).failed(), 0);
    out.violations = w.violations;
    out.fenced = w.fenced;
    out.gone = w.gone;
  });
  return out;
}

// What every moment must end with.
void expect_recovered(const Recovery& r) {
  EXPECT_TRUE(r.read.done);
  EXPECT_EQ(r.read.rc, 0);
  EXPECT_EQ(r.seen, "new");
  EXPECT_EQ(r.writer_after, LockMode::kRead);
  EXPECT_EQ(r.reader_after, LockMode::kRead);
  EXPECT_EQ(r.conflict, "");
  EXPECT_EQ(r.conflict_while_reading, "");
  EXPECT_EQ(r.server_check, "");
  EXPECT_EQ(r.conflict_after_write, "");
  EXPECT_EQ(r.server_check_after_write, "");
  EXPECT_EQ(r.seen_after_write, "newer");
  EXPECT_TRUE(r.violations.empty());
  EXPECT_TRUE(r.fenced.empty());  // both mounts recovered: nobody was reclaimed
  EXPECT_TRUE(r.gone.empty());
}

// Mount 1 reported the WRITE it held; the new server invalidated it again (the entry waits on
// the invalidated list at WRITE until the answer).
void expect_recovered_write(const Recovery& r) {
  EXPECT_EQ(r.writer_recovered.mode, LockMode::kWrite);
  EXPECT_TRUE(r.writer_recovered.invalidated);
  EXPECT_EQ(r.reader_recovered.mode, LockMode::kNull);  // its request waits behind it
}

TEST(LockRecovery, InvalidationLostWithTheServer) {
  Recovery r = crash_server_mid_invalidation(41, Moment::kInvalidation, BugSet{});
  EXPECT_EQ(r.writer_at_crash, LockMode::kWrite);
  EXPECT_FALSE(r.writer_invalidating_at_crash);
  EXPECT_FALSE(r.durable_at_crash);
  expect_recovered_write(r);
  expect_recovered(r);
}

TEST(LockRecovery, ServerCrashWhileHolderCommits) {
  Recovery r = crash_server_mid_invalidation(42, Moment::kCommit, BugSet{});
  EXPECT_EQ(r.writer_at_crash, LockMode::kWrite);
  EXPECT_TRUE(r.writer_invalidating_at_crash);
  EXPECT_FALSE(r.durable_at_crash);
  expect_recovered_write(r);
  expect_recovered(r);
}

TEST(LockRecovery, ServerCrashBeforeCommitAnswer) {
  Recovery r = crash_server_mid_invalidation(43, Moment::kCommitAnswer, BugSet{});
  EXPECT_EQ(r.writer_at_crash, LockMode::kWrite);
  EXPECT_TRUE(r.writer_invalidating_at_crash);
  EXPECT_TRUE(r.durable_at_crash);
  expect_recovered_write(r);
  expect_recovered(r);
}

// Mount 1 had answered READ: it reports READ, and mount 2's READ is granted at once.
TEST(LockRecovery, ServerCrashBeforeInvalidationAnswer) {
  Recovery r = crash_server_mid_invalidation(44, Moment::kAnswer, BugSet{});
  EXPECT_EQ(r.writer_at_crash, LockMode::kRead);
  EXPECT_FALSE(r.writer_invalidating_at_crash);
  EXPECT_TRUE(r.durable_at_crash);
  EXPECT_EQ(r.writer_recovered.mode, LockMode::kRead);
  EXPECT_FALSE(r.writer_recovered.invalidated);
  EXPECT_EQ(r.reader_recovered.mode, LockMode::kRead);
  expect_recovered(r);
}

// Planted incompatible_grant in the restarted server: mount 1's WRITE of round two is granted
// while mount 2 still holds READ. The compatibility check on the held modes sees it, and mount 2
// reads its stale cache.
TEST(LockRecovery, IncompatibleGrantAfterRecoveryIsCaught) {
  Recovery r = crash_server_mid_invalidation(42, Moment::kCommit, BugSet::of(Bug::kIncompatibleGrant));
  EXPECT_EQ(r.conflict, "");  // recovery itself granted only READs
  EXPECT_NE(r.conflict_after_write, "");
  EXPECT_NE(r.server_check_after_write, "");
  EXPECT_EQ(r.seen_after_write, "new");
}

// Planted recover_new_mode in mount 1: the server dies while mount 1 commits for an invalidation
// to READ, and mount 1 reports READ to the new server although it still holds WRITE with its
// commit unanswered. The new server grants mount 2's READ at once, beside mount 1's WRITE.
TEST(LockRecovery, RecoveryReportingTheNewModeIsCaught) {
  Recovery r = crash_server_mid_invalidation(42, Moment::kCommit, BugSet{}, BugSet::of(Bug::kRecoverNewMode));
  EXPECT_EQ(r.writer_at_crash, LockMode::kWrite);
  EXPECT_TRUE(r.writer_invalidating_at_crash);
  EXPECT_EQ(r.writer_recovered.mode, LockMode::kRead);  // the correct report is WRITE, invalidated
  EXPECT_FALSE(r.writer_recovered.invalidated);
  EXPECT_EQ(r.reader_recovered.mode, LockMode::kRead);
  EXPECT_NE(r.conflict_while_reading, "");
}

// A client that crashes during lock recovery. Mount 1 holds WRITE on a file with a synced
// write and a dirty one under it; the server (node 0) crashes and restarts, and asks both
// mounts for their locks. Mount 1's answer is dropped on the wire and node 1 crashes before it
// can resend: the new server must not wait for it forever. After the recovery timeout it fences
// and reclaims mount 1, ends recovery, and mount 2's read gets the lock and the synced write
// (the dirty one died with mount 1). With recovery_waits_forever planted the read never returns.
struct CrashDuringRecovery {
  bool read_done = false;
  sim::Errno read_rc = 0;
  std::string seen;
  bool in_recovery_after = true;
  bool writer_gone = false;
  std::string server_check;
  sim::Errno reader_failed = 0;
};

CrashDuringRecovery crash_client_during_recovery(BugSet restart_bugs) {
  ClusterWorld w(47, 3);
  CrashDuringRecovery out;
  std::vector<uint8_t> got;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({1, 2}), 0);
    skip_to_new_group(w.mount_of(1));
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs(1).create(kRootIno, "f", 0644, &ino), 0);
    ASSERT_EQ(w.vfs(1).write(ino, 0, bytes("old")), 0);
    ASSERT_EQ(w.vfs(1).sync(), 0);
    ASSERT_EQ(w.vfs(1).write(ino, 0, bytes("new")), 0);
    ASSERT_EQ(w.mount_of(1).locks().held(inode_lock_key(ino)), LockMode::kWrite);
    const uint64_t rid1 = w.rid_of(1);
    using Action = sim::MessageFilter::Action;
    const uint32_t recover_answer = net::message_type(proto::Cmd::kLockRecover, true);
    const int drop = w.net.add_filter({recover_answer, 1, 0, Action::kDrop, 0});
    const uint64_t sent = w.stack(1).link()->stats().sent;
    w.crash(0);
    w.stack(0).config().server.bugs = restart_bugs;
    ASSERT_EQ(w.start_server(), 0);
    ASSERT_TRUE(w.server().locks().in_recovery());
    // Mount 1 reconnects and answers the recovery request (dropped): then its node crashes.
    ASSERT_TRUE(w.wait_until([&] { return w.stack(1).link()->stats().sent > sent + 1; }, sim::kSecond,
                             10 * sim::kMicrosecond));
    w.crash(1);
    w.net.remove_filter(drop);
    ASSERT_TRUE(w.server().locks().in_recovery()) << "recovery ended without mount 1's locks";
    NodeOp read;
    run_on(w, 2, "read", [&] { return w.vfs(2).read(ino, 0, 64, &got); }, &read);
    (void)w.wait_until([&] { return read.done; }, 4 * ClusterWorld::test_server_config().recovery_timeout);
    out.read_done = read.done;
    out.read_rc = read.rc;
    out.seen = str(got);
    out.in_recovery_after = w.server().locks().in_recovery();
    out.writer_gone = w.is_gone(rid1);
    out.server_check = w.server().locks().check();
    out.reader_failed = w.mount_of(2).failed();
  });
  return out;
}

TEST(LockRecovery, AClientThatCrashesDuringRecoveryIsReclaimedAndTheOthersGoOn) {
  CrashDuringRecovery r = crash_client_during_recovery(BugSet{});
  EXPECT_TRUE(r.read_done);
  EXPECT_EQ(r.read_rc, 0);
  EXPECT_EQ(r.seen, "old");
  EXPECT_FALSE(r.in_recovery_after);
  EXPECT_TRUE(r.writer_gone);
  EXPECT_EQ(r.server_check, "");
  EXPECT_EQ(r.reader_failed, 0);
}

TEST(LockRecovery, ACrashedClientWaitedForForeverIsCaught) {
  CrashDuringRecovery r = crash_client_during_recovery(BugSet::from_name("recovery_waits_forever"));
  EXPECT_FALSE(r.read_done);
  EXPECT_TRUE(r.in_recovery_after);
  EXPECT_FALSE(r.writer_gone);
}

}  // namespace
}  // namespace simfs::fs
