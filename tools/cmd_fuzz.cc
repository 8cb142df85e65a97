// simfs fuzz: a campaign of many seeded runs, one OS process each, J at a time.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "scenarios/scenario.h"
#include "sim/trace.h"
#include "tools/campaign.h"
#include "tools/cli.h"
#include "tools/process_pool.h"
#include "tools/scenario_arg.h"
#include "tools/seed.h"

namespace tools {

namespace {

const char* kFuzzHelp =
    "usage: simfs fuzz SCENARIO... (--runs N | --time DURATION) [options]\n"
    "  SCENARIO: a scenario name or a scenario file (FILE.json, see docs/scenario-schema.md)\n"
    "\n"
    "  --runs N               number of runs (all shards together)\n"
    "  --time DURATION        run until DURATION has passed (e.g. 90s, 10m, 2h)\n"
    "  --jobs J               parallel runs (default: 2)\n"
    "  --campaign-seed S      run k uses seed splitmix64(S, k) (default 0)\n"
    "  --shard i/n|auto       run only the runs k with k mod n == i; auto reads JOB_COMPLETION_INDEX\n"
    "                         (+ --shard-count), SLURM_ARRAY_TASK_ID/COUNT, or SIMFS_SHARD=i/n\n"
    "  --bug NAME             run every scenario with this planted bug\n"
    "  --artifacts DIR        write trace, tape, replay command, device images and their fsck report\n"
    "                         per unique failure (default: artifacts)\n"
    "  --junit FILE           write JUnit XML\n"
    "  --results FILE         write JSON Lines: one line per unique failure, then a summary line\n"
    "  --stop-after K         stop after K failing runs\n"
    "  --timeout-ms T         wall-clock limit per run (default: the scenario's, 60000 for most, 600000\n"
    "                         for nightly): a hang is a recorded failure\n"
    "  --shrink-runs N        candidate runs to spend shrinking each unique failure (default 300)\n"
    "  --no-shrink            do not shrink failures\n"
    "\n"
    "exit codes: 0 all passed, 1 some run failed, 2 usage error, 3 harness error (e.g. nondeterminism)\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "simfs fuzz: %s\n", msg.c_str());
  return kExitUsage;
}

// "90", "90s", "10m", "2h" -> milliseconds.
std::optional<int64_t> parse_duration_ms(const std::string& s) {
  if (s.empty()) return std::nullopt;
  size_t i = 0;
  int64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (v > 100'000'000) return std::nullopt;
    v = v * 10 + (s[i++] - '0');
  }
  if (i == 0) return std::nullopt;
  const std::string unit = s.substr(i);
  if (unit.empty() || unit == "s") return v * 1000;
  if (unit == "ms") return v;
  if (unit == "m") return v * 60'000;
  if (unit == "h") return v * 3'600'000;
  return std::nullopt;
}

struct ScenarioStats {
  uint64_t runs = 0, passes = 0, failures = 0, errors = 0;
  uint64_t loop_events = 0;
  double sim_s = 0, wall_ms = 0;
};

struct Progress {
  bool tty = false;
  int64_t start_ms = 0;
  int64_t last_draw_ms = 0;
  void draw(uint64_t done, uint64_t total, uint64_t failures, bool force) {
    const int64_t now = monotonic_ms();
    const int64_t interval = tty ? 50 : 5000;
    if (!force && now - last_draw_ms < interval) return;
    last_draw_ms = now;
    const double el = static_cast<double>(now - start_ms) / 1000.0;
    const double rate = el > 0 ? static_cast<double>(done) / el : 0;
    char eta[32] = "?";
    if (total && rate > 0) std::snprintf(eta, sizeof eta, "%.0fs", static_cast<double>(total - done) / rate);
    if (tty) {
      const int width = 30;
      const int filled = total ? static_cast<int>(static_cast<double>(width) * static_cast<double>(done) / static_cast<double>(total)) : 0;
      std::string bar(static_cast<size_t>(filled), '#');
      bar.resize(width, '.');
      std::fprintf(stderr, "\r\x1b[2K[%s] %llu/%llu runs  %.1f runs/s  %llu failed  elapsed %.0fs  eta %s", bar.c_str(),
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), rate,
                   static_cast<unsigned long long>(failures), el, total ? eta : "-");
    } else {
      std::fprintf(stderr, "fuzz: %llu/%llu runs, %.1f runs/s, %llu failed, elapsed %.0fs\n",
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), rate,
                   static_cast<unsigned long long>(failures), el);
    }
  }
  void finish() {
    if (tty) std::fprintf(stderr, "\n");
  }
};

