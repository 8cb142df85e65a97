// Decision tape files (JSON):
//   {"format":"simfs-tape","version":1,"scenario":"register","seed":"0x...","bug":"",
//    "params":{"replicas":3, ...}, "sites":["sched.tie", ...], "decisions":[[site_index, bound, value], ...]}
// "params" (optional) holds the scenario parameters of the recorded run; absent means defaults.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/choice.h"

namespace tools {

struct TapeFile {
  std::string scenario;
  uint64_t seed = 0;
  std::string bug;
  std::vector<sim::Decision> decisions;
  std::map<uint64_t, std::string> site_names;
  std::string digest;  // of the run that produced it, "0x..." (optional)
  std::string result;  // pass / fail / error (optional)
  nlohmann::json params;  // the run's scenario parameters (null: defaults)
};

std::string tape_to_json(const TapeFile& t);
// Returns "" on success, or what is wrong with the text.
std::string tape_from_json(const std::string& text, TapeFile* out);

}  // namespace tools
