// The scenario file parser takes files people write by hand: no input may crash it or make it
// throw. RapidCheck mutates valid files (byte flips, truncation, inserted JSON fragments, random
// values of random types at random paths) and checks that the parser returns either a valid
// configuration (every value inside its declaration) or a one-line error naming the file.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "scenarios/scenario.h"
#include "scenarios/scenario_file.h"

namespace tools {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;
using scenarios::ParamSpec;
using scenarios::ParamType;
using scenarios::ScenarioFile;

// Valid files to start from: the examples, plus one per scenario with every parameter set.
const std::vector<std::string>& corpus() {
  static const std::vector<std::string> c = [] {
    std::vector<std::string> files;
    std::vector<stdfs::path> paths;
    for (const auto& e : stdfs::directory_iterator(stdfs::path(SIMFS_SOURCE_DIR) / "scenarios" / "examples")) {
      if (e.path().extension() == ".json") paths.push_back(e.path());
    }
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) {
      std::ifstream in(p);
      std::stringstream ss;
      ss << in.rdbuf();
      files.push_back(ss.str());
    }
    for (const auto& info : scenarios::all_scenarios()) {
      nlohmann::ordered_json j{{"scenario", info.name}, {"description", "all defaults, spelled out"}, {"bug", ""}};
      j["params"] = scenarios::params_to_json(info, scenarios::default_params(info.params));
      files.push_back(j.dump(2));
    }
    return files;
  }();
  return c;
}

// Every name a file may use, and then some: values drawn from here are often valid.
const std::vector<std::string>& words() {
  static const std::vector<std::string> w = [] {
    std::set<std::string> s = {"scenario", "description", "bug", "params", "", "x", "crsh", "2s", "250ms", "0ns", "61s"};
    for (const auto& info : scenarios::all_scenarios()) {
      s.insert(info.name);
      for (const auto& b : info.bugs) s.insert(b);
      for (const auto& p : info.params) {
        s.insert(p.name);
        for (const auto& a : p.allowed) s.insert(a);
        for (const auto& a : p.known) s.insert(a);
      }
    }
    return std::vector<std::string>(s.begin(), s.end());
  }();
  return w;
}

json random_value(int depth) {
  switch (*rc::gen::inRange(0, depth > 0 ? 10 : 8)) {
    case 0: return nullptr;
    case 1: return *rc::gen::arbitrary<bool>();
    case 2: return *rc::gen::arbitrary<int64_t>();
    case 3:  // near the edges of the declared ranges
      return *rc::gen::element<int64_t>(-1, 0, 1, 2, 3, 7, 15, 16, 17, 48, 1040, 1041, 4096, 1 << 20, (1 << 20) + 1);
    case 4: return *rc::gen::element<uint64_t>(uint64_t{1} << 63, UINT64_MAX);
    case 5: return *rc::gen::arbitrary<double>();
    case 6:
      return std::to_string(*rc::gen::inRange(0, 70000)) + *rc::gen::element<std::string>("ns", "us", "ms", "s", "m", "", " s", "S");
    case 7: return *rc::gen::elementOf(words());
    case 8: return *rc::gen::arbitrary<std::string>();  // may be invalid UTF-8: dumped with replacement
    case 9: {
      json a = json::array();
      const int n = *rc::gen::inRange(0, 4);
      for (int i = 0; i < n; ++i) a.push_back(random_value(depth - 1));
      return a;
    }
    default: {
      json o = json::object();
      const int n = *rc::gen::inRange(0, 4);
      for (int i = 0; i < n; ++i) o[*rc::gen::elementOf(words())] = random_value(depth - 1);
      return o;
    }
  }
}

// A value of the declared type, usually in range (and sometimes just outside it).
json plausible_value(const ParamSpec& p) {
  switch (p.type) {
    case ParamType::kInt: return *rc::gen::inRange(p.min - 1, p.max + 2);
    case ParamType::kDuration: return scenarios::format_duration(*rc::gen::inRange(p.min, p.max + 2));
    case ParamType::kBool: return *rc::gen::arbitrary<bool>();
    case ParamType::kEnum: return *rc::gen::elementOf(p.allowed);
    case ParamType::kEnumList: {
      json a = json::array();
      for (const auto& v : p.allowed) {
        if (*rc::gen::inRange(0, 3) != 0) a.push_back(v);
      }
      return a;
    }
  }
  return nullptr;
}

std::string dump(const json& j) { return j.dump(*rc::gen::element(-1, 2), ' ', false, json::error_handler_t::replace); }

