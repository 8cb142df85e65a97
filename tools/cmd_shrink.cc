// simfs shrink FAILURE [-o OUT]: minimise a failing run's decision tape.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "scenarios/run.h"
#include "scenarios/scenario.h"
#include "sim/trace.h"
#include "tools/cli.h"
#include "tools/failure_input.h"
#include "tools/seed.h"
#include "tools/shrink.h"

namespace tools {

int cmd_shrink(Args& args, const std::string& prog) {
  std::string path, out_path;
  bool json = false;
  ShrinkOptions opt;
  while (!args.done()) {
    bool missing = false;
    const std::string cur = args.peek();
    if (cur == "-h" || cur == "--help") {
      std::puts("usage: simfs shrink FAILURE [-o OUT] [--max-runs N] [--json]\n"
                "  FAILURE: a failing run's trace, tape, or artifact directory\n"
                "  -o OUT: where to write the shrunk tape (default: DIR/shrunk-tape.json, or FILE.shrunk.json);\n"
                "          its trace goes next to it (OUT with .trace.jsonl)\n"
                "  --max-runs N: candidate runs to spend (default 1500)\n"
                "exit codes: 0 shrunk, 2 usage error, 3 the failure does not reproduce or the input is corrupt");
      return kExitPass;
    }
    if (auto v = args.option("-o", &missing)) {
      out_path = *v;
    } else if (auto v = args.option("--max-runs", &missing)) {
      auto n = parse_seed(*v, nullptr);
      if (!n || *n == 0) {
        std::fprintf(stderr, "simfs shrink: bad --max-runs '%s'\n", v->c_str());
        return kExitUsage;
      }
      opt.max_runs = *n;
    } else if (args.flag("--json")) {
      json = true;
    } else if (missing) {
      std::fprintf(stderr, "simfs shrink: option %s needs a value\n", cur.c_str());
      return kExitUsage;
    } else if (cur.size() > 1 && cur[0] == '-') {
      std::fprintf(stderr, "simfs shrink: unknown option '%s'\n", cur.c_str());
      return kExitUsage;
    } else if (path.empty()) {
      path = args.next();
    } else {
      std::fprintf(stderr, "simfs shrink: unexpected argument '%s'\n", cur.c_str());
      return kExitUsage;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "simfs shrink: no failure given\n");
    return kExitUsage;
  }
  FailureInput in;
  bool usage = false;
  std::string err = load_failure_input(path, &in, &usage);
  if (!err.empty()) {
    std::fprintf(stderr, "simfs shrink: %s\n", err.c_str());
    return usage ? kExitUsage : kExitHarness;
  }
  if (!scenarios::find_scenario(in.scenario)) {
    std::fprintf(stderr, "simfs shrink: scenario '%s' does not exist in this build\n", in.scenario.c_str());
    return kExitHarness;
  }
  if (out_path.empty()) out_path = in.kind == "artifact" ? path + "/shrunk-tape.json" : path + ".shrunk.json";

  scenarios::RunConfig base;
  base.scenario = in.scenario;
  base.seed = in.seed;
  base.bug = in.bug;
  base.params = in.params;
  std::vector<sim::Decision> tape;
  if (in.tape) {
    tape = in.tape->decisions;
  } else {
    // Only a seed: record the run's tape first.
    scenarios::RunConfig rec = base;
    rec.record_tape = true;
    tape = scenarios::run_scenario(rec).tape;
  }
  ShrinkResult r = shrink_tape(base, tape, "", opt);
  if (!r.reproduced) {
    std::fprintf(stderr, "simfs shrink: the input does not fail when replayed (%llu run%s); nothing to shrink\n",
                 static_cast<unsigned long long>(r.runs), r.runs == 1 ? "" : "s");
    return kExitHarness;
  }
  // Write the shrunk tape and the trace of its run.
  // The shrunk run may have fewer nodes: its parameters go with its tape.
  base.params = r.params;
  TapeFile t{in.scenario, in.seed, in.bug, r.tape, {}, sim::hex64(r.report.digest), "fail", r.params};
  {
    scenarios::RunConfig names = base;
    names.tape = &r.tape;
    names.record_tape = true;
    t.site_names = scenarios::run_scenario(names).site_names;
  }
  std::ofstream out(out_path, std::ios::trunc);
  out << tape_to_json(t);
  if (!out) {
    std::fprintf(stderr, "simfs shrink: cannot write '%s'\n", out_path.c_str());
    return kExitUsage;
  }
  out.close();
  std::string trace_path = out_path;
  if (trace_path.size() > 5 && trace_path.compare(trace_path.size() - 5, 5, ".json") == 0) trace_path.resize(trace_path.size() - 5);
  trace_path += ".trace.jsonl";
  {
    std::ofstream tr(trace_path, std::ios::trunc);
    scenarios::RunConfig cfg = base;
    cfg.tape = &r.tape;
    cfg.trace_out = &tr;
    cfg.build_id = build_id();
    scenarios::run_scenario(cfg);
  }
  const std::string replay = shell_quote(prog) + " run --tape " + shell_quote(out_path);
  const std::string message = r.report.violations.empty() ? "" : r.report.violations[0].message;
  if (json) {
    nlohmann::ordered_json j{{"invariant", r.invariant},
                             {"message", message},
                             {"decisions_before", r.decisions_before},
                             {"decisions_after", r.decisions_after},
                             {"nonzero_before", r.nonzero_before},
                             {"nonzero_after", r.nonzero_after},
                             {"events_before", r.events_before},
                             {"events_after", r.events_after},
                             {"runs", r.runs},
                             {"params_lowered", r.params_lowered},
                             {"tape", out_path},
                             {"trace", trace_path},
                             {"replay", replay}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("shrunk %s in %llu runs:\n  decisions %zu -> %zu (non-zero %zu -> %zu), loop events %llu -> %llu\n  %s\n",
                r.invariant.c_str(), static_cast<unsigned long long>(r.runs), r.decisions_before, r.decisions_after,
                r.nonzero_before, r.nonzero_after, static_cast<unsigned long long>(r.events_before),
                static_cast<unsigned long long>(r.events_after), message.c_str());
    for (const std::string& p : r.params_lowered) std::printf("  fewer: %s\n", p.c_str());
    std::printf("  tape: %s\n  trace: %s\n  replay: %s\n", out_path.c_str(), trace_path.c_str(), replay.c_str());
  }
  return kExitPass;
}

}  // namespace tools
