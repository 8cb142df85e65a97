// Reads a simfs JSON Lines trace (docs/trace-format.md) for the offline tools (export, view).
// Validates as it goes: a bad header or a malformed event line is an error naming the line; a
// missing end line is reported (the run did not finish) but not an error, since the trace of a
// crashed run is exactly what one wants to look at.
#pragma once

#include <functional>
#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tools {

struct TraceFile {
  nlohmann::json header;
  std::vector<nlohmann::json> events;  // in order; each has i, t, node, kind
  nlohmann::json end;                  // the end line, or null if truncated
  bool truncated() const { return end.is_null(); }
  // Node names by id, from the header.
  std::vector<std::string> node_names() const;
};

// Returns "" on success or what is wrong (with the line number).
std::string read_trace(const std::string& text, TraceFile* out);

// The same validation, streamed: each valid line is parsed and handed to `sink` in order
// (kind is "header", "event" or "end"; the sink may move from the json), so a tool can process
// a trace of millions of events without holding it (a nlohmann object per event costs ~1 KiB).
// Returns "" or the first problem, after which no further line is handed over. `*truncated` is
// set when the trace has no end line.
enum class TraceLine { kHeader, kEvent, kEnd };
std::string stream_trace(std::istream& in, const std::function<void(TraceLine, nlohmann::json&)>& sink,
                         bool* truncated);

}  // namespace tools
