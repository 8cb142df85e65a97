// simfs run: one deterministic run of a scenario, from a seed or a decision tape.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "scenarios/run.h"
#include "scenarios/scenario.h"
#include "scenarios/scenario_file.h"
#include "sim/trace.h"
#include "tools/cli.h"
#include "tools/scenario_arg.h"
#include "tools/seed.h"
#include "tools/subprocess.h"
#include "tools/tape_file.h"

namespace tools {

namespace {

const char* kRunHelp =
    "usage: simfs run SCENARIO --seed S [options]\n"
    "       simfs run FILE.json --seed S [options]   (a scenario file: docs/scenario-schema.md)\n"
    "       simfs run --tape FILE [options]\n"
    "\n"
    "  --seed S              run seed: decimal or 0x-hex, 64-bit (also accepted as 2nd positional)\n"
    "  --bug NAME            run with a planted bug (see 'simfs list')\n"
    "  --trace FILE          write the JSON Lines trace to FILE\n"
    "  --json                print one JSON result object on stdout\n"
    "  --record-tape FILE    write the decision tape of this run to FILE\n"
    "  --tape FILE           replay the decisions of a tape instead of drawing them from the seed\n"
    "  --max-events N        stop with a harness error after N loop events (default 50000000)\n"
    "  --check-determinism   run twice in separate processes; exit 3 if the digests differ\n"
    "  --save-images DIR     write each block device's durable image to DIR/NAME.img at the end\n"
    "                        (DIR is created if missing)\n"
    "\n"
    "exit codes: 0 pass, 1 invariant violated, 2 usage error, 3 harness error\n";

struct RunOptions {
  std::string scenario;  // the scenario's name
  std::string target;    // as given: the name or the scenario file (replay commands use it)
  std::string file_bug;  // the scenario file's "bug"
  nlohmann::json params; // from the scenario file or the tape (null: defaults)
  std::optional<uint64_t> seed;
  std::string bug;
  std::string trace_path;
  std::string record_tape_path;
  std::string tape_path;
  std::string images_dir;
  bool json = false;
  bool check_determinism = false;
  uint64_t max_events = 50'000'000;
};

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "simfs run: %s\n", msg.c_str());
  return kExitUsage;
}

std::string replay_command(const std::string& prog, const RunOptions& o, uint64_t seed) {
  if (!o.tape_path.empty()) return shell_quote(prog) + " run --tape " + shell_quote(o.tape_path);
  // A file-based run names the file: its parameters are in it (and in the trace header).
  std::string c = shell_quote(prog) + " run " + shell_quote(o.target) + " --seed " + sim::hex64(seed);
  if (!o.bug.empty() && o.bug != o.file_bug) c += " --bug " + shell_quote(o.bug);
  return c;
}

