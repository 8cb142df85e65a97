// simfs why FAILURE: when did the failure become inevitable? (tools/why.h has the method.)
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "scenarios/run.h"
#include "scenarios/scenario.h"
#include "sim/trace.h"
#include "tools/cli.h"
#include "tools/failure_input.h"
#include "tools/process_pool.h"
#include "tools/seed.h"
#include "tools/why.h"

namespace tools {

namespace {

const char* kWhyUsage =
    "usage: simfs why FAILURE [--checkpoints N] [--samples K] [--jobs J] [--seed S] [--json]\n"
    "  FAILURE: a failing run's trace, tape, or artifact directory\n"
    "  --checkpoints N: points in virtual time from 0 to the failure (default 20)\n"
    "  --samples K: runs per checkpoint, each keeping the decisions made before it and\n"
    "               drawing the rest at random (default 50)\n"
    "  --jobs J: child processes to spread the checkpoints over (default 1: in-process)\n"
    "  --seed S: seed of the random suffixes (default 0); same FAILURE and S, same table\n"
    "  --json: one JSON object on stdout\n"
    "prints, per checkpoint, the probability that the run still fails the same invariant;\n"
    "the point of inevitability is the earliest checkpoint from which it stays >= 0.95.\n"
    "exit codes: 0 analysed, 2 usage error, 3 the failure does not reproduce or the input is corrupt";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "simfs why: %s\n", msg.c_str());
  return kExitUsage;
}

int harness_error(const std::string& msg) {
  std::fprintf(stderr, "simfs why: %s\n", msg.c_str());
  return kExitHarness;
}

// Virtual time for people: seconds with ns precision, aligned.
std::string seconds(sim::Time ns) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%lld.%09llds", static_cast<long long>(ns / sim::kSecond),
                static_cast<long long>(ns % sim::kSecond));
  return buf;
}

// One character per checkpoint, darker = likelier to fail (ASCII, so any terminal and any CI
// log shows it).
std::string sparkline(const std::vector<WhyCheckpoint>& cps) {
  static const char kLevels[] = " .:-=+*#%@";
  std::string s;
  for (const auto& c : cps) s += kLevels[static_cast<int>(std::lround(c.p * 9))];
  return s;
}

std::string bar(double p, int width) {
  const int n = static_cast<int>(std::lround(p * width));
  return "|" + std::string(static_cast<size_t>(n), '#') + std::string(static_cast<size_t>(width - n), ' ') + "|";
}

}  // namespace

