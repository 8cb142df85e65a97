// Reconnect and resend between a mount and the server, end to end (fs/net/tests/
// connection_test.cc covers the Connection itself): a connection broken in the middle of an
// operation and reconnected within reconnect_timeout loses nothing and executes nothing twice
// (docs/protocol.md, "A partition shorter than reconnect_timeout"). Node 0 runs only the server,
// mounts run on nodes 1 and 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fs/cluster/tests/cluster_test_util.h"

namespace simfs::fs {
namespace {

using cluster_test::bytes;
using cluster_test::NodeOp;
using cluster_test::run_on;
using cluster_test::skip_to_new_group;
using cluster_test::str;
using testing::ClusterWorld;

// Entries named `name` in directory `dir`, as mount `v` lists them.
int entries_named(Vfs& v, uint64_t dir, const std::string& name) {
  std::vector<DirEntry> ents;
  EXPECT_EQ(v.readdir(dir, 0, 1000, &ents), 0);
  int n = 0;
  for (const DirEntry& e : ents) n += e.name == name;
  return n;
}

// The answer to mount 1's ALLOC_INODES is lost with the socket (a drop filter breaks it as the
// server sends it). The mount reconnects with the same term: it resends the request, which the
// server drops as a duplicate, and the server resends its answer. The create that asked completes
// once, and the server handed out exactly one batch.
TEST(ReconnectResend, LostAllocAnswerIsResentNotReexecuted) {
  ClusterWorld w(51, 3);
  NodeOp create;
  uint64_t ino = 0;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({1, 2}), 0);
    const uint64_t next_ino = w.server().stable_super().next_ino;
    const uint64_t resent = w.stack(1).link()->stats().resent;
    const int drop = w.net.add_filter({net::message_type(proto::Cmd::kAllocInodes, true), 0, 1,
                                       sim::MessageFilter::Action::kDrop, 0});
    // Mount 1's first create asks for its first inode batch.
    run_on(w, 1, "create", [&] { return w.vfs(1).create(kRootIno, "f", 0644, &ino); }, &create);
    ASSERT_TRUE(w.wait_until([&] { return w.server().stable_super().next_ino != next_ino; }, sim::kSecond,
                             10 * sim::kMicrosecond));
    // The answer went out (and was dropped) as the batch became durable; reconnecting takes the
    // mount a retry interval (50 ms), long after the filter is gone.
    w.sleep(sim::kMillisecond);
    EXPECT_FALSE(create.done);
    w.net.remove_filter(drop);
    ASSERT_TRUE(w.wait_until([&] { return create.done; }, 2 * sim::kSecond));
    EXPECT_EQ(create.rc, 0);
    EXPECT_GT(w.stack(1).link()->stats().resent, resent);  // the path was taken
    // One batch: the resent ALLOC_INODES was not executed again.
    EXPECT_EQ(w.server().stable_super().next_ino, next_ino + w.mount_of(1).config().inode_batch);
    EXPECT_GE(ino, next_ino);
    EXPECT_LT(ino, next_ino + w.mount_of(1).config().inode_batch);
    uint64_t found = 0;
    ASSERT_EQ(w.vfs(2).lookup(kRootIno, "f", &found), 0);
    EXPECT_EQ(found, ino);
    EXPECT_EQ(entries_named(w.vfs(2), kRootIno, "f"), 1);
    EXPECT_TRUE(w.fenced.empty());
    EXPECT_TRUE(w.violations.empty());
  });
}

// Mount 1's LOCK request for the root directory (mount 2 holds it READ) is in flight when a
// partition cuts node 1 off; the partition heals well within reconnect_timeout. The request is
// resent and granted once: the create returns 0 and the directory holds one entry.
struct PartitionedCreate {
  bool done_during_partition = false;
  NodeOp create;
  int entries = -1;        // "g" in the root directory, as mount 2 lists it
  sim::Errno again = -1;   // mount 2 creating "g" afterwards
  bool mount2_sees_it = false;
  std::vector<std::string> violations;
  std::vector<int> fenced;
};

PartitionedCreate create_across_partition(uint64_t seed, BugSet mount1_bugs) {
  ClusterWorld w(seed, 3);
  w.stack(1).config().mount.bugs = mount1_bugs;
  PartitionedCreate out;
  uint64_t ino = 0;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({1, 2}), 0);
    uint64_t unused = 0;
    ASSERT_EQ(w.mount_of(1).peek_ino(&unused), 0);  // its inode batch now, not mid-create
    ASSERT_EQ(w.vfs(2).lookup(kRootIno, "g", &unused), ENOENT);  // mount 2 holds the root READ
    const Key root = inode_lock_key(kRootIno);
    ASSERT_EQ(w.mount_of(2).locks().held(root), LockMode::kRead);
    run_on(w, 1, "create", [&] { return w.vfs(1).create(kRootIno, "g", 0644, &ino); }, &out.create);
    // The request is sent at once; the network takes at least 50 us to deliver it.
    ASSERT_TRUE(w.wait_until([&] { return w.mount_of(1).locks().busy_report().find("requested") != std::string::npos; },
                             sim::kSecond, sim::kMicrosecond));
    w.net.partition({1}, {0});
    w.sleep(300 * sim::kMillisecond);
    out.done_during_partition = out.create.done;
    w.net.heal();
    w.wait_until([&] { return out.create.done; }, 3 * sim::kSecond);
    if (out.create.done && out.create.rc == 0) {
      uint64_t found = 0;
      out.mount2_sees_it = w.vfs(2).lookup(kRootIno, "g", &found) == 0 && found == ino;
      out.entries = entries_named(w.vfs(2), kRootIno, "g");
      out.again = w.vfs(2).create(kRootIno, "g", 0644, &unused);
    }
    out.violations = w.violations;
    out.fenced = w.fenced;
  });
  return out;
}

