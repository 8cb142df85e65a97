#include "sim/sync.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "sim/simulation.h"

namespace sim {
namespace {

using Outcome = Simulation::Outcome;

// ---- Mutex ----

TEST(Mutex, MutualExclusion) {
  for (uint64_t seed = 0; seed < 5; ++seed) {
    Simulation s(seed);
    Mutex m;
    int inside = 0, max_inside = 0, total = 0;
    for (int t = 0; t < 5; ++t) {
      s.spawn("worker", [&, t] {
        for (int i = 0; i < 20; ++i) {
          LockGuard g(m);
          EXPECT_TRUE(m.locked());
          ++inside;
          max_inside = std::max(max_inside, inside);
          if ((i + t) % 3 == 0) this_task::sleep(1 + (i % 4));  // block while holding the lock
          else this_task::yield();
          --inside;
          ++total;
        }
      });
    }
    EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
    EXPECT_EQ(max_inside, 1) << "seed " << seed;
    EXPECT_EQ(total, 100);
    EXPECT_FALSE(m.locked());
  }
}

// unlock() hands the mutex to the oldest waiter: the unlocking task cannot barge back in.
TEST(Mutex, FifoHandOff) {
  Simulation s(9);
  Mutex m;
  std::vector<std::string> order;
  s.spawn("a", [&] {
    m.lock();
    this_task::sleep(10);
    m.unlock();
    m.lock();  // must queue behind b, c, d
    order.push_back("a");
    m.unlock();
  });
  const char* names[] = {"b", "c", "d"};
  for (int i = 0; i < 3; ++i) {
    s.spawn(names[i], [&, i] {
      this_task::sleep(1 + i);  // arrive in order b, c, d
      m.lock();
      order.push_back(names[i]);
      this_task::yield();
      m.unlock();
    });
  }
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(order, (std::vector<std::string>{"b", "c", "d", "a"}));
  EXPECT_FALSE(m.locked());
}

TEST(Mutex, TryLock) {
  Simulation s(1);
  Mutex m;
  s.spawn("a", [&] {
    EXPECT_TRUE(m.try_lock());
    EXPECT_FALSE(m.try_lock());
    this_task::sleep(10);
    m.unlock();
  });
  s.spawn("b", [&] {
    this_task::sleep(5);
    EXPECT_FALSE(m.try_lock());
    this_task::sleep(10);
    EXPECT_TRUE(m.try_lock());
    m.unlock();
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_FALSE(m.locked());
}

TEST(Mutex, WaiterIsReportedInDeadlock) {
  Simulation s(1);
  Mutex m;
  s.spawn("holder", [&] { m.lock(); });  // exits holding it
  s.spawn("waiter", [&] {
    this_task::sleep(1);
    m.lock();
  });
  Simulation::RunResult r = s.run(kTimeNever);
  EXPECT_EQ(r.outcome, Outcome::kDeadlock);
  EXPECT_NE(r.message.find("'waiter'"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("mutex"), std::string::npos) << r.message;
}

// A waiter that was handed the mutex but killed before it ran must not take the mutex with it.
TEST(Mutex, KilledWaiterDoesNotKeepAHandedOffMutex) {
  Simulation s(1);
  Mutex m;
  bool third_got_it = false;
  TaskId waiter = 0;
  s.spawn("holder", [&] {
    m.lock();
    this_task::sleep(10);
    m.unlock();               // hands ownership to "waiter"...
    s.sched().kill(waiter);   // ...which dies before it runs
  });
  waiter = s.spawn("waiter", [&] {
    this_task::sleep(1);
    LockGuard g(m);
    ADD_FAILURE() << "killed waiter ran";
  });
  s.spawn("third", [&] {
    this_task::sleep(20);
    LockGuard g(m);
    third_got_it = true;
  });
  Simulation::RunResult r = s.run(kTimeNever);
  EXPECT_EQ(r.outcome, Outcome::kQuiescent) << r.message;
  EXPECT_TRUE(third_got_it);
  EXPECT_FALSE(m.locked());
}

// A task killed while waiting on a condition (under a LockGuard) does not hold the mutex;
// its unwinding must not release the mutex that another task holds.
TEST(CondVar, KilledWaiterDoesNotReleaseAnotherTasksMutex) {
  Simulation s(1);
  Mutex m;
  CondVar cv;
  int inside = 0, max_inside = 0;
  TaskId waiter = s.spawn("waiter", [&] {
    LockGuard g(m);
    cv.wait(m);
  });
  auto critical = [&] {
    LockGuard g(m);
    ++inside;
    max_inside = std::max(max_inside, inside);
    this_task::sleep(10);
    --inside;
  };
  s.spawn("holder", [&] {
    this_task::sleep(1);
    critical();
  });
  s.spawn("killer", [&] {
    this_task::sleep(2);  // "holder" is inside its critical section
    s.sched().kill(waiter);
  });
  s.spawn("other", [&] {
    this_task::sleep(3);
    critical();
  });
  Simulation::RunResult r = s.run(kTimeNever);
  EXPECT_EQ(r.outcome, Outcome::kQuiescent) << r.message;
  EXPECT_EQ(max_inside, 1);
  EXPECT_FALSE(m.locked());
}

// ---- CondVar ----

TEST(CondVar, ProducerConsumer) {
  Simulation s(4);
  Mutex m;
  CondVar cv;
  std::vector<int> queue, consumed;
  bool done = false;
  s.spawn("consumer", [&] {
    LockGuard g(m);
    for (;;) {
      while (queue.empty() && !done) cv.wait(m);
      EXPECT_TRUE(m.locked());
      if (queue.empty()) break;
      consumed.push_back(queue.front());
      queue.erase(queue.begin());
    }
  });
  s.spawn("producer", [&] {
    for (int i = 0; i < 10; ++i) {
      this_task::sleep(3);
      LockGuard g(m);
      queue.push_back(i);
      cv.notify_one();
    }
    LockGuard g(m);
    done = true;
    cv.notify_all();
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(consumed, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(CondVar, WaitUntilTimesOutHoldingTheMutex) {
  Simulation s(1);
  Mutex m;
  CondVar cv;
  bool woken = true;
  s.spawn("w", [&] {
    LockGuard g(m);
    woken = cv.wait_until(m, 40);
    EXPECT_EQ(this_task::now(), 40);
    EXPECT_TRUE(m.locked());
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_FALSE(woken);
  EXPECT_FALSE(m.locked());
}

TEST(CondVar, WaitUntilNotified) {
  Simulation s(1);
  Mutex m;
  CondVar cv;
  bool woken = false;
  s.spawn("w", [&] {
    LockGuard g(m);
    woken = cv.wait_until(m, 1000);
    EXPECT_EQ(this_task::now(), 15);
  });
  s.spawn("n", [&] {
    this_task::sleep(15);
    LockGuard g(m);
    cv.notify_one();
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_TRUE(woken);
}

TEST(CondVar, NotifyAllWakesAll) {
  Simulation s(2);
  Mutex m;
  CondVar cv;
  int woke = 0;
  for (int i = 0; i < 4; ++i) {
    s.spawn("w", [&] {
      LockGuard g(m);
      cv.wait(m);
      ++woke;
    });
  }
  s.spawn("n", [&] {
    this_task::sleep(1);
    cv.notify_all();
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(woke, 4);
}

// ---- Completion ----

TEST(Completion, WaitersGetTheValue) {
  Simulation s(1);
  Completion<int> c;
  std::vector<int> got;
  for (int i = 0; i < 3; ++i) {
    s.spawn("w", [&] {
      got.push_back(c.wait());
      EXPECT_EQ(this_task::now(), 20);
    });
  }
  s.spawn("setter", [&] {
    this_task::sleep(20);
    EXPECT_FALSE(c.ready());
    c.set(42);
    c.set(7);  // second set is ignored
    EXPECT_TRUE(c.ready());
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(got, (std::vector<int>{42, 42, 42}));
}

TEST(Completion, WaitAfterSetReturnsImmediately) {
  Simulation s(1);
  Completion<std::string> c;
  s.spawn("t", [&] {
    c.set("x");
    EXPECT_EQ(c.wait(), "x");
    std::string* p = c.wait_until(0);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, "x");
    EXPECT_EQ(this_task::now(), 0);
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
}

TEST(Completion, WaitUntilTimesOut) {
  Simulation s(1);
  Completion<int> c;
  int* result = reinterpret_cast<int*>(1);
  s.spawn("t", [&] { result = c.wait_until(100); });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(result, nullptr);
  EXPECT_EQ(s.now(), 100);
}

TEST(Completion, WaitUntilSetInTime) {
  Simulation s(1);
  Completion<int> c;
  int value = 0;
  s.spawn("t", [&] {
    int* p = c.wait_until(100);
    ASSERT_NE(p, nullptr);
    value = *p;
  });
  s.spawn("setter", [&] {
    this_task::sleep(60);
    c.set(5);
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(value, 5);
  EXPECT_EQ(s.now(), 60);
}

// ---- Channel ----

TEST(Channel, UnboundedFifo) {
  Simulation s(1);
  Channel<int> ch;
  std::vector<int> got;
  s.spawn("sender", [&] {
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(ch.send(i));
    EXPECT_EQ(this_task::now(), 0);  // unbounded: never blocks
    ch.close();
  });
  s.spawn("receiver", [&] {
    while (auto v = ch.recv()) got.push_back(*v);
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[static_cast<size_t>(i)], i);
}

TEST(Channel, BoundedSendBlocksWhenFull) {
  Simulation s(1);
  Channel<int> ch(2);
  std::vector<Time> sent_at;
  std::vector<int> got;
  s.spawn("sender", [&] {
    for (int i = 0; i < 5; ++i) {
      EXPECT_TRUE(ch.send(i));
      EXPECT_LE(ch.size(), 2u);
      sent_at.push_back(this_task::now());
    }
  });
  s.spawn("receiver", [&] {
    for (int i = 0; i < 5; ++i) {
      this_task::sleep(10);
      auto v = ch.recv();
      ASSERT_TRUE(v.has_value());
      got.push_back(*v);
    }
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
  // Two fit at once; each further send waits for a receive (at 10, 20, 30).
  EXPECT_EQ(sent_at, (std::vector<Time>{0, 0, 10, 20, 30}));
}

TEST(Channel, CloseDrainsThenReturnsNullopt) {
  Simulation s(1);
  Channel<int> ch;
  std::vector<std::optional<int>> got;
  s.spawn("t", [&] {
    ch.send(1);
    ch.send(2);
    ch.close();
    EXPECT_TRUE(ch.closed());
    EXPECT_FALSE(ch.send(3));
    got.push_back(ch.recv());
    got.push_back(ch.recv());
    got.push_back(ch.recv());
    got.push_back(ch.try_recv());
    got.push_back(ch.recv_until(1000));
    EXPECT_EQ(this_task::now(), 0);  // closed: nothing waits
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(got, (std::vector<std::optional<int>>{1, 2, std::nullopt, std::nullopt, std::nullopt}));
}

TEST(Channel, CloseWakesBlockedReceiversAndSenders) {
  Simulation s(1);
  Channel<int> empty;
  Channel<int> full(1);
  std::optional<int> r1 = 5, r2 = 5;
  bool sent = true;
  s.spawn("r1", [&] { r1 = empty.recv(); });
  s.spawn("r2", [&] { r2 = empty.recv(); });
  s.spawn("s", [&] {
    EXPECT_TRUE(full.send(1));
    sent = full.send(2);  // blocks: full
    EXPECT_EQ(this_task::now(), 50);
  });
  s.spawn("closer", [&] {
    this_task::sleep(50);
    empty.close();
    full.close();
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(r1, std::nullopt);
  EXPECT_EQ(r2, std::nullopt);
  EXPECT_FALSE(sent);
  EXPECT_EQ(full.size(), 1u);  // the accepted item is still there
}

TEST(Channel, RecvUntilTimesOut) {
  Simulation s(1);
  Channel<int> ch;
  std::optional<int> got = 1;
  s.spawn("t", [&] { got = ch.recv_until(70); });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(got, std::nullopt);
  EXPECT_EQ(s.now(), 70);
}

TEST(Channel, TryRecvUnblocksSender) {
  Simulation s(1);
  Channel<int> ch(1);
  Time second_sent = -1;
  s.spawn("sender", [&] {
    ch.send(1);
    ch.send(2);
    second_sent = this_task::now();
  });
  s.spawn("taker", [&] {
    this_task::sleep(9);
    EXPECT_EQ(ch.try_recv(), std::optional<int>(1));
  });
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(second_sent, 9);
  EXPECT_EQ(ch.size(), 1u);
}

RC_GTEST_PROP(ChannelProp, DeliversEverythingInOrder, (uint64_t seed)) {
  const size_t capacity = *rc::gen::inRange<size_t>(0, 4);
  const int count = *rc::gen::inRange(0, 60);
  const auto send_gaps = *rc::gen::container<std::vector<Duration>>(static_cast<size_t>(count), rc::gen::inRange<Duration>(0, 5));
  const auto recv_gaps = *rc::gen::container<std::vector<Duration>>(static_cast<size_t>(count), rc::gen::inRange<Duration>(0, 5));
  Simulation s(seed);
  Channel<int> ch(capacity);
  std::vector<int> got;
  bool over_capacity = false;
  s.spawn("sender", [&] {
    for (int i = 0; i < count; ++i) {
      this_task::sleep(send_gaps[static_cast<size_t>(i)]);
      ch.send(i);
      if (capacity && ch.size() > capacity) over_capacity = true;
    }
    ch.close();
  });
  s.spawn("receiver", [&] {
    size_t i = 0;
    for (;;) {
      if (i < recv_gaps.size()) this_task::sleep(recv_gaps[i++]);
      auto v = ch.recv();
      if (!v) break;
      got.push_back(*v);
    }
  });
  RC_ASSERT(s.run(kTimeNever).outcome == Outcome::kQuiescent);
  RC_ASSERT(!over_capacity);
  RC_ASSERT(got.size() == static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) RC_ASSERT(got[static_cast<size_t>(i)] == i);
}

}  // namespace
}  // namespace sim
