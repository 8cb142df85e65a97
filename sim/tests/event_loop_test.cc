#include "sim/event_loop.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sim {
namespace {

constexpr Site kTie{"sched.tie", Stream::kScheduler};

// Records (label, time) of each callback that runs.
struct Log {
  EventLoop* loop = nullptr;
  std::vector<std::pair<uint64_t, Time>> runs;
  static void cb(void* ctx, uint64_t arg) {
    auto* l = static_cast<Log*>(ctx);
    l->runs.emplace_back(arg, l->loop->now());
  }
  std::vector<uint64_t> labels() const {
    std::vector<uint64_t> v;
    for (auto& [a, t] : runs) v.push_back(a);
    return v;
  }
};

struct Fixture {
  explicit Fixture(uint64_t seed = 1) : rs(seed), chooser(&rs), loop(chooser) { log.loop = &loop; }
  RandomStrategy rs;
  Chooser chooser;
  EventLoop loop;
  Log log;
};

TEST(EventLoop, RunsInTimeOrder) {
  Fixture f;
  f.loop.schedule_at(30, Log::cb, &f.log, 3);
  f.loop.schedule_at(10, Log::cb, &f.log, 1);
  f.loop.schedule_at(20, Log::cb, &f.log, 2);
  EXPECT_EQ(f.loop.live_events(), 3u);
  EXPECT_EQ(f.loop.run(), EventLoop::StopReason::kQuiescent);
  EXPECT_EQ(f.log.labels(), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(f.log.runs[0].second, 10);
  EXPECT_EQ(f.log.runs[2].second, 30);
  EXPECT_EQ(f.loop.now(), 30);
  EXPECT_EQ(f.loop.events_dispatched(), 3u);
  EXPECT_EQ(f.loop.live_events(), 0u);
}

// With value 0 at every tie (an exhausted tape), simultaneous events run in scheduling order.
TEST(EventLoop, TiesAreFifoUnderValueZero) {
  TapeStrategy tape({});
  Chooser c(&tape);
  EventLoop loop(c);
  Log log;
  log.loop = &loop;
  for (uint64_t i = 0; i < 6; ++i) loop.schedule_at(5, Log::cb, &log, i);
  loop.schedule_at(4, Log::cb, &log, 100);
  loop.run();
  EXPECT_EQ(log.labels(), (std::vector<uint64_t>{100, 0, 1, 2, 3, 4, 5}));
}

TEST(EventLoop, TieResolvedThroughChooser) {
  TapeStrategy tape({{kTie.id, 2, 1}});
  Chooser c(&tape);
  c.set_recording(true);
  EventLoop loop(c);
  Log log;
  log.loop = &loop;
  loop.schedule_at(7, Log::cb, &log, 1);
  loop.schedule_at(7, Log::cb, &log, 2);
  loop.run();
  EXPECT_EQ(log.labels(), (std::vector<uint64_t>{2, 1}));
  EXPECT_EQ(tape.site_mismatches(), 0u);
  // One real decision: the second event had no competitor.
  ASSERT_EQ(c.tape().size(), 1u);
  EXPECT_EQ(c.tape()[0].site_id, kTie.id);
  EXPECT_EQ(c.tape()[0].bound, 2u);
}

TEST(EventLoop, TieAmongThreePicksByIndexInSeqOrder) {
  TapeStrategy tape({{kTie.id, 3, 2}, {kTie.id, 2, 0}});
  Chooser c(&tape);
  EventLoop loop(c);
  Log log;
  log.loop = &loop;
  for (uint64_t i = 0; i < 3; ++i) loop.schedule_at(1, Log::cb, &log, i);
  loop.run();
  EXPECT_EQ(log.labels(), (std::vector<uint64_t>{2, 0, 1}));
}

// An event scheduled "now" from inside a callback joins the ready set at the same instant.
TEST(EventLoop, EventScheduledNowJoinsTheTie) {
  TapeStrategy tape({});
  Chooser c(&tape);
  EventLoop loop(c);
  struct Ctx {
    EventLoop* loop;
    std::vector<uint64_t> order;
  } ctx{&loop, {}};
  auto cb = [](void* p, uint64_t arg) {
    auto* x = static_cast<Ctx*>(p);
    x->order.push_back(arg);
    if (arg == 0) x->loop->schedule_after(0, +[](void* q, uint64_t a) { static_cast<Ctx*>(q)->order.push_back(a); }, x, 9);
  };
  loop.schedule_at(3, cb, &ctx, 0);
  loop.schedule_at(3, cb, &ctx, 1);
  loop.run();
  EXPECT_EQ(ctx.order, (std::vector<uint64_t>{0, 1, 9}));
  EXPECT_EQ(loop.now(), 3);
}

TEST(EventLoop, CancelPreventsRun) {
  Fixture f;
  TimerId a = f.loop.schedule_at(10, Log::cb, &f.log, 1);
  TimerId b = f.loop.schedule_at(20, Log::cb, &f.log, 2);
  EXPECT_TRUE(f.loop.pending(a));
  EXPECT_TRUE(f.loop.cancel(a));
  EXPECT_FALSE(f.loop.pending(a));
  EXPECT_FALSE(f.loop.cancel(a));  // second cancel is a no-op
  EXPECT_EQ(f.loop.live_events(), 1u);
  f.loop.run();
  EXPECT_EQ(f.log.labels(), (std::vector<uint64_t>{2}));
  EXPECT_FALSE(f.loop.pending(b));
  EXPECT_FALSE(f.loop.cancel(b));  // already ran
  EXPECT_FALSE(f.loop.cancel(TimerId{}));
  EXPECT_FALSE(f.loop.pending(TimerId{12345, 0}));
}

// A stale id must not cancel the event that reused its slot.
TEST(EventLoop, StaleIdDoesNotCancelReusedSlot) {
  Fixture f;
  TimerId a = f.loop.schedule_at(1, Log::cb, &f.log, 1);
  ASSERT_TRUE(f.loop.cancel(a));
  TimerId b = f.loop.schedule_at(2, Log::cb, &f.log, 2);
  EXPECT_EQ(a.slot, b.slot);  // slot reused
  EXPECT_FALSE(f.loop.cancel(a));
  EXPECT_TRUE(f.loop.pending(b));
  f.loop.run();
  EXPECT_EQ(f.log.labels(), (std::vector<uint64_t>{2}));
}

// Cancelling an event that is already in the ready set (same instant) from another callback.
TEST(EventLoop, CancelReadyEventFromCallback) {
  TapeStrategy tape({});
  Chooser c(&tape);
  EventLoop loop(c);
  struct Ctx {
    EventLoop* loop;
    TimerId victim;
    std::vector<uint64_t> order;
  } ctx{&loop, {}, {}};
  auto cb = [](void* p, uint64_t arg) {
    auto* x = static_cast<Ctx*>(p);
    x->order.push_back(arg);
    if (arg == 0) {
      EXPECT_TRUE(x->loop->cancel(x->victim));
    }
  };
  loop.schedule_at(5, cb, &ctx, 0);
  ctx.victim = loop.schedule_at(5, cb, &ctx, 1);
  loop.schedule_at(5, cb, &ctx, 2);
  loop.run();
  EXPECT_EQ(ctx.order, (std::vector<uint64_t>{0, 2}));
}

// The last remaining ready event is cancelled by the one before it: it must not run.
TEST(EventLoop, CancelLastReadyEventFromCallback) {
  for (uint64_t first : {0, 1}) {
    TapeStrategy tape({{kTie.id, 2, first}});
    Chooser c(&tape);
    EventLoop loop(c);
    struct Ctx {
      EventLoop* loop;
      TimerId ids[2];
      std::vector<uint64_t> order;
    } ctx{&loop, {}, {}};
    auto cb = [](void* p, uint64_t arg) {
      auto* x = static_cast<Ctx*>(p);
      x->order.push_back(arg);
      x->loop->cancel(x->ids[1 - arg]);
    };
    ctx.ids[0] = loop.schedule_at(5, cb, &ctx, 0);
    ctx.ids[1] = loop.schedule_at(5, cb, &ctx, 1);
    EXPECT_EQ(loop.run(), EventLoop::StopReason::kQuiescent);
    EXPECT_EQ(ctx.order, (std::vector<uint64_t>{first}));
    EXPECT_EQ(loop.events_dispatched(), 1u);
    EXPECT_EQ(loop.live_events(), 0u);
  }
}

TEST(EventLoop, PastIsClampedToNow) {
  Fixture f;
  f.loop.schedule_at(100, Log::cb, &f.log, 1);
  f.loop.run();
  f.loop.schedule_at(5, Log::cb, &f.log, 2);
  f.loop.schedule_after(-50, Log::cb, &f.log, 3);
  f.loop.run();
  ASSERT_EQ(f.log.runs.size(), 3u);
  EXPECT_EQ(f.log.runs[1].second, 100);
  EXPECT_EQ(f.log.runs[2].second, 100);
}

TEST(EventLoop, ScheduleAfterSaturatesAtNever) {
  Fixture f;
  f.loop.schedule_at(10, Log::cb, &f.log, 1);
  f.loop.run();
  TimerId t = f.loop.schedule_after(kTimeNever, Log::cb, &f.log, 2);
  EXPECT_TRUE(f.loop.pending(t));
  EXPECT_EQ(f.loop.run(1000), EventLoop::StopReason::kTimeLimit);
  EXPECT_EQ(f.loop.now(), 1000);
  EXPECT_EQ(f.log.runs.size(), 1u);
}

TEST(EventLoop, TimeLimitStopsWithNowAtLimit) {
  Fixture f;
  f.loop.schedule_at(10, Log::cb, &f.log, 1);
  f.loop.schedule_at(50, Log::cb, &f.log, 2);  // exactly at the limit: runs
  f.loop.schedule_at(51, Log::cb, &f.log, 3);
  EXPECT_EQ(f.loop.run(50), EventLoop::StopReason::kTimeLimit);
  EXPECT_EQ(f.loop.now(), 50);
  EXPECT_EQ(f.log.labels(), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(f.loop.live_events(), 1u);
  // A later run continues where it stopped.
  EXPECT_EQ(f.loop.run(), EventLoop::StopReason::kQuiescent);
  EXPECT_EQ(f.log.labels(), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(f.loop.now(), 51);
}

TEST(EventLoop, TimeLimitWithGapAdvancesNowToLimit) {
  Fixture f;
  f.loop.schedule_at(1000, Log::cb, &f.log, 1);
  EXPECT_EQ(f.loop.run(300), EventLoop::StopReason::kTimeLimit);
  EXPECT_EQ(f.loop.now(), 300);
  EXPECT_TRUE(f.log.runs.empty());
}

TEST(EventLoop, QuiescentWhenNothingLeft) {
  Fixture f;
  EXPECT_EQ(f.loop.run(100), EventLoop::StopReason::kQuiescent);
  EXPECT_EQ(f.loop.now(), 0);
  TimerId a = f.loop.schedule_at(10, Log::cb, &f.log, 1);
  f.loop.cancel(a);
  EXPECT_EQ(f.loop.run(100), EventLoop::StopReason::kQuiescent);
  EXPECT_TRUE(f.log.runs.empty());
}

TEST(EventLoop, EventLimit) {
  Fixture f;
  for (uint64_t i = 0; i < 10; ++i) f.loop.schedule_at(static_cast<Time>(i), Log::cb, &f.log, i);
  EXPECT_EQ(f.loop.run(kTimeNever, 3), EventLoop::StopReason::kEventLimit);
  EXPECT_EQ(f.log.runs.size(), 3u);
  EXPECT_EQ(f.loop.events_dispatched(), 3u);
  EXPECT_EQ(f.loop.run(kTimeNever, 0), EventLoop::StopReason::kEventLimit);
  EXPECT_EQ(f.log.runs.size(), 3u);
  EXPECT_EQ(f.loop.run(kTimeNever, 100), EventLoop::StopReason::kQuiescent);
  EXPECT_EQ(f.log.runs.size(), 10u);
  EXPECT_EQ(f.log.labels(), (std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

// Event limit in the middle of a tie: the remaining ready events still run later.
TEST(EventLoop, EventLimitInsideTieKeepsReadyEvents) {
  Fixture f;
  for (uint64_t i = 0; i < 4; ++i) f.loop.schedule_at(5, Log::cb, &f.log, i);
  EXPECT_EQ(f.loop.run(kTimeNever, 2), EventLoop::StopReason::kEventLimit);
  EXPECT_EQ(f.log.runs.size(), 2u);
  EXPECT_EQ(f.loop.live_events(), 2u);
  f.loop.run();
  EXPECT_EQ(f.log.runs.size(), 4u);
  std::vector<uint64_t> l = f.log.labels();
  std::sort(l.begin(), l.end());
  EXPECT_EQ(l, (std::vector<uint64_t>{0, 1, 2, 3}));
}

TEST(EventLoop, StopFromCallback) {
  Fixture f;
  struct Ctx {
    EventLoop* loop;
    int ran = 0;
  } ctx{&f.loop};
  auto cb = [](void* p, uint64_t arg) {
    auto* x = static_cast<Ctx*>(p);
    ++x->ran;
    if (arg == 1) x->loop->stop();
  };
  f.loop.schedule_at(1, cb, &ctx, 0);
  f.loop.schedule_at(2, cb, &ctx, 1);
  f.loop.schedule_at(3, cb, &ctx, 0);
  EXPECT_EQ(f.loop.run(), EventLoop::StopReason::kStopped);
  EXPECT_EQ(ctx.ran, 2);
  EXPECT_EQ(f.loop.now(), 2);
  EXPECT_EQ(f.loop.run(), EventLoop::StopReason::kQuiescent);
  EXPECT_EQ(ctx.ran, 3);
}

TEST(EventLoop, ScheduleHashDependsOnSchedule) {
  auto run = [](std::vector<Time> times) {
    Fixture f;
    for (Time t : times) f.loop.schedule_at(t, Log::cb, &f.log, 0);
    f.loop.run();
    return f.loop.schedule_hash();
  };
  EXPECT_EQ(run({1, 2, 3}), run({1, 2, 3}));
  EXPECT_NE(run({1, 2, 3}), run({1, 2, 4}));
  EXPECT_NE(run({1, 2}), run({1, 2, 3}));
}

// ---- property: random schedules with cancels and callbacks that schedule more ----

struct Spec {
  Time delay;                   // relative to the scheduling instant
  bool cancel_before_run;       // cancelled by the test before the loop starts (roots only)
  std::vector<size_t> children; // indices of specs this event schedules when it runs
  int cancel_offset;            // when it runs, tries to cancel event (own id + offset); 0: none
};

struct PropWorld {
  EventLoop* loop;
  std::vector<Spec> specs;
  std::vector<TimerId> ids;        // by event id
  std::vector<size_t> spec_of;     // by event id
  std::vector<Time> scheduled_at;  // by event id: intended dispatch time
  std::vector<int> runs;           // by event id
  std::vector<bool> cancelled;     // by event id
  Time last = 0;
  bool time_went_back = false;
  bool ran_early = false;
  size_t max_events = 400;

  void add(size_t spec) {
    if (ids.size() >= max_events) return;
    const uint64_t id = ids.size();
    ids.push_back(loop->schedule_after(specs[spec].delay, &PropWorld::cb, this, id));
    spec_of.push_back(spec);
    scheduled_at.push_back(loop->now() + specs[spec].delay);
    runs.push_back(0);
    cancelled.push_back(false);
  }
  static void cb(void* p, uint64_t id) {
    auto* w = static_cast<PropWorld*>(p);
    if (w->loop->now() < w->last) w->time_went_back = true;
    if (w->loop->now() != w->scheduled_at[id]) w->ran_early = true;
    w->last = w->loop->now();
    ++w->runs[id];
    const Spec& s = w->specs[w->spec_of[id]];
    const int64_t victim = static_cast<int64_t>(id) + s.cancel_offset;
    if (s.cancel_offset != 0 && victim >= 0 && static_cast<size_t>(victim) < w->ids.size()) {
      const size_t v = static_cast<size_t>(victim);
      if (w->loop->cancel(w->ids[v])) w->cancelled[v] = true;
    }
    for (size_t c : s.children) w->add(c);
  }
};

RC_GTEST_PROP(EventLoopProp, TimeMonotoneAndEveryLiveEventRunsOnce, (uint64_t seed)) {
  const size_t nspecs = *rc::gen::inRange<size_t>(1, 40);
  std::vector<Spec> specs;
  for (size_t i = 0; i < nspecs; ++i) {
    Spec s;
    // Small delays make ties common.
    s.delay = *rc::gen::oneOf(rc::gen::inRange<Time>(0, 4), rc::gen::inRange<Time>(0, 1000));
    s.cancel_before_run = *rc::gen::inRange(0, 5) == 0;
    const size_t nchildren = *rc::gen::inRange<size_t>(0, 3);
    for (size_t c = 0; c < nchildren; ++c) s.children.push_back(*rc::gen::inRange<size_t>(0, nspecs));
    // Mostly near neighbours, which are often due at the same instant (already "ready").
    s.cancel_offset = *rc::gen::inRange(0, 3) == 0 ? *rc::gen::inRange(-4, 5) : 0;
    specs.push_back(s);
  }
  const size_t nroots = *rc::gen::inRange<size_t>(1, nspecs + 1);

  RandomStrategy rs(seed);
  Chooser chooser(&rs);
  EventLoop loop(chooser);
  PropWorld w;
  w.loop = &loop;
  w.specs = specs;
  for (size_t i = 0; i < nroots; ++i) w.add(i);
  for (size_t i = 0; i < nroots; ++i) {
    if (specs[i].cancel_before_run) {
      RC_ASSERT(loop.cancel(w.ids[i]));
      w.cancelled[i] = true;
    }
  }
  RC_ASSERT(loop.run() == EventLoop::StopReason::kQuiescent);
  RC_ASSERT(!w.time_went_back);
  RC_ASSERT(!w.ran_early);
  uint64_t expected_runs = 0;
  for (size_t id = 0; id < w.ids.size(); ++id) {
    RC_ASSERT(w.runs[id] == (w.cancelled[id] ? 0 : 1));
    expected_runs += w.cancelled[id] ? 0 : 1;
  }
  RC_ASSERT(loop.events_dispatched() == expected_runs);
  RC_ASSERT(loop.live_events() == 0u);
}

// Same seed, same schedule: the loop is deterministic.
RC_GTEST_PROP(EventLoopProp, SameSeedSameOrder, (uint64_t seed, std::vector<uint8_t> times)) {
  auto run = [&] {
    RandomStrategy rs(seed);
    Chooser c(&rs);
    EventLoop loop(c);
    Log log;
    log.loop = &loop;
    for (size_t i = 0; i < times.size(); ++i) loop.schedule_at(times[i] % 8, Log::cb, &log, i);
    loop.run();
    return std::make_pair(log.labels(), loop.schedule_hash());
  };
  RC_ASSERT(run() == run());
}

// The loop hands the chooser its clock: a recorded decision carries the instant it was made.
TEST(EventLoop, RecordedDecisionsCarryTheirTime) {
  Fixture f;
  f.chooser.set_recording(true);
  for (Time t : {10, 10, 40}) f.loop.schedule_at(t, Log::cb, &f.log, 0);  // a tie at 10
  f.loop.schedule_at(40, Log::cb, &f.log, 1);                              // and at 40
  f.loop.run();
  ASSERT_EQ(f.chooser.tape().size(), f.chooser.tape_times().size());
  ASSERT_EQ(f.chooser.tape_times(), (std::vector<Time>{10, 40}));
}

}  // namespace
}  // namespace sim
