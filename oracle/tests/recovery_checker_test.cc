#include "oracle/recovery_checker.h"

#include <gtest/gtest.h>

namespace oracle {
namespace {

constexpr int64_t kMs = 1000000;

TEST(RecoveryChecker, EveryRecordRecoveredOrReclaimedIsFine) {
  RecoveryChecker c(2000 * kMs);
  c.server_started(3, {10, 11, 12});
  c.recovered(3, 10);
  c.gone(11);
  EXPECT_EQ(c.ran(3, 1000 * kMs), "");
  c.recovered(3, 12);
  EXPECT_EQ(c.ran(3, 5000 * kMs), "");
  EXPECT_EQ(c.pending(), 0u);
  EXPECT_EQ(c.recoveries(), 2u);
}

TEST(RecoveryChecker, ARecordLeftInBetweenPastTheTimeoutIsAViolation) {
  RecoveryChecker c(2000 * kMs);
  c.server_started(3, {10, 11});
  c.recovered(3, 10);
  EXPECT_EQ(c.ran(3, 1500 * kMs), "");
  const std::string e = c.ran(3, 600 * kMs);
  EXPECT_NE(e.find("mount(s) 11"), std::string::npos) << e;
  EXPECT_NE(e.find("term 3"), std::string::npos) << e;
  EXPECT_EQ(c.ran(3, 600 * kMs), "") << "reported once per term";
}

TEST(RecoveryChecker, OnlyTheServersOwnRunningTimeCounts) {
  RecoveryChecker c(2000 * kMs);
  c.server_started(3, {10});
  // Another server's time, or a recovery reported to an older server, changes nothing.
  EXPECT_EQ(c.ran(2, 5000 * kMs), "");
  c.recovered(2, 10);
  EXPECT_EQ(c.pending(), 1u);
  EXPECT_NE(c.ran(3, 2100 * kMs), "");
}

TEST(RecoveryChecker, ANewServerStartsItsOwnCount) {
  RecoveryChecker c(2000 * kMs);
  c.server_started(3, {10, 11});
  EXPECT_EQ(c.ran(3, 1900 * kMs), "");
  // Server 3 dies; server 4 finds 10 still mounted (11 was reclaimed durably meanwhile).
  c.gone(11);
  c.server_started(4, {10, 11});
  EXPECT_EQ(c.pending(), 1u) << "a durably reclaimed mount is not expected again";
  EXPECT_EQ(c.ran(4, 1900 * kMs), "");
  c.recovered(4, 10);
  EXPECT_EQ(c.ran(4, 1000 * kMs), "");
  // An older server starting late does not reset the newer one's count.
  c.server_started(2, {99});
  EXPECT_EQ(c.term(), 4u);
  EXPECT_EQ(c.pending(), 0u);
}

}  // namespace
}  // namespace oracle
