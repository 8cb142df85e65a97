#include "scenarios/params.h"

#include <stdexcept>

namespace scenarios {

const char* param_type_name(ParamType t) {
  switch (t) {
    case ParamType::kInt: return "int";
    case ParamType::kDuration: return "duration";
    case ParamType::kBool: return "bool";
    case ParamType::kEnum: return "enum";
    case ParamType::kEnumList: return "list";
  }
  return "?";
}

ParamSpec int_param(std::string name, int64_t def, int64_t min, int64_t max, std::string doc) {
  return ParamSpec{std::move(name), ParamType::kInt, def, min, max, {}, std::move(doc), {}};
}

ParamSpec count_param(std::string name, int64_t def, int64_t min, int64_t max, std::string doc) {
  ParamSpec p = int_param(std::move(name), def, min, max, std::move(doc));
  p.shrink_toward_min = true;
  return p;
}

ParamSpec duration_param(std::string name, sim::Duration def, sim::Duration min, sim::Duration max, std::string doc) {
  return ParamSpec{std::move(name), ParamType::kDuration, def, min, max, {}, std::move(doc), {}};
}

ParamSpec bool_param(std::string name, bool def, std::string doc) {
  return ParamSpec{std::move(name), ParamType::kBool, def, 0, 0, {}, std::move(doc), {}};
}

ParamSpec enum_param(std::string name, std::string def, std::vector<std::string> allowed, std::string doc) {
  return ParamSpec{std::move(name), ParamType::kEnum, std::move(def), 0, 0, std::move(allowed), std::move(doc), {}};
}

ParamSpec enum_list_param(std::string name, std::vector<std::string> def, std::vector<std::string> allowed,
                          std::string doc) {
  return ParamSpec{std::move(name), ParamType::kEnumList, std::move(def), 0, 0, std::move(allowed), std::move(doc), {}};
}

const ParamValue& Params::at(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw std::logic_error("scenario reads undeclared parameter '" + name + "'");
  return it->second;
}

namespace {
template <typename T>
const T& get_as(const ParamValue& v, const std::string& name) {
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw std::logic_error("scenario reads parameter '" + name + "' as the wrong type");
}
}  // namespace

int64_t Params::integer(const std::string& name) const { return get_as<int64_t>(at(name), name); }
bool Params::flag(const std::string& name) const { return get_as<bool>(at(name), name); }
const std::string& Params::choice(const std::string& name) const { return get_as<std::string>(at(name), name); }
const std::vector<std::string>& Params::list(const std::string& name) const {
  return get_as<std::vector<std::string>>(at(name), name);
}

Params default_params(const std::vector<ParamSpec>& specs) {
  Params p;
  for (const ParamSpec& s : specs) p.set(s.name, s.def);
  return p;
}

std::string format_duration(sim::Duration ns) {
  if (ns != 0 && ns % sim::kSecond == 0) return std::to_string(ns / sim::kSecond) + "s";
  if (ns != 0 && ns % sim::kMillisecond == 0) return std::to_string(ns / sim::kMillisecond) + "ms";
  if (ns != 0 && ns % sim::kMicrosecond == 0) return std::to_string(ns / sim::kMicrosecond) + "us";
  return std::to_string(ns) + "ns";
}

}  // namespace scenarios
