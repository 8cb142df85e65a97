#include "tools/trace_reader.h"

#include <sstream>

namespace tools {

std::vector<std::string> TraceFile::node_names() const {
  std::vector<std::string> names;
  if (!header.contains("nodes") || !header["nodes"].is_array()) return names;
  for (const auto& n : header["nodes"]) {
    if (!n.is_object() || !n.contains("id") || !n["id"].is_number_unsigned()) continue;
    const size_t id = n["id"].get<size_t>();
    if (id > 100000) continue;
    if (names.size() <= id) names.resize(id + 1);
    names[id] = n.value("name", "node-" + std::to_string(id));
  }
  return names;
}

std::string stream_trace(std::istream& in, const std::function<void(TraceLine, nlohmann::json&)>& sink,
                         bool* truncated) {
  std::string line;
  size_t lineno = 0;
  bool have_header = false, have_end = false;
  uint64_t events = 0;
  int64_t last_t = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return "line " + std::to_string(lineno) + ": not a JSON object";
    if (lineno == 1) {
      if (j.value("format", "") != "simfs-trace") return "line 1: not a simfs trace header";
      if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != 1)
        return "line 1: unsupported trace version";
      have_header = true;
      sink(TraceLine::kHeader, j);
      continue;
    }
    if (!have_header) return "line " + std::to_string(lineno) + ": line 1 must be the trace header";
    if (have_end) return "line " + std::to_string(lineno) + ": data after the end line";
    // The end line is {"end": true, ...}; an event may have a field named "end" of its own.
    if (!j.contains("kind") && j.contains("end") && j["end"].is_boolean() && j["end"].get<bool>()) {
      have_end = true;
      sink(TraceLine::kEnd, j);
      continue;
    }
    if (!j.contains("i") || !j["i"].is_number_unsigned() || !j.contains("t") || !j["t"].is_number_integer() ||
        !j.contains("kind") || !j["kind"].is_string() || !j.contains("node") ||
        !(j["node"].is_null() || j["node"].is_number_unsigned()))
      return "line " + std::to_string(lineno) + ": event lacks i, t, node or kind";
    if (j["i"].get<uint64_t>() != events)
      return "line " + std::to_string(lineno) + ": event index " + std::to_string(j["i"].get<uint64_t>()) +
             " out of sequence (expected " + std::to_string(events) + ")";
    const int64_t t = j["t"].get<int64_t>();
    if (events > 0 && t < last_t) return "line " + std::to_string(lineno) + ": time goes backwards";
    last_t = t;
    ++events;
    sink(TraceLine::kEvent, j);
  }
  if (!have_header) return "empty trace";
  if (truncated) *truncated = !have_end;
  return "";
}

std::string read_trace(const std::string& text, TraceFile* out) {
  std::istringstream in(text);
  TraceFile t;
  std::string err = stream_trace(
      in,
      [&t](TraceLine kind, nlohmann::json& j) {
        if (kind == TraceLine::kHeader) t.header = std::move(j);
        else if (kind == TraceLine::kEnd) t.end = std::move(j);
        else t.events.push_back(std::move(j));
      },
      nullptr);
  if (!err.empty()) return err;
  *out = std::move(t);
  return "";
}

}  // namespace tools
