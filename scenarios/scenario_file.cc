#include "scenarios/scenario_file.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <set>

namespace scenarios {

namespace {

using json = nlohmann::json;

// Arbitrary bytes as a short, printable, single-line string (errors quote user input).
std::string printable(std::string_view s, size_t max = 60) {
  std::string o;
  for (unsigned char c : s) {
    if (o.size() >= max) {
      o += "...";
      break;
    }
    if (c == '\\' || c == '"') {
      o.push_back('\\');
      o.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      o += b;
    } else {
      o.push_back(static_cast<char>(c));
    }
  }
  return o;
}

// One JSON pointer token (RFC 6901 escapes), printable.
std::string pointer_token(std::string_view key) {
  std::string t;
  for (char c : key) {
    if (c == '~') t += "~0";
    else if (c == '/') t += "~1";
    else t.push_back(c);
  }
  return printable(t);
}

// What a value is, for "got ..." (never recurses: input may be nested arbitrarily deep).
std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::string: return "\"" + printable(v.get_ref<const std::string&>()) + "\"";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::null: return "null";
    case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer: return std::to_string(v.get<int64_t>());
    case json::value_t::number_unsigned: return std::to_string(v.get<uint64_t>());
    case json::value_t::number_float: return printable(v.dump());
    default: return "nothing";
  }
}

std::string join(const std::vector<std::string>& v) {
  std::string o;
  for (const std::string& s : v) o += (o.empty() ? "" : ", ") + s;
  return o;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string c = closest_name(word, candidates);
  return c.empty() ? "" : " (did you mean \"" + c + "\"?)";
}

// Duplicate keys: nlohmann keeps the last copy silently, other parsers the first, so a file
// with duplicates means different things to different tools. The parse callback sees every
// key; each open object keeps the set of keys seen so far. Only path components are kept per
// level (not whole paths), so deep nesting costs linear memory.
struct DuplicateKeys {
  struct Level {
    bool array = false;
    size_t index = 0;       // arrays: the next element's index
    std::string key;        // objects: the key whose value comes next
    std::set<std::string> keys;
    std::string component;  // this level's pointer token within its parent
  };
  std::vector<Level> levels;
  std::string error;

  std::string path() const {
    std::string p;
    for (size_t i = 1; i < levels.size(); ++i) p += "/" + levels[i].component;
    return p;
  }
  bool on(json::parse_event_t ev, const json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start: {
        Level l;
        l.array = ev == json::parse_event_t::array_start;
        if (!levels.empty()) {
          Level& parent = levels.back();
          l.component = parent.array ? std::to_string(parent.index++) : pointer_token(parent.key);
        }
        levels.push_back(std::move(l));
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!levels.empty()) levels.pop_back();
        break;
      case json::parse_event_t::key:
        if (!levels.empty() && parsed.is_string()) {
          Level& l = levels.back();
          const std::string& k = parsed.get_ref<const std::string&>();
          if (!l.keys.insert(k).second && error.empty()) {
            error = "at " + path() + "/" + pointer_token(k) + ": duplicate key \"" + printable(k) +
                    "\" (JSON readers disagree on which copy wins)";
          }
          l.key = k;
        }
        break;
      case json::parse_event_t::value:
        if (!levels.empty() && levels.back().array) ++levels.back().index;
        break;
    }
    return true;
  }
};

// "at line L, column C: ..." from nlohmann's parse_error (whose byte is 1-based).
std::string syntax_message(std::string_view text, const json::parse_error& e) {
  size_t line = 1, col = 0;
  const size_t end = std::min<size_t>(e.byte, text.size());
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 0;
    } else {
      ++col;
    }
  }
  std::string where = "at line " + std::to_string(line) + ", column " + std::to_string(std::max<size_t>(col, 1)) + ": ";
  std::string what = e.what();
  // (Not "unexpected end of input", which contains the same words.)
  if (what.find("; expected end of input") != std::string::npos) return where + "trailing characters after the JSON object";
  // Drop nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 2: ".
  const size_t col_at = what.find("column ");
  const size_t colon = col_at == std::string::npos ? std::string::npos : what.find(": ", col_at);
  if (colon != std::string::npos) what = what.substr(colon + 2);
  return where + "invalid JSON: " + printable(what, 200);
}

std::string range_text(const ParamSpec& s) {
  if (s.type == ParamType::kDuration) return format_duration(s.min) + ".." + format_duration(s.max);
  return std::to_string(s.min) + ".." + std::to_string(s.max);
}

std::string enum_error(const ParamSpec& s, const std::string& x) {
  if (contains(s.allowed, x)) return "";
  if (contains(s.known, x)) return "\"" + printable(x) + "\" is not allowed in this scenario; allowed: " + join(s.allowed);
  return "unknown value \"" + printable(x) + "\"" + did_you_mean(x, s.allowed) + "; allowed: " + join(s.allowed);
}