bool read_file(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// Returns the first differing line of two traces (1-based), or 0 when equal.
size_t first_difference(const std::string& a, const std::string& b, std::string* la, std::string* lb) {
  std::istringstream sa(a), sb(b);
  std::string x, y;
  size_t line = 0;
  for (;;) {
    ++line;
    bool ga = static_cast<bool>(std::getline(sa, x));
    bool gb = static_cast<bool>(std::getline(sb, y));
    if (!ga && !gb) return 0;
    if (ga != gb || x != y) {
      *la = ga ? x : "<end of trace>";
      *lb = gb ? y : "<end of trace>";
      return line;
    }
  }
}

int check_determinism(const RunOptions& o, uint64_t seed, const std::string& prog) {
  char dir_template[] = "/tmp/simfs-det-XXXXXX";
  char* dir = mkdtemp(dir_template);
  if (!dir) {
    std::fprintf(stderr, "simfs run: cannot create a temporary directory: %s\n", std::strerror(errno));
    return kExitHarness;
  }
  std::string paths[2] = {std::string(dir) + "/a.jsonl", std::string(dir) + "/b.jsonl"};
  nlohmann::json results[2];
  for (int k = 0; k < 2; ++k) {
    std::vector<std::string> argv = {self_exe(), "run", o.target, "--seed", sim::hex64(seed), "--json",
                                     "--trace", paths[k], "--max-events", std::to_string(o.max_events)};
    if (!o.bug.empty()) argv.insert(argv.end(), {"--bug", o.bug});
    if (!o.tape_path.empty()) argv.insert(argv.end(), {"--tape", o.tape_path});
    ChildResult r = run_child(argv);
    results[k] = nlohmann::json::parse(r.out, nullptr, false);
    if (results[k].is_discarded() || !results[k].contains("digest")) {
      std::fprintf(stderr, "simfs run: determinism check: run %d produced no result (exit %d, signal %d)\n", k + 1,
                   r.exit_code, r.signal);
      return kExitHarness;
    }
  }
  const std::string da = results[0]["digest"], db = results[1]["digest"];
  int code = results[0]["result"] == "pass" ? kExitPass : kExitFail;
  if (da != db) {
    std::string ta, tb, la, lb;
    read_file(paths[0], &ta);
    read_file(paths[1], &tb);
    size_t line = first_difference(ta, tb, &la, &lb);
    std::fprintf(stderr, "NONDETERMINISM: %s seed %s gave digests %s and %s\n", o.scenario.c_str(), sim::hex64(seed).c_str(),
                 da.c_str(), db.c_str());
    if (line) {
      std::fprintf(stderr, "first divergence at trace line %zu:\n  run 1: %s\n  run 2: %s\n", line, la.c_str(), lb.c_str());
    } else {
      std::fprintf(stderr, "the traces are identical: the divergence is in untraced scheduling\n");
    }
    std::fprintf(stderr, "traces kept in %s\n", dir);
    code = kExitHarness;
  } else {
    std::remove(paths[0].c_str());
    std::remove(paths[1].c_str());
    rmdir(dir);
  }
  nlohmann::ordered_json out;
  out["scenario"] = o.scenario;
  out["seed"] = sim::hex64(seed);
  out["deterministic"] = da == db;
  out["digests"] = {da, db};
  out["result"] = results[0]["result"];
  out["replay"] = replay_command(prog, o, seed) + " --check-determinism";
  if (o.json) std::printf("%s\n", out.dump().c_str());
  else if (da == db) std::printf("deterministic: %s seed %s digest %s (2 processes)\n", o.scenario.c_str(), sim::hex64(seed).c_str(), da.c_str());
  return code;
}

}  // namespace

