// simfs view: pieces shared by the command and its tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace tools {

// JSON text that is safe inside an HTML <script> element: '<', '>' and '&' become \u003c,
// \u003e and \u0026 (so no string can close the element, open a comment or form an entity),
// and U+2028/U+2029 become \u2028/\u2029 (line terminators to older JavaScript parsers).
// Outside strings JSON has none of these characters, so the result parses to the same value.
// Invalid UTF-8 is replaced by U+FFFD rather than throwing.
std::string script_safe_json(const nlohmann::json& j);

// The marker in tools/viewer/viewer.html that `simfs view` replaces with the trace JSON.
inline constexpr const char* kViewerTraceMarker = "__SIMFS_TRACE_JSON__";
// ... and with the `simfs why --json` result (or null).
inline constexpr const char* kViewerWhyMarker = "__SIMFS_WHY_JSON__";

// Checks that j is a `simfs why --json` result the viewer can plot: an object whose
// "checkpoints" is an array of objects with numeric t_ns and p (0..1). Returns "" or why not.
std::string check_why_json(const nlohmann::json& j);

}  // namespace tools
