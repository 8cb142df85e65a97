// `simfs why`: when did a failure become inevitable?
//
// The failing run's decision tape is replayed once (recording the virtual time of every
// decision). Then, for checkpoints T_0 = 0 < ... < T_{N-1} = failure time, the decisions made
// before T_i are kept and every later decision is drawn at random (sim::PrefixThenRandomStrategy)
// from K suffix seeds. The fraction of those K runs that fail the same invariant estimates
// P(fail | history up to T_i). Where it jumps from ~0 to ~1 is where the bug was decided.
//
// Sample j uses the same suffix seed at every checkpoint (common random numbers), so the
// curve's steps come from the kept prefix, not from sampling noise. The last checkpoint keeps
// every decision: it is the original run, so it must fail (a check of the whole method).
// Everything here is in-process and deterministic; cmd_why spreads checkpoints over child
// processes for --jobs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/run.h"

namespace tools {

struct WhyOriginal {
  bool failed = false;                  // the tape's run failed (kFail with a violation)
  std::string invariant, message;       // its first violation
  std::string error;                    // kError: what went wrong
  sim::Time fail_ns = 0;                // virtual time at which the run stopped failing
  uint64_t digest = 0;
  uint64_t loop_events = 0;
  std::vector<sim::Decision> tape;      // re-recorded: exactly the decisions the run made
  std::vector<sim::Time> times;         // parallel to tape
};

// Runs `base` (scenario, seed, bug) replaying `tape` (or at random from the seed when null),
// recording decisions and their times.
WhyOriginal why_original(const scenarios::RunConfig& base, const std::vector<sim::Decision>* tape);

struct WhyCheckpoint {
  sim::Time t_ns = 0;
  size_t decisions = 0;       // tape decisions kept (made before t_ns; the last keeps all)
  uint32_t samples = 0;
  uint32_t failures = 0;      // failed the original invariant
  uint32_t other_failures = 0;  // failed a different invariant
  uint32_t errors = 0;        // harness errors (event budget, broken simulator rules)
  double p = 0, ci_low = 0, ci_high = 0;  // failures / samples and its 95% Wilson interval
};

// N checkpoint times equally spaced over [0, fail_ns] and how many decisions each keeps.
// `times` must be non-decreasing (virtual time never goes back).
std::vector<WhyCheckpoint> plan_checkpoints(const std::vector<sim::Time>& times, sim::Time fail_ns, uint32_t n);

// The suffix seed of sample j: the same at every checkpoint.
uint64_t why_sample_seed(uint64_t seed, uint32_t j);

struct WhySampleOptions {
  uint32_t samples = 50;
  uint64_t seed = 0;
  uint64_t max_events = 50'000'000;
};

// Runs the samples of one checkpoint (fills samples/failures/other_failures/errors/p/CI).
void run_checkpoint(const scenarios::RunConfig& base, const std::vector<sim::Decision>& tape,
                    const std::string& invariant, const WhySampleOptions& o, WhyCheckpoint* c);

// Sets p and the 95% Wilson score interval from failures / samples.
void set_probability(WhyCheckpoint* c);

struct WhyVerdict {
  std::optional<size_t> inevitable;     // earliest checkpoint from which every p >= 0.95
  std::optional<size_t> decided_after;  // latest checkpoint before it with p <= 0.05
};
WhyVerdict why_verdict(const std::vector<WhyCheckpoint>& cps);

}  // namespace tools