// The parser's contract, whatever the text.
void check(const std::string& text) {
  ScenarioFile f;
  std::string err;
  try {
    err = scenarios::parse_scenario_file(text, "fuzz.json", &f);
  } catch (...) {
    RC_FAIL("parse_scenario_file threw");
  }
  RC_TAG(err.empty() ? "parsed" : "error");  // both outcomes must be well represented
  if (!err.empty()) {
    RC_ASSERT(err.rfind("fuzz.json: ", 0) == 0u);
    RC_ASSERT(err.find('\n') == std::string::npos);
    RC_ASSERT(err.size() < 1000u);
    return;
  }
  const scenarios::ScenarioInfo* info = scenarios::find_scenario(f.scenario);
  RC_ASSERT(info != nullptr);
  RC_ASSERT(f.bug.empty() || std::count(info->bugs.begin(), info->bugs.end(), f.bug) == 1);
  RC_ASSERT(f.params.values().size() == info->params.size());
  for (const ParamSpec& p : info->params) {
    const scenarios::ParamValue& v = f.params.values().at(p.name);
    switch (p.type) {
      case ParamType::kInt:
      case ParamType::kDuration: {
        const int64_t x = std::get<int64_t>(v);
        RC_ASSERT(p.min <= x && x <= p.max);
        break;
      }
      case ParamType::kBool: RC_ASSERT(std::holds_alternative<bool>(v)); break;
      case ParamType::kEnum:
        RC_ASSERT(std::count(p.allowed.begin(), p.allowed.end(), std::get<std::string>(v)) == 1);
        break;
      case ParamType::kEnumList:
        for (const auto& x : std::get<std::vector<std::string>>(v))
          RC_ASSERT(std::count(p.allowed.begin(), p.allowed.end(), x) == 1);
        break;
    }
  }
  RC_ASSERT(!info->check_params || info->check_params(f.params).empty());
  // What parsed has a canonical form that parses to the same thing.
  scenarios::Params again;
  RC_ASSERT(scenarios::resolve_params(*info, f.params_json, &again).empty());
  RC_ASSERT(again == f.params);
}

RC_GTEST_PROP(ScenarioFileFuzz, ByteFlipsAndTruncation,
              (const std::vector<std::pair<size_t, uint8_t>>& flips, size_t cut, bool truncate)) {
  std::string s = *rc::gen::elementOf(corpus());
  for (const auto& [pos, byte] : flips) s[pos % s.size()] = static_cast<char>(byte);
  if (truncate) s.resize(cut % (s.size() + 1));
  check(s);
}

RC_GTEST_PROP(ScenarioFileFuzz, InsertedFragments, (size_t at, const std::string& random)) {
  std::string s = *rc::gen::elementOf(corpus());
  const std::vector<std::string> fragments = {
      "{", "}", "[", "]", ",", ":", "\"", "\\", "null", "true", "-0", "1e999", "0x10", "NaN", "/* c */", "// c\n",
      "\"\\u0000\"", "\"\\ud800\"", "\xff\xfe", "18446744073709551616", "-9223372036854775809", "{\"a\":1}", "[[[[[[[[",
      "]]]]", "\"meta_blocks\": 5,", "\"params\": {},", "\"scenario\": \"echo\",", "\"faults\": [\"crash\", \"x\"],",
      "\"replicas\": 7,", "\"workload_end\": \"1s\",", std::string(3, '\0'), random};
  const int n = *rc::gen::inRange(1, 4);
  for (int i = 0; i < n; ++i) {
    const std::string& frag = *rc::gen::elementOf(fragments);
    s.insert((at + static_cast<size_t>(i) * 7919) % (s.size() + 1), frag);
  }
  check(s);
}

RC_GTEST_PROP(ScenarioFileFuzz, RandomValuesAtRandomPaths, ()) {
  json j = json::parse(*rc::gen::elementOf(corpus()));
  const int edits = *rc::gen::inRange(1, 5);
  for (int i = 0; i < edits; ++i) {
    const std::string key = *rc::gen::elementOf(words());
    switch (*rc::gen::inRange(0, 7)) {
      case 0: j[key] = random_value(2); break;  // top level
      case 1:
        if (!j["params"].is_object()) j["params"] = json::object();
        j["params"][key] = random_value(2);
        break;
      case 2:
        if (j.contains("params") && j["params"].is_object() && !j["params"].empty()) {
          auto it = j["params"].begin();
          std::advance(it, *rc::gen::inRange<size_t>(0, j["params"].size()));
          it.value() = random_value(1);
        }
        break;
      case 4: j.erase(key); break;
      default: {
        // The most common edit, so that many files still parse: a declared parameter of the
        // file's scenario, with a value of about the right shape.
        const scenarios::ScenarioInfo* info =
            j.contains("scenario") && j["scenario"].is_string() ? scenarios::find_scenario(j["scenario"].get<std::string>()) : nullptr;
        if (info && j["params"].is_object()) {
          const ParamSpec& p = *rc::gen::elementOf(info->params);
          j["params"][p.name] = plausible_value(p);
        }
        break;
      }
    }
  }
  if (*rc::gen::inRange(0, 5) == 0) j = random_value(3);  // not even an object, sometimes
  check(dump(j));
}

RC_GTEST_PROP(ScenarioFileFuzz, RandomText, (const std::string& text)) { check(text); }

TEST(ScenarioFileFuzz, TheCorpusParses) {
  for (const auto& text : corpus()) {
    ScenarioFile f;
    EXPECT_EQ(scenarios::parse_scenario_file(text, "corpus", &f), "") << text;
  }
}

TEST(ScenarioFileFuzz, DeepNestingIsAnErrorNotAStackOverflow) {
  ScenarioFile f;
  const std::string deep = "{\"scenario\": \"echo\", \"params\": {\"clients\": " + std::string(200000, '[') +
                           std::string(200000, ']') + "}}";
  EXPECT_EQ(scenarios::parse_scenario_file(deep, "deep.json", &f),
            "deep.json: at /params/clients: expected an integer in 1..16, got an array");
  const std::string open = std::string(500000, '[');
  const std::string e = scenarios::parse_scenario_file(open, "open.json", &f);
  EXPECT_NE(e.find("invalid JSON"), std::string::npos) << e;
}

}  // namespace
}  // namespace tools
