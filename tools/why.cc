#include "tools/why.h"

#include <algorithm>
#include <cmath>

#include "sim/random.h"

namespace tools {

WhyOriginal why_original(const scenarios::RunConfig& base, const std::vector<sim::Decision>* tape) {
  scenarios::RunConfig cfg = base;
  cfg.tape = tape;
  cfg.random_after_tape = false;
  cfg.record_tape = true;
  cfg.trace_out = nullptr;
  scenarios::RunReport r = scenarios::run_scenario(cfg);
  WhyOriginal o;
  o.failed = r.result == scenarios::RunReport::Result::kFail && !r.violations.empty();
  if (!r.violations.empty()) {
    o.invariant = r.violations[0].invariant;
    o.message = r.violations[0].message;
  }
  o.error = r.error;
  o.fail_ns = r.sim_ns;
  o.digest = r.digest;
  o.loop_events = r.loop_events;
  o.tape = std::move(r.tape);
  o.times = std::move(r.tape_times);
  return o;
}

std::vector<WhyCheckpoint> plan_checkpoints(const std::vector<sim::Time>& times, sim::Time fail_ns, uint32_t n) {
  std::vector<WhyCheckpoint> cps(std::max<uint32_t>(n, 1));
  const size_t last = cps.size() - 1;
  for (size_t i = 0; i < cps.size(); ++i) {
    // i * fail_ns / last without overflow: fail_ns fits 63 bits, i and last are small.
    const sim::Time t = last == 0 ? fail_ns
                                  : static_cast<sim::Time>(static_cast<__int128>(fail_ns) * static_cast<__int128>(i) /
                                                           static_cast<__int128>(last));
    cps[i].t_ns = t;
    // Decisions made strictly before t. The last checkpoint keeps them all, including those
    // made at the failure's own instant: it is the original run.
    cps[i].decisions = i == last ? times.size()
                                 : static_cast<size_t>(std::lower_bound(times.begin(), times.end(), t) - times.begin());
  }
  return cps;
}

uint64_t why_sample_seed(uint64_t seed, uint32_t j) {
  // Decorrelated from campaign run seeds (splitmix64_at(seed, k)) by a fixed stream name, so
  // `why --seed S` does not re-draw exactly the runs of `fuzz --campaign-seed S`.
  return sim::splitmix64_at(sim::Random::stream_seed(seed, "why.suffix"), j);
}

void set_probability(WhyCheckpoint* c) {
  if (c->samples == 0) {
    c->p = 0;
    c->ci_low = 0;
    c->ci_high = 1;
    return;
  }
  // Wilson score interval: unlike p +- z*sqrt(p(1-p)/n) it stays inside [0, 1] and does not
  // collapse to a point at 0/K or K/K, which is where most checkpoints are.
  const double z = 1.959963984540054;
  const double n = c->samples;
  const double p = c->failures / n;
  const double z2n = z * z / n;
  const double centre = (p + z2n / 2) / (1 + z2n);
  const double half = z / (1 + z2n) * std::sqrt(p * (1 - p) / n + z2n / (4 * n));
  c->p = p;
  c->ci_low = std::max(0.0, centre - half);
  c->ci_high = std::min(1.0, centre + half);
  // Rounding can leave the exact ends a hair off; 0/K and K/K have an exact end.
  if (c->failures == 0) c->ci_low = 0;
  if (c->failures == c->samples) c->ci_high = 1;
}

void run_checkpoint(const scenarios::RunConfig& base, const std::vector<sim::Decision>& tape,
                    const std::string& invariant, const WhySampleOptions& o, WhyCheckpoint* c) {
  const std::vector<sim::Decision> prefix(tape.begin(), tape.begin() + static_cast<std::ptrdiff_t>(std::min(c->decisions, tape.size())));
  c->samples = o.samples;
  c->failures = c->other_failures = c->errors = 0;
  for (uint32_t j = 0; j < o.samples; ++j) {
    scenarios::RunConfig cfg = base;
    cfg.tape = &prefix;
    cfg.random_after_tape = true;
    cfg.suffix_seed = why_sample_seed(o.seed, j);
    cfg.record_tape = false;
    cfg.trace_out = nullptr;
    cfg.max_events = o.max_events;
    const scenarios::RunReport r = scenarios::run_scenario(cfg);
    if (r.result == scenarios::RunReport::Result::kError) {
      ++c->errors;
    } else if (r.result == scenarios::RunReport::Result::kFail && !r.violations.empty()) {
      if (r.violations[0].invariant == invariant) ++c->failures;
      else ++c->other_failures;
    }
  }
  set_probability(c);
}

WhyVerdict why_verdict(const std::vector<WhyCheckpoint>& cps) {
  WhyVerdict v;
  // "From which": every checkpoint from there on must be >= 0.95, so a lucky early spike
  // followed by a dip is not called the point of no return.
  for (size_t i = cps.size(); i-- > 0;) {
    if (cps[i].p < 0.95) break;
    v.inevitable = i;
  }
  if (!v.inevitable) return v;
  for (size_t i = *v.inevitable; i-- > 0;) {
    if (cps[i].p <= 0.05) {
      v.decided_after = i;
      break;
    }
  }
  return v;
}

}  // namespace tools