int cmd_run(Args& args, const std::string& prog) {
  RunOptions o;
  std::vector<std::string> positional;
  while (!args.done()) {
    bool missing = false;
    const std::string cur = args.peek();
    if (cur == "-h" || cur == "--help") {
      std::fputs(kRunHelp, stdout);
      return kExitPass;
    }
    if (auto v = args.option("--seed", &missing)) {
      std::string err;
      o.seed = parse_seed(*v, &err);
      if (!o.seed) return usage_error(err);
    } else if (auto v = args.option("--bug", &missing)) {
      o.bug = *v;
    } else if (auto v = args.option("--trace", &missing)) {
      o.trace_path = *v;
    } else if (auto v = args.option("--record-tape", &missing)) {
      o.record_tape_path = *v;
    } else if (auto v = args.option("--tape", &missing)) {
      o.tape_path = *v;
    } else if (auto v = args.option("--save-images", &missing)) {
      o.images_dir = *v;
    } else if (auto v = args.option("--max-events", &missing)) {
      std::string err;
      auto n = parse_seed(*v, &err);
      if (!n || *n == 0) return usage_error("bad --max-events '" + *v + "': want a positive integer");
      o.max_events = *n;
    } else if (args.flag("--json")) {
      o.json = true;
    } else if (args.flag("--check-determinism")) {
      o.check_determinism = true;
    } else if (missing) {
      return usage_error("option " + cur + " needs a value");
    } else if (!cur.empty() && cur[0] == '-' && cur.size() > 1) {
      return usage_error("unknown option '" + cur + "' (try 'simfs run --help')");
    } else {
      positional.push_back(args.next());
    }
  }
  if (positional.size() > 2) return usage_error("unexpected argument '" + positional[2] + "'");
  if (!positional.empty()) {
    ScenarioArg a;
    if (std::string e = resolve_scenario_arg(positional[0], &a); !e.empty()) return usage_error(e);
    o.scenario = a.scenario;
    o.target = a.target;
    o.params = a.params;
    o.file_bug = a.bug;
    if (o.bug.empty()) o.bug = a.bug;  // --bug on the command line wins over the file's
  }
  if (positional.size() == 2) {
    if (o.seed) return usage_error("seed given twice");
    std::string err;
    o.seed = parse_seed(positional[1], &err);
    if (!o.seed) return usage_error(err);
  }

  TapeFile tape;
  if (!o.tape_path.empty()) {
    std::string text;
    if (!read_file(o.tape_path, &text)) {
      return usage_error("cannot read tape '" + o.tape_path + "': " + std::strerror(errno));
    }
    std::string err = tape_from_json(text, &tape);
    if (!err.empty()) {
      std::fprintf(stderr, "simfs run: bad tape '%s': %s\n", o.tape_path.c_str(), err.c_str());
      return kExitHarness;
    }
    const bool from_file = !o.target.empty() && is_scenario_file_arg(o.target);
    if (o.scenario.empty()) {
      o.scenario = o.target = tape.scenario;
      o.params = tape.params;
    }
    if (!o.seed) o.seed = tape.seed;
    if (o.bug.empty()) o.bug = tape.bug;
    if (o.scenario != tape.scenario) return usage_error("tape is for scenario '" + tape.scenario + "', not '" + o.scenario + "'");
    if (!from_file) {
      o.params = tape.params;  // a tape replays with the parameters it was recorded with
    } else if (const scenarios::ScenarioInfo* info = scenarios::find_scenario(o.scenario)) {
      scenarios::Params a, b;
      if (scenarios::resolve_params(*info, o.params, &a).empty() && scenarios::resolve_params(*info, tape.params, &b).empty() &&
          !(a == b))
        return usage_error("tape was recorded with other parameters than '" + o.target + "' sets");
    }
  }
  if (o.scenario.empty()) return usage_error("no scenario given (see 'simfs list')");
  if (!o.seed) return usage_error("no seed given: use --seed S (decimal or 0x-hex)");
  const scenarios::ScenarioInfo* info = scenarios::find_scenario(o.scenario);
  if (!info) return usage_error("unknown scenario '" + o.scenario + "' (see 'simfs list')");
  if (!o.bug.empty() && std::find(info->bugs.begin(), info->bugs.end(), o.bug) == info->bugs.end()) {
    return usage_error("scenario '" + o.scenario + "' has no planted bug '" + o.bug + "' (see 'simfs list')");
  }
  if (o.check_determinism) return check_determinism(o, *o.seed, prog);

  std::unique_ptr<std::ofstream> trace_file;
  if (!o.trace_path.empty()) {
    trace_file = std::make_unique<std::ofstream>(o.trace_path, std::ios::binary | std::ios::trunc);
    if (!*trace_file) return usage_error("cannot write trace file '" + o.trace_path + "': " + std::strerror(errno));
  }
  if (!o.record_tape_path.empty()) {
    std::ofstream probe(o.record_tape_path, std::ios::app);
    if (!probe) return usage_error("cannot write tape file '" + o.record_tape_path + "': " + std::strerror(errno));
  }

  scenarios::RunConfig cfg;
  cfg.scenario = o.scenario;
  cfg.seed = *o.seed;
  cfg.bug = o.bug;
  cfg.params = o.params;
  cfg.trace_out = trace_file.get();
  cfg.tape = o.tape_path.empty() ? nullptr : &tape.decisions;
  cfg.record_tape = !o.record_tape_path.empty();
  cfg.max_events = o.max_events;
  cfg.build_id = build_id();
  cfg.capture_images = !o.images_dir.empty();
  if (cfg.capture_images) {
    std::error_code ec;
    std::filesystem::create_directories(o.images_dir, ec);  // an error shows in the probe below
    std::ofstream probe(o.images_dir + "/.simfs-probe");
    if (!probe) return usage_error("cannot write images to '" + o.images_dir + "': " + std::strerror(errno));
    probe.close();
    std::remove((o.images_dir + "/.simfs-probe").c_str());
  }

  const auto wall_start = std::chrono::steady_clock::now();
  scenarios::RunReport rep = scenarios::run_scenario(cfg);
  const double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall_start).count();
  if (trace_file) {
    trace_file->flush();
    if (!*trace_file) {
      std::fprintf(stderr, "simfs run: writing trace '%s' failed\n", o.trace_path.c_str());
      return kExitHarness;
    }
  }
  if (cfg.record_tape) {
    TapeFile t{o.scenario, *o.seed, o.bug, rep.tape, rep.site_names, sim::hex64(rep.digest),
               scenarios::result_name(rep.result), rep.params};
    std::ofstream out(o.record_tape_path, std::ios::trunc);
    out << tape_to_json(t);
    if (!out) {
      std::fprintf(stderr, "simfs run: writing tape '%s' failed\n", o.record_tape_path.c_str());
      return kExitHarness;
    }
  }

  for (const auto& [name, bytes] : rep.images) {
    const std::string path = o.images_dir + "/" + name + ".img";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "simfs run: writing image '%s' failed\n", path.c_str());
      return kExitHarness;
    }
  }

  const std::string replay = replay_command(prog, o, *o.seed);
  const double wall_s = wall_ms / 1000.0;
  if (o.json) {
    nlohmann::ordered_json j;
    j["scenario"] = rep.scenario;
    j["seed"] = sim::hex64(rep.seed);
    j["bug"] = rep.bug;
    if (o.target != o.scenario) j["scenario_file"] = o.target;
    j["params"] = rep.params;
    if (!rep.drawn.empty()) j["drawn"] = rep.drawn;
    j["result"] = scenarios::result_name(rep.result);
    j["digest"] = sim::hex64(rep.digest);
    j["events"] = rep.trace_events;
    j["loop_events"] = rep.loop_events;
    j["decisions"] = rep.decisions;
    j["messages"] = rep.messages;
    j["sim_ns"] = rep.sim_ns;
    j["wall_ms"] = wall_ms;
    j["events_per_s"] = wall_s > 0 ? static_cast<double>(rep.loop_events) / wall_s : 0.0;
    j["sim_wall_ratio"] = wall_s > 0 ? static_cast<double>(rep.sim_ns) / 1e9 / wall_s : 0.0;
    j["trace_bytes"] = trace_file ? static_cast<int64_t>(trace_file->tellp()) : 0;
    nlohmann::ordered_json vs = nlohmann::ordered_json::array();
    for (const auto& v : rep.violations) {
      vs.push_back({{"invariant", v.invariant}, {"message", v.message}, {"event", v.event}, {"witness", v.witness}});
    }
    j["violations"] = vs;
    if (!rep.error.empty()) j["error"] = rep.error;
    if (cfg.tape) j["tape_site_mismatches"] = rep.tape_mismatches;
    j["replay"] = replay;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s seed=%s result=%s digest=%s events=%llu sim=%.3fs wall=%.1fms\n", rep.scenario.c_str(),
                sim::hex64(rep.seed).c_str(), scenarios::result_name(rep.result), sim::hex64(rep.digest).c_str(),
                static_cast<unsigned long long>(rep.loop_events), static_cast<double>(rep.sim_ns) / 1e9, wall_ms);
    if (!rep.drawn.empty()) std::printf("  drawn: %s\n", rep.drawn.c_str());
    for (const auto& v : rep.violations) {
      std::printf("  VIOLATION %s (trace event %llu): %s\n", v.invariant.c_str(),
                  static_cast<unsigned long long>(v.event), v.message.c_str());
      if (!v.witness.empty()) {
        std::printf("    witness events:");
        for (uint64_t w : v.witness) std::printf(" %llu", static_cast<unsigned long long>(w));
        std::printf("\n");
      }
    }
    if (!rep.error.empty()) std::printf("  HARNESS ERROR: %s\n", rep.error.c_str());
    if (rep.result != scenarios::RunReport::Result::kPass) {
      std::printf("  replay: %s%s\n", replay.c_str(), o.trace_path.empty() ? " --trace trace.jsonl" : "");
    }
  }
  switch (rep.result) {
    case scenarios::RunReport::Result::kPass: return kExitPass;
    case scenarios::RunReport::Result::kFail: return kExitFail;
    case scenarios::RunReport::Result::kError: return kExitHarness;
  }
  return kExitHarness;
}

}  // namespace tools
