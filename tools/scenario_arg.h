// A scenario argument on the command line: a scenario name ("single_mount") or a scenario file
// ("examples/small.json", "./x"), wherever `simfs run` and `simfs fuzz` take a scenario.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace tools {

struct ScenarioArg {
  std::string target;    // as given: what a replay command passes again
  std::string scenario;  // the scenario's name
  std::string file;      // the scenario file, or "" for a plain name
  std::string bug;       // the file's "bug" ("" if none or no file)
  nlohmann::json params; // the file's params, canonical (null for a plain name: all defaults)
};

// A path ending in .json or containing '/' is a scenario file; anything else is a name.
bool is_scenario_file_arg(const std::string& arg);

// Resolves `arg`. Returns "" or the error to print (a bad file's message names the file and
// the JSON pointer of the problem; exit code 2). Does not check that a plain name exists.
std::string resolve_scenario_arg(const std::string& arg, ScenarioArg* out);

}  // namespace tools
