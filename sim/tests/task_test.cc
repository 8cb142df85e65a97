#include "sim/task.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/simulation.h"
#include "sim/tests/test_util.h"

namespace sim {
namespace {

using Outcome = Simulation::Outcome;

// Appends to a log when destroyed: proves a killed task's stack was unwound.
struct Raii {
  std::vector<std::string>* log;
  std::string name;
  ~Raii() { log->push_back(name); }
};

TEST(Task, SpawnRunsBodyAtCurrentInstant) {
  Simulation s(1);
  Time started = -1;
  s.spawn("late", [&] {
    this_task::sleep(50);
    s.spawn("child", [&] { started = this_task::now(); });
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(started, 50);
  EXPECT_EQ(s.sched().task_count(), 0u);
}

TEST(Task, CurrentIsTheRunningTask) {
  Simulation s(1);
  EXPECT_EQ(Scheduler::current(), nullptr);
  TaskId id = 0;
  std::string seen;
  id = s.spawn("me", [&] {
    ASSERT_NE(Scheduler::current(), nullptr);
    EXPECT_EQ(Scheduler::current()->id(), id);
    EXPECT_EQ(Scheduler::current()->state(), Task::State::kRunning);
    EXPECT_EQ(Scheduler::current_scheduler(), &s.sched());
    seen = Scheduler::current()->name();
  });
  s.run(kTimeNever);
  EXPECT_EQ(seen, "me");
  EXPECT_EQ(Scheduler::current(), nullptr);
}

TEST(Task, SleepAdvancesVirtualTimeExactly) {
  Simulation s(1);
  std::vector<Time> times;
  s.spawn("sleeper", [&] {
    times.push_back(this_task::now());
    this_task::sleep(123);
    times.push_back(this_task::now());
    this_task::sleep(0);
    times.push_back(this_task::now());
    this_task::sleep(-5);  // negative is "no time"
    times.push_back(this_task::now());
    this_task::sleep(7 * kSecond);
    times.push_back(this_task::now());
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(times, (std::vector<Time>{0, 123, 123, 123, 123 + 7 * kSecond}));
  EXPECT_EQ(s.now(), 123 + 7 * kSecond);
}

// Durations saturate (like EventLoop::schedule_after): sleeping "forever" after time zero must
// not overflow into the past and wake at once.
TEST(Task, HugeSleepSaturatesInsteadOfWrapping) {
  Simulation s(1);
  bool woke_forever = false;
  Time woke_long = -1;
  s.spawn("forever", [&] {
    this_task::sleep(10);
    this_task::sleep(kTimeNever);
    woke_forever = true;
  });
  s.spawn("long", [&] {
    this_task::sleep(10);
    this_task::sleep(kTimeNever - 5);
    woke_long = this_task::now();
  });
  // Both sleep past the end of time: blocked for good (reported as such), never woken early.
  Simulation::RunResult r = s.run(kSecond);
  EXPECT_NE(r.outcome, Outcome::kQuiescent);
  EXPECT_FALSE(woke_forever);
  EXPECT_EQ(woke_long, -1);
}

TEST(Task, JoinWaitsForCompletion) {
  Simulation s(1);
  bool child_done = false;
  Time joined_at = -1;
  s.spawn("parent", [&] {
    TaskId c = s.spawn("child", [&] {
      this_task::sleep(100);
      child_done = true;
    });
    s.sched().join(c);
    EXPECT_TRUE(child_done);
    joined_at = this_task::now();
    s.sched().join(c);  // already finished: returns at once
    EXPECT_EQ(this_task::now(), joined_at);
    s.sched().join(987654);  // unknown id: returns at once
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(joined_at, 100);
}

TEST(Task, SeveralJoinersAllWake) {
  Simulation s(1);
  int woke = 0;
  TaskId c = s.spawn("child", [&] { this_task::sleep(10); });
  for (int i = 0; i < 4; ++i) {
    s.spawn("joiner", [&, c] {
      s.sched().join(c);
      EXPECT_EQ(this_task::now(), 10);
      ++woke;
    });
  }
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(woke, 4);
}

TEST(Task, ParkAndWake) {
  Simulation s(1);
  Task* parked = nullptr;
  bool result = false;
  Time resumed_at = -1;
  s.spawn("sleeper", [&] {
    parked = Scheduler::current();
    result = s.sched().park("custom", 7);
    resumed_at = this_task::now();
  });
  s.spawn("waker", [&] {
    this_task::sleep(30);
    ASSERT_NE(parked, nullptr);
    EXPECT_EQ(parked->state(), Task::State::kParked);
    EXPECT_STREQ(parked->wait_reason(), "custom");
    EXPECT_EQ(parked->wait_object(), 7u);
    s.sched().wake(parked);
    EXPECT_EQ(parked->state(), Task::State::kReady);
    s.sched().wake(parked);  // not parked any more: no-op
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_TRUE(result);
  EXPECT_EQ(resumed_at, 30);
}

TEST(Task, ParkWithDeadlineTimesOut) {
  Simulation s(1);
  bool result = true;
  s.spawn("t", [&] { result = s.sched().park("x", 0, 250); });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_FALSE(result);
  EXPECT_EQ(s.now(), 250);
}

TEST(WaitQueue, WaitUntilTimesOutAtTheDeadline) {
  Simulation s(1);
  WaitQueue q;
  bool woken = true;
  Time at = -1;
  s.spawn("w", [&] {
    woken = q.wait_until("thing", 500);
    at = this_task::now();
    EXPECT_TRUE(q.empty());  // a timed-out waiter unlinks itself
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_FALSE(woken);
  EXPECT_EQ(at, 500);
}

// A notified waiter's timeout is cancelled: the run ends at the notify, not at the deadline.
TEST(WaitQueue, NotifyBeforeDeadlineCancelsTimeout) {
  Simulation s(1);
  WaitQueue q;
  bool woken = false;
  s.spawn("w", [&] { woken = q.wait_until("thing", 1000); });
  s.spawn("n", [&] {
    this_task::sleep(100);
    EXPECT_FALSE(q.empty());
    EXPECT_TRUE(q.notify_one());
    EXPECT_FALSE(q.notify_one());  // nobody left
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_TRUE(woken);
  EXPECT_EQ(s.now(), 100);
}

TEST(WaitQueue, NotifyOneIsFifo) {
  Simulation s(3);
  WaitQueue q;
  std::vector<int> order;
  for (int i = 0; i < 4; ++i) {
    s.spawn("w", [&, i] {
      this_task::sleep(i);  // queue in a known order
      q.wait("q");
      order.push_back(i);
    });
  }
  s.spawn("n", [&] {
    this_task::sleep(10);
    for (int i = 0; i < 4; ++i) {
      q.notify_one();
      this_task::sleep(1);  // let exactly one waiter run
    }
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(WaitQueue, NotifyAllWakesEveryone) {
  Simulation s(3);
  WaitQueue q;
  int woke = 0;
  for (int i = 0; i < 5; ++i) s.spawn("w", [&] { q.wait("q"); ++woke; });
  s.spawn("n", [&] {
    this_task::sleep(1);
    EXPECT_EQ(q.notify_all(), 5u);
    EXPECT_EQ(q.notify_all(), 0u);
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(woke, 5);
}

TEST(Task, YieldLetsOthersRun) {
  // With value 0 at every tie (FIFO), a yield puts the task behind the ones already ready.
  TapeStrategy fifo({});
  Simulation s(1, &fifo);
  std::vector<std::string> order;
  s.spawn("a", [&] {
    order.push_back("a1");
    this_task::yield();
    order.push_back("a2");
  });
  s.spawn("b", [&] { order.push_back("b"); });
  s.run(kTimeNever);
  EXPECT_EQ(order, (std::vector<std::string>{"a1", "b", "a2"}));
  EXPECT_EQ(s.now(), 0);
}

TEST(Task, KillParkedTaskRunsDestructorsAndRemovesIt) {
  Simulation s(1);
  WaitQueue q;
  std::vector<std::string> log;
  bool after_wait = false;
  TaskId victim = s.spawn("victim", [&] {
    Raii r{&log, "victim-raii"};
    q.wait("forever");
    after_wait = true;
  });
  s.spawn("killer", [&] {
    this_task::sleep(10);
    ASSERT_NE(s.sched().find(victim), nullptr);
    EXPECT_EQ(s.sched().find(victim)->state(), Task::State::kParked);
    s.sched().kill(victim);
    log.push_back("after-kill");
    EXPECT_EQ(s.sched().find(victim), nullptr);
    EXPECT_TRUE(q.empty());
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_FALSE(after_wait);
  EXPECT_EQ(log, (std::vector<std::string>{"victim-raii", "after-kill"}));
  EXPECT_EQ(s.sched().task_count(), 0u);
}

TEST(Task, KillFromOutsideTheLoop) {
  Simulation s(1);
  std::vector<std::string> log;
  TaskId victim = s.spawn("victim", [&] {
    Raii r{&log, "outer"};
    {
      Raii inner{&log, "inner"};
      this_task::sleep(kSecond);
    }
    log.push_back("not reached");
  });
  EXPECT_EQ(s.run(100).outcome, Outcome::kTimeLimit);
  EXPECT_EQ(s.sched().task_count(), 1u);
  s.sched().kill(victim);
  EXPECT_EQ(log, (std::vector<std::string>{"inner", "outer"}));  // innermost first
  EXPECT_EQ(s.sched().task_count(), 0u);
  EXPECT_TRUE(s.sched().fatal_error().empty());
  // Its pending sleep timer is gone: nothing left to run.
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(s.now(), 100);
}

TEST(Task, KillTaskThatNeverStarted) {
  Simulation s(1);
  bool ran = false;
  TaskId t = s.spawn("never", [&] { ran = true; });
  s.sched().kill(t);
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_FALSE(ran);
  s.sched().kill(t);  // already gone: no-op
}

TEST(Task, KillWakesJoiners) {
  Simulation s(1);
  bool joined = false;
  TaskId victim = s.spawn("victim", [&] { this_task::sleep(kSecond); });
  s.spawn("joiner", [&] {
    s.sched().join(victim);
    joined = true;
    EXPECT_EQ(this_task::now(), 5);
  });
  s.spawn("killer", [&] {
    this_task::sleep(5);
    s.sched().kill(victim);
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_TRUE(joined);
}

TEST(Task, KillSelfIsAHarnessError) {
  Simulation s(1);
  s.spawn("suicidal", [&] { s.sched().kill(Scheduler::current()->id()); });
  Simulation::RunResult r = s.run(kTimeNever);
  EXPECT_EQ(r.outcome, Outcome::kHarnessError);
  EXPECT_NE(r.message.find("suicidal"), std::string::npos);
}

struct BlocksInDestructor {
  ~BlocksInDestructor() { this_task::sleep(5); }
};

TEST(Task, BlockingWhileBeingKilledIsFatal) {
  Simulation s(1);
  TaskId victim = s.spawn("stubborn", [&] {
    BlocksInDestructor b;
    this_task::sleep(kSecond);
  });
  s.spawn("killer", [&] {
    this_task::sleep(10);
    s.sched().kill(victim);
  });
  Simulation::RunResult r = s.run(kTimeNever);
  EXPECT_EQ(r.outcome, Outcome::kHarnessError);
  EXPECT_FALSE(s.sched().fatal_error().empty());
  EXPECT_NE(s.sched().fatal_error().find("stubborn"), std::string::npos);
  EXPECT_NE(s.sched().fatal_error().find("while being killed"), std::string::npos);
  EXPECT_EQ(s.sched().find(victim), nullptr);  // removed anyway
  EXPECT_EQ(r.message, s.sched().fatal_error());
}

TEST(Task, BlockingWhileKilledFromOutsideIsFatal) {
  Simulation s(1);
  TaskId victim = s.spawn("stubborn", [&] {
    BlocksInDestructor b;
    this_task::sleep(kSecond);
  });
  s.run(10);
  EXPECT_TRUE(s.sched().fatal_error().empty());
  s.sched().kill(victim);
  EXPECT_NE(s.sched().fatal_error().find("stubborn"), std::string::npos);
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kHarnessError);
}

TEST(Task, DeadlockIsDetectedAndNamesBothTasks) {
  Simulation s(1);
  WaitQueue q1, q2;
  s.spawn("alpha", [&] { q1.wait("first-queue"); });
  s.spawn("beta", [&] { q2.wait("second-queue"); });
  Simulation::RunResult r = s.run(kTimeNever);
  EXPECT_EQ(r.outcome, Outcome::kDeadlock);
  EXPECT_NE(r.message.find("alpha"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("beta"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("first-queue"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("second-queue"), std::string::npos) << r.message;
  EXPECT_EQ(s.sched().blocked_tasks().size(), 2u);
  EXPECT_EQ(s.sched().blocked_report(), r.message);
  ASSERT_EQ(s.violations().size(), 1u);
  EXPECT_EQ(s.violations()[0].invariant, "sim.deadlock");
}

TEST(Task, BlockedReportNamesNodeAndObject) {
  Simulation s(1);
  Node& n = s.add_node("n0");
  n.start();
  WaitQueue q;
  n.spawn("worker", [&] { q.wait("recv", 5); });
  Simulation::RunResult r = s.run(kTimeNever);
  EXPECT_EQ(r.outcome, Outcome::kDeadlock);
  EXPECT_EQ(r.message, "task 'worker' on node 0 waits on recv #5");
}

TEST(Task, DaemonBlockedIsNotADeadlock) {
  Simulation s(1);
  WaitQueue q;
  s.spawn("daemon", [&] { q.wait("idle"); }, /*daemon=*/true);
  s.spawn("worker", [&] { this_task::sleep(10); });
  Simulation::RunResult r = s.run(kTimeNever);
  EXPECT_EQ(r.outcome, Outcome::kQuiescent);
  EXPECT_TRUE(s.sched().blocked_tasks().empty());
  EXPECT_TRUE(s.violations().empty());
}

// A task with a pending timeout will wake: not a deadlock even if the loop stops before it.
TEST(Task, TimedWaitIsNotBlocked) {
  Simulation s(1);
  WaitQueue q;
  s.spawn("timed", [&] { q.wait_until("q", 5 * kSecond); });
  EXPECT_EQ(s.run(kSecond).outcome, Outcome::kTimeLimit);
  EXPECT_TRUE(s.sched().blocked_tasks().empty());
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(s.now(), 5 * kSecond);
}

TEST(Task, ThrowingTaskIsAHarnessError) {
  Simulation s(1);
  bool other_ran_later = false;
  s.spawn("thrower", [&] {
    this_task::sleep(5);
    throw std::runtime_error("boom");
  });
  s.spawn("other", [&] {
    this_task::sleep(kSecond);
    other_ran_later = true;
  });
  Simulation::RunResult r = s.run(kTimeNever);
  EXPECT_EQ(r.outcome, Outcome::kHarnessError);
  EXPECT_NE(r.message.find("thrower"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("boom"), std::string::npos) << r.message;
  EXPECT_FALSE(other_ran_later);  // the run stopped at the throw
  EXPECT_EQ(s.now(), 5);
}

TEST(Task, ThrowingNonStandardIsAHarnessError) {
  Simulation s(1);
  s.spawn("odd", [] { throw 42; });
  Simulation::RunResult r = s.run(kTimeNever);
  EXPECT_EQ(r.outcome, Outcome::kHarnessError);
  EXPECT_NE(r.message.find("odd"), std::string::npos);
}

TEST(Task, ShutdownUnwindsEveryTask) {
  std::vector<std::string> log;
  {
    Simulation s(1);
    Node& n = s.add_node("n");
    n.start();
    WaitQueue q;
    s.spawn("world", [&] {
      Raii r{&log, "world"};
      q.wait("q");
    });
    n.spawn("node", [&] {
      Raii r{&log, "node"};
      this_task::sleep(kSecond);
    });
    s.run(10);
    s.shutdown();
    EXPECT_EQ(s.sched().task_count(), 0u);
    EXPECT_EQ(log.size(), 2u);
  }
  EXPECT_EQ(log.size(), 2u);
}

TEST(Task, DestroyingSimulationUnwindsTasks) {
  std::vector<std::string> log;
  {
    Simulation s(1);
    s.spawn("t", [&] {
      Raii r{&log, "t"};
      this_task::sleep(kSecond);
    });
    s.run(10);
  }
  EXPECT_EQ(log, (std::vector<std::string>{"t"}));
}

// The interleaving of tasks at the same instant is a scheduler decision: same seed, same
// interleaving; over a few seeds, more than one interleaving.
std::string interleaving(uint64_t seed) {
  Simulation s(seed);
  std::string order;
  for (char c = 'a'; c <= 'd'; ++c) {
    s.spawn(std::string(1, c), [&order, c] {
      for (int i = 0; i < 3; ++i) {
        order.push_back(c);
        this_task::yield();
      }
    });
  }
  s.run(kTimeNever);
  return order;
}

TEST(Task, InterleavingIsDeterministicPerSeed) {
  EXPECT_EQ(interleaving(5), interleaving(5));
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 10; ++seed) seen.insert(interleaving(seed));
  EXPECT_GT(seen.size(), 1u);
  for (const std::string& o : seen) EXPECT_EQ(o.size(), 12u);
}

RC_GTEST_PROP(TaskProp, SleepsWakeExactlyOnTime, (uint64_t seed)) {
  const auto plans = *rc::gen::container<std::vector<std::vector<Duration>>>(
      *rc::gen::inRange<size_t>(1, 8),
      rc::gen::container<std::vector<Duration>>(rc::gen::inRange<Duration>(0, 1000)));
  Simulation s(seed);
  std::vector<int> finished(plans.size(), 0);
  bool late = false;
  for (size_t i = 0; i < plans.size(); ++i) {
    s.spawn("t", [&, i] {
      Time expect = 0;
      for (Duration d : plans[i]) {
        this_task::sleep(d);
        expect += d;
        if (this_task::now() != expect) late = true;
      }
      ++finished[i];
    });
  }
  RC_ASSERT(s.run(kTimeNever).outcome == Outcome::kQuiescent);
  RC_ASSERT(!late);
  Time longest = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    RC_ASSERT(finished[i] == 1);
    Time total = 0;
    for (Duration d : plans[i]) total += d;
    longest = std::max(longest, total);
  }
  RC_ASSERT(s.now() == longest);
  RC_ASSERT(s.sched().task_count() == 0u);
}

}  // namespace
}  // namespace sim
