// The log merge by clients across mounts (fs/server/merge_requests.cc, fs/client/log_merge.h):
// several pieces of one batch out at once on different mounts, and a mount that crashes with a
// piece in hand, whose range the others merge again.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "fs/cluster/tests/cluster_test_util.h"
#include "fs/server/mkfs.h"

namespace simfs::fs {
namespace {

using namespace cluster_test;

// Watches the server's pieces through its observer (what the scenarios' merge.disjoint check
// sees): which are out, by id, with the rid of the mount that asked for them.
struct PieceWatch {
  std::map<uint64_t, uint64_t> out;  // id -> block
  size_t max_out = 0;
  void install(ClusterWorld& w) {
    ServerObserver& o = w.stacks[0]->config().observer;
    o.merge_piece_out = [this](uint64_t id, uint64_t block, bool) {
      out[id] = block;
      max_out = std::max(max_out, out.size());
    };
    o.merge_piece_gone = [this](uint64_t id) { out.erase(id); };
    o.starting = [this] { out.clear(); };
  }
};

// mkfs with the smallest fill limit (a tall fs tree from a few thousand items), the server on
// node 0 and a mount on every node; `files` files per mount, each in a directory of its own.
void fill(ClusterWorld& w, int mounts, int files) {
  ASSERT_EQ(mkfs(NodeEnv(*w.nodes[0]), w.stacks[0]->meta_handle(), w.stacks[0]->data_handle(), ClusterWorld::kFsid,
                 kBtreeFillMin),
            0);
  ASSERT_EQ(w.start_server(), 0);
  for (int m = 0; m < mounts; ++m) ASSERT_EQ(w.mount(m), 0);
  for (int m = 0; m < mounts; ++m) {
    uint64_t d = 0;
    ASSERT_EQ(w.vfs(m).mkdir(kRootIno, "d" + std::to_string(m), 0755, &d), 0);
  }
  for (int i = 0; i < files; ++i) {
    for (int m = 0; m < mounts; ++m) {
      uint64_t d = 0, f = 0;
      ASSERT_EQ(w.vfs(m).lookup(kRootIno, "d" + std::to_string(m), &d), 0);
      ASSERT_EQ(w.vfs(m).create(d, "file-with-a-longish-name-" + std::to_string(i), 0644, &f), 0);
    }
  }
  for (int m = 0; m < mounts; ++m) ASSERT_EQ(w.vfs(m).sync(), 0);
}

// Until the server has merged everything the mounts logged (bounded).
void merge_all(ClusterWorld& w, const std::vector<int>& mounts) {
  Server& srv = *w.stacks[0]->server();
  for (int round = 0; round < 400; ++round) {
    for (int m : mounts) ASSERT_EQ(w.vfs(m).sync(), 0);
    w.sleep(60 * sim::kMillisecond);
    if (srv.logged_items() == 0 && !srv.merge_running()) return;
    srv.force_merge();
  }
  FAIL() << "the merge did not finish";
}

void expect_files(ClusterWorld& w, int reader, int mounts, int files) {
  for (int m = 0; m < mounts; ++m) {
    uint64_t d = 0, f = 0;
    ASSERT_EQ(w.vfs(reader).lookup(kRootIno, "d" + std::to_string(m), &d), 0);
    for (int i = 0; i < files; ++i) {
      ASSERT_EQ(w.vfs(reader).lookup(d, "file-with-a-longish-name-" + std::to_string(i), &f), 0) << m << " " << i;
    }
  }
}

TEST(LogMergeCluster, SeveralPiecesOfOneBatchAreOutAtOnceAndNoneShareABlock) {
  ClusterWorld w(5, 3);
  PieceWatch watch;
  watch.install(w);
  w.stacks[0]->config().server.merge_blocks_per_commit = 4;
  w.run([&] {
    fill(w, 3, 250);
    merge_all(w, {0, 1, 2});
    const ServerStats& st = w.stacks[0]->server()->stats();
    EXPECT_GE(st.merges, 1u);
    EXPECT_GE(watch.max_out, 2u) << "two pieces out at once";
    EXPECT_GT(st.merge_requests, st.merge_splices) << "some batch spliced more than one piece";
    EXPECT_EQ(st.merge_failed, 0u);
    EXPECT_GT(w.stacks[0]->server()->fs_tree().root().height, 2) << "tall enough for pieces below the root";
    expect_files(w, 2, 3, 250);
    EXPECT_TRUE(w.violations.empty());
  });
}

TEST(LogMergeCluster, AMountThatCrashesWithAPieceInHandIsMergedAgainByOthers) {
  ClusterWorld w(6, 3);
  PieceWatch watch;
  watch.install(w);
  w.stacks[0]->config().server.merge_blocks_per_commit = 4;
  w.run([&] {
    fill(w, 3, 250);
    // Node 2's mount asks for pieces like the others: crash it the moment one is in its hands.
    const uint64_t rid2 = w.mount_of(2).rid();
    Server& srv = *w.stacks[0]->server();
    bool caught = false;
    for (int round = 0; round < 400 && !caught; ++round) {
      srv.force_merge();
      caught = w.wait_until([&] { return srv.merge_pieces_out_to(rid2) > 0; }, 50 * sim::kMillisecond,
                            sim::kMillisecond / 4);
    }
    ASSERT_TRUE(caught) << "node 2 never held a piece";
    w.crash(2);
    // Its connection is gone: its pieces are abandoned and the other two finish the merge
    // without waiting for it.
    merge_all(w, {0, 1});
    EXPECT_GE(srv.stats().merge_failed, 1u) << "its piece was abandoned";
    EXPECT_EQ(srv.merge_pieces_out_to(rid2), 0u);
    // Its abandoned pieces keep their blocks (it might still be writing into them) until the
    // reclaim after its reconnect timeout, which gives them back.
    ASSERT_TRUE(w.wait_until([&] { return srv.stats().reclaimed >= 1; }, 10 * sim::kSecond, 10 * sim::kMillisecond));
    ASSERT_TRUE(w.wait_until([&] { return srv.merge_requests_held() == 0; }, sim::kSecond, 10 * sim::kMillisecond))
        << srv.merge_requests_held() << " pieces still hold blocks after the reclaim";
    expect_files(w, 0, 3, 250);
    EXPECT_TRUE(w.violations.empty());
  });
}

}  // namespace
}  // namespace simfs::fs
