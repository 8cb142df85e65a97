// Data space held by one operation is not promised to another: two operations of one mount that
// each fit in the free data blocks, but not both, must not both start. Found by the swarm
// scenario (three workload tasks per mount, a 64-block data device): a write passed its space
// check while another task's write, already holding, had not yet allocated its blocks; the
// second one to allocate ran out half way and stopped the mount (fs.enospc).
#include <gtest/gtest.h>

#include "fs/cluster/tests/cluster_test_util.h"

namespace simfs::fs {
namespace {

using namespace cluster_test;

TEST(DataReservation, ASecondHolderDoesNotCountBlocksTheFirstReserved) {
  ClusterWorld w(1, 1, /*meta_blocks=*/8192, /*data_blocks=*/48);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(1), 0);
    Mount& m = w.mount_of(0);
    uint64_t free = 0;
    while (m.data_available(free + 1)) ++free;
    ASSERT_GT(free, 8u);
    const uint64_t k = free / 2 + 2;  // two of these do not fit
    // A holds room for k blocks, then allocates them a while later (as a write does after
    // reading the blocks it rewrites).
    bool a_done = false;
    sim::Errno a_rc = -1;
    w.nodes[0]->spawn("holder.a", [&] {
      a_rc = m.hold(1, k, false);
      if (a_rc == 0) {
        sim::this_task::sleep(5 * sim::kMillisecond);
        for (uint64_t i = 0; i < k && a_rc == 0; ++i) {
          uint64_t b = 0;
          a_rc = m.alloc_data(&b);
        }
        m.release();
      }
      a_done = true;
    });
    w.sleep(sim::kMillisecond);  // A holds now
    // B asks for as much while A holds: either it is refused, or every block it was promised
    // is there when it allocates.
    sim::Errno b_rc = m.hold(1, k, false);
    uint64_t b_allocated = 0;
    if (b_rc == 0) {
      for (; b_allocated < k; ++b_allocated) {
        uint64_t b = 0;
        if (m.alloc_data(&b) != 0) break;
      }
      m.release();
      EXPECT_EQ(b_allocated, k) << "a successful hold promised blocks that were not there";
    } else {
      EXPECT_EQ(b_rc, ENOSPC);
    }
    ASSERT_TRUE(w.wait_until([&] { return a_done; }, sim::kSecond));
    EXPECT_EQ(a_rc, 0) << "the first holder's own blocks went to the second";
  });
}

}  // namespace
}  // namespace simfs::fs
