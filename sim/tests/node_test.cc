#include "sim/node.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "sim/simulation.h"
#include "sim/sync.h"

namespace sim {
namespace {

using Outcome = Simulation::Outcome;

struct Recorder final : NodeResource {
  Recorder(std::vector<std::string>* l, std::string n) : log(l), name(std::move(n)) {}
  std::vector<std::string>* log;
  std::string name;
  int cuts = 0;
  void cut() override {
    ++cuts;
    log->push_back("cut:" + name);
  }
};

struct Raii {
  std::vector<std::string>* log;
  std::string name;
  ~Raii() { log->push_back("dtor:" + name); }
};

TEST(Node, StartRunsBootInANodeTask) {
  Simulation s(1);
  Node& n = s.add_node("alpha");
  EXPECT_EQ(n.id(), 0);
  EXPECT_EQ(n.name(), "alpha");
  EXPECT_FALSE(n.up());
  EXPECT_EQ(n.incarnation(), 0u);
  int boots = 0;
  std::string task_name;
  n.set_boot([&](Node& self) {
    EXPECT_EQ(&self, &n);
    ++boots;
    task_name = Scheduler::current()->name();
    EXPECT_EQ(Scheduler::current()->group(), n.group());
  });
  n.start();
  n.start();  // already up: no second boot
  EXPECT_TRUE(n.up());
  EXPECT_EQ(n.incarnation(), 1u);
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(boots, 1);
  EXPECT_EQ(task_name, "alpha.boot");
  EXPECT_EQ(s.add_node("beta").id(), 1);
  EXPECT_EQ(s.node_count(), 2);
  EXPECT_EQ(&s.node(0), &n);
}

// Crash order: every resource is cut (in registration order) before any task is unwound.
TEST(Node, CrashCutsResourcesBeforeTasksDie) {
  Simulation s(1);
  Node& n = s.add_node("n");
  n.start();
  std::vector<std::string> log;
  Recorder r1(&log, "disk"), r2(&log, "socket");
  n.add_resource(&r1);
  n.add_resource(&r2);
  for (int i = 0; i < 2; ++i) {
    n.spawn("worker" + std::to_string(i), [&log, i] {
      Raii guard{&log, "worker" + std::to_string(i)};
      this_task::sleep(kSecond);
      log.push_back("not reached");
    });
  }
  s.spawn("crasher", [&] {
    this_task::sleep(10);
    n.crash();
    log.push_back("crash returned");
    EXPECT_FALSE(n.up());
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(log, (std::vector<std::string>{"cut:disk", "cut:socket", "dtor:worker0", "dtor:worker1", "crash returned"}));
  EXPECT_EQ(s.now(), 10);  // the workers' sleeps were cancelled
  n.crash();               // already down: nothing happens
  EXPECT_EQ(r1.cuts, 1);
}

TEST(Node, RemovedResourceIsNotCut) {
  Simulation s(1);
  Node& n = s.add_node("n");
  n.start();
  std::vector<std::string> log;
  Recorder a(&log, "a"), b(&log, "b"), c(&log, "c");
  n.add_resource(&a);
  uint64_t idb = n.add_resource(&b);
  n.add_resource(&c);
  n.remove_resource(idb);
  n.crash();
  EXPECT_EQ(log, (std::vector<std::string>{"cut:a", "cut:c"}));
}

// A resource whose cut() removes another resource (closing a socket removes it): the walk
// must not touch the removed one.
TEST(Node, CutMayRemoveResources) {
  Simulation s(1);
  Node& n = s.add_node("n");
  n.start();
  std::vector<std::string> log;
  struct Remover final : NodeResource {
    Node* node;
    uint64_t victim = 0;
    std::vector<std::string>* log;
    void cut() override {
      log->push_back("cut:remover");
      node->remove_resource(victim);
    }
  } remover;
  Recorder victim(&log, "victim");
  remover.node = &n;
  remover.log = &log;
  n.add_resource(&remover);
  remover.victim = n.add_resource(&victim);
  n.crash();
  EXPECT_EQ(log, (std::vector<std::string>{"cut:remover"}));
}

// A node task that crashes its own node (a panic) is unwound too; nothing after crash() runs.
TEST(Node, CrashFromItsOwnTask) {
  Simulation s(1);
  Node& n = s.add_node("n");
  n.start();
  std::vector<std::string> log;
  Recorder r(&log, "res");
  n.add_resource(&r);
  n.spawn("panicker", [&] {
    Raii g{&log, "panicker"};
    this_task::sleep(5);
    n.crash();
    log.push_back("after crash");
  });
  n.spawn("bystander", [&] {
    Raii g{&log, "bystander"};
    this_task::sleep(kSecond);
  });
  Simulation::RunResult res = s.run(kTimeNever);
  EXPECT_EQ(res.outcome, Outcome::kQuiescent) << res.message;
  EXPECT_FALSE(n.up());
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0], "cut:res");
  EXPECT_EQ(s.sched().task_count(), 0u);
  EXPECT_EQ(std::count(log.begin(), log.end(), "after crash"), 0);
  EXPECT_EQ(s.now(), 5);
}

// Once a node task has crashed its node (a panic), no other task of that node runs, even one
// that was due at the same instant: the machine is halted.
TEST(Node, NothingRunsOnANodeAfterItsPanic) {
  int ran_after_panic = 0, ran_before_panic = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Simulation s(seed);
    Node& n = s.add_node("n");
    n.start();
    bool panicked = false;
    n.spawn("panicker", [&] {
      this_task::sleep(5);
      panicked = true;
      n.crash();
    });
    for (int i = 0; i < 3; ++i) {
      n.spawn("peer", [&] {
        this_task::sleep(5);  // due at the same instant as the panic
        (panicked ? ran_after_panic : ran_before_panic)++;
      });
    }
    EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
    EXPECT_FALSE(n.up());
  }
  EXPECT_EQ(ran_after_panic, 0);
  EXPECT_GT(ran_before_panic, 0);  // the ordering at the instant is still explored
}

TEST(Node, CrashDoesNotTouchOtherNodesOrWorld) {
  Simulation s(1);
  Node& a = s.add_node("a");
  Node& b = s.add_node("b");
  a.start();
  b.start();
  bool b_done = false, world_done = false;
  a.spawn("a-task", [] { this_task::sleep(kSecond); });
  b.spawn("b-task", [&] {
    this_task::sleep(20);
    b_done = true;
  });
  s.spawn("world", [&] {
    this_task::sleep(10);
    a.crash();
    this_task::sleep(20);
    world_done = true;
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_TRUE(b_done);
  EXPECT_TRUE(world_done);
  EXPECT_FALSE(a.up());
  EXPECT_TRUE(b.up());
}

TEST(Node, RestartRunsBootAgainAndBumpsIncarnation) {
  Simulation s(1);
  Node& n = s.add_node("n");
  std::vector<uint64_t> boots;
  n.set_boot([&](Node& self) {
    boots.push_back(self.incarnation());
    self.spawn("service", [] { this_task::sleep(kSecond); });
  });
  n.start();
  s.spawn("chaos", [&] {
    this_task::sleep(10);
    n.crash();
    EXPECT_EQ(n.incarnation(), 1u);
    n.restart();
    EXPECT_TRUE(n.up());
    EXPECT_EQ(n.incarnation(), 2u);
    n.restart();  // up: no-op
    this_task::sleep(10);
    n.crash();
    this_task::sleep(10);
    n.restart();
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(boots, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(n.incarnation(), 3u);
  EXPECT_EQ(s.now(), 30 + kSecond);  // only the last incarnation's service ran to completion
}

TEST(Node, DaemonBootBlockedIsNotADeadlock) {
  Simulation s(1);
  WaitQueue q;
  Node& d = s.add_node("daemon");
  d.set_boot([&](Node&) { q.wait("serve"); }, /*daemon=*/true);
  d.start();
  Node& n = s.add_node("plain");
  n.set_boot([&](Node&) { q.wait("serve"); });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  n.start();
  Simulation::RunResult r = s.run(kTimeNever);
  EXPECT_EQ(r.outcome, Outcome::kDeadlock);
  EXPECT_NE(r.message.find("plain.boot"), std::string::npos) << r.message;
  EXPECT_EQ(r.message.find("daemon.boot"), std::string::npos) << r.message;
}

TEST(Node, PauseDefersWakeupsUntilResume) {
  Simulation s(1);
  Node& n = s.add_node("n");
  n.start();
  std::vector<Time> node_wakes, world_wakes;
  n.spawn("ticker", [&] {
    for (int i = 0; i < 3; ++i) {
      this_task::sleep(10);
      node_wakes.push_back(this_task::now());
    }
  });
  s.spawn("world-ticker", [&] {
    for (int i = 0; i < 3; ++i) {
      this_task::sleep(10);
      world_wakes.push_back(this_task::now());
    }
  });
  s.spawn("pauser", [&] {
    this_task::sleep(15);
    n.pause();
    EXPECT_TRUE(n.paused());
    this_task::sleep(35);  // resume at 50
    n.resume();
    EXPECT_FALSE(n.paused());
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  // The wake due at 20 is held until the resume at 50; the next sleep starts from there.
  EXPECT_EQ(node_wakes, (std::vector<Time>{10, 50, 60}));
  EXPECT_EQ(world_wakes, (std::vector<Time>{10, 20, 30}));  // the world is not paused
}

TEST(Node, TaskSpawnedOnPausedNodeStartsAtResume) {
  Simulation s(1);
  Node& n = s.add_node("n");
  n.start();
  Time started = -1;
  s.spawn("w", [&] {
    n.pause();
    n.spawn("late", [&] { started = this_task::now(); });
    this_task::sleep(40);
    EXPECT_EQ(started, -1);
    n.resume();
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(started, 40);
}

TEST(Node, NotifyWhilePausedIsDeferred) {
  Simulation s(1);
  Node& n = s.add_node("n");
  n.start();
  WaitQueue q;
  Time woke = -1;
  n.spawn("waiter", [&] {
    q.wait("q");
    woke = this_task::now();
  });
  s.spawn("w", [&] {
    this_task::sleep(5);
    n.pause();
    q.notify_one();
    this_task::sleep(20);
    EXPECT_EQ(woke, -1);
    n.resume();
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(woke, 25);
}

TEST(Node, CrashWhilePausedKillsDeferredTasks) {
  Simulation s(1);
  Node& n = s.add_node("n");
  int boots = 0;
  bool ran_after_pause = false;
  n.set_boot([&](Node& self) {
    ++boots;
    if (boots == 1) {
      self.spawn("t", [&] {
        this_task::sleep(10);
        ran_after_pause = true;
      });
    }
  });
  n.start();
  s.spawn("w", [&] {
    this_task::sleep(5);
    n.pause();
    this_task::sleep(10);  // t's wake at 10 is deferred
    n.crash();
    EXPECT_FALSE(n.paused());
    n.resume();  // not paused: no-op
    n.restart();
    EXPECT_FALSE(n.paused());
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_FALSE(ran_after_pause);
  EXPECT_EQ(boots, 2);
  EXPECT_EQ(s.sched().task_count(), 0u);
}

TEST(Node, PauseWhileDownIsIgnored) {
  Simulation s(1);
  Node& n = s.add_node("n");
  n.pause();
  EXPECT_FALSE(n.paused());
}

TEST(Node, LocalTimeOffsetJumpDrift) {
  Simulation s(1);
  Node& n = s.add_node("n");
  std::vector<Time> seen;
  s.spawn("w", [&] {
    seen.push_back(n.local_time());  // 0
    n.set_clock_offset(500);
    seen.push_back(n.local_time());  // 500
    this_task::sleep(kSecond);
    seen.push_back(n.local_time());  // 1s + 500
    n.jump_clock(-200);
    seen.push_back(n.local_time());  // 1s + 300
    n.set_clock_drift_ppm(100);      // 100 ppm of 1s = 100us
    seen.push_back(n.local_time());
    this_task::sleep(kSecond);
    seen.push_back(n.local_time());  // 2s + 300 + 200us
    n.set_clock_drift_ppm(-250);
    seen.push_back(n.local_time());  // 2s + 300 - 500us
  });
  s.run(kTimeNever);
  EXPECT_EQ(seen, (std::vector<Time>{0, 500, kSecond + 500, kSecond + 300, kSecond + 300 + 100 * kMicrosecond,
                                      2 * kSecond + 300 + 200 * kMicrosecond, 2 * kSecond + 300 - 500 * kMicrosecond}));
}

TEST(Node, LocalTimeMonotonicAcrossMillisecondUnderNegativeDrift) {
  Simulation s(1);
  Node& n = s.add_node("n");
  n.set_clock_drift_ppm(-100);
  std::vector<Time> seen;
  s.spawn("w", [&] {
    this_task::sleep(kMillisecond - 1);
    seen.push_back(n.local_time());
    this_task::sleep(1);
    seen.push_back(n.local_time());
  });
  s.run(kTimeNever);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_LE(seen[0], seen[1]);
  EXPECT_EQ(seen[1], kMillisecond - 100);  // 1ms at -100 ppm
}

// "Monotonic unless jumped": with any fixed offset and drift, local time never goes back as
// virtual time advances, even by a single nanosecond.
RC_GTEST_PROP(NodeProp, LocalTimeIsMonotonicUnderDrift, ()) {
  const int64_t ppm = *rc::gen::inRange<int64_t>(-100000, 100001);
  const Duration offset = *rc::gen::inRange<Duration>(-kSecond, kSecond);
  const auto steps = *rc::gen::container<std::vector<Duration>>(rc::gen::oneOf(
      rc::gen::inRange<Duration>(1, 3), rc::gen::inRange<Duration>(1, 3 * kMillisecond)));
  const Duration start = *rc::gen::inRange<Duration>(0, 5 * kMillisecond);
  Simulation s(1);
  Node& n = s.add_node("n");
  bool went_back = false;
  Time first = 0, last = 0;
  s.spawn("w", [&] {
    n.set_clock_offset(offset);
    n.set_clock_drift_ppm(ppm);
    this_task::sleep(start);
    first = last = n.local_time();
    for (Duration d : steps) {
      this_task::sleep(d);
      Time t = n.local_time();
      if (t < last) went_back = true;
      last = t;
    }
  });
  s.run(kTimeNever);
  RC_ASSERT(!went_back);
  // And the drift is right to within a nanosecond or so over the whole span.
  const Duration span = s.now() - start;
  const __int128 expected = static_cast<__int128>(span) * (1000000 + ppm) / 1000000;
  const __int128 diff = static_cast<__int128>(last - first) - expected;
  RC_ASSERT(diff >= -2);
  RC_ASSERT(diff <= 2);
}

TEST(Node, FaultsAreTraced) {
  Simulation s(1);
  std::ostringstream out;
  s.trace().set_sink(&out);
  Node& n = s.add_node("n");
  n.start();
  s.spawn("w", [&] {
    n.pause();
    n.resume();
    n.crash();
    n.restart();
    n.jump_clock(5);
  });
  s.run(kTimeNever);
  s.trace().flush();
  const std::string t = out.str();
  for (const char* kind : {"\"pause\"", "\"resume\"", "\"crash\"", "\"restart\"", "\"clock_jump\""}) {
    EXPECT_NE(t.find(kind), std::string::npos) << kind;
  }
  EXPECT_NE(t.find("\"fault\":true"), std::string::npos);
}

}  // namespace
}  // namespace sim
