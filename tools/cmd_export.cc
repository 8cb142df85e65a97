// simfs export --format perfetto|chrome|shiviz TRACE -o FILE
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tools/cli.h"
#include "tools/trace_export.h"
#include "tools/trace_reader.h"

namespace tools {

int cmd_export(Args& args, const std::string& prog) {
  (void)prog;
  std::string format, in_path, out_path;
  while (!args.done()) {
    bool missing = false;
    const std::string cur = args.peek();
    if (cur == "-h" || cur == "--help") {
      std::puts("usage: simfs export --format perfetto|chrome|shiviz TRACE -o FILE\n"
                "  perfetto, chrome: Chrome Trace Event JSON (open in ui.perfetto.dev or chrome://tracing)\n"
                "  shiviz: a ShiViz log with vector clocks\n"
                "exit codes: 0 written, 2 usage error, 3 malformed trace");
      return kExitPass;
    }
    if (auto v = args.option("--format", &missing)) {
      format = *v;
    } else if (auto v = args.option("-o", &missing)) {
      out_path = *v;
    } else if (missing) {
      std::fprintf(stderr, "simfs export: option %s needs a value\n", cur.c_str());
      return kExitUsage;
    } else if (cur.size() > 1 && cur[0] == '-') {
      std::fprintf(stderr, "simfs export: unknown option '%s'\n", cur.c_str());
      return kExitUsage;
    } else if (in_path.empty()) {
      in_path = args.next();
    } else {
      std::fprintf(stderr, "simfs export: unexpected argument '%s'\n", cur.c_str());
      return kExitUsage;
    }
  }
  if (format != "perfetto" && format != "chrome" && format != "shiviz") {
    std::fprintf(stderr, "simfs export: --format must be perfetto, chrome or shiviz\n");
    return kExitUsage;
  }
  if (in_path.empty() || out_path.empty()) {
    std::fprintf(stderr, "simfs export: need a TRACE and -o FILE\n");
    return kExitUsage;
  }
  std::ifstream in(in_path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "simfs export: cannot read '%s': %s\n", in_path.c_str(), std::strerror(errno));
    return kExitUsage;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  TraceFile trace;
  std::string err = read_trace(ss.str(), &trace);
  if (!err.empty()) {
    std::fprintf(stderr, "simfs export: %s: %s\n", in_path.c_str(), err.c_str());
    return kExitHarness;
  }
  if (trace.truncated()) {
    std::fprintf(stderr, "simfs export: warning: %s has no end line (the run did not finish); exporting %zu events\n",
                 in_path.c_str(), trace.events.size());
  }
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) {
    std::fprintf(stderr, "simfs export: cannot write '%s': %s\n", out_path.c_str(), std::strerror(errno));
    return kExitUsage;
  }
  if (format == "shiviz") out << export_shiviz(trace);
  else out << export_chrome(trace).dump() << "\n";
  if (!out) {
    std::fprintf(stderr, "simfs export: writing '%s' failed\n", out_path.c_str());
    return kExitHarness;
  }
  std::fprintf(stderr, "wrote %s (%s, %zu events)\n", out_path.c_str(), format.c_str(), trace.events.size());
  return kExitPass;
}

}  // namespace tools
