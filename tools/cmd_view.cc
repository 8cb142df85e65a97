// simfs view TRACE [-o OUT.html] [--partial]: writes one self-contained HTML file (the viewer in
// tools/viewer/viewer.html, compiled in) with the trace embedded as JSON. The trace is streamed
// line by line, validated by the shared reader, so a million-event trace needs no more memory
// than one event; the output goes to a temporary file renamed into place only on success, so a
// bad trace never leaves a half-written page behind.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tools/cli.h"
#include "tools/trace_reader.h"
#include "tools/view.h"
#include "tools/viewer_html.h"  // generated: kViewerHtml

namespace tools {

std::string script_safe_json(const nlohmann::json& j) {
  const std::string s = j.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(s.size() + 16);
  for (size_t k = 0; k < s.size(); ++k) {
    const char c = s[k];
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
    else if (c == '\xE2' && k + 2 < s.size() && s[k + 1] == '\x80' && (s[k + 2] == '\xA8' || s[k + 2] == '\xA9')) {
      out += s[k + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      k += 2;
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

const char* kViewUsage =
    "usage: simfs view TRACE [-o OUT.html] [--partial] [--why WHY.json]\n"
    "  writes a self-contained HTML viewer of TRACE (default output: TRACE with an .html suffix)\n"
    "  --partial   view a trace without its end line (a run that was cut short) instead of failing\n"
    "  --why FILE  also plot a 'simfs why --json' result: failure probability against time\n"
    "exit codes: 0 written, 2 usage error or unreadable/unwritable path, 3 malformed or truncated trace";

}  // namespace

int cmd_view(Args& args, const std::string& prog) {
  (void)prog;
  namespace fs = std::filesystem;
  std::string in_path, out_path, why_path;
  bool partial = false;
  while (!args.done()) {
    bool missing = false;
    const std::string cur = args.peek();
    if (cur == "-h" || cur == "--help") {
      std::puts(kViewUsage);
      return kExitPass;
    }
    if (auto v = args.option("-o", &missing)) {
      out_path = *v;
    } else if (args.flag("--partial")) {
      partial = true;
    } else if (auto w = args.option("--why", &missing)) {
      why_path = *w;
    } else if (missing) {
      std::fprintf(stderr, "simfs view: option %s needs a value\n", cur.c_str());
      return kExitUsage;
    } else if (cur.size() > 1 && cur[0] == '-') {
      std::fprintf(stderr, "simfs view: unknown option '%s'\n", cur.c_str());
      return kExitUsage;
    } else if (in_path.empty()) {
      in_path = args.next();
    } else {
      std::fprintf(stderr, "simfs view: unexpected argument '%s'\n", cur.c_str());
      return kExitUsage;
    }
  }
  if (in_path.empty()) {
    std::fprintf(stderr, "simfs view: need a TRACE\n%s\n", kViewUsage);
    return kExitUsage;
  }
  if (out_path.empty()) out_path = fs::path(in_path).replace_extension(".html").string();
  std::error_code ec;
  if (fs::equivalent(in_path, out_path, ec)) {
    std::fprintf(stderr, "simfs view: the output %s would overwrite the trace\n", out_path.c_str());
    return kExitUsage;
  }
  std::ifstream in(in_path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "simfs view: cannot read '%s': %s\n", in_path.c_str(), std::strerror(errno));
    return kExitUsage;
  }
  // The why result, if any, is read and checked before anything is written.
  std::string why_json = "null";
  if (!why_path.empty()) {
    std::ifstream win(why_path, std::ios::binary);
    if (!win) {
      std::fprintf(stderr, "simfs view: cannot read '%s': %s\n", why_path.c_str(), std::strerror(errno));
      return kExitUsage;
    }
    const nlohmann::json w = nlohmann::json::parse(win, nullptr, /*allow_exceptions=*/false);
    const std::string problem = w.is_discarded() ? "not JSON" : check_why_json(w);
    if (!problem.empty()) {
      std::fprintf(stderr, "simfs view: %s: not a 'simfs why --json' result: %s\n", why_path.c_str(), problem.c_str());
      return kExitHarness;
    }
    why_json = script_safe_json(w);
  }
  const std::string_view page = kViewerHtml;
  const size_t marker = page.find(kViewerTraceMarker);
  const size_t why_marker = page.find(kViewerWhyMarker);
  if (marker == std::string_view::npos || why_marker == std::string_view::npos || why_marker < marker) {
    std::fprintf(stderr, "simfs view: internal error: the viewer template lacks its data markers\n");
    return kExitHarness;
  }

  const std::string tmp_path = out_path + ".tmp" + std::to_string(getpid());
  std::ofstream out(tmp_path, std::ios::binary | std::ios::trunc);
  if (!out) {
    std::fprintf(stderr, "simfs view: cannot write '%s': %s\n", out_path.c_str(), std::strerror(errno));
    return kExitUsage;
  }
  auto fail = [&](int code) {
    out.close();
    fs::remove(tmp_path, ec);
    return code;
  };

  // {"header":H,"events":[E0,\nE1,...],"end":END} with END null for a truncated trace. One event
  // per line keeps the page source readable and diffable.
  out << page.substr(0, marker);
  size_t events = 0;
  nlohmann::json end;
  bool truncated = false;
  const std::string err = stream_trace(
      in,
      [&](TraceLine kind, nlohmann::json& j) {
        if (kind == TraceLine::kHeader) {
          out << "{\"header\":" << script_safe_json(j) << ",\"events\":[";
        } else if (kind == TraceLine::kEvent) {
          out << (events++ ? ",\n" : "\n") << script_safe_json(j);
        } else {
          end = std::move(j);
        }
      },
      &truncated);
  if (!err.empty()) {
    std::fprintf(stderr, "simfs view: %s: %s\n", in_path.c_str(), err.c_str());
    return fail(kExitHarness);
  }
  if (in.bad()) {
    std::fprintf(stderr, "simfs view: reading '%s' failed\n", in_path.c_str());
    return fail(kExitHarness);
  }
  if (truncated && !partial) {
    std::fprintf(stderr,
                 "simfs view: %s: truncated trace (no end line after %zu events: the run did not finish); "
                 "pass --partial to view it anyway\n",
                 in_path.c_str(), events);
    return fail(kExitHarness);
  }
  out << "\n],\"end\":" << script_safe_json(end) << "}";
  const size_t after = marker + std::strlen(kViewerTraceMarker);
  out << page.substr(after, why_marker - after) << why_json;
  out << page.substr(why_marker + std::strlen(kViewerWhyMarker));
  out.close();
  if (!out) {
    std::fprintf(stderr, "simfs view: writing '%s' failed\n", out_path.c_str());
    return fail(kExitHarness);
  }
  fs::rename(tmp_path, out_path, ec);
  if (ec) {
    std::fprintf(stderr, "simfs view: cannot write '%s': %s\n", out_path.c_str(), ec.message().c_str());
    fs::remove(tmp_path, ec);
    return kExitUsage;
  }
  if (truncated) std::fprintf(stderr, "simfs view: warning: %s has no end line; viewing %zu events\n", in_path.c_str(), events);
  std::fprintf(stderr, "wrote %s (%zu events)\n", out_path.c_str(), events);
  return kExitPass;
}

std::string check_why_json(const nlohmann::json& j) {
  if (!j.is_object()) return "not an object";
  auto cps = j.find("checkpoints");
  if (cps == j.end() || !cps->is_array() || cps->empty()) return "no \"checkpoints\" array";
  for (const auto& c : *cps) {
    if (!c.is_object()) return "a checkpoint is not an object";
    auto t = c.find("t_ns");
    auto p = c.find("p");
    if (t == c.end() || !t->is_number() || p == c.end() || !p->is_number()) return "a checkpoint lacks numeric t_ns and p";
    const double pv = p->get<double>();
    if (!(pv >= 0 && pv <= 1)) return "a checkpoint's p is outside 0..1";
  }
  return "";
}

}  // namespace tools
