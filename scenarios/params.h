// Scenario parameters: each scenario declares typed knobs (node counts, device sizes, fault
// window, fault kinds, workload mix) with a default, a range or the allowed values, and a one-line
// doc. A run resolves them (defaults, overridden by a scenario file or a recorded trace/tape)
// into a Params object that the scenario reads instead of constants.
//
// Durations are virtual nanoseconds (sim::Duration); in JSON they are strings with a unit
// ("250ms", "2s"), see scenarios/scenario_file.h and docs/scenario-schema.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "sim/time.h"

namespace scenarios {

enum class ParamType { kInt, kDuration, kBool, kEnum, kEnumList };
// "int", "duration", "bool", "enum", "list" (as shown by `simfs list` and the schema doc).
const char* param_type_name(ParamType t);

// int and duration: int64_t; bool: bool; enum: string; list of enum: vector<string>.
using ParamValue = std::variant<int64_t, bool, std::string, std::vector<std::string>>;

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kInt;
  ParamValue def;
  int64_t min = 0, max = 0;          // kInt, kDuration (ns), inclusive
  std::vector<std::string> allowed;  // kEnum, kEnumList
  std::string doc;
  // kEnum, kEnumList: values that exist but this scenario does not allow (e.g. fault kinds it
  // does not tolerate), so an error can say so instead of "unknown value".
  std::vector<std::string> known;
  // A count where fewer is simpler (nodes, clients): the shrinker tries lowering it.
  bool shrink_toward_min = false;
};

ParamSpec int_param(std::string name, int64_t def, int64_t min, int64_t max, std::string doc);
// An int_param that `simfs shrink` lowers toward min when the failure survives it (node counts).
ParamSpec count_param(std::string name, int64_t def, int64_t min, int64_t max, std::string doc);
ParamSpec duration_param(std::string name, sim::Duration def, sim::Duration min, sim::Duration max, std::string doc);
ParamSpec bool_param(std::string name, bool def, std::string doc);
ParamSpec enum_param(std::string name, std::string def, std::vector<std::string> allowed, std::string doc);
ParamSpec enum_list_param(std::string name, std::vector<std::string> def, std::vector<std::string> allowed,
                          std::string doc);

// Resolved values, one per declared parameter. Reading a name the scenario did not declare (or
// with the wrong type) is a programming error and throws std::logic_error.
class Params {
 public:
  int64_t integer(const std::string& name) const;
  sim::Duration duration(const std::string& name) const { return integer(name); }
  bool flag(const std::string& name) const;
  const std::string& choice(const std::string& name) const;
  const std::vector<std::string>& list(const std::string& name) const;

  void set(const std::string& name, ParamValue v) { values_[name] = std::move(v); }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const std::map<std::string, ParamValue>& values() const { return values_; }
  bool operator==(const Params&) const = default;

 private:
  const ParamValue& at(const std::string& name) const;
  std::map<std::string, ParamValue> values_;
};

Params default_params(const std::vector<ParamSpec>& specs);

// "2s", "250ms", "1500us", "7ns": the largest unit that divides exactly.
std::string format_duration(sim::Duration ns);

}  // namespace scenarios
