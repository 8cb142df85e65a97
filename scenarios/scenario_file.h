// Scenario files: a scenario with its parameters, as JSON (docs/scenario-schema.md):
//   {"scenario": "single_mount", "description": "...", "bug": "", "params": {"data_blocks": 64}}
//
// The parser takes the text, not a path: reading files is the CLI's business (tools/), and
// scenarios/ stays free of host state. It never throws and never crashes, whatever the text;
// every error is one line naming the file and the JSON pointer of the offending value:
//   small.json: at /params/meta_blocks: expected an integer in 1041..1048576, got "x"
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/params.h"
#include "scenarios/scenario.h"

namespace scenarios {

// Larger inputs are refused before parsing (a scenario file is a few hundred bytes).
constexpr size_t kScenarioFileMaxBytes = 1 << 20;

struct ScenarioFile {
  std::string scenario;
  std::string description;
  std::string bug;                      // "" = none
  Params params;                        // every declared parameter, resolved
  nlohmann::ordered_json params_json;   // the same, canonical (params_to_json)
};

// Parses a scenario file's text. `name` (usually the path) prefixes error messages. Returns ""
// on success, else the message.
std::string parse_scenario_file(std::string_view text, std::string_view name, ScenarioFile* out);

// Checks a "params" object (from a scenario file, a trace header or a tape) against the
// scenario's declarations and fills in defaults for the rest. A null value means "all
// defaults". Returns "" or "at /params/NAME: why". Never throws.
std::string resolve_params(const ScenarioInfo& info, const nlohmann::json& params, Params* out);

// Canonical JSON of resolved params, in declaration order: ints as numbers, durations as
// strings with a unit ("250ms"), bools, enum strings, lists of strings. resolve_params of it
// gives back the same Params.
nlohmann::ordered_json params_to_json(const ScenarioInfo& info, const Params& p);
nlohmann::ordered_json param_value_json(const ParamSpec& spec, const ParamValue& v);

// "250ms" / "2s" / "100us" / "7ns" -> ns; nullopt if malformed or overflowing.
std::optional<sim::Duration> parse_duration(std::string_view s);

// The candidate closest to `word` by edit distance, if close enough to be a likely typo; "".
std::string closest_name(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace scenarios
