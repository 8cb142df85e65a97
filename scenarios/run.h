// run_scenario: one complete, deterministic run of a scenario for one seed (or one tape).
// Used by the CLI, the tests and the benchmarks alike, so they all run the same thing.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "sim/choice.h"
#include "sim/simulation.h"

namespace scenarios {

struct RunConfig {
  std::string scenario;
  uint64_t seed = 0;
  std::string bug;
  // Parameter overrides, as in a scenario file's "params" object (null: all defaults). Checked
  // by run_scenario (a bad one is a kError report); recorded, resolved, in the trace header.
  nlohmann::json params;
  std::ostream* trace_out = nullptr;     // JSON Lines trace, or none
  const std::vector<sim::Decision>* tape = nullptr;  // replay these decisions instead of random
  // With a tape: once it runs out, draw the remaining decisions at random from suffix_seed
  // (sim::PrefixThenRandomStrategy) instead of answering 0. Used by `simfs why`.
  bool random_after_tape = false;
  uint64_t suffix_seed = 0;
  bool record_tape = false;
  uint64_t max_events = UINT64_MAX;      // dispatch budget (a hang becomes a harness error)
  std::string build_id;                  // goes into the trace header only
  bool capture_images = false;           // return each device's durable image at the end
};

struct RunReport {
  std::string scenario;
  uint64_t seed = 0;
  std::string bug;
  nlohmann::ordered_json params;  // every parameter as the run resolved it (params_to_json)
  std::string drawn;              // Scenario::drawn(): what setup drew from the seed
  enum class Result { kPass, kFail, kError } result = Result::kPass;
  std::string error;  // for kError: what went wrong in the harness
  uint64_t digest = 0;
  uint64_t trace_events = 0;
  uint64_t loop_events = 0;
  uint64_t decisions = 0;
  uint64_t messages = 0;  // network messages sent (Scenario::messages_sent)
  sim::Time sim_ns = 0;
  std::vector<sim::Violation> violations;
  std::vector<sim::Decision> tape;           // when recorded
  std::vector<sim::Time> tape_times;         // when recorded: the instant of each decision
  std::map<uint64_t, std::string> site_names;
  uint64_t tape_mismatches = 0;              // tape replay: decisions whose site differed
  std::vector<std::pair<std::string, std::string>> images;  // (device name, image bytes)
};

const char* result_name(RunReport::Result r);

// Never throws for a known scenario; an unknown scenario is a kError report.
RunReport run_scenario(const RunConfig& cfg);

}  // namespace scenarios