// Checks one value against its declaration. Returns "" or why not; for a list element,
// *suffix gets its pointer suffix ("/2").
std::string check_value(const ParamSpec& s, const json& v, ParamValue* out, std::string* suffix) {
  switch (s.type) {
    case ParamType::kInt: {
      const std::string want = "expected an integer in " + range_text(s);
      if (!v.is_number_integer()) return want + ", got " + describe(v);
      if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return "out of range: " + want + ", got " + describe(v);
      const int64_t x = v.get<int64_t>();
      if (x < s.min || x > s.max) return "out of range: " + want + ", got " + describe(v);
      *out = x;
      return "";
    }
    case ParamType::kDuration: {
      const std::string want = "expected a duration such as \"250ms\" or \"2s\" (units ns, us, ms, s) in " + range_text(s);
      if (!v.is_string()) return want + ", got " + describe(v);
      const auto d = parse_duration(v.get_ref<const std::string&>());
      if (!d) return want + ", got " + describe(v);
      if (*d < s.min || *d > s.max) return "out of range: " + want + ", got " + describe(v);
      *out = *d;
      return "";
    }
    case ParamType::kBool:
      if (!v.is_boolean()) return "expected true or false, got " + describe(v);
      *out = v.get<bool>();
      return "";
    case ParamType::kEnum: {
      if (!v.is_string()) return "expected one of " + join(s.allowed) + ", got " + describe(v);
      const std::string& x = v.get_ref<const std::string&>();
      if (std::string e = enum_error(s, x); !e.empty()) return e;
      *out = x;
      return "";
    }
    case ParamType::kEnumList: {
      if (!v.is_array()) return "expected a list of values from [" + join(s.allowed) + "], got " + describe(v);
      std::vector<std::string> xs;
      for (size_t i = 0; i < v.size(); ++i) {
        *suffix = "/" + std::to_string(i);
        const json& e = v[i];
        if (!e.is_string()) return "expected one of " + join(s.allowed) + ", got " + describe(e);
        const std::string& x = e.get_ref<const std::string&>();
        if (std::string err = enum_error(s, x); !err.empty()) return err;
        if (contains(xs, x)) return "\"" + x + "\" is listed twice";
        xs.push_back(x);
      }
      suffix->clear();
      *out = std::move(xs);
      return "";
    }
  }
  return "unsupported parameter type";
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  for (const ScenarioInfo& s : all_scenarios()) names.push_back(s.name);
  return names;
}

std::string parse_file(std::string_view text, ScenarioFile* out) {
  if (text.size() > kScenarioFileMaxBytes)
    return "too large (" + std::to_string(text.size()) + " bytes; a scenario file is at most 1 MiB)";
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return "empty: expected a JSON object such as {\"scenario\": \"echo\", \"params\": {}}";
  DuplicateKeys dups;
  json j;
  try {
    j = json::parse(text.begin(), text.end(), [&dups](int, json::parse_event_t ev, json& parsed) { return dups.on(ev, parsed); },
                    /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    return syntax_message(text, e);
  }
  if (!dups.error.empty()) return dups.error;
  if (!j.is_object()) return "expected a JSON object ({\"scenario\": ..., \"params\": {...}}) at the top level, got " + describe(j);
  static const std::vector<std::string> kKeys = {"scenario", "description", "bug", "params"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!contains(kKeys, it.key()))
      return "at /" + pointer_token(it.key()) + ": unknown key" + did_you_mean(it.key(), kKeys) + "; a scenario file has " + join(kKeys);
  }
  const std::vector<std::string> names = scenario_names();
  if (!j.contains("scenario")) return "at /scenario: missing: name the scenario to run (one of " + join(names) + ")";
  const json& sv = j["scenario"];
  if (!sv.is_string()) return "at /scenario: expected a scenario name (one of " + join(names) + "), got " + describe(sv);
  const std::string& name = sv.get_ref<const std::string&>();
  const ScenarioInfo* info = find_scenario(name);
  if (!info) return "at /scenario: unknown scenario \"" + printable(name) + "\"" + did_you_mean(name, names) + "; one of " + join(names);
  ScenarioFile f;
  f.scenario = name;
  if (j.contains("description")) {
    if (!j["description"].is_string()) return "at /description: expected a string, got " + describe(j["description"]);
    f.description = j["description"].get<std::string>();
  }
  if (j.contains("bug")) {
    const json& b = j["bug"];
    if (!b.is_string()) return "at /bug: expected a planted bug's name (or \"\" for none), got " + describe(b);
    f.bug = b.get<std::string>();
    if (!f.bug.empty() && !contains(info->bugs, f.bug))
      return "at /bug: scenario " + name + " has no planted bug \"" + printable(f.bug) + "\"" + did_you_mean(f.bug, info->bugs) +
             "; it has " + join(info->bugs);
  }
  // By reference: copying a json value recurses, and user input may nest arbitrarily deep.
  static const json kNoParams = json::object();
  const json& params = j.contains("params") ? j["params"] : kNoParams;
  if (!params.is_object()) return "at /params: expected an object of parameters, got " + describe(params);
  if (std::string e = resolve_params(*info, params, &f.params); !e.empty()) return e;
  f.params_json = params_to_json(*info, f.params);
  *out = std::move(f);
  return "";
}

}  // namespace

