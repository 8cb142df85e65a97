#include "fs/quorum/fence_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace simfs::fs {
namespace {

constexpr uint64_t kFsid = 5;

// A slot's block with its latest ELECT, FENCE and STOP terms (0: none); rid 100 + slot, term
// the greatest of them.
QuorumBlock slot_block(uint32_t slot, uint64_t elect, uint64_t fence = 0, uint64_t stop = 0, uint64_t rid = 0) {
  QuorumBlock b;
  b.fsid = kFsid;
  b.slot = slot;
  b.term = elect;
  if (elect) b.elect = {elect, rid ? rid : 100 + slot, 1};
  if (fence) b.fence = {fence, b.elect.rid, 2};
  if (stop) b.stop = {stop, b.elect.rid, 3};
  EXPECT_EQ(quorum_block_invalid(b), "");
  return b;
}

TEST(FencePlan, NamesEveryPossiblyLiveEarlierLeader) {
  // Slot 0 led term 2 and never stopped; slot 1 led term 3 and stopped; slot 2 is me, term 5.
  const std::vector<QuorumBlock> blocks = {slot_block(0, 2), slot_block(1, 3, 0, 3), slot_block(2, 5)};
  const FencePlan plan = fence_plan(blocks, 5, 102);
  EXPECT_FALSE(plan.superseded);
  EXPECT_EQ(plan.targets, (std::vector<FenceTarget>{{0, 100, 2}}));
}

TEST(FencePlan, SkipsItselfButNotAnEarlierIncarnationOfItsSlot) {
  // Slot 1's block shows my own ELECT (rid 201): nothing to fence.
  EXPECT_EQ(fence_plan({slot_block(1, 4, 0, 0, 201)}, 4, 201).targets, std::vector<FenceTarget>{});
  // The same slot elected under an older rid that never wrote STOP (it crashed): fenced, in
  // case it still runs somewhere.
  EXPECT_EQ(fence_plan({slot_block(1, 3, 0, 0, 200)}, 4, 201).targets, (std::vector<FenceTarget>{{1, 200, 3}}));
}

TEST(FencePlan, LeadersBelowTheGreatestFenceAreAlreadyDealtWith) {
  // Slot 1 led term 4 and wrote FENCE 4: slot 0's term-2 leadership was fenced by it. Slot 1
  // itself is still possibly live (no STOP) and its term is >= the fence: fenced.
  const std::vector<QuorumBlock> blocks = {slot_block(0, 2), slot_block(1, 4, 4), slot_block(2, 0)};
  EXPECT_EQ(fence_plan(blocks, 6, 102).targets, (std::vector<FenceTarget>{{1, 101, 4}}));
}

TEST(FencePlan, ALaterLeaderSupersedesMe) {
  // Slot 0 was elected in term 7 after me (term 5): do not serve, whether or not it stopped.
  EXPECT_TRUE(fence_plan({slot_block(0, 7), slot_block(1, 5)}, 5, 101).superseded);
  EXPECT_TRUE(fence_plan({slot_block(0, 7, 0, 7), slot_block(1, 5)}, 5, 101).superseded);
  // A FENCE above my term means the same.
  QuorumBlock later = slot_block(0, 6, 6, 6);
  EXPECT_TRUE(fence_plan({later, slot_block(1, 5)}, 5, 101).superseded);
  EXPECT_TRUE(fence_plan({later, slot_block(1, 5)}, 5, 101).targets.empty());
  // A higher persisted term alone is no leader: not superseded.
  QuorumBlock voter = slot_block(0, 0);
  voter.term = 9;
  EXPECT_FALSE(fence_plan({voter, slot_block(1, 5)}, 5, 101).superseded);
}

TEST(FencePlan, FreshSlotsAndStoppedLeadersNeedNothing) {
  EXPECT_EQ(fence_plan({}, 1, 100), FencePlan{});
  EXPECT_EQ(fence_plan({slot_block(0, 0), slot_block(1, 2, 2, 2)}, 3, 102), FencePlan{});
}

TEST(FencePlan, TargetsComeInSlotOrderWhateverTheBlockOrder) {
  const std::vector<QuorumBlock> blocks = {slot_block(4, 3), slot_block(0, 1), slot_block(2, 2)};
  const FencePlan plan = fence_plan(blocks, 9, 999);
  ASSERT_EQ(plan.targets.size(), 3u);
  EXPECT_EQ(plan.targets[0].slot, 0u);
  EXPECT_EQ(plan.targets[1].slot, 2u);
  EXPECT_EQ(plan.targets[2].slot, 4u);
}

// ---- where is the server ----

TEST(ServerLocation, TheGreatestElectAboveItsStop) {
  EXPECT_EQ(quorum_server_location({}), std::nullopt);
  EXPECT_EQ(quorum_server_location({slot_block(0, 2, 2, 2)}), std::nullopt);  // stopped
  const std::vector<QuorumBlock> blocks = {slot_block(0, 2), slot_block(1, 6, 6, 6), slot_block(2, 4, 4)};
  // Slot 1's term 6 stopped; slot 2's 4 beats slot 0's 2.
  EXPECT_EQ(quorum_server_location(blocks), (ServerLocation{2, 4, 102}));
}

}  // namespace
}  // namespace simfs::fs
