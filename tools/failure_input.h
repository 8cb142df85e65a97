// Reads what `simfs replay` and `simfs shrink` are given: a trace (.jsonl), a decision tape
// (.json), or a failure artifact directory written by `simfs fuzz` (tape.json + trace.jsonl).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tools/tape_file.h"

namespace tools {

struct FailureInput {
  std::string scenario;
  uint64_t seed = 0;
  std::string bug;
  nlohmann::json params;         // scenario parameters of the recorded run (null: defaults)
  std::optional<TapeFile> tape;  // present when the run is to be replayed from a tape
  std::string digest;            // expected digest ("" if unknown)
  std::string build;             // build id recorded in the trace header ("" if unknown)
  std::string kind;              // "trace", "tape" or "artifact"
};

// Returns "" on success. *usage is set when the path does not exist (a usage error, exit 2);
// otherwise an error means the input is corrupt or unusable (exit 3).
std::string load_failure_input(const std::string& path, FailureInput* out, bool* usage);

}  // namespace tools
