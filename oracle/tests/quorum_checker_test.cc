#include "oracle/quorum_checker.h"

#include <gtest/gtest.h>

namespace oracle {
namespace {

QuorumSlotWrite write(uint32_t slot, uint64_t term, uint64_t vote_term, uint32_t vote_slot, uint64_t elect = 0,
                      uint64_t rid = 0) {
  return QuorumSlotWrite{slot, term, vote_term, vote_slot, elect, rid};
}

TEST(QuorumChecker, AnOrdinaryElectionIsFine) {
  QuorumChecker c;
  std::string inv;
  EXPECT_EQ(c.block_written(write(0, 1, 1, 0), &inv), "");
  EXPECT_EQ(c.block_written(write(1, 1, 1, 0), &inv), "");
  EXPECT_EQ(c.block_written(write(0, 1, 1, 0, 1, 10), &inv), "");
  EXPECT_EQ(c.block_written(write(0, 1, 1, 0, 1, 10), &inv), "") << "the same block again (FENCE added)";
  EXPECT_EQ(c.block_written(write(2, 3, 3, 2, 3, 12), &inv), "");
  EXPECT_EQ(c.elections(), 2u);
}

TEST(QuorumChecker, ATermGoingBackIsAViolation) {
  QuorumChecker c;
  std::string inv;
  EXPECT_EQ(c.block_written(write(1, 5, 4, 2), &inv), "");
  EXPECT_NE(c.block_written(write(1, 4, 4, 2), &inv), "");
  EXPECT_EQ(inv, "quorum.term_monotone");
}

TEST(QuorumChecker, TwoVotesInOneTermAreAViolation) {
  QuorumChecker c;
  std::string inv;
  EXPECT_EQ(c.block_written(write(1, 5, 5, 2), &inv), "");
  const std::string e = c.block_written(write(1, 5, 5, 0), &inv);
  EXPECT_NE(e.find("voted for slot 2 and then for slot 0 in term 5"), std::string::npos) << e;
  EXPECT_EQ(inv, "quorum.term_monotone");
}

TEST(QuorumChecker, ATermWonTwiceIsAViolation) {
  QuorumChecker c;
  std::string inv;
  EXPECT_EQ(c.block_written(write(0, 2, 2, 0, 2, 10), &inv), "");
  const std::string e = c.block_written(write(1, 2, 2, 1, 2, 11), &inv);
  EXPECT_NE(e.find("term 2 was won by slot 0"), std::string::npos) << e;
  EXPECT_EQ(inv, "quorum.one_leader");
}

TEST(QuorumChecker, AServerMayStartOnlyWhenEveryOtherRunningServerIsFenced) {
  QuorumChecker c;
  EXPECT_EQ(c.serving(1, 4, 11, {}), "");
  EXPECT_EQ(c.serving(1, 4, 11, {RunningServer{0, 10, /*fenced=*/true}}), "");
  const std::string e = c.serving(1, 4, 11, {RunningServer{0, 10, true}, RunningServer{2, 12, false}});
  EXPECT_NE(e.find("rid 12 on node 2 still runs unfenced"), std::string::npos) << e;
}

}  // namespace
}  // namespace oracle