TEST(ReconnectResend, LockRequestLostToPartitionIsResentOnce) {
  PartitionedCreate r = create_across_partition(52, BugSet{});
  EXPECT_FALSE(r.done_during_partition);
  EXPECT_TRUE(r.create.done);
  EXPECT_EQ(r.create.rc, 0);
  EXPECT_TRUE(r.mount2_sees_it);
  EXPECT_EQ(r.entries, 1);
  EXPECT_EQ(r.again, EEXIST);
  EXPECT_TRUE(r.violations.empty());
  EXPECT_TRUE(r.fenced.empty());
}

// Mount 1's FAREWELL answer is lost with its socket, after the server reclaimed the mount and
// forgot its connection. The mount reconnects to the same server (same term), which no longer
// knows it: the greeting says so (a new session), the mount numbers its messages from 1 again,
// and the resent FAREWELL is answered. Without the new session the server would see seq 3 where
// 1 is due and call it a gap (the mount_unmount_race failure of 2026-12-05).
TEST(ReconnectResend, FarewellAnsweredAfterTheServerForgotTheMount) {
  ClusterWorld w(54, 3);
  NodeOp unmount;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({1, 2}), 0);
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs(1).create(kRootIno, "f", 0644, &ino), 0);
    const uint64_t rid = w.rid_of(1);
    const int drop = w.net.add_filter({net::message_type(proto::Cmd::kFarewell, true), 0, 1,
                                       sim::MessageFilter::Action::kDrop, 0});
    run_on(w, 1, "unmount", [&] { return w.stack(1).unmount(); }, &unmount);
    ASSERT_TRUE(w.wait_until([&] { return w.is_gone(rid); },
                             2 * sim::kSecond));
    w.sleep(sim::kMillisecond);
    EXPECT_FALSE(unmount.done);  // its answer was dropped
    w.net.remove_filter(drop);
    ASSERT_TRUE(w.wait_until([&] { return unmount.done; }, 3 * sim::kSecond));
    EXPECT_EQ(unmount.rc, 0);
    uint64_t found = 0;
    EXPECT_EQ(w.vfs(2).lookup(kRootIno, "f", &found), 0);
    EXPECT_EQ(found, ino);
    EXPECT_TRUE(w.violations.empty());
    EXPECT_TRUE(w.fenced.empty());
  });
}

// Planted no_resend_replay on mount 1: the reconnected link never sends the lost request again,
// so the create never completes.
TEST(ReconnectResend, NoResendReplayIsCaught) {
  PartitionedCreate r = create_across_partition(52, BugSet::of(Bug::kNoResendReplay));
  EXPECT_FALSE(r.create.done);
}

// The other direction: while node 1 is cut off, mount 2 reads a file mount 1 holds WRITE with a
// dirty write. The server's invalidation waits in its connection's queue; after the heal it is
// sent, mount 1 commits and answers, and the read returns the write.
TEST(ReconnectResend, InvalidationQueuedAcrossPartitionIsDelivered) {
  ClusterWorld w(53, 3);
  NodeOp read;
  std::vector<uint8_t> got;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount_on({1, 2}), 0);
    skip_to_new_group(w.mount_of(1));
    uint64_t ino = 0;
    ASSERT_EQ(w.vfs(1).create(kRootIno, "h", 0644, &ino), 0);
    ASSERT_EQ(w.vfs(1).sync(), 0);
    ASSERT_EQ(w.vfs(1).write(ino, 0, bytes("dirty")), 0);
    const uint64_t rid = w.rid_of(1), seq = w.mount_of(1).trans_seq();
    w.net.partition({1}, {0});
    run_on(w, 2, "read", [&] { return w.vfs(2).read(ino, 0, 64, &got); }, &read);
    w.sleep(300 * sim::kMillisecond);
    EXPECT_FALSE(read.done);
    EXPECT_FALSE(w.is_durable(rid, seq));
    w.net.heal();
    ASSERT_TRUE(w.wait_until([&] { return read.done; }, 3 * sim::kSecond));
    EXPECT_EQ(read.rc, 0);
    EXPECT_EQ(str(got), "dirty");
    EXPECT_EQ(w.durable_reports(rid, seq), 1u);
    EXPECT_EQ(w.mount_of(1).locks().held(inode_lock_key(ino)), LockMode::kRead);
    EXPECT_TRUE(w.fenced.empty());
    EXPECT_TRUE(w.violations.empty());
  });
}

}  // namespace
}  // namespace simfs::fs