// --shard auto: Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with --shard-count), Slurm
// arrays (SLURM_ARRAY_TASK_ID / _COUNT / _MIN), or SIMFS_SHARD=i/n (e.g. from a GitHub Actions
// matrix: SIMFS_SHARD=${{ strategy.job-index }}/${{ strategy.job-total }}); otherwise 0/1.
bool resolve_auto_shard(uint64_t count_flag, uint64_t* i, uint64_t* n, std::string* why) {
  auto env = [](const char* name) -> std::optional<uint64_t> {
    const char* v = std::getenv(name);
    if (!v) return std::nullopt;
    return parse_seed(v, nullptr);
  };
  if (const char* k = std::getenv("JOB_COMPLETION_INDEX")) {
    auto idx = parse_seed(k, nullptr);
    if (!idx || count_flag == 0 || *idx >= count_flag) {
      *why = "JOB_COMPLETION_INDEX needs --shard-count N (spec.completions) with index < N";
      return false;
    }
    *i = *idx, *n = count_flag, *why = "Kubernetes JOB_COMPLETION_INDEX";
    return true;
  }
  if (auto id = env("SLURM_ARRAY_TASK_ID")) {
    auto count = env("SLURM_ARRAY_TASK_COUNT");
    const uint64_t min = env("SLURM_ARRAY_TASK_MIN").value_or(0);
    if (!count || *count == 0 || *id < min || *id - min >= *count) {
      *why = "SLURM_ARRAY_TASK_ID/_COUNT/_MIN are inconsistent";
      return false;
    }
    *i = *id - min, *n = *count, *why = "Slurm array";
    return true;
  }
  if (const char* s = std::getenv("SIMFS_SHARD")) {
    const std::string v = s;
    const size_t slash = v.find('/');
    auto a = slash == std::string::npos ? std::nullopt : parse_seed(v.substr(0, slash), nullptr);
    auto b = slash == std::string::npos ? std::nullopt : parse_seed(v.substr(slash + 1), nullptr);
    if (!a || !b || *b == 0 || *a >= *b) {
      *why = "SIMFS_SHARD must be i/n with 0 <= i < n";
      return false;
    }
    *i = *a, *n = *b, *why = "SIMFS_SHARD";
    return true;
  }
  *i = 0, *n = 1, *why = "no shard environment found";
  return true;
}

bool make_dirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty()) {
        if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return false;
      }
    }
    if (i < path.size()) cur.push_back(path[i]);
  }
  return true;
}

}  // namespace

