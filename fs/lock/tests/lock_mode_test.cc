#include "fs/lock/lock_mode.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace simfs::fs {
namespace {

using M = LockMode;
constexpr std::array<M, 4> kModes = {M::kNull, M::kRead, M::kWrite, M::kWriteOnly};

TEST(LockMode, NamesAndWireValues) {
  EXPECT_EQ(std::string(lock_mode_name(M::kNull)), "null");
  EXPECT_EQ(std::string(lock_mode_name(M::kRead)), "read");
  EXPECT_EQ(std::string(lock_mode_name(M::kWrite)), "write");
  EXPECT_EQ(std::string(lock_mode_name(M::kWriteOnly)), "write_only");
  for (M m : kModes) EXPECT_TRUE(lock_mode_valid(static_cast<uint8_t>(m)));
  EXPECT_FALSE(lock_mode_valid(4));
  EXPECT_FALSE(lock_mode_valid(255));
}

TEST(LockMode, ReadAndWriteAbility) {
  EXPECT_FALSE(lock_mode_can_read(M::kNull));
  EXPECT_TRUE(lock_mode_can_read(M::kRead));
  EXPECT_TRUE(lock_mode_can_read(M::kWrite));
  EXPECT_FALSE(lock_mode_can_read(M::kWriteOnly));
  EXPECT_FALSE(lock_mode_can_write(M::kNull));
  EXPECT_FALSE(lock_mode_can_write(M::kRead));
  EXPECT_TRUE(lock_mode_can_write(M::kWrite));
  EXPECT_TRUE(lock_mode_can_write(M::kWriteOnly));
}

TEST(LockMode, SatisfiesTable) {
  // [held][wanted]
  const bool want[4][4] = {
      //        null   read   write  w_only
      /*null*/ {true, false, false, false},
      /*read*/ {true, true, false, false},
      /*write*/ {true, true, true, false},
      /*w_only*/ {true, false, false, true},
  };
  for (M held : kModes) {
    for (M wanted : kModes) {
      EXPECT_EQ(lock_mode_satisfies(held, wanted), want[static_cast<int>(held)][static_cast<int>(wanted)])
          << lock_mode_name(held) << " for " << lock_mode_name(wanted);
    }
  }
}

TEST(LockMode, GrantCompatibilityTable) {
  // [granted][requested], for the same rid and for different rids.
  const bool same_rid[4][4] = {
      //        null   read   write  w_only
      /*null*/ {false, false, false, false},
      /*read*/ {false, true, true, false},  // read -> write is the upgrade
      /*write*/ {false, false, false, false},
      /*w_only*/ {false, false, false, true},
  };
  const bool other_rid[4][4] = {
      //        null   read   write  w_only
      /*null*/ {true, true, true, true},
      /*read*/ {true, true, false, false},
      /*write*/ {true, false, false, false},
      /*w_only*/ {true, false, false, true},
  };
  for (M g : kModes) {
    for (M r : kModes) {
      const int gi = static_cast<int>(g);
      const int ri = static_cast<int>(r);
      EXPECT_EQ(lock_grant_compatible(7, g, 7, r), same_rid[gi][ri]) << "same rid " << gi << "," << ri;
      EXPECT_EQ(lock_grant_compatible(7, g, 8, r), other_rid[gi][ri]) << "other rid " << gi << "," << ri;
      // Across rids the rule is symmetric; only the same-rid upgrade is directional.
      EXPECT_EQ(lock_grant_compatible(7, g, 8, r), lock_grant_compatible(8, r, 7, g));
    }
  }
}

TEST(LockMode, SameRidNullRequestConflictsSoShrinkingSelfInvalidates) {
  for (M g : {M::kRead, M::kWrite, M::kWriteOnly}) {
    EXPECT_FALSE(lock_grant_compatible(3, g, 3, M::kNull));
    EXPECT_EQ(lock_invalidation_mode(g, M::kNull), M::kNull);
  }
}

TEST(LockMode, InvalidationModeTable) {
  for (M g : kModes) {
    for (M r : kModes) {
      const M want = (g == M::kWrite && r == M::kRead) ? M::kRead : M::kNull;
      EXPECT_EQ(lock_invalidation_mode(g, r), want) << lock_mode_name(g) << " for " << lock_mode_name(r);
    }
  }
}

}  // namespace
}  // namespace simfs::fs
