#include "tools/scenario_arg.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "scenarios/scenario_file.h"

namespace tools {

bool is_scenario_file_arg(const std::string& arg) {
  return arg.find('/') != std::string::npos || (arg.size() >= 5 && arg.compare(arg.size() - 5, 5, ".json") == 0);
}

std::string resolve_scenario_arg(const std::string& arg, ScenarioArg* out) {
  ScenarioArg a;
  a.target = arg;
  if (!is_scenario_file_arg(arg)) {
    a.scenario = arg;
    *out = std::move(a);
    return "";
  }
  std::error_code ec;
  if (std::filesystem::is_directory(arg, ec)) return arg + ": cannot read scenario file: it is a directory";
  std::ifstream in(arg, std::ios::binary);
  if (!in) return arg + ": cannot read scenario file: " + std::strerror(errno);
  // Read at most one byte past the limit: the parser reports the size, a huge file costs nothing.
  std::string text(scenarios::kScenarioFileMaxBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return arg + ": cannot read scenario file: " + std::strerror(errno);
  text.resize(static_cast<size_t>(in.gcount()));
  scenarios::ScenarioFile f;
  if (std::string e = scenarios::parse_scenario_file(text, arg, &f); !e.empty()) return e;
  a.scenario = f.scenario;
  a.file = arg;
  a.bug = f.bug;
  a.params = f.params_json;
  *out = std::move(a);
  return "";
}

}  // namespace tools
