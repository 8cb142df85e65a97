// Whole cluster runs, the figures docs/performance.md quotes for the cluster: wall time per
// simulated second, the simulated:wall ratio, runs per CPU-hour and protocol messages per
// second, with tracing off (arg 0) and on to a null stream (arg 1).
//
// multi_mount_60s is the yardstick: 5 mounts for 60 simulated seconds of workload,
// faults in the first 50 s. The others run the scenarios as the campaigns do (defaults).
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <streambuf>

#include "scenarios/run.h"

namespace {

class NullBuf : public std::streambuf {
 protected:
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
  int overflow(int c) override { return c; }
};

void BM_Cluster(benchmark::State& state, const char* scenario, nlohmann::json params) {
  NullBuf nb;
  std::ostream null_out(&nb);
  uint64_t seed = 1, messages = 0, events = 0, failed = 0;
  double sim_s = 0;
  for (auto _ : state) {
    scenarios::RunConfig cfg;
    cfg.scenario = scenario;
    cfg.seed = seed++;
    cfg.params = params;
    if (state.range(0)) cfg.trace_out = &null_out;
    scenarios::RunReport r = scenarios::run_scenario(cfg);
    if (r.result != scenarios::RunReport::Result::kPass) ++failed;
    messages += r.messages;
    events += r.loop_events;
    sim_s += static_cast<double>(r.sim_ns) / 1e9;
  }
  using benchmark::Counter;
  const double runs = static_cast<double>(state.iterations());
  // Rates are per CPU second (the loop is single-threaded, so CPU time is its wall time).
  state.counters["sim_s_per_cpu_s"] = Counter(sim_s, Counter::kIsRate);
  state.counters["runs_per_cpu_hour"] = Counter(runs * 3600, Counter::kIsRate);
  state.counters["messages_per_cpu_s"] = Counter(static_cast<double>(messages), Counter::kIsRate);
  state.counters["loop_events_per_cpu_s"] = Counter(static_cast<double>(events), Counter::kIsRate);
  state.counters["messages_per_sim_s"] = sim_s > 0 ? static_cast<double>(messages) / sim_s : 0;
  state.counters["sim_s_per_run"] = sim_s / runs;
  // A benchmark of failing runs measures the wrong thing: say so in the output.
  state.counters["failed_runs"] = static_cast<double>(failed);
}

const nlohmann::json kMultiMount60s = {{"workload_end", "60s"}, {"fault_window_end", "50s"}};

BENCHMARK_CAPTURE(BM_Cluster, multi_mount_60s, "multi_mount", kMultiMount60s)
    ->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(4);
BENCHMARK_CAPTURE(BM_Cluster, multi_mount, "multi_mount", nlohmann::json())
    ->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Cluster, cluster_smoke, "cluster_smoke", nlohmann::json())
    ->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Cluster, single_mount, "single_mount", nlohmann::json())
    ->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
