// run_scenario() end to end on the "register" scenario: same seed, same digest; the trace sink
// does not change the run; a recorded tape replays it exactly; bad names and budgets are errors.
#include "scenarios/run.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>

#include "sim/trace.h"

namespace scenarios {
namespace {

using sim::hex64;

// RunConfig for one run of `scenario` (designated initializers would trip
// -Wmissing-field-initializers on the string members).
RunConfig config(const std::string& scenario, uint64_t seed) {
  RunConfig c;
  c.scenario = scenario;
  c.seed = seed;
  return c;
}

TEST(RunScenario, RegisterScenarioSameSeedSameDigest) {
  for (uint64_t seed : {1ull, 42ull, 0xdeadbeefull}) {
    const auto a = run_scenario(config("register", seed));
    const auto b = run_scenario(config("register", seed));
    EXPECT_NE(a.result, RunReport::Result::kError) << a.error;
    EXPECT_EQ(a.digest, b.digest) << "seed " << seed;
    EXPECT_EQ(a.trace_events, b.trace_events);
    EXPECT_EQ(a.loop_events, b.loop_events);
    EXPECT_EQ(a.sim_ns, b.sim_ns);
    EXPECT_EQ(a.result, b.result);
    EXPECT_GT(a.trace_events, 100u);  // it really did something
  }
}

TEST(RunScenario, RegisterScenarioDifferentSeedsDifferentDigests) {
  std::set<uint64_t> digests;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const auto r = run_scenario(config("register", seed));
    EXPECT_NE(r.result, RunReport::Result::kError) << "seed " << seed << ": " << r.error;
    digests.insert(r.digest);
  }
  EXPECT_EQ(digests.size(), 20u);
}

// The trace sink does not change the run: the digest is the same with and without one, and
// the trace is complete (header, events, end line naming the same digest).
TEST(RunScenario, RegisterDigestIndependentOfTraceSink) {
  std::ostringstream out;
  RunConfig traced = config("register", 7);
  traced.trace_out = &out;
  const auto with = run_scenario(traced);
  const auto without = run_scenario(config("register", 7));
  EXPECT_EQ(with.digest, without.digest);
  const std::string t = out.str();
  EXPECT_EQ(t.rfind("{\"format\":\"simfs-trace\"", 0), 0u);
  EXPECT_NE(t.find(hex64(with.digest)), std::string::npos);
  EXPECT_EQ(static_cast<uint64_t>(std::count(t.begin(), t.end(), '\n')), with.trace_events + 2);
}

// Recording the decisions and replaying them reproduces the run exactly.
TEST(RunScenario, RegisterTapeReplayReproducesTheRun) {
  RunConfig recording = config("register", 3);
  recording.record_tape = true;
  const auto rec = run_scenario(recording);
  ASSERT_FALSE(rec.tape.empty());
  EXPECT_EQ(rec.tape.size(), rec.decisions);
  // A different seed with the tape: the tape decides everything.
  RunConfig replay = config("register", 999);
  replay.tape = &rec.tape;
  const auto rep = run_scenario(replay);
  EXPECT_EQ(rep.tape_mismatches, 0u);
  EXPECT_EQ(rep.digest, rec.digest);
  EXPECT_EQ(rep.result, rec.result);
  EXPECT_EQ(rep.trace_events, rec.trace_events);
  EXPECT_EQ(rep.sim_ns, rec.sim_ns);
}

TEST(RunScenario, UnknownScenarioIsAnError) {
  const auto r = run_scenario(config("no-such-scenario", 1));
  EXPECT_EQ(r.result, RunReport::Result::kError);
  EXPECT_NE(r.error.find("no-such-scenario"), std::string::npos);
}

TEST(RunScenario, EventBudgetExhaustedIsAnError) {
  RunConfig budget = config("register", 1);
  budget.max_events = 100;
  const auto r = run_scenario(budget);
  EXPECT_EQ(r.result, RunReport::Result::kError);
  EXPECT_EQ(r.loop_events, 100u);
}

}  // namespace
}  // namespace scenarios