int cmd_why(Args& args, const std::string& /*prog: workers are started from self_exe()*/) {
  std::string path;
  bool json = false;
  uint64_t checkpoints = 20, samples = 50, jobs = 1, seed = 0;
  // Internal: `--worker I/J` runs only the distinct checkpoints u with u mod J == I and prints
  // one JSON line per checkpoint; the parent of a --jobs run starts these.
  std::optional<std::pair<uint64_t, uint64_t>> worker;
  while (!args.done()) {
    bool missing = false;
    const std::string cur = args.peek();
    auto count = [&](const std::string& name, const std::string& v, uint64_t max, uint64_t* out) {
      auto n = parse_seed(v, nullptr);
      if (!n || *n == 0 || *n > max) return usage_error("bad " + name + " '" + v + "' (1.." + std::to_string(max) + ")");
      *out = *n;
      return 0;
    };
    if (cur == "-h" || cur == "--help") {
      std::puts(kWhyUsage);
      return kExitPass;
    }
    if (auto v = args.option("--checkpoints", &missing)) {
      if (int e = count("--checkpoints", *v, 10000, &checkpoints)) return e;
    } else if (auto v = args.option("--samples", &missing)) {
      if (int e = count("--samples", *v, 1000000, &samples)) return e;
    } else if (auto v = args.option("--jobs", &missing)) {
      if (int e = count("--jobs", *v, 256, &jobs)) return e;
    } else if (auto v = args.option("--seed", &missing)) {
      std::string err;
      auto s = parse_seed(*v, &err);
      if (!s) return usage_error(err);
      seed = *s;
    } else if (auto v = args.option("--worker", &missing)) {
      const size_t slash = v->find('/');
      auto i = parse_seed(v->substr(0, slash), nullptr);
      auto n = slash == std::string::npos ? std::nullopt : parse_seed(v->substr(slash + 1), nullptr);
      if (!i || !n || *n == 0 || *i >= *n) return usage_error("bad --worker '" + *v + "'");
      worker = std::make_pair(*i, *n);
    } else if (args.flag("--json")) {
      json = true;
    } else if (missing) {
      return usage_error("option " + cur + " needs a value");
    } else if (cur.size() > 1 && cur[0] == '-') {
      return usage_error("unknown option '" + cur + "'");
    } else if (path.empty()) {
      path = args.next();
    } else {
      return usage_error("unexpected argument '" + cur + "'");
    }
  }
  if (path.empty()) return usage_error("no failure given (see 'simfs why --help')");

  FailureInput in;
  bool usage = false;
  std::string err = load_failure_input(path, &in, &usage);
  if (!err.empty()) {
    std::fprintf(stderr, "simfs why: %s\n", err.c_str());
    return usage ? kExitUsage : kExitHarness;
  }
  if (!scenarios::find_scenario(in.scenario))
    return harness_error("scenario '" + in.scenario + "' does not exist in this build");

  // 1. Replay the failure, learning its invariant and when each decision was made.
  scenarios::RunConfig base;
  base.scenario = in.scenario;
  base.seed = in.seed;
  base.bug = in.bug;
  base.params = in.params;
  const WhyOriginal orig = why_original(base, in.tape ? &in.tape->decisions : nullptr);
  if (!orig.failed) {
    if (!orig.error.empty()) return harness_error("replaying the input gave a harness error: " + orig.error);
    return harness_error("the input does not fail when replayed: nothing to explain");
  }
  if (!worker && !in.digest.empty() && in.digest != sim::hex64(orig.digest))
    std::fprintf(stderr, "simfs why: warning: replay digest %s differs from the recording's %s (different build?)\n",
                 sim::hex64(orig.digest).c_str(), in.digest.c_str());

  // 2. Plan the checkpoints. Checkpoints keeping the same prefix give the same runs (same
  // suffix seeds), so each distinct prefix is sampled once.
  std::vector<WhyCheckpoint> cps = plan_checkpoints(orig.times, orig.fail_ns, static_cast<uint32_t>(checkpoints));
  std::vector<size_t> distinct;  // first checkpoint of each distinct prefix
  for (size_t i = 0; i < cps.size(); ++i) {
    if (distinct.empty() || cps[distinct.back()].decisions != cps[i].decisions) distinct.push_back(i);
  }
  WhySampleOptions so;
  so.samples = static_cast<uint32_t>(samples);
  so.seed = seed;

  if (worker) {
    for (size_t u = worker->first; u < distinct.size(); u += worker->second) {
      WhyCheckpoint& c = cps[distinct[u]];
      run_checkpoint(base, orig.tape, orig.invariant, so, &c);
      nlohmann::ordered_json line{{"checkpoint", distinct[u]},
                                  {"failures", c.failures},
                                  {"other_failures", c.other_failures},
                                  {"errors", c.errors}};
      std::printf("%s\n", line.dump().c_str());
      std::fflush(stdout);
    }
    return kExitPass;
  }

  // 3. Sample: in-process, or over child processes (each replays the original itself).
  if (jobs <= 1 || distinct.size() <= 1) {
    for (size_t i : distinct) run_checkpoint(base, orig.tape, orig.invariant, so, &cps[i]);
  } else {
    const uint64_t n = std::min<uint64_t>(jobs, distinct.size());
    ProcessPool pool;
    const std::string exe = self_exe();
    for (uint64_t w = 0; w < n; ++w) {
      std::vector<std::string> argv = {exe, "why", path, "--checkpoints", std::to_string(checkpoints),
                                       "--samples", std::to_string(samples), "--seed", sim::hex64(seed),
                                       "--worker", std::to_string(w) + "/" + std::to_string(n)};
      if (!pool.start(argv, w, 0, /*quiet_stderr=*/false)) return harness_error("cannot start a worker process");
    }
    std::vector<bool> got(cps.size(), false);
    while (pool.running() > 0) {
      uint64_t tag = 0;
      ChildResult r;
      if (!pool.wait_one(&tag, &r, 1000)) continue;
      if (r.exit_code != 0)
        return harness_error("worker " + std::to_string(tag) + " failed (exit " + std::to_string(r.exit_code) +
                             (r.signal ? ", signal " + std::to_string(r.signal) : "") + ")");
      std::istringstream lines(r.out);
      std::string line;
      while (std::getline(lines, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        bool ok = !j.is_discarded() && j.is_object();
        for (const char* k : {"checkpoint", "failures", "other_failures", "errors"}) ok = ok && j.contains(k) && j[k].is_number_unsigned();
        if (!ok) return harness_error("worker printed '" + line + "'");
        const size_t i = j["checkpoint"].get<size_t>();
        if (i >= cps.size()) return harness_error("worker named checkpoint " + std::to_string(i));
        cps[i].samples = so.samples;
        cps[i].failures = j["failures"].get<uint32_t>();
        cps[i].other_failures = j["other_failures"].get<uint32_t>();
        cps[i].errors = j["errors"].get<uint32_t>();
        set_probability(&cps[i]);
        got[i] = true;
      }
    }
    for (size_t i : distinct) {
      if (!got[i]) return harness_error("no worker reported checkpoint " + std::to_string(i));
    }
  }
  // Copy each distinct prefix's result to the checkpoints that share it.
  for (size_t i = 1; i < cps.size(); ++i) {
    if (cps[i].decisions == cps[i - 1].decisions) {
      const sim::Time t = cps[i].t_ns;
      cps[i] = cps[i - 1];
      cps[i].t_ns = t;
    }
  }
  const WhyVerdict v = why_verdict(cps);

  if (json) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const auto& c : cps) {
      arr.push_back({{"t_ns", c.t_ns},
                     {"decisions", c.decisions},
                     {"samples", c.samples},
                     {"failures", c.failures},
                     {"p", c.p},
                     {"ci_low", c.ci_low},
                     {"ci_high", c.ci_high},
                     {"other_failures", c.other_failures},
                     {"errors", c.errors}});
    }
    nlohmann::ordered_json j{{"scenario", in.scenario},
                             {"seed", sim::hex64(in.seed)},
                             {"bug", in.bug},
                             {"invariant", orig.invariant},
                             {"message", orig.message},
                             {"failed_at_ns", orig.fail_ns},
                             {"decisions", orig.tape.size()},
                             {"suffix_seed", sim::hex64(seed)},
                             {"checkpoints", arr}};
    j["inevitable_at_ns"] = v.inevitable ? nlohmann::ordered_json(cps[*v.inevitable].t_ns) : nlohmann::ordered_json();
    j["decided_after_ns"] = v.decided_after ? nlohmann::ordered_json(cps[*v.decided_after].t_ns) : nlohmann::ordered_json();
    std::printf("%s\n", j.dump().c_str());
    return kExitPass;
  }

  std::printf("why %s: %s seed %s%s\n", orig.invariant.c_str(), in.scenario.c_str(), sim::hex64(in.seed).c_str(),
              in.bug.empty() ? "" : (" bug " + in.bug).c_str());
  std::printf("  %s\n", orig.message.c_str());
  std::printf("  failed at t=%s after %zu decisions; %zu checkpoints x %llu samples, suffix seed %s\n\n",
              seconds(orig.fail_ns).c_str(), orig.tape.size(), cps.size(), static_cast<unsigned long long>(samples),
              sim::hex64(seed).c_str());
  // Columns: other = samples that failed a different invariant, err = harness errors; both
  // are neither counted as failures nor dropped from K.
  const int width = 20;
  std::printf("   #  %-13s %6s  %7s  %4s  %-11s  %5s  %3s  %s\n", "t", "kept", "fail/K", "p", "95% CI", "other", "err",
              "p(fail)");
  for (size_t i = 0; i < cps.size(); ++i) {
    const WhyCheckpoint& c = cps[i];
    char frac[32], ci[32];
    std::snprintf(frac, sizeof frac, "%u/%u", c.failures, c.samples);
    std::snprintf(ci, sizeof ci, "[%.2f,%.2f]", c.ci_low, c.ci_high);
    const char* mark = v.inevitable && *v.inevitable == i ? " <- inevitable"
                       : v.decided_after && *v.decided_after == i ? " <- still avoidable" : "";
    std::printf("  %2zu  %-13s %6zu  %7s  %4.2f  %-11s  %5u  %3u  %s%s\n", i, seconds(c.t_ns).c_str(), c.decisions,
                frac, c.p, ci, c.other_failures, c.errors, bar(c.p, width).c_str(), mark);
  }
  std::printf("\n  p(fail) over time: [%s]\n", sparkline(cps).c_str());
  if (v.inevitable) {
    const WhyCheckpoint& c = cps[*v.inevitable];
    std::printf("  inevitable from t=%s (checkpoint %zu, %zu of %zu decisions kept): p >= 0.95 from there on\n",
                seconds(c.t_ns).c_str(), *v.inevitable, c.decisions, orig.tape.size());
    if (v.decided_after) {
      const WhyCheckpoint& a = cps[*v.decided_after];
      std::printf("  decided between t=%s and t=%s: decisions %zu..%zu of the tape (0-based)\n",
                  seconds(a.t_ns).c_str(), seconds(c.t_ns).c_str(), a.decisions, c.decisions == 0 ? 0 : c.decisions - 1);
    } else if (*v.inevitable > 0) {
      // Nothing before it was clearly safe: the bug's base rate (p at t=0) is already above
      // 0.05. The last step up is still where this run's fate was sealed.
      const WhyCheckpoint& a = cps[*v.inevitable - 1];
      std::printf("  no earlier checkpoint has p <= 0.05 (at t=0, nothing kept: p=%.2f, the base rate);\n"
                  "  the last step up is between t=%s (p=%.2f) and t=%s: decisions %zu..%zu of the tape (0-based)\n",
                  cps[0].p, seconds(a.t_ns).c_str(), a.p, seconds(c.t_ns).c_str(), a.decisions,
                  c.decisions == 0 ? 0 : c.decisions - 1);
    } else {
      std::printf("  it fails from t=0 with nothing kept: every run of this scenario and bug fails\n");
    }
  } else {
    std::printf("  no point of inevitability: p < 0.95 somewhere after every checkpoint\n");
  }
  return kExitPass;
}

}  // namespace tools
