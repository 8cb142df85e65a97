// simfs list [--json]: every scenario with its invariants, planted bugs and parameters.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "scenarios/scenario.h"
#include "scenarios/scenario_file.h"
#include "tools/cli.h"

namespace tools {

namespace {

// "1041..1048576", "0ns..60s", "crash, pause", or "" for bool.
std::string range_of(const scenarios::ParamSpec& p) {
  using scenarios::ParamType;
  switch (p.type) {
    case ParamType::kInt: return std::to_string(p.min) + ".." + std::to_string(p.max);
    case ParamType::kDuration: return scenarios::format_duration(p.min) + ".." + scenarios::format_duration(p.max);
    case ParamType::kBool: return "";
    case ParamType::kEnum:
    case ParamType::kEnumList: {
      std::string s;
      for (const auto& a : p.allowed) s += (s.empty() ? "" : ", ") + a;
      return s;
    }
  }
  return "";
}

nlohmann::ordered_json param_json(const scenarios::ParamSpec& p) {
  using scenarios::ParamType;
  nlohmann::ordered_json j{{"name", p.name}, {"type", scenarios::param_type_name(p.type)},
                           {"default", scenarios::param_value_json(p, p.def)}};
  if (p.type == ParamType::kInt || p.type == ParamType::kDuration) {
    j["min"] = scenarios::param_value_json(p, scenarios::ParamValue(p.min));
    j["max"] = scenarios::param_value_json(p, scenarios::ParamValue(p.max));
  }
  if (p.type == ParamType::kEnum || p.type == ParamType::kEnumList) j["allowed"] = p.allowed;
  j["doc"] = p.doc;
  return j;
}

}  // namespace

int cmd_list(Args& args) {
  bool json = false;
  while (!args.done()) {
    if (args.flag("--json")) {
      json = true;
      continue;
    }
    std::fprintf(stderr, "simfs list: unexpected argument '%s'\n", args.peek().c_str());
    return kExitUsage;
  }
  if (json) {
    nlohmann::ordered_json all = nlohmann::ordered_json::array();
    for (const auto& s : scenarios::all_scenarios()) {
      nlohmann::ordered_json ps = nlohmann::ordered_json::array();
      for (const auto& p : s.params) ps.push_back(param_json(p));
      all.push_back({{"name", s.name}, {"description", s.description}, {"invariants", s.invariants}, {"bugs", s.bugs},
                     {"params", ps}});
    }
    std::printf("%s\n", all.dump(2).c_str());
    return kExitPass;
  }
  for (const auto& s : scenarios::all_scenarios()) {
    std::printf("%s\n    %s\n", s.name.c_str(), s.description.c_str());
    std::printf("    invariants:");
    for (const auto& i : s.invariants) std::printf(" %s", i.c_str());
    std::printf("\n    planted bugs (--bug):");
    for (const auto& b : s.bugs) std::printf(" %s", b.c_str());
    std::printf("\n    parameters (scenario files, docs/scenario-schema.md):\n");
    for (const auto& p : s.params) {
      const bool numeric = p.type == scenarios::ParamType::kInt || p.type == scenarios::ParamType::kDuration;
      const std::string range = range_of(p);
      const std::string extra = range.empty() ? "" : (numeric ? ", range " : ", of: ") + range;
      std::printf("      %-20s %-8s default %s%s\n          %s\n", p.name.c_str(), scenarios::param_type_name(p.type),
                  scenarios::param_value_json(p, p.def).dump().c_str(), extra.c_str(), p.doc.c_str());
    }
  }
  return kExitPass;
}

}  // namespace tools
