#include "tools/tape_file.h"

#include <nlohmann/json.hpp>

#include "sim/random.h"
#include "sim/trace.h"
#include "tools/seed.h"

namespace tools {

std::string tape_to_json(const TapeFile& t) {
  nlohmann::ordered_json j;
  j["format"] = "simfs-tape";
  j["version"] = 1;
  j["scenario"] = t.scenario;
  j["seed"] = sim::hex64(t.seed);
  j["bug"] = t.bug;
  if (t.params.is_object()) j["params"] = t.params;
  std::map<uint64_t, size_t> index;
  nlohmann::ordered_json sites = nlohmann::ordered_json::array();
  for (const auto& [id, name] : t.site_names) {
    index[id] = sites.size();
    sites.push_back(name);
  }
  nlohmann::ordered_json ds = nlohmann::ordered_json::array();
  for (const sim::Decision& d : t.decisions) {
    auto it = index.find(d.site_id);
    if (it == index.end()) {
      index[d.site_id] = sites.size();
      sites.push_back(sim::hex64(d.site_id));  // unnamed: keep the id itself
      it = index.find(d.site_id);
    }
    ds.push_back({it->second, d.bound, d.value});
  }
  if (!t.digest.empty()) j["digest"] = t.digest;
  if (!t.result.empty()) j["result"] = t.result;
  j["sites"] = sites;
  j["decisions"] = ds;
  return j.dump() + "\n";
}

std::string tape_from_json(const std::string& text, TapeFile* out) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return "not a JSON object (truncated or corrupt tape?)";
  if (j.value("format", "") != "simfs-tape") return "not a simfs tape (format field)";
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != 1)
    return "unsupported tape version";
  if (!j.contains("scenario") || !j["scenario"].is_string()) return "tape has no scenario";
  if (!j.contains("seed") || !j["seed"].is_string()) return "tape has no seed";
  std::string err;
  auto seed = parse_seed(j["seed"].get<std::string>(), &err);
  if (!seed) return "tape " + err;
  if (!j.contains("sites") || !j["sites"].is_array()) return "tape has no sites array";
  if (!j.contains("decisions") || !j["decisions"].is_array()) return "tape has no decisions array";
  TapeFile t;
  t.scenario = j["scenario"].get<std::string>();
  t.seed = *seed;
  t.bug = j.contains("bug") && j["bug"].is_string() ? j["bug"].get<std::string>() : "";
  t.digest = j.contains("digest") && j["digest"].is_string() ? j["digest"].get<std::string>() : "";
  t.result = j.contains("result") && j["result"].is_string() ? j["result"].get<std::string>() : "";
  if (j.contains("params")) {
    // Checked against the scenario's declarations when the tape is run (run_scenario).
    if (!j["params"].is_object()) return "tape params must be an object";
    t.params = j["params"];
  }
  std::vector<uint64_t> site_ids;
  for (const auto& s : j["sites"]) {
    if (!s.is_string()) return "tape site names must be strings";
    const std::string name = s.get<std::string>();
    uint64_t id = sim::fnv1a64(name);
    if (name.size() == 18 && name.rfind("0x", 0) == 0) {
      if (auto v = parse_seed(name, nullptr)) id = *v;
    }
    site_ids.push_back(id);
    t.site_names[id] = name;
  }
  for (const auto& d : j["decisions"]) {
    if (!d.is_array() || d.size() != 3 || !d[0].is_number_unsigned() || !d[1].is_number_unsigned() ||
        !d[2].is_number_unsigned())
      return "each decision must be [site_index, bound, value] of unsigned integers";
    const uint64_t si = d[0].get<uint64_t>();
    if (si >= site_ids.size()) return "decision names site index " + std::to_string(si) + ", out of range";
    t.decisions.push_back(sim::Decision{site_ids[si], d[1].get<uint64_t>(), d[2].get<uint64_t>()});
  }
  *out = std::move(t);
  return "";
}

}  // namespace tools
