#include "sim/simulation.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "scenarios/run.h"
#include "sim/sync.h"

namespace sim {
namespace {

using Outcome = Simulation::Outcome;

// RunConfig for one run of `scenario` (designated initializers would trip
// -Wmissing-field-initializers on the string members).
scenarios::RunConfig config(const std::string& scenario, uint64_t seed) {
  scenarios::RunConfig c;
  c.scenario = scenario;
  c.seed = seed;
  return c;
}

// ---- the "register" scenario end to end ----

TEST(Simulation, RegisterScenarioSameSeedSameDigest) {
  for (uint64_t seed : {1ull, 42ull, 0xdeadbeefull}) {
    const auto a = scenarios::run_scenario(config("register", seed));
    const auto b = scenarios::run_scenario(config("register", seed));
    EXPECT_NE(a.result, scenarios::RunReport::Result::kError) << a.error;
    EXPECT_EQ(a.digest, b.digest) << "seed " << seed;
    EXPECT_EQ(a.trace_events, b.trace_events);
    EXPECT_EQ(a.loop_events, b.loop_events);
    EXPECT_EQ(a.sim_ns, b.sim_ns);
    EXPECT_EQ(a.result, b.result);
    EXPECT_GT(a.trace_events, 100u);  // it really did something
  }
}

TEST(Simulation, RegisterScenarioDifferentSeedsDifferentDigests) {
  std::set<uint64_t> digests;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const auto r = scenarios::run_scenario(config("register", seed));
    EXPECT_NE(r.result, scenarios::RunReport::Result::kError) << "seed " << seed << ": " << r.error;
    digests.insert(r.digest);
  }
  EXPECT_EQ(digests.size(), 20u);
}

// The trace sink does not change the run: the digest is the same with and without one, and
// the trace is complete (header, events, end line naming the same digest).
TEST(Simulation, RegisterDigestIndependentOfTraceSink) {
  std::ostringstream out;
  scenarios::RunConfig traced = config("register", 7);
  traced.trace_out = &out;
  const auto with = scenarios::run_scenario(traced);
  const auto without = scenarios::run_scenario(config("register", 7));
  EXPECT_EQ(with.digest, without.digest);
  const std::string t = out.str();
  EXPECT_EQ(t.rfind("{\"format\":\"simfs-trace\"", 0), 0u);
  EXPECT_NE(t.find(hex64(with.digest)), std::string::npos);
  EXPECT_EQ(static_cast<uint64_t>(std::count(t.begin(), t.end(), '\n')), with.trace_events + 2);
}

// Recording the decisions and replaying them reproduces the run exactly.
TEST(Simulation, RegisterTapeReplayReproducesTheRun) {
  scenarios::RunConfig recording = config("register", 3);
  recording.record_tape = true;
  const auto rec = scenarios::run_scenario(recording);
  ASSERT_FALSE(rec.tape.empty());
  EXPECT_EQ(rec.tape.size(), rec.decisions);
  // A different seed with the tape: the tape decides everything.
  scenarios::RunConfig replay = config("register", 999);
  replay.tape = &rec.tape;
  const auto rep = scenarios::run_scenario(replay);
  EXPECT_EQ(rep.tape_mismatches, 0u);
  EXPECT_EQ(rep.digest, rec.digest);
  EXPECT_EQ(rep.result, rec.result);
  EXPECT_EQ(rep.trace_events, rec.trace_events);
  EXPECT_EQ(rep.sim_ns, rec.sim_ns);
}

TEST(Simulation, UnknownScenarioIsAnError) {
  const auto r = scenarios::run_scenario(config("no-such-scenario", 1));
  EXPECT_EQ(r.result, scenarios::RunReport::Result::kError);
  EXPECT_NE(r.error.find("no-such-scenario"), std::string::npos);
}

TEST(Simulation, EventBudgetExhaustedIsAnError) {
  scenarios::RunConfig budget = config("register", 1);
  budget.max_events = 100;
  const auto r = scenarios::run_scenario(budget);
  EXPECT_EQ(r.result, scenarios::RunReport::Result::kError);
  EXPECT_EQ(r.loop_events, 100u);
}

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
