#include "fs/quorum/election_core.h"

#include <gtest/gtest.h>

#include <ostream>
#include <vector>

namespace simfs::fs {

// Outside the anonymous namespace so gtest finds it by argument-dependent lookup.
void PrintTo(const ElectionAction& a, std::ostream* os) { *os << election_action_string(a); }

namespace {

using K = ElectionAction::Kind;
using T = QuorumMsgType;
using Actions = ElectionCore::Actions;
using sim::kMillisecond;
using sim::kSecond;

constexpr uint64_t kFsid = 77;

ElectionConfig config(uint32_t slots, uint32_t slot) {
  ElectionConfig c;
  c.fsid = kFsid;
  c.slot_count = slots;
  c.slot = slot;
  c.rid = 100 + slot;
  return c;
}

QuorumBlock blk(uint32_t slot, uint64_t seq, uint64_t term, uint64_t vote_term = 0, uint32_t vote_slot = 0) {
  QuorumBlock b;
  b.fsid = kFsid;
  b.slot = slot;
  b.seq = seq;
  b.term = term;
  b.vote_term = vote_term;
  b.vote_slot = vote_slot;
  return b;
}

ElectionAction write(const QuorumBlock& b) { return ElectionAction::write_block(b); }
ElectionAction send(uint32_t to, T type, uint64_t term, uint32_t from) {
  return ElectionAction::send(to, {type, term, from});
}
ElectionAction broadcast(T type, uint64_t term, uint32_t from) { return ElectionAction::broadcast({type, term, from}); }
ElectionAction arm_election(sim::Duration after) { return ElectionAction::arm_election(after); }
ElectionAction arm_heartbeat() { return ElectionAction::arm_heartbeat(100 * kMillisecond); }
ElectionAction start_server(uint64_t term) { return ElectionAction::start_server(term); }
ElectionAction stop_server(uint64_t term) { return ElectionAction::stop_server(term); }

QuorumMessage msg(T type, uint64_t term, uint32_t from) { return {type, term, from}; }

constexpr sim::Duration kElect = 250 * kMillisecond;
constexpr sim::Duration kHbTimeout = 10 * kSecond;

// ---- configuration ----

TEST(QuorumVotes, MajorityExceptOneForOneOrTwoSlots) {
  EXPECT_EQ(quorum_votes_needed(1), 1u);
  EXPECT_EQ(quorum_votes_needed(2), 1u);
  EXPECT_EQ(quorum_votes_needed(3), 2u);
  EXPECT_EQ(quorum_votes_needed(4), 3u);
  EXPECT_EQ(quorum_votes_needed(5), 3u);
  EXPECT_EQ(quorum_votes_needed(kQuorumSlotsMax), 8u);
}

TEST(QuorumVotes, WithOneVoteEnoughEachSlotCampaignsInItsOwnTerms) {
  EXPECT_EQ(quorum_next_term(0, 0, 1), 1u);
  EXPECT_EQ(quorum_next_term(7, 0, 1), 8u);
  EXPECT_EQ(quorum_next_term(0, 0, 2), 2u);
  EXPECT_EQ(quorum_next_term(0, 1, 2), 1u);
  EXPECT_EQ(quorum_next_term(1, 1, 2), 3u);
  EXPECT_EQ(quorum_next_term(2, 1, 2), 3u);
  EXPECT_EQ(quorum_next_term(5, 0, 2), 6u);
  // A majority decides from three slots on: simply the next term.
  EXPECT_EQ(quorum_next_term(0, 2, 3), 1u);
  EXPECT_EQ(quorum_next_term(4, 0, 5), 5u);
}

// ---- a 3-voter election, action by action ----

TEST(ElectionCore, ThreeVoterElection) {
  ElectionCore a(config(3, 0)), b(config(3, 1)), c(config(3, 2));
  EXPECT_EQ(a.start({}, 0), (Actions{arm_election(kElect)}));
  EXPECT_EQ(b.start({}, 7), (Actions{arm_election(kElect + 7)}));
  EXPECT_EQ(c.start({}, 0), (Actions{arm_election(kElect)}));
  EXPECT_EQ(a.votes_needed(), 2u);

  // a campaigns: its term and self-vote are durable before it asks anyone.
  EXPECT_EQ(a.election_timer_fired(1000, 5),
            (Actions{write(blk(0, 1, 1, 1, 0)), broadcast(T::kRequestVote, 1, 0), arm_election(kElect + 5)}));
  EXPECT_EQ(a.role(), ElectionRole::kCandidate);

  // b adopts the term and votes, writing both before the vote goes out.
  EXPECT_EQ(b.receive(msg(T::kRequestVote, 1, 0), 1100, 0),
            (Actions{write(blk(1, 1, 1, 1, 0)), send(0, T::kVote, 1, 1), arm_election(kElect)}));

  // One vote more than its own is a majority: heartbeat, ELECT, then the server.
  QuorumBlock elected = blk(0, 2, 1, 1, 0);
  elected.elect = {1, 100, 1200};
  EXPECT_EQ(a.receive(msg(T::kVote, 1, 1), 1200, 0),
            (Actions{broadcast(T::kHeartbeat, 1, 0), write(elected), start_server(1), arm_heartbeat()}));
  EXPECT_EQ(a.role(), ElectionRole::kLeader);
  EXPECT_EQ(a.leader(), 0u);
  EXPECT_TRUE(a.server_running());

  // c hears the heartbeat first: it follows, and now waits the long heartbeat timeout.
  EXPECT_EQ(c.receive(msg(T::kHeartbeat, 1, 0), 1300, 0), (Actions{write(blk(2, 1, 1)), arm_election(kHbTimeout)}));
  EXPECT_EQ(c.leader(), 0u);
  // A late vote and the heartbeat timer change nothing for the leader but keep it beating.
  EXPECT_EQ(a.receive(msg(T::kVote, 1, 2), 1400, 0), Actions{});
  EXPECT_EQ(a.heartbeat_timer_fired(), (Actions{broadcast(T::kHeartbeat, 1, 0), arm_heartbeat()}));
  // A late election timer firing on the leader is ignored.
  EXPECT_EQ(a.election_timer_fired(1500, 0), Actions{});

  // The server is up: FENCE records that everything before term 1 is fenced.
  QuorumBlock fenced = elected;
  fenced.seq = 3;
  fenced.fence = {1, 100, 2000};
  EXPECT_EQ(a.server_up(2000), (Actions{write(fenced)}));
  EXPECT_EQ(a.server_up(2001), Actions{});  // once
  for (const ElectionCore* x : {&a, &b, &c}) EXPECT_EQ(x->check(), "");
}

// ---- split vote ----

TEST(ElectionCore, SplitVoteIsResolvedByALaterTerm) {
  ElectionCore a(config(3, 0)), b(config(3, 1)), c(config(3, 2));
  a.start({}, 0);
  b.start({}, 0);
  c.start({}, 0);
  // a and b campaign in term 1 at once; c is slow and both requests to it are lost.
  a.election_timer_fired(10, 0);
  b.election_timer_fired(10, 0);
  // Each refuses the other: it voted for itself in term 1.
  EXPECT_EQ(a.receive(msg(T::kRequestVote, 1, 1), 20, 0), Actions{});
  EXPECT_EQ(b.receive(msg(T::kRequestVote, 1, 0), 20, 0), Actions{});
  EXPECT_EQ(a.role(), ElectionRole::kCandidate);
  EXPECT_EQ(b.role(), ElectionRole::kCandidate);

  // a's timer fires again: term 2. b adopts it as a follower and votes; a wins.
  EXPECT_EQ(a.election_timer_fired(400, 0),
            (Actions{write(blk(0, 2, 2, 2, 0)), broadcast(T::kRequestVote, 2, 0), arm_election(kElect)}));
  EXPECT_EQ(b.receive(msg(T::kRequestVote, 2, 0), 410, 0),
            (Actions{write(blk(1, 2, 2, 2, 0)), send(0, T::kVote, 2, 1), arm_election(kElect)}));
  EXPECT_EQ(b.role(), ElectionRole::kFollower);
  const Actions won = a.receive(msg(T::kVote, 2, 1), 420, 0);
  ASSERT_EQ(won.size(), 4u);
  EXPECT_EQ(won[2], start_server(2));
  // The loser of term 1 cannot be elected for it any more: its own term-1 request is stale now.
  EXPECT_EQ(c.receive(msg(T::kRequestVote, 2, 0), 430, 0).size(), 3u);
  EXPECT_EQ(c.receive(msg(T::kRequestVote, 1, 1), 440, 0), Actions{});
  for (const ElectionCore* x : {&a, &b, &c}) EXPECT_EQ(x->check(), "");
}

// ---- one vote per term ----

TEST(ElectionCore, AtMostOneVotePerTerm) {
  ElectionCore f(config(5, 4));
  f.start({}, 0);
  EXPECT_EQ(f.receive(msg(T::kRequestVote, 3, 1), 10, 0),
            (Actions{write(blk(4, 1, 3, 3, 1)), send(1, T::kVote, 3, 4), arm_election(kElect)}));
  // Another candidate of the same term gets nothing.
  EXPECT_EQ(f.receive(msg(T::kRequestVote, 3, 2), 20, 0), Actions{});
  // The same candidate asking again gets the same vote again, without a second write.
  EXPECT_EQ(f.receive(msg(T::kRequestVote, 3, 1), 30, 0), (Actions{send(1, T::kVote, 3, 4), arm_election(kElect)}));
  EXPECT_EQ(f.block().vote_term, 3u);
  EXPECT_EQ(f.block().vote_slot, 1u);
  // A later term is a new vote.
  EXPECT_EQ(f.receive(msg(T::kRequestVote, 4, 2), 40, 0),
            (Actions{write(blk(4, 2, 4, 4, 2)), send(2, T::kVote, 4, 4), arm_election(kElect)}));
  EXPECT_EQ(f.check(), "");
}

TEST(ElectionCore, DuplicateVotesCountOnce) {
  ElectionCore a(config(5, 0));
  a.start({}, 0);
  a.election_timer_fired(0, 0);
  EXPECT_EQ(a.receive(msg(T::kVote, 1, 1), 1, 0), Actions{});
  EXPECT_EQ(a.receive(msg(T::kVote, 1, 1), 2, 0), Actions{});  // 2 of 3, still
  EXPECT_EQ(a.votes(), 2u);
  EXPECT_EQ(a.role(), ElectionRole::kCandidate);
  const Actions won = a.receive(msg(T::kVote, 1, 3), 3, 0);
  ASSERT_FALSE(won.empty());
  EXPECT_EQ(a.role(), ElectionRole::kLeader);
}

// ---- stale and untrusted messages ----

TEST(ElectionCore, StaleTermMessagesAreIgnored) {
  ElectionCore f(config(3, 2));
  f.start({blk(0, 4, 6, 6, 0)}, 0);  // slot 0 reached term 6
  EXPECT_EQ(f.term(), 6u);
  const QuorumBlock before = f.block();
  for (T type : {T::kRequestVote, T::kVote, T::kHeartbeat, T::kResignation}) {
    EXPECT_EQ(f.receive(msg(type, 5, 1), 10, 0), Actions{}) << quorum_msg_name(type);
  }
  EXPECT_EQ(f.block(), before);
  EXPECT_EQ(f.leader(), std::nullopt);
  // Term 0, an unconfigured slot and its own slot are not trusted either.
  EXPECT_EQ(f.receive(msg(T::kHeartbeat, 0, 1), 10, 0), Actions{});
  EXPECT_EQ(f.receive(msg(T::kRequestVote, 9, 3), 10, 0), Actions{});
  EXPECT_EQ(f.receive(msg(T::kHeartbeat, 9, 2), 10, 0), Actions{});
  EXPECT_EQ(f.term(), 6u);
}

TEST(ElectionCore, AGreaterTermStopsALeader) {
  ElectionCore a(config(3, 0));
  a.start({}, 0);
  a.election_timer_fired(0, 0);
  a.receive(msg(T::kVote, 1, 1), 1, 0);
  ASSERT_EQ(a.role(), ElectionRole::kLeader);
  // A heartbeat of term 3 from slot 2: stop first, then the new term, then follow.
  QuorumBlock b = a.block();
  b.seq += 1;
  b.term = 3;
  EXPECT_EQ(a.receive(msg(T::kHeartbeat, 3, 2), 5, 0), (Actions{stop_server(1), write(b), arm_election(kHbTimeout)}));
  EXPECT_EQ(a.role(), ElectionRole::kFollower);
  EXPECT_EQ(a.leader(), 2u);
  EXPECT_TRUE(a.server_running());  // until it says it stopped
  // It does not campaign while its old server still runs, however often the timer fires...
  EXPECT_EQ(a.election_timer_fired(6, 0), (Actions{arm_election(kHbTimeout)}));
  // ...and when it is down, STOP names the term it was elected in. No resignation: it no longer
  // leads anything.
  b.seq += 1;
  b.stop = {1, 100, 7};
  EXPECT_EQ(a.server_stopped(7, 0), (Actions{write(b), arm_election(kHbTimeout)}));
  EXPECT_EQ(a.server_stopped(8, 0), Actions{});  // reported twice
  EXPECT_EQ(a.check(), "");
}

// ---- resignation ----

TEST(ElectionCore, ALeaderWhoseServerStopsResignsAndFollowersCampaignAtOnce) {
  ElectionCore a(config(3, 0)), b(config(3, 1));
  a.start({}, 0);
  b.start({}, 0);
  a.election_timer_fired(0, 0);
  b.receive(msg(T::kRequestVote, 1, 0), 0, 0);
  a.receive(msg(T::kVote, 1, 1), 1, 0);
  b.receive(msg(T::kHeartbeat, 1, 0), 2, 0);
  ASSERT_EQ(b.leader(), 0u);

  QuorumBlock stopped = a.block();
  stopped.seq += 1;
  stopped.stop = {1, 100, 50};
  EXPECT_EQ(a.server_stopped(50, 3),
            (Actions{write(stopped), broadcast(T::kResignation, 1, 0), arm_election(kElect + 3)}));
  EXPECT_EQ(a.role(), ElectionRole::kFollower);
  EXPECT_EQ(b.receive(msg(T::kResignation, 1, 0), 60, 0),
            (Actions{write(blk(1, 2, 2, 2, 1)), broadcast(T::kRequestVote, 2, 1), arm_election(kElect)}));
  EXPECT_EQ(b.role(), ElectionRole::kCandidate);
  EXPECT_EQ(a.check(), "");
  EXPECT_EQ(b.check(), "");
}

TEST(ElectionCore, AFollowerWhoseServerStillRunsDoesNotCampaignOnResignation) {
  ElectionCore a(config(3, 0));
  a.start({}, 0);
  a.election_timer_fired(0, 0);
  a.receive(msg(T::kVote, 1, 1), 1, 0);
  a.receive(msg(T::kRequestVote, 2, 1), 2, 0);  // deposed: server stopping, voted for 1 in 2
  EXPECT_TRUE(a.server_running());
  EXPECT_EQ(a.receive(msg(T::kResignation, 2, 1), 3, 0), Actions{});
  EXPECT_EQ(a.role(), ElectionRole::kFollower);
  EXPECT_EQ(a.check(), "");
}

// ---- one and two voters ----

TEST(ElectionCore, OneVoterElectsItselfAtOnce) {
  ElectionCore a(config(1, 0));
  EXPECT_EQ(a.votes_needed(), 1u);
  a.start({}, 0);
  QuorumBlock elected = blk(0, 2, 1, 1, 0);
  elected.elect = {1, 100, 9};
  // Two writes: the term and vote (the heartbeat goes nowhere, but depends on it), then ELECT.
  EXPECT_EQ(a.election_timer_fired(9, 0), (Actions{write(blk(0, 1, 1, 1, 0)), broadcast(T::kHeartbeat, 1, 0),
                                                   write(elected), start_server(1), arm_heartbeat()}));
  EXPECT_EQ(a.role(), ElectionRole::kLeader);
  EXPECT_EQ(a.check(), "");
}

TEST(ElectionCore, TwoVotersNeedOneVoteAndSplitIntoDifferentTerms) {
  ElectionCore a(config(2, 0)), b(config(2, 1));
  EXPECT_EQ(a.votes_needed(), 1u);
  a.start({}, 0);
  b.start({}, 0);
  // Partitioned, both campaign at once: each wins alone, but in a term of its own slot.
  const Actions wa = a.election_timer_fired(5, 0);
  const Actions wb = b.election_timer_fired(5, 0);
  EXPECT_EQ(a.role(), ElectionRole::kLeader);
  EXPECT_EQ(b.role(), ElectionRole::kLeader);
  EXPECT_EQ(a.term(), 2u);
  EXPECT_EQ(b.term(), 1u);
  EXPECT_EQ(wa.at(3), start_server(2));
  EXPECT_EQ(wb.at(3), start_server(1));
  // The partition heals: the earlier leader's heartbeat is stale for the later one...
  EXPECT_EQ(a.receive(msg(T::kHeartbeat, 1, 1), 6, 0), Actions{});
  // ...and the later one's deposes the earlier.
  const Actions deposed = b.receive(msg(T::kHeartbeat, 2, 0), 6, 0);
  ASSERT_FALSE(deposed.empty());
  EXPECT_EQ(deposed[0], stop_server(1));
  EXPECT_EQ(b.leader(), 0u);
  EXPECT_EQ(a.check(), "");
  EXPECT_EQ(b.check(), "");
}

// ---- restart ----

TEST(ElectionCore, RestartTakesTheGreatestTermOfAllBlocksAndPersistsIt) {
  // Slot 1 had voted for 0 in term 4; slot 2 since reached term 9.
  ElectionCore f(config(3, 1));
  const Actions out = f.start({blk(0, 3, 4, 4, 0), blk(1, 5, 4, 4, 0), blk(2, 8, 9, 9, 2)}, 0);
  EXPECT_EQ(out, (Actions{write(blk(1, 6, 9, 4, 0)), arm_election(kElect)}));
  EXPECT_EQ(f.term(), 9u);
  EXPECT_EQ(f.block().vote_term, 4u);  // its vote is remembered, not invented
  EXPECT_EQ(f.check(), "");
}

TEST(ElectionCore, RestartKeepsTheVoteOfItsTerm) {
  ElectionCore f(config(3, 1));
  f.start({}, 0);
  const Actions voted = f.receive(msg(T::kRequestVote, 3, 0), 0, 0);
  ASSERT_EQ(voted.at(0).kind, K::kWriteBlock);
  // The member restarts from what it wrote: in term 3 it still votes only for slot 0.
  ElectionCore again(config(3, 1));
  EXPECT_EQ(again.start({voted[0].block}, 0), (Actions{arm_election(kElect)}));
  EXPECT_EQ(again.term(), 3u);
  EXPECT_EQ(again.receive(msg(T::kRequestVote, 3, 2), 1, 0), Actions{});
  EXPECT_EQ(again.receive(msg(T::kRequestVote, 3, 0), 1, 0), (Actions{send(0, T::kVote, 3, 1), arm_election(kElect)}));
  // Its next campaign is above every term it has seen.
  const Actions campaign = again.election_timer_fired(2, 0);
  ASSERT_EQ(campaign.at(0).kind, K::kWriteBlock);
  EXPECT_EQ(campaign[0].block.term, 4u);
  EXPECT_EQ(campaign[0].block.seq, 2u);
}

TEST(ElectionCore, PersistedTermNeverDecreasesAcrossRestarts) {
  // A chain of restarts, each from the blocks the previous incarnations wrote, with messages of
  // every term in between: the term written is never lower than the one before.
  std::vector<QuorumBlock> disk = {blk(0, 1, 2), blk(2, 1, 5)};
  uint64_t last = 0;
  for (uint64_t round = 0; round < 6; ++round) {
    ElectionCore f(config(3, 1));
    for (const ElectionAction& a : f.start(disk, 0)) {
      if (a.kind != K::kWriteBlock) continue;
      EXPECT_GE(a.block.term, last);
      last = a.block.term;
      std::erase_if(disk, [](const QuorumBlock& b) { return b.slot == 1; });
      disk.push_back(a.block);
    }
    EXPECT_GE(f.term(), last);
    for (uint64_t t : {round, round + 4, round + 1, round + 7}) {
      for (const ElectionAction& a : f.receive(msg(T::kRequestVote, t, 0), 0, 0)) {
        if (a.kind != K::kWriteBlock) continue;
        EXPECT_GE(a.block.term, last);
        last = a.block.term;
        std::erase_if(disk, [](const QuorumBlock& b) { return b.slot == 1; });
        disk.push_back(a.block);
      }
    }
    EXPECT_EQ(f.check(), "");
  }
  EXPECT_EQ(last, 12u);
}

// ---- check() ----

TEST(ElectionCore, CheckReportsAHeartbeatOfItsOwnTermWhileLeading) {
  ElectionCore a(config(3, 0));
  a.start({}, 0);
  a.election_timer_fired(0, 0);
  a.receive(msg(T::kVote, 1, 1), 1, 0);
  EXPECT_EQ(a.check(), "");
  EXPECT_EQ(a.receive(msg(T::kHeartbeat, 1, 2), 2, 0), Actions{});
  EXPECT_NE(a.check(), "");
}

TEST(ElectionCore, ActionStringsNameTheirParts) {
  EXPECT_EQ(election_action_string(send(2, T::kVote, 3, 1)), "send vote term=3 from=1 to=2");
  EXPECT_EQ(election_action_string(start_server(4)), "start_server term=4");
  EXPECT_EQ(election_action_string(write(blk(1, 2, 3, 3, 0))),
            "write slot=1 seq=2 term=3 vote=3->0 elect=0 fence=0 stop=0");
}

// A member whose block write failed starts a new core with its own rid once its server is
// down: the ELECT it left has no STOP, and the core says so at once (nobody needs to fence a
// server known to be stopped). A new incarnation (another rid) leaves the ELECT for fencing.
TEST(ElectionCoreStart, ItsOwnElectWithoutStopGetsItsStopOnARestartWithTheSameRid) {
  QuorumBlock mine = blk(1, 4, 6, 6, 1);
  mine.elect = {6, 101, 50};
  {
    ElectionCore c(config(3, 1));  // rid 101: the same member
    const Actions a = c.start({mine}, 0);
    ASSERT_FALSE(a.empty());
    ASSERT_EQ(a[0].kind, K::kWriteBlock);
    EXPECT_EQ(a[0].block.stop.term, 6u);
    EXPECT_EQ(a[0].block.stop.rid, 101u);
    EXPECT_EQ(a[0].block.seq, 5u);
    EXPECT_EQ(c.check(), "");
  }
  {
    ElectionConfig other = config(3, 1);
    other.rid = 999;  // the node rebooted: that server may still be running somewhere
    ElectionCore c(other);
    const Actions a = c.start({mine}, 0);
    for (const ElectionAction& x : a) EXPECT_NE(x.kind, K::kWriteBlock) << election_action_string(x);
    EXPECT_TRUE(c.block().stop.empty());
  }
}

}  // namespace
}  // namespace simfs::fs