std::optional<sim::Duration> parse_duration(std::string_view s) {
  size_t i = 0;
  int64_t v = 0;
  const int64_t max = std::numeric_limits<int64_t>::max();
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    const int d = s[i++] - '0';
    if (v > (max - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (i == 0) return std::nullopt;
  const std::string_view unit = s.substr(i);
  int64_t mult = 0;
  if (unit == "ns") mult = sim::kNanosecond;
  else if (unit == "us") mult = sim::kMicrosecond;
  else if (unit == "ms") mult = sim::kMillisecond;
  else if (unit == "s") mult = sim::kSecond;
  else return std::nullopt;
  if (v > max / mult) return std::nullopt;
  return v * mult;
}

std::string closest_name(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.empty() || word.size() > 64) return "";  // a long string is not a typo; keep this cheap
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;  // the largest distance still a "typo", + 1
  for (const std::string& c : candidates) {
    // Levenshtein distance, one row at a time.
    std::vector<size_t> row(c.size() + 1);
    for (size_t k = 0; k <= c.size(); ++k) row[k] = k;
    for (size_t i = 1; i <= word.size(); ++i) {
      size_t diag = row[0];
      row[0] = i;
      for (size_t k = 1; k <= c.size(); ++k) {
        const size_t up = row[k];
        row[k] = std::min({row[k] + 1, row[k - 1] + 1, diag + (word[i - 1] == c[k - 1] ? 0 : 1)});
        diag = up;
      }
    }
    if (row[c.size()] < best_d) {
      best_d = row[c.size()];
      best = c;
    }
  }
  return best;
}

std::string resolve_params(const ScenarioInfo& info, const json& params, Params* out) {
  try {
    Params p = default_params(info.params);
    if (!params.is_null()) {
      if (!params.is_object()) return "at /params: expected an object of parameters, got " + describe(params);
      std::vector<std::string> names;
      for (const ParamSpec& s : info.params) names.push_back(s.name);
      for (auto it = params.begin(); it != params.end(); ++it) {
        const std::string& key = it.key();
        const auto spec = std::find_if(info.params.begin(), info.params.end(), [&](const ParamSpec& s) { return s.name == key; });
        if (spec == info.params.end()) {
          const std::string hint = did_you_mean(key, names);
          return "at /params/" + pointer_token(key) + ": unknown parameter of scenario " + info.name +
                 (hint.empty() ? " (see 'simfs list')" : hint);
        }
        ParamValue v;
        std::string suffix;
        if (std::string e = check_value(*spec, it.value(), &v, &suffix); !e.empty())
          return "at /params/" + pointer_token(key) + suffix + ": " + e;
        p.set(key, std::move(v));
      }
    }
    if (info.check_params) {
      if (std::string e = info.check_params(p); !e.empty()) return e;
    }
    *out = std::move(p);
    return "";
  } catch (const std::exception& e) {
    return std::string("internal error while checking parameters: ") + e.what();
  } catch (...) {
    return "internal error while checking parameters";
  }
}

nlohmann::ordered_json param_value_json(const ParamSpec& spec, const ParamValue& v) {
  switch (spec.type) {
    case ParamType::kInt: return std::get<int64_t>(v);
    case ParamType::kDuration: return format_duration(std::get<int64_t>(v));
    case ParamType::kBool: return std::get<bool>(v);
    case ParamType::kEnum: return std::get<std::string>(v);
    case ParamType::kEnumList: return std::get<std::vector<std::string>>(v);
  }
  return nullptr;
}

nlohmann::ordered_json params_to_json(const ScenarioInfo& info, const Params& p) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const ParamSpec& s : info.params) {
    auto it = p.values().find(s.name);
    j[s.name] = param_value_json(s, it == p.values().end() ? s.def : it->second);
  }
  return j;
}

std::string parse_scenario_file(std::string_view text, std::string_view name, ScenarioFile* out) {
  // Nothing may escape: the CLI, the fuzz test and campaign tools all rely on a message.
  try {
    std::string e = parse_file(text, out);
    return e.empty() ? e : std::string(name) + ": " + e;
  } catch (const std::exception& e) {
    return std::string(name) + ": internal error: " + e.what();
  } catch (...) {
    return std::string(name) + ": internal error";
  }
}

}  // namespace scenarios
