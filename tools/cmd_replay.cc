// simfs replay FILE: re-run a recorded trace, tape or failure artifact and verify its digest.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "scenarios/run.h"
#include "scenarios/scenario.h"
#include "sim/trace.h"
#include "tools/cli.h"
#include "tools/failure_input.h"

namespace tools {

int cmd_replay(Args& args, const std::string& prog) {
  std::string path;
  bool json = false;
  while (!args.done()) {
    const std::string cur = args.peek();
    if (cur == "-h" || cur == "--help") {
      std::puts("usage: simfs replay FILE [--json]\n"
                "  FILE: a trace (.jsonl), a decision tape (.json) or a failure artifact directory\n"
                "exit codes: 0 reproduced a passing run, 1 reproduced a failing run, 2 usage error,\n"
                "            3 digest mismatch (nondeterminism or a different build) or corrupt input");
      return kExitPass;
    }
    if (args.flag("--json")) {
      json = true;
    } else if (cur.size() > 1 && cur[0] == '-') {
      std::fprintf(stderr, "simfs replay: unknown option '%s'\n", cur.c_str());
      return kExitUsage;
    } else if (path.empty()) {
      path = args.next();
    } else {
      std::fprintf(stderr, "simfs replay: unexpected argument '%s'\n", cur.c_str());
      return kExitUsage;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "simfs replay: no file given\n");
    return kExitUsage;
  }
  FailureInput in;
  bool usage = false;
  std::string err = load_failure_input(path, &in, &usage);
  if (!err.empty()) {
    std::fprintf(stderr, "simfs replay: %s\n", err.c_str());
    return usage ? kExitUsage : kExitHarness;
  }
  if (!scenarios::find_scenario(in.scenario)) {
    std::fprintf(stderr, "simfs replay: recorded scenario '%s' does not exist in this build\n", in.scenario.c_str());
    return kExitHarness;
  }
  const std::string now_build = build_id();
  const bool build_differs = !in.build.empty() && in.build != now_build;
  if (build_differs) {
    std::fprintf(stderr, "simfs replay: warning: recorded with build '%s', replaying with '%s'; a digest mismatch may be the code change\n",
                 in.build.c_str(), now_build.c_str());
  }
  scenarios::RunConfig cfg;
  cfg.scenario = in.scenario;
  cfg.seed = in.seed;
  cfg.bug = in.bug;
  cfg.params = in.params;
  cfg.build_id = now_build;
  if (in.tape) cfg.tape = &in.tape->decisions;
  scenarios::RunReport rep = scenarios::run_scenario(cfg);
  const std::string got = sim::hex64(rep.digest);
  const bool known = !in.digest.empty();
  const bool match = !known || got == in.digest;
  if (json) {
    nlohmann::ordered_json j{{"input", path},
                             {"kind", in.kind},
                             {"scenario", in.scenario},
                             {"seed", sim::hex64(in.seed)},
                             {"bug", in.bug},
                             {"params", rep.params},
                             {"result", scenarios::result_name(rep.result)},
                             {"digest", got},
                             {"recorded_digest", in.digest},
                             {"digest_matches", match && known},
                             {"build_differs", build_differs}};
    nlohmann::ordered_json vs = nlohmann::ordered_json::array();
    for (const auto& v : rep.violations) vs.push_back({{"invariant", v.invariant}, {"message", v.message}, {"event", v.event}});
    j["violations"] = vs;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("replayed %s %s seed %s%s: result %s, digest %s\n", in.kind.c_str(), in.scenario.c_str(),
                sim::hex64(in.seed).c_str(), in.bug.empty() ? "" : (" bug " + in.bug).c_str(),
                scenarios::result_name(rep.result), got.c_str());
    if (!known) std::printf("  (no recorded digest to compare with)\n");
    else if (match) std::printf("  digest matches the recording\n");
    else std::printf("  DIGEST MISMATCH: recorded %s, replayed %s\n", in.digest.c_str(), got.c_str());
    for (const auto& v : rep.violations) std::printf("  VIOLATION %s: %s\n", v.invariant.c_str(), v.message.c_str());
    if (!rep.error.empty()) std::printf("  HARNESS ERROR: %s\n", rep.error.c_str());
  }
  (void)prog;
  if (!match || rep.result == scenarios::RunReport::Result::kError) return kExitHarness;
  return rep.result == scenarios::RunReport::Result::kPass ? kExitPass : kExitFail;
}

}  // namespace tools