int cmd_fuzz(Args& args, const std::string& prog) {
  std::vector<std::string> scen_names;
  std::optional<uint64_t> runs;
  std::optional<int64_t> time_ms;
  uint64_t jobs = 2, campaign_seed = 0, stop_after = 0;
  uint64_t shard_i = 0, shard_n = 1, shard_count_flag = 0;
  bool shard_auto = false;
  std::optional<int64_t> timeout_flag;
  uint64_t shrink_runs = 300;
  bool shrink = true;
  std::string bug, artifacts = "artifacts", junit_path, results_path;
  while (!args.done()) {
    bool missing = false;
    const std::string cur = args.peek();
    std::string err;
    if (cur == "-h" || cur == "--help") {
      std::fputs(kFuzzHelp, stdout);
      return kExitPass;
    }
    if (auto v = args.option("--runs", &missing)) {
      runs = parse_seed(*v, &err);
      if (!runs || *runs == 0) return usage_error("bad --runs '" + *v + "': want a positive integer");
    } else if (auto v = args.option("--time", &missing)) {
      time_ms = parse_duration_ms(*v);
      if (!time_ms || *time_ms <= 0) return usage_error("bad --time '" + *v + "': want e.g. 90s, 10m, 2h");
    } else if (auto v = args.option("--jobs", &missing)) {
      auto j = parse_seed(*v, &err);
      if (!j || *j == 0 || *j > 256) return usage_error("bad --jobs '" + *v + "': want 1..256");
      jobs = *j;
    } else if (auto v = args.option("--campaign-seed", &missing)) {
      auto s = parse_seed(*v, &err);
      if (!s) return usage_error(err);
      campaign_seed = *s;
    } else if (auto v = args.option("--shard-count", &missing)) {
      auto n = parse_seed(*v, &err);
      if (!n || *n == 0) return usage_error("bad --shard-count '" + *v + "'");
      shard_count_flag = *n;
    } else if (auto v = args.option("--shard", &missing)) {
      if (*v == "auto") {
        shard_auto = true;
        continue;
      }
      const size_t slash = v->find('/');
      std::optional<uint64_t> i, n;
      if (slash != std::string::npos) {
        i = parse_seed(v->substr(0, slash), nullptr);
        n = parse_seed(v->substr(slash + 1), nullptr);
      }
      if (!i || !n || *n == 0 || *i >= *n) return usage_error("bad --shard '" + *v + "': want i/n with 0 <= i < n");
      shard_i = *i;
      shard_n = *n;
    } else if (auto v = args.option("--bug", &missing)) {
      bug = *v;
    } else if (auto v = args.option("--artifacts", &missing)) {
      artifacts = *v;
    } else if (auto v = args.option("--junit", &missing)) {
      junit_path = *v;
    } else if (auto v = args.option("--results", &missing)) {
      results_path = *v;
    } else if (auto v = args.option("--stop-after", &missing)) {
      auto s = parse_seed(*v, &err);
      if (!s || *s == 0) return usage_error("bad --stop-after '" + *v + "'");
      stop_after = *s;
    } else if (auto v = args.option("--shrink-runs", &missing)) {
      auto s = parse_seed(*v, &err);
      if (!s || *s == 0) return usage_error("bad --shrink-runs '" + *v + "'");
      shrink_runs = *s;
    } else if (args.flag("--no-shrink")) {
      shrink = false;
    } else if (auto v = args.option("--timeout-ms", &missing)) {
      auto s = parse_seed(*v, &err);
      if (!s || *s == 0) return usage_error("bad --timeout-ms '" + *v + "'");
      timeout_flag = static_cast<int64_t>(*s);
    } else if (missing) {
      return usage_error("option " + cur + " needs a value");
    } else if (cur.size() > 1 && cur[0] == '-') {
      return usage_error("unknown option '" + cur + "' (try 'simfs fuzz --help')");
    } else {
      scen_names.push_back(args.next());
    }
  }
  if (shard_auto) {
    std::string why;
    if (!resolve_auto_shard(shard_count_flag, &shard_i, &shard_n, &why)) return usage_error(why);
    std::fprintf(stderr, "fuzz: --shard auto: shard %llu/%llu (%s)\n", static_cast<unsigned long long>(shard_i),
                 static_cast<unsigned long long>(shard_n), why.c_str());
  }
  if (scen_names.empty()) return usage_error("no scenario given (see 'simfs list')");
  // Every scenario file is parsed now, so a bad one is a usage error before any run.
  std::vector<ScenarioArg> scens;
  int64_t default_timeout = 0;
  for (const auto& s : scen_names) {
    ScenarioArg a;
    if (std::string e = resolve_scenario_arg(s, &a); !e.empty()) return usage_error(e);
    const scenarios::ScenarioInfo* info = scenarios::find_scenario(a.scenario);
    if (!info) return usage_error("unknown scenario '" + s + "' (see 'simfs list')");
    if (!bug.empty() && std::find(info->bugs.begin(), info->bugs.end(), bug) == info->bugs.end())
      return usage_error("scenario '" + a.scenario + "' has no planted bug '" + bug + "'");
    scens.push_back(std::move(a));
    default_timeout = std::max(default_timeout, info->campaign_timeout_ms);
  }
  const int64_t timeout_ms = timeout_flag ? *timeout_flag : default_timeout;
  if (!runs && !time_ms) return usage_error("say how long: --runs N or --time DURATION");
  if (runs && time_ms) return usage_error("give --runs or --time, not both");

  // Output files must be writable before hours of fuzzing, not after.
  for (const std::string* path : {&junit_path, &results_path}) {
    if (path->empty()) continue;
    const size_t slash = path->rfind('/');
    if (slash != std::string::npos && slash > 0) make_dirs(path->substr(0, slash));
    std::ofstream probe(*path, std::ios::app);
    if (!probe) return usage_error("cannot write '" + *path + "': " + std::strerror(errno));
  }

  const std::string exe = self_exe();
  Progress progress;
  progress.tty = isatty(2) && !std::getenv("CI");
  progress.start_ms = monotonic_ms();
  const int64_t end_ms = time_ms ? progress.start_ms + *time_ms : 0;
  // The runs this shard owns: k = shard_i, shard_i + n, ...
  const uint64_t total = runs ? (*runs > shard_i ? (*runs - shard_i + shard_n - 1) / shard_n : 0) : 0;

  ProcessPool pool;
  std::map<std::string, ScenarioStats> stats;
  std::map<std::string, CampaignFailure> failures;  // by fingerprint
  uint64_t next_index = 0, done = 0, failed_runs = 0, harness_errors = 0, determinism_checks = 0;
  // Tags: k * 2 + (1 if this is a determinism re-run).
  std::map<uint64_t, std::string> first_digest;
  bool stopping = false;

  auto launch = [&](uint64_t k, bool recheck) {
    const ScenarioArg& scen = scens[k % scens.size()];
    const uint64_t seed = campaign_run_seed(campaign_seed, k);
    std::vector<std::string> argv = {exe, "run", scen.target, "--seed", sim::hex64(seed), "--json"};
    if (!bug.empty()) argv.insert(argv.end(), {"--bug", bug});
    return pool.start(argv, k * 2 + (recheck ? 1 : 0), static_cast<int>(timeout_ms));
  };
  auto record_failure = [&](uint64_t k, const std::string& invariant, const std::string& message) {
    const ScenarioArg& scen = scens[k % scens.size()];
    const uint64_t seed = campaign_run_seed(campaign_seed, k);
    // Keyed by the scenario's name, not the file: one bug found under two parameter files is
    // one failure (its representative, the smallest k, says which file to replay).
    const std::string fp = fingerprint_of(scen.scenario, invariant, message);
    auto it = failures.find(fp);
    if (it != failures.end()) {
      ++it->second.count;
      if (k < it->second.k) {  // keep the smallest k as the representative
        it->second.k = k;
        it->second.seed = seed;
        it->second.target = scen.target;
        it->second.message = message;
      }
      return;
    }
    CampaignFailure f;
    f.k = k;
    f.seed = seed;
    f.scenario = scen.scenario;
    f.target = scen.target;
    f.invariant = invariant;
    f.message = message;
    f.fingerprint = fp;
    failures.emplace(fp, f);
  };

  for (;;) {
    while (!stopping && pool.running() < jobs) {
      if (runs && next_index >= total) break;
      if (time_ms && monotonic_ms() >= end_ms) break;
      const uint64_t k = shard_i + next_index * shard_n;
      if (!launch(k, false)) {
        std::fprintf(stderr, "simfs fuzz: cannot start a run: %s\n", std::strerror(errno));
        return kExitHarness;
      }
      ++next_index;
    }
    if (pool.running() == 0) break;
    uint64_t tag;
    ChildResult r;
    if (!pool.wait_one(&tag, &r, 200)) {
      progress.draw(done, runs ? total : next_index, failed_runs, false);
      continue;
    }
    const uint64_t k = tag / 2;
    const bool recheck = tag % 2 == 1;
    ScenarioStats& st = stats[scens[k % scens.size()].target];
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    const bool parsed = !j.is_discarded() && j.is_object() && j.contains("result");
    if (recheck) {
      ++determinism_checks;
      if (!parsed || j.value("digest", "") != first_digest[k]) {
        ++harness_errors;
        record_failure(k, "nondeterminism",
                       "digest " + (parsed ? j.value("digest", "?") : std::string("<no result>")) + " differs from first run's " + first_digest[k]);
      }
      first_digest.erase(k);
      continue;
    }
    ++done;
    ++st.runs;
    if (r.timed_out) {
      ++st.failures;
      ++failed_runs;
      record_failure(k, "timeout", "run exceeded the wall-clock limit of " + std::to_string(timeout_ms) + " ms");
    } else if (!parsed) {
      ++st.failures;
      ++failed_runs;
      const std::string why = r.signal ? "killed by signal " + std::to_string(r.signal) : "exited " + std::to_string(r.exit_code) + " without a result";
      record_failure(k, "crash", "the run crashed: " + why);
    } else {
      st.loop_events += j.value("loop_events", uint64_t{0});
      st.sim_s += static_cast<double>(j.value("sim_ns", int64_t{0})) / 1e9;
      st.wall_ms += j.value("wall_ms", 0.0);
      const std::string res = j["result"];
      if (res == "pass") {
        ++st.passes;
        // Re-check a 5% sample of passing runs for determinism (chosen by seed, so every
        // shard agrees on which).
        if (campaign_run_seed(campaign_seed ^ 0x5eed, k) % 20 == 0) {
          first_digest[k] = j.value("digest", "");
          if (!stopping) launch(k, true);
        }
      } else if (res == "fail") {
        ++st.failures;
        ++failed_runs;
        const auto& vs = j["violations"];
        if (vs.is_array() && !vs.empty()) record_failure(k, vs[0].value("invariant", "?"), vs[0].value("message", ""));
        else record_failure(k, "?", "failed without a violation");
      } else {
        ++st.errors;
        ++harness_errors;
        record_failure(k, "harness", j.value("error", "harness error"));
      }
    }
    if (stop_after && failed_runs >= stop_after) stopping = true;
    progress.draw(done, runs ? total : next_index, failed_runs, false);
  }
  progress.draw(done, runs ? total : done, failed_runs, true);
  progress.finish();
  const double wall_s = static_cast<double>(monotonic_ms() - progress.start_ms) / 1000.0;

  // Artifacts for each unique failure: re-run its representative with trace and tape.
  if (!failures.empty()) {
    for (auto& [fp, f] : failures) {
      f.replay = shell_quote(prog) + " run " + shell_quote(f.target) + " --seed " + sim::hex64(f.seed) + (bug.empty() ? "" : " --bug " + bug);
      // A scenario file's runs are named after the file (its stem), so its artifacts stand apart.
      std::string label = f.scenario;
      if (f.target != f.scenario) {
        label = f.target.substr(f.target.rfind('/') + 1);
        if (label.size() > 5 && label.compare(label.size() - 5, 5, ".json") == 0) label.resize(label.size() - 5);
      }
      const std::string dir = artifacts + "/" + label + "-" + sim::hex64(f.seed) + "-" + fp;
      if (!make_dirs(dir)) {
        std::fprintf(stderr, "simfs fuzz: cannot create artifact directory '%s': %s\n", dir.c_str(), std::strerror(errno));
        continue;
      }
      f.artifact_dir = dir;
      std::vector<std::string> argv = {exe, "run", f.target, "--seed", sim::hex64(f.seed), "--json",
                                       "--trace", dir + "/trace.jsonl", "--record-tape", dir + "/tape.json",
                                       "--save-images", dir + "/images"};
      if (!bug.empty()) argv.insert(argv.end(), {"--bug", bug});
      ChildResult rr = run_child(argv, static_cast<int>(timeout_ms), true);
      std::ofstream(dir + "/result.json") << rr.out;
      // A filesystem scenario leaves its disks as they were at the failure: fsck them.
      if (std::ifstream(dir + "/images/meta.img") && std::ifstream(dir + "/images/data.img")) {
        ChildResult fr = run_child({exe, "fsck", dir + "/images"}, static_cast<int>(timeout_ms), true);
        std::ofstream(dir + "/fsck.txt") << fr.out << (fr.exit_code == 0 ? "" : "(fsck exit " + std::to_string(fr.exit_code) + ")\n");
      }
      std::ofstream(dir + "/replay.sh") << "#!/bin/sh\n# " << f.invariant << ": " << f.message << "\n" << f.replay << " --trace trace.jsonl\n";
      // Shrink it in its own process too: the system under test may crash while shrinking.
      const bool shrinkable = f.invariant != "crash" && f.invariant != "timeout" && f.invariant != "nondeterminism" &&
                              f.invariant != "harness";
      if (shrink && shrinkable) {
        ChildResult sr = run_child({exe, "shrink", dir, "--json", "--max-runs", std::to_string(shrink_runs)},
                                   static_cast<int>(timeout_ms) * 4, true);
        auto sj = nlohmann::json::parse(sr.out, nullptr, false);
        if (sr.exit_code == 0 && !sj.is_discarded() && sj.is_object()) {
          f.shrunk_replay = sj.value("replay", "");
          f.shrink_summary = "decisions " + std::to_string(sj.value("decisions_before", 0)) + " -> " +
                             std::to_string(sj.value("decisions_after", 0)) + " (non-zero " +
                             std::to_string(sj.value("nonzero_before", 0)) + " -> " + std::to_string(sj.value("nonzero_after", 0)) +
                             "), events " + std::to_string(sj.value("events_before", 0)) + " -> " +
                             std::to_string(sj.value("events_after", 0));
        }
      }
    }
  }

  // Summary table.
  uint64_t all_runs = 0, all_events = 0;
  double all_sim = 0, cpu_ms = 0;
  std::fprintf(stderr, "\n%-16s %8s %8s %8s %8s %12s %10s\n", "scenario", "runs", "pass", "fail", "error", "events/s", "sim/wall");
  for (const auto& [name, st] : stats) {
    const double ev_s = st.wall_ms > 0 ? static_cast<double>(st.loop_events) / (st.wall_ms / 1000.0) : 0;
    const double ratio = st.wall_ms > 0 ? st.sim_s / (st.wall_ms / 1000.0) : 0;
    std::fprintf(stderr, "%-16s %8llu %8llu %8llu %8llu %12.0f %9.0fx\n", name.c_str(), static_cast<unsigned long long>(st.runs),
                 static_cast<unsigned long long>(st.passes), static_cast<unsigned long long>(st.failures),
                 static_cast<unsigned long long>(st.errors), ev_s, ratio);
    all_runs += st.runs;
    all_events += st.loop_events;
    all_sim += st.sim_s;
    cpu_ms += st.wall_ms;
  }
  const double runs_per_cpu_hour = cpu_ms > 0 ? static_cast<double>(all_runs) / (cpu_ms / 3.6e6) : 0;
  std::fprintf(stderr, "%llu runs in %.1fs wall (%.1f runs/s, %.0f runs per CPU-hour in-sim), %llu determinism re-checks\n",
               static_cast<unsigned long long>(all_runs), wall_s, wall_s > 0 ? static_cast<double>(all_runs) / wall_s : 0,
               runs_per_cpu_hour, static_cast<unsigned long long>(determinism_checks));
  if (!failures.empty()) {
    std::fprintf(stderr, "\n%zu unique failure(s):\n", failures.size());
    std::vector<const CampaignFailure*> order;
    for (const auto& [fp, f] : failures) order.push_back(&f);
    std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) { return a->k < b->k; });
    for (const CampaignFailure* f : order) {
      std::fprintf(stderr, "  [%s] %s %s (x%llu, first at run %llu): %s\n    replay: %s\n    artifacts: %s\n", f->fingerprint.c_str(),
                   f->scenario.c_str(), f->invariant.c_str(), static_cast<unsigned long long>(f->count),
                   static_cast<unsigned long long>(f->k), f->message.c_str(), f->replay.c_str(), f->artifact_dir.c_str());
      if (!f->shrunk_replay.empty())
        std::fprintf(stderr, "    shrunk: %s\n    replay shrunk: %s\n", f->shrink_summary.c_str(), f->shrunk_replay.c_str());
    }
  }

  if (!results_path.empty()) {
    std::ofstream out(results_path, std::ios::trunc);
    for (const auto& [fp, f] : failures) {
      nlohmann::ordered_json l{{"k", f.k}, {"seed", sim::hex64(f.seed)}, {"scenario", f.scenario}, {"invariant", f.invariant},
                               {"message", f.message}, {"fingerprint", f.fingerprint}, {"count", f.count}, {"replay", f.replay},
                               {"artifacts", f.artifact_dir}, {"shrunk_replay", f.shrunk_replay}, {"shrink", f.shrink_summary}};
      if (f.target != f.scenario) l["scenario_file"] = f.target;
      out << l.dump() << "\n";
    }
    nlohmann::ordered_json sum{{"summary", true}, {"campaign_seed", sim::hex64(campaign_seed)}, {"shard", std::to_string(shard_i) + "/" + std::to_string(shard_n)},
                               {"runs", all_runs}, {"failures", failed_runs}, {"harness_errors", harness_errors},
                               {"unique_failures", failures.size()}, {"wall_s", wall_s}, {"events", all_events},
                               {"sim_s", all_sim}, {"runs_per_cpu_hour", runs_per_cpu_hour}, {"build", build_id()}};
    out << sum.dump() << "\n";
    if (!out) std::fprintf(stderr, "simfs fuzz: writing '%s' failed\n", results_path.c_str());
  }
  if (!junit_path.empty()) {
    std::ofstream out(junit_path, std::ios::trunc);
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
    out << "  <testsuite name=\"simfs-fuzz\" tests=\"" << failures.size() + 1 << "\" failures=\"" << failures.size()
        << "\" errors=\"0\" skipped=\"0\" time=\"" << wall_s << "\">\n";
    out << "    <properties><property name=\"campaign_seed\" value=\"" << sim::hex64(campaign_seed) << "\"/><property name=\"shard\" value=\""
        << shard_i << "/" << shard_n << "\"/><property name=\"runs\" value=\"" << all_runs << "\"/></properties>\n";
    out << "    <testcase classname=\"campaign\" name=\"" << all_runs << " runs, " << failed_runs << " failed\" time=\"" << wall_s << "\"/>\n";
    for (const auto& [fp, f] : failures) {
      out << "    <testcase classname=\"" << xml_escape(f.scenario) << "\" name=\"" << xml_escape(f.invariant + " seed " + sim::hex64(f.seed))
          << "\"><failure message=\"" << xml_escape(f.message) << "\" type=\"" << xml_escape(f.invariant) << "\">"
          << xml_escape("replay: " + f.replay + "\nartifacts: " + f.artifact_dir) << "</failure></testcase>\n";
    }
    out << "  </testsuite>\n</testsuites>\n";
    if (!out) std::fprintf(stderr, "simfs fuzz: writing '%s' failed\n", junit_path.c_str());
  }
  // The plain closing line CI systems read.
  std::printf("%llu passed, %llu failed\n", static_cast<unsigned long long>(all_runs - failed_runs),
              static_cast<unsigned long long>(failed_runs));
  if (harness_errors) return kExitHarness;
  return failed_runs ? kExitFail : kExitPass;
}

}  // namespace tools
