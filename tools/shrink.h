// Shrinking: from a failing run's decision tape, find a smaller tape that still fails the same
// invariant. Decisions are replayed in order and a tape that runs out answers 0, the simplest
// choice (no fault, shortest latency, oldest ready event), so a tape shrinks by
//   1. truncation: the shortest prefix that still fails (binary search, then verified),
//   2. zeroing chunks of decisions (fewer faults, simpler choices), halving the chunk size,
//   3. deleting chunks (later decisions shift earlier; replay tolerates the mismatch),
//   4. lowering single values (halving toward 0).
// Before that, scenario parameters declared as counts (count_param: nodes, clients) are lowered
// toward their minimum while the failure survives: fewer nodes make a smaller story.
// After every accepted step the tape is re-recorded from the run itself, so it stays an exact
// description of the run it produces. A candidate may run at most 25% more loop events than
// the original failure; smaller means fewer non-zero decisions, then fewer events.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenarios/run.h"

namespace tools {

struct ShrinkOptions {
  uint64_t max_runs = 1500;  // budget of candidate runs
};

struct ShrinkResult {
  bool reproduced = false;            // the original tape failed with the invariant
  std::string invariant;
  std::vector<sim::Decision> tape;    // the smallest failing tape found
  scenarios::RunReport report;        // its run
  uint64_t runs = 0;                  // candidate runs spent
  size_t decisions_before = 0, decisions_after = 0;
  size_t nonzero_before = 0, nonzero_after = 0;
  uint64_t events_before = 0, events_after = 0;
  nlohmann::json params;                   // the parameters of the shrunk run (base's, lowered)
  std::vector<std::string> params_lowered;  // "replicas 3 -> 1", ...
};

// `base` gives scenario, seed, bug and params (its tape fields are ignored). If `invariant` is empty,
// the original run's first violation is the target.
ShrinkResult shrink_tape(const scenarios::RunConfig& base, const std::vector<sim::Decision>& tape,
                         std::string invariant, const ShrinkOptions& options);

}  // namespace tools
