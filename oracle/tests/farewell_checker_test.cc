// FarewellChecker: quorum.farewell_majority fires when a voter's farewell leaves fewer than a
// majority of voters while other mounts stay, and stays quiet for what a correct server does.
#include "oracle/farewell_checker.h"

#include <gtest/gtest.h>

namespace oracle {
namespace {

// Three slots (two votes needed): nodes 0-2 vote, nodes 3 and 4 do not. Node n mounts rid n+1.
FarewellChecker five_mounted() {
  FarewellChecker c(3, {true, true, true, false, false});
  for (int n = 0; n < 5; ++n) {
    c.mounting(n, static_cast<uint64_t>(n + 1));
    c.mounted(static_cast<uint64_t>(n + 1));
  }
  return c;
}
const std::vector<bool> kAllUp(5, true);

TEST(FarewellChecker, AVoterMayLeaveWhileTwoStay) {
  FarewellChecker c = five_mounted();
  c.leaving(1);
  EXPECT_EQ(c.farewell_done(1, kAllUp), "");
  EXPECT_EQ(c.voter_farewells(), 1u);
}

TEST(FarewellChecker, TheSecondVoterLeavingStrandsTheOthers) {
  FarewellChecker c = five_mounted();
  c.leaving(1);
  ASSERT_EQ(c.farewell_done(1, kAllUp), "");
  c.leaving(2);
  const std::string e = c.farewell_done(2, kAllUp);
  EXPECT_NE(e.find("fewer than the 2"), std::string::npos) << e;
  EXPECT_NE(e.find("node(s) 2, 3, 4"), std::string::npos) << e;
}

TEST(FarewellChecker, AVoterStillMountingCountsAsPresent) {
  FarewellChecker c = five_mounted();
  c.leaving(1);
  ASSERT_EQ(c.farewell_done(1, kAllUp), "");
  c.mounting(0, 6);  // node 0 mounts again (its greeting may have reached the server)
  c.leaving(2);
  EXPECT_EQ(c.farewell_done(2, kAllUp), "");
}

TEST(FarewellChecker, TheLastVotersMayLeaveTogetherWhenNobodyStays) {
  FarewellChecker c = five_mounted();
  for (uint64_t rid : {4, 5}) {
    c.leaving(rid);
    ASSERT_EQ(c.farewell_done(rid, kAllUp), "");
  }
  for (uint64_t rid : {1, 2, 3}) c.leaving(rid);
  for (uint64_t rid : {1, 2, 3}) EXPECT_EQ(c.farewell_done(rid, kAllUp), "") << rid;
}

TEST(FarewellChecker, AReclaimedVoterNoLongerCounts) {
  FarewellChecker c = five_mounted();
  c.gone(2);  // node 1's voter reclaimed (no farewell: no rule applies to it)
  c.leaving(1);
  EXPECT_NE(c.farewell_done(1, kAllUp), "");  // only node 2's voter is left, with 3, 4 and itself staying
}

TEST(FarewellChecker, MountsOfNodesThatAreDownNeedNoServer) {
  FarewellChecker c = five_mounted();
  c.gone(2);
  c.leaving(1);
  const std::vector<bool> up = {true, true, false, false, false};
  EXPECT_EQ(c.farewell_done(1, up), "");
}

TEST(FarewellChecker, ANonVoterLeavesFreely) {
  FarewellChecker c = five_mounted();
  c.gone(1);
  c.gone(2);
  c.leaving(4);
  EXPECT_EQ(c.farewell_done(4, kAllUp), "");
}

}  // namespace
}  // namespace oracle
