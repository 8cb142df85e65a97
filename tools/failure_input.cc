#include "tools/failure_input.h"

#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tools/seed.h"

namespace tools {

namespace {

bool read_all(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// Fills scenario/seed/bug/digest/build from a trace. A trace must have its header and end line.
std::string load_trace(const std::string& text, FailureInput* f) {
  std::istringstream in(text);
  std::string first, line, last;
  if (!std::getline(in, first)) return "empty trace";
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  auto h = nlohmann::json::parse(first, nullptr, false);
  if (h.is_discarded() || !h.is_object() || h.value("format", "") != "simfs-trace")
    return "not a simfs trace (bad header line)";
  if (h.value("version", 0) != 1) return "unsupported trace version";
  if (!h.contains("run") || !h["run"].is_object()) return "trace header has no run object";
  const auto& run = h["run"];
  if (!run.contains("scenario") || !run["scenario"].is_string() || !run.contains("seed") || !run["seed"].is_string())
    return "trace header lacks scenario or seed";
  std::string err;
  auto seed = parse_seed(run["seed"].get<std::string>(), &err);
  if (!seed) return "trace header " + err;
  f->scenario = run["scenario"].get<std::string>();
  f->seed = *seed;
  f->bug = run.value("bug", "");
  // Traces written before scenarios had parameters have none: the defaults.
  if (run.contains("params")) {
    if (!run["params"].is_object()) return "trace header's run.params is not an object";
    f->params = run["params"];
  }
  f->build = run.value("build", "");
  auto e = nlohmann::json::parse(last, nullptr, false);
  if (last.empty() || e.is_discarded() || !e.is_object() || e.contains("kind") || !e.contains("end") ||
      !e["end"].is_boolean() || !e["end"].get<bool>())
    return "trace is truncated (no end line): the run that wrote it did not finish";
  f->digest = e.value("digest", "");
  if (run.value("tape", false) && !f->tape) return "this trace came from a tape replay: replay the tape instead";
  return "";
}

}  // namespace

std::string load_failure_input(const std::string& path, FailureInput* f, bool* usage) {
  *usage = false;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    *usage = true;
    return "no such file or directory: " + path;
  }
  if (S_ISDIR(st.st_mode)) {
    f->kind = "artifact";
    std::string text;
    if (read_all(path + "/tape.json", &text)) {
      TapeFile t;
      std::string err = tape_from_json(text, &t);
      if (!err.empty()) return path + "/tape.json: " + err;
      f->tape = t;
    }
    std::string trace;
    if (!read_all(path + "/trace.jsonl", &trace)) {
      if (!f->tape) return "directory has neither tape.json nor trace.jsonl: " + path;
      f->scenario = f->tape->scenario;
      f->seed = f->tape->seed;
      f->bug = f->tape->bug;
      f->params = f->tape->params;
      f->digest = f->tape->digest;
      return "";
    }
    return load_trace(trace, f);
  }
  std::string text;
  if (!read_all(path, &text)) return "cannot read " + path;
  if (text.find("\"simfs-tape\"") != std::string::npos && text.find("\"simfs-trace\"") == std::string::npos) {
    f->kind = "tape";
    TapeFile t;
    std::string err = tape_from_json(text, &t);
    if (!err.empty()) return err;
    f->scenario = t.scenario;
    f->seed = t.seed;
    f->bug = t.bug;
    f->params = t.params;
    f->digest = t.digest;
    f->tape = std::move(t);
    return "";
  }
  f->kind = "trace";
  return load_trace(text, f);
}

}  // namespace tools
