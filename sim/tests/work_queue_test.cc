#include "sim/work_queue.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "sim/simulation.h"

namespace sim {
namespace {

using Outcome = Simulation::Outcome;

TEST(WorkQueue, RunsItemsInOrderOneAtATime) {
  Simulation s(3);
  WorkQueue wq(s.sched(), s.world(), "wq");
  std::vector<int> order;
  int running = 0, max_running = 0;
  for (int i = 0; i < 10; ++i) {
    wq.queue([&, i] {
      ++running;
      max_running = std::max(max_running, running);
      this_task::sleep(10 - i);  // later items are shorter: ordering must not depend on it
      order.push_back(i);
      --running;
    });
  }
  EXPECT_EQ(wq.pending(), 10u);
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);  // the idle worker is a daemon
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(max_running, 1);
  EXPECT_EQ(wq.pending(), 0u);
  EXPECT_EQ(s.now(), 55);  // 10 + 9 + ... + 1: strictly sequential
}

TEST(WorkQueue, FlushWaitsForEarlierItems) {
  Simulation s(3);
  WorkQueue wq(s.sched(), s.world(), "wq");
  int done = 0;
  Time flushed_at = -1;
  s.spawn("user", [&] {
    for (int i = 0; i < 3; ++i) wq.queue([&] { this_task::sleep(20); ++done; });
    wq.flush();
    EXPECT_EQ(done, 3);
    flushed_at = this_task::now();
    wq.flush();  // nothing pending: returns at once
    EXPECT_EQ(this_task::now(), flushed_at);
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(flushed_at, 60);
}

// flush waits only for items queued before it, not for ones queued while it waits.
TEST(WorkQueue, FlushDoesNotWaitForLaterItems) {
  Simulation s(3);
  WorkQueue wq(s.sched(), s.world(), "wq");
  Time flushed_at = -1;
  s.spawn("user", [&] {
    wq.queue([] { this_task::sleep(10); });
    wq.flush();
    flushed_at = this_task::now();
  });
  s.spawn("other", [&] {
    this_task::sleep(5);
    wq.queue([] { this_task::sleep(100); });
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(flushed_at, 10);
  EXPECT_EQ(s.now(), 110);
}

TEST(WorkQueue, ItemsQueuedFromItemsRunAfter) {
  Simulation s(3);
  WorkQueue wq(s.sched(), s.world(), "wq");
  std::vector<std::string> order;
  wq.queue([&] {
    order.push_back("a");
    wq.queue([&] { order.push_back("c"); });
  });
  wq.queue([&] { order.push_back("b"); });
  s.run(kTimeNever);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(WorkQueue, DestroyKillsWorker) {
  Simulation s(3);
  auto wq = std::make_unique<WorkQueue>(s.sched(), s.world(), "wq");
  s.run(kTimeNever);
  EXPECT_EQ(s.sched().task_count(), 1u);  // the idle worker
  wq.reset();
  EXPECT_EQ(s.sched().task_count(), 0u);
}

TEST(WorkQueue, NodeCrashKillsWorker) {
  Simulation s(3);
  Node& n = s.add_node("n");
  n.start();
  WorkQueue wq(s.sched(), n.group(), "wq");
  int done = 0;
  for (int i = 0; i < 5; ++i) wq.queue([&] { this_task::sleep(10); ++done; });
  s.spawn("crasher", [&] {
    this_task::sleep(25);
    n.crash();
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(done, 2);
  EXPECT_EQ(s.now(), 25);
}

RC_GTEST_PROP(WorkQueueProp, OrderAndFlushHold, (uint64_t seed)) {
  const auto durations = *rc::gen::container<std::vector<Duration>>(rc::gen::inRange<Duration>(0, 20));
  const size_t flush_after = *rc::gen::inRange<size_t>(0, durations.size() + 1);
  Simulation s(seed);
  WorkQueue wq(s.sched(), s.world(), "wq");
  std::vector<size_t> order;
  bool flush_early = false;
  s.spawn("user", [&] {
    for (size_t i = 0; i < durations.size(); ++i) {
      wq.queue([&, i] {
        this_task::sleep(durations[i]);
        order.push_back(i);
      });
      if (i + 1 == flush_after) {
        wq.flush();
        if (order.size() < flush_after) flush_early = true;
      }
    }
    wq.flush();
    if (order.size() != durations.size()) flush_early = true;
  });
  RC_ASSERT(s.run(kTimeNever).outcome == Outcome::kQuiescent);
  RC_ASSERT(!flush_early);
  RC_ASSERT(order.size() == durations.size());
  for (size_t i = 0; i < order.size(); ++i) RC_ASSERT(order[i] == i);
}

}  // namespace
}  // namespace sim
