#include "sim/simulation.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sim/sync.h"

namespace sim {
namespace {

using Outcome = Simulation::Outcome;

// ---- Simulation itself ----

// A small world whose digest depends on scheduler and workload choices.
uint64_t small_world_digest(uint64_t seed, Strategy* strategy = nullptr) {
  Simulation s(seed, strategy);
  static constexpr Site kSiteWork{"test.work", Stream::kWorkload};
  Mutex m;
  int counter = 0;
  for (int i = 0; i < 4; ++i) {
    s.spawn("w" + std::to_string(i), [&s, &m, &counter, i] {
      for (int k = 0; k < 5; ++k) {
        this_task::sleep(s.chooser().range(kSiteWork, 0, 3));
        LockGuard g(m);
        ++counter;
        s.event(-1, "step", {{"task", i}, {"counter", counter}});
      }
    });
  }
  s.run(kTimeNever);
  return s.digest();
}

TEST(Simulation, SameSeedSameDigest) {
  EXPECT_EQ(small_world_digest(11), small_world_digest(11));
  std::set<uint64_t> d;
  for (uint64_t seed = 0; seed < 10; ++seed) d.insert(small_world_digest(seed));
  EXPECT_EQ(d.size(), 10u);
}

TEST(Simulation, TapeReplayGivesSameDigest) {
  // Record a run, then replay its tape under another seed.
  std::vector<Decision> tape;
  uint64_t recorded = 0;
  {
    Simulation s(5);
    s.chooser().set_recording(true);
    static constexpr Site kSite{"test.tape", Stream::kWorkload};
    for (int i = 0; i < 3; ++i) {
      s.spawn("t", [&s] {
        for (int k = 0; k < 4; ++k) {
          this_task::sleep(s.chooser().range(kSite, 1, 9));
          s.event(-1, "tick", {{"now", this_task::now()}});
        }
      });
    }
    s.run(kTimeNever);
    tape = s.chooser().tape();
    recorded = s.digest();
  }
  TapeStrategy ts(tape);
  Simulation s(1234, &ts);
  static constexpr Site kSite{"test.tape", Stream::kWorkload};
  for (int i = 0; i < 3; ++i) {
    s.spawn("t", [&s] {
      for (int k = 0; k < 4; ++k) {
        this_task::sleep(s.chooser().range(kSite, 1, 9));
        s.event(-1, "tick", {{"now", this_task::now()}});
      }
    });
  }
  s.run(kTimeNever);
  EXPECT_EQ(s.digest(), recorded);
  EXPECT_TRUE(ts.exhausted());
  EXPECT_EQ(ts.site_mismatches(), 0u);
}

TEST(Simulation, ViolationStopsTheRun) {
  Simulation s(1);
  bool after = false;
  s.spawn("checker", [&] {
    this_task::sleep(10);
    s.violation("test.inv", "it broke", {3, 4});
    this_task::sleep(10);
    after = true;
  });
  Simulation::RunResult r = s.run(kTimeNever);
  EXPECT_EQ(r.outcome, Outcome::kViolation);
  EXPECT_EQ(r.message, "it broke");
  EXPECT_FALSE(after);
  ASSERT_EQ(s.violations().size(), 1u);
  EXPECT_EQ(s.violations()[0].invariant, "test.inv");
  EXPECT_EQ(s.violations()[0].witness, (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(s.violations()[0].event, s.trace().count() - 1);
  EXPECT_EQ(s.now(), 10);
}

TEST(Simulation, ViolationIsTraced) {
  Simulation s(1);
  std::ostringstream out;
  s.trace().set_sink(&out);
  s.violation("x.y", "msg \"quoted\"", {1});
  s.trace().flush();
  const std::string t = out.str();
  EXPECT_NE(t.find("\"kind\":\"violation\""), std::string::npos);
  EXPECT_NE(t.find("\"invariant\":\"x.y\""), std::string::npos);
  EXPECT_NE(t.find("\"witness\":\"1\""), std::string::npos);
  s.trace().set_sink(nullptr);
}

TEST(Simulation, TimeAndEventLimits) {
  Simulation s(1);
  s.spawn("long", [] {
    for (int i = 0; i < 100; ++i) this_task::sleep(kSecond);
  });
  EXPECT_EQ(s.run(5 * kSecond + 1).outcome, Outcome::kTimeLimit);
  EXPECT_EQ(s.now(), 5 * kSecond + 1);
  const uint64_t before = s.loop().events_dispatched();
  EXPECT_EQ(s.run(kTimeNever, 3).outcome, Outcome::kEventLimit);
  EXPECT_EQ(s.loop().events_dispatched(), before + 3);
  EXPECT_GT(s.now(), 5 * kSecond);
  EXPECT_LT(s.now(), 100 * kSecond);
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(s.now(), 100 * kSecond);
}

TEST(Simulation, DigestCoversTheSchedule) {
  // Two runs with identical traces but different timing must still differ.
  auto run = [](Duration d) {
    Simulation s(1);
    s.spawn("t", [d] { this_task::sleep(d); });
    s.run(kTimeNever);
    return s.digest();
  };
  EXPECT_NE(run(5), run(6));
}

}  // namespace
}  // namespace sim
