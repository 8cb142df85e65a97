// Several ElectionCores together in ElectionWorld (election_world.h): scenarios, then the
// property over random schedules.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fs/quorum/fence_plan.h"
#include "fs/quorum/tests/election_world.h"

namespace simfs::fs {
namespace {

using testing_quorum::ElectionWorld;
using T = QuorumMsgType;

// ---- scenarios ----

TEST(ElectionWorld, ThreeVotersElectOneLeaderAndAllFollowIt) {
  ElectionWorld w(3);
  for (uint32_t s = 0; s < 3; ++s) w.start(s);
  w.fire_election(1);
  w.deliver_all();
  EXPECT_EQ(w.current_leaders(), std::vector<uint32_t>{1});
  w.server_up(1);
  EXPECT_TRUE(w.converged());
  EXPECT_EQ(w.block(1)->fence.term, 1u);
  EXPECT_EQ(quorum_server_location(w.blocks())->slot, 1u);
  EXPECT_EQ(w.violation(), "");
}

TEST(ElectionWorld, AMinorityCannotElect) {
  ElectionWorld w(5);
  for (uint32_t s = 0; s < 5; ++s) w.start(s);
  // Slot 0 can reach only slot 1: two votes of the three needed, however often it tries.
  for (int round = 0; round < 3; ++round) {
    w.fire_election(0);
    for (size_t i = w.net().size(); i-- > 0;) {
      const uint32_t to = w.net()[i].to;
      if (to != 0 && to != 1) w.drop(i);
    }
    w.deliver_all();
  }
  EXPECT_TRUE(w.current_leaders().empty());
  EXPECT_EQ(w.core(0).term(), 3u);
  EXPECT_EQ(w.violation(), "");
}

TEST(ElectionWorld, TwoVotersSplitAndTheLaterLeaderFencesTheEarlier) {
  ElectionWorld w(2);
  w.start(0);
  w.start(1);
  // Partitioned: both campaign, each wins alone, in terms of its own slot.
  w.fire_election(0);
  w.fire_election(1);
  w.drop_all();
  EXPECT_EQ(w.core(0).term(), 2u);
  EXPECT_EQ(w.core(1).term(), 1u);
  EXPECT_EQ(w.leaders().at(2), 0u);
  EXPECT_EQ(w.leaders().at(1), 1u);
  EXPECT_EQ(w.violation(), "");
  // Their starts were ordered (1 after 0 here, so 1 read 0's ELECT 2 and gave up serving).
  EXPECT_TRUE(w.member(0).serving);
  EXPECT_FALSE(w.member(1).serving);
  EXPECT_TRUE(w.member(1).stop_asked);

  // The fence plan of the later leader, read from the blocks as they were when slot 1 had not
  // yet written STOP: it names the earlier one.
  const FencePlan plan = fence_plan(w.blocks(), 2, ElectionWorld::rid_of(0, 1));
  EXPECT_FALSE(plan.superseded);
  EXPECT_EQ(plan.targets, (std::vector<FenceTarget>{{1, ElectionWorld::rid_of(1, 1), 1}}));
  // And the earlier one's own plan says it is superseded.
  EXPECT_TRUE(fence_plan(w.blocks(), 1, ElectionWorld::rid_of(1, 1)).superseded);

  // Healing leaves one leader, the later.
  w.heal();
  EXPECT_TRUE(w.converged());
  EXPECT_EQ(w.current_leaders(), std::vector<uint32_t>{0});
  EXPECT_EQ(w.violation(), "");
}

TEST(ElectionWorld, TwoVotersStartingInTheOtherOrderFenceTheEarlierServer) {
  ElectionWorld w(2);
  w.start(0);
  w.start(1);
  w.fire_election(1);  // term 1: serves, nothing to fence
  EXPECT_TRUE(w.member(1).serving);
  w.fire_election(0);  // term 2, partitioned from 1: its fence plan names slot 1, which is fenced
  w.drop_all();
  EXPECT_TRUE(w.member(0).serving);
  EXPECT_FALSE(w.up(1));
  EXPECT_EQ(w.violation(), "");
  w.heal();
  EXPECT_TRUE(w.converged());
  EXPECT_EQ(w.violation(), "");
}

TEST(ElectionWorld, OneVoterLeadsAloneAndAgainAfterARestart) {
  ElectionWorld w(1);
  w.start(0);
  w.fire_election(0);
  EXPECT_TRUE(w.converged());
  w.crash(0);
  w.start(0);
  EXPECT_EQ(w.core(0).term(), 1u);
  w.fire_election(0);
  EXPECT_EQ(w.core(0).term(), 2u);
  EXPECT_TRUE(w.converged());
  EXPECT_EQ(w.violation(), "");
}

TEST(ElectionWorld, ACrashBetweenTheVoteWriteAndItsSendLosesOnlyTheMessage) {
  ElectionWorld w(3);
  for (uint32_t s = 0; s < 3; ++s) w.start(s);
  w.fire_election(0);
  // Slot 1 writes its vote and crashes before sending it (actions: write, send, arm).
  w.deliver(*w.find(1, T::kRequestVote), false, 0, 1);
  EXPECT_FALSE(w.up(1));
  EXPECT_EQ(w.block(1)->vote_term, 1u);
  EXPECT_EQ(w.block(1)->vote_slot, 0u);
  // Restarted, it still owes its term-1 vote to slot 0 alone: slot 2 asking in term 1 gets
  // nothing, and slot 0 asking again (its request resent) gets the vote again.
  w.start(1);
  EXPECT_EQ(w.core(1).term(), 1u);
  w.drop_all();
  w.inject(1, {T::kRequestVote, 1, 2});
  w.deliver(0);
  EXPECT_TRUE(w.net().empty());
  w.inject(1, {T::kRequestVote, 1, 0});
  w.deliver(0);
  ASSERT_EQ(w.net().size(), 1u);
  EXPECT_EQ(w.net()[0].to, 0u);
  EXPECT_EQ(w.net()[0].msg, (QuorumMessage{T::kVote, 1, 1}));
  w.deliver_all();
  EXPECT_EQ(w.current_leaders(), std::vector<uint32_t>{0});
  EXPECT_EQ(w.core(0).term(), 1u);
  w.heal();
  EXPECT_TRUE(w.converged());
  EXPECT_EQ(w.violation(), "");
}

// ---- the property ----

// A uniform choice in [lo, hi). rc::gen::inRange narrows with the test size, which would keep
// the rare steps out of all but the last runs.
size_t pick(size_t lo, size_t hi) { return *rc::gen::resize(100, rc::gen::inRange<size_t>(lo, hi)); }

RC_GTEST_PROP(ElectionWorldProp, RandomSchedulesKeepOneLeaderPerTermAndTermsNeverFall, ()) {
  const uint32_t slots = *rc::gen::element<uint32_t>(2, 3, 3, 5, 5);
  ElectionWorld w(slots);
  for (uint32_t s = 0; s < slots; ++s) w.start(s);
  std::vector<uint64_t> last_term(slots, 0);  // per slot, what its live core or device last said
  const size_t steps = *rc::gen::inRange<size_t>(20, 400);
  for (size_t step = 0; step < steps; ++step) {
    w.advance(static_cast<sim::Duration>(pick(0, 50)) * sim::kMillisecond);
    const auto jitter = static_cast<sim::Duration>(pick(0, 101)) * sim::kMillisecond;
    // Now and then a crash between two actions of whatever this step runs.
    const size_t crash_before = pick(0, 30) == 0 ? pick(0, 6) : SIZE_MAX;
    const uint32_t s = static_cast<uint32_t>(pick(0, slots));
    const size_t kind = pick(0, 100);
    if (kind < 35) {
      if (!w.net().empty()) w.deliver(pick(0, w.net().size()), false, jitter, crash_before);
    } else if (kind < 40) {
      if (!w.net().empty()) w.deliver(pick(0, w.net().size()), true, jitter, crash_before);  // duplicate
    } else if (kind < 48) {
      if (!w.net().empty()) w.drop(pick(0, w.net().size()));
    } else if (kind < 73) {
      // Mostly armed timers; sometimes a spurious or late one.
      if (w.up(s) && (w.member(s).election_armed || pick(0, 4) == 0)) w.fire_election(s, jitter, crash_before);
    } else if (kind < 80) {
      if (w.up(s) && w.member(s).heartbeat_armed) w.fire_heartbeat(s, crash_before);
    } else if (kind < 85) {
      w.server_up(s, crash_before);
    } else if (kind < 91) {
      // Asked to stop, or failing on its own.
      if (w.member(s).stop_asked || pick(0, 3) == 0) w.server_stops(s, jitter, crash_before);
    } else if (kind < 95) {
      w.crash(s);
    } else {
      w.start(s, jitter, crash_before);
    }
    RC_ASSERT(w.violation() == "");
    for (uint32_t x = 0; x < slots; ++x) {
      uint64_t t = w.block(x) ? w.block(x)->term : 0;
      if (w.up(x)) {
        RC_ASSERT(w.core(x).term() >= t);
        t = w.core(x).term();
      }
      RC_ASSERT(t >= last_term[x]);
      last_term[x] = t;
    }
  }
  RC_TAG(std::to_string(slots) + " slots");
  RC_TAG(w.leaders().empty() ? "no leader during chaos" : "leaders during chaos");

  // Progress: with every member back, a reliable network and no more failures, one leader.
  w.heal();
  RC_LOG() << w.describe();
  RC_ASSERT(w.violation() == "");
  RC_ASSERT(w.converged());
  // At most one leader per term was checked as each server started (ElectionWorld::fail);
  // what is left to say is that leaders came from configured slots.
  for (const auto& [term, slot] : w.leaders()) RC_ASSERT(slot < slots);
}

}  // namespace
}  // namespace simfs::fs
