#include "tools/trace_export.h"

#include <cstdio>
#include <map>

namespace tools {

namespace {

bool is_message_kind(const std::string& k) { return k == "send" || k == "recv"; }

// "a=1 b=x" from an event's own fields (everything but i, t, node, kind, fault).
std::string describe(const nlohmann::json& e) {
  std::string s;
  for (auto it = e.begin(); it != e.end(); ++it) {
    const std::string& k = it.key();
    if (k == "i" || k == "t" || k == "node" || k == "kind" || k == "fault") continue;
    if (!s.empty()) s += ' ';
    s += k + "=" + (it->is_string() ? it->get<std::string>() : it->dump());
  }
  return s;
}

}  // namespace

nlohmann::ordered_json export_chrome(const TraceFile& trace) {
  const std::vector<std::string> names = trace.node_names();
  const int world_pid = static_cast<int>(names.size()) + 1;
  nlohmann::ordered_json events = nlohmann::ordered_json::array();
  for (size_t n = 0; n < names.size(); ++n) {
    char label[32];
    std::snprintf(label, sizeof label, "%02zu ", n);
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", n + 1}, {"tid", 1}, {"args", {{"name", label + names[n]}}}});
  }
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", world_pid}, {"tid", 1}, {"args", {{"name", "world"}}}});
  // Open client operations: (node, client) -> async id.
  std::map<std::pair<int64_t, int64_t>, uint64_t> open_ops;
  uint64_t next_op = 1;
  for (const auto& e : trace.events) {
    const std::string kind = e["kind"];
    const bool global = e["node"].is_null();
    const int pid = global ? world_pid : static_cast<int>(e["node"].get<int64_t>()) + 1;
    const double ts = static_cast<double>(e["t"].get<int64_t>()) / 1000.0;
    nlohmann::ordered_json args = nlohmann::ordered_json::object();
    for (auto it = e.begin(); it != e.end(); ++it) {
      if (it.key() != "t" && it.key() != "node" && it.key() != "kind") args[it.key()] = *it;
    }
    nlohmann::ordered_json ev{{"name", kind}, {"cat", kind}, {"pid", pid}, {"tid", 1}, {"ts", ts}};
    if (is_message_kind(kind) && e.contains("msg") && e["msg"].is_number_unsigned()) {
      ev["ph"] = "X";
      ev["dur"] = 1.0;
      ev["cat"] = "message";
      ev["bind_id"] = e["msg"];
      ev[kind == "send" ? "flow_out" : "flow_in"] = true;
    } else if (kind == "violation") {
      ev["name"] = "VIOLATION " + e.value("invariant", "?");
      ev["cat"] = "invariant";
      ev["ph"] = "i";
      ev["s"] = "g";
    } else if (kind == "op_call" || kind == "op_return") {
      const auto key = std::make_pair(static_cast<int64_t>(pid), e.value("client", int64_t{-1}));
      uint64_t id;
      if (kind == "op_call") {
        id = next_op++;
        open_ops[key] = id;
      } else {
        auto it = open_ops.find(key);
        if (it == open_ops.end()) continue;  // a return without its call (trace began mid-op)
        id = it->second;
        open_ops.erase(it);
      }
      ev["name"] = e.value("op", "op");
      ev["cat"] = "op";
      ev["ph"] = kind == "op_call" ? "b" : "e";
      ev["id"] = id;
    } else if (e.value("fault", false) || kind == "drop") {
      ev["cat"] = "fault";
      ev["ph"] = "i";
      ev["s"] = global ? "g" : "p";
    } else {
      ev["ph"] = "i";
      ev["s"] = "t";
    }
    ev["args"] = args;
    events.push_back(std::move(ev));
  }
  nlohmann::ordered_json out;
  out["traceEvents"] = events;
  out["displayTimeUnit"] = "ns";
  out["otherData"] = {{"simfs_header", trace.header}, {"simfs_end", trace.end}};
  return out;
}

std::string export_shiviz(const TraceFile& trace) {
  const std::vector<std::string> names = trace.node_names();
  auto host = [&](int64_t n) {
    return n >= 0 && static_cast<size_t>(n) < names.size() && !names[static_cast<size_t>(n)].empty()
               ? names[static_cast<size_t>(n)]
               : "node-" + std::to_string(n);
  };
  std::string out = "(?<event>.*)\\n(?<host>\\S*) (?<clock>{.*})\n\n";
  std::map<int64_t, std::map<std::string, uint64_t>> clocks;  // node -> vector clock
  std::map<uint64_t, std::map<std::string, uint64_t>> sent;   // msg id -> clock at send
  for (const auto& e : trace.events) {
    if (e["node"].is_null()) continue;  // cluster-wide events have no host
    const int64_t n = e["node"].get<int64_t>();
    const std::string kind = e["kind"];
    auto& vc = clocks[n];
    if (kind == "recv" && e.contains("msg") && e["msg"].is_number_unsigned()) {
      auto it = sent.find(e["msg"].get<uint64_t>());
      if (it != sent.end()) {
        for (const auto& [h, c] : it->second) {
          if (c > vc[h]) vc[h] = c;
        }
      }
    }
    ++vc[host(n)];
    if (kind == "send" && e.contains("msg") && e["msg"].is_number_unsigned()) sent[e["msg"].get<uint64_t>()] = vc;
    nlohmann::ordered_json clock = nlohmann::ordered_json::object();
    for (const auto& [h, c] : vc) clock[h] = c;
    std::string text = kind;
    const std::string d = describe(e);
    if (!d.empty()) text += " " + d;
    for (char& c : text) {
      if (c == '\n') c = ' ';
    }
    out += text + "\n" + host(n) + " " + clock.dump() + "\n";
  }
  return out;
}

}  // namespace tools
