#include "tools/shrink.h"

#include <algorithm>
#include <variant>

#include "scenarios/scenario.h"

namespace tools {

namespace {

size_t nonzero(const std::vector<sim::Decision>& t) {
  return static_cast<size_t>(std::count_if(t.begin(), t.end(), [](const sim::Decision& d) { return d.value != 0; }));
}

// Trailing zero decisions say nothing a run-out tape would not.
void trim_zeros(std::vector<sim::Decision>& t) {
  while (!t.empty() && t.back().value == 0) t.pop_back();
}

// Smaller is better: fewer non-zero decisions, then a shorter run, then fewer decisions,
// then smaller values.
bool better(const std::vector<sim::Decision>& a, uint64_t events_a, const std::vector<sim::Decision>& b,
            uint64_t events_b) {
  const size_t na = nonzero(a), nb = nonzero(b);
  if (na != nb) return na < nb;
  if (events_a != events_b) return events_a < events_b;
  if (a.size() != b.size()) return a.size() < b.size();
  uint64_t sa = 0, sb = 0;
  for (const auto& d : a) sa += d.value;
  for (const auto& d : b) sb += d.value;
  return sa < sb;
}

class Shrinker {
 public:
  Shrinker(const scenarios::RunConfig& base, std::string invariant, const ShrinkOptions& o)
      : base_(base), invariant_(std::move(invariant)), opt_(o) {}

  // Runs a candidate; on the target failure, returns true and fills the exact recorded tape.
  bool fails(const std::vector<sim::Decision>& candidate, std::vector<sim::Decision>* recorded,
             scenarios::RunReport* report) {
    ++runs_;
    scenarios::RunConfig cfg = base_;
    cfg.tape = &candidate;
    cfg.record_tape = true;
    cfg.trace_out = nullptr;
    // A candidate that runs past the cap is not a smaller failure: cut it off (an event-limit
    // stop counts as "does not fail").
    if (event_cap_) cfg.max_events = event_cap_;
    scenarios::RunReport r = scenarios::run_scenario(cfg);
    if (r.result != scenarios::RunReport::Result::kFail || r.violations.empty()) return false;
    if (!invariant_.empty() && r.violations[0].invariant != invariant_) return false;
    if (invariant_.empty()) invariant_ = r.violations[0].invariant;
    *recorded = std::move(r.tape);
    trim_zeros(*recorded);
    if (report) *report = std::move(r);
    return true;
  }
  bool budget_left() const { return runs_ < opt_.max_runs; }
  void set_params(nlohmann::json p) { base_.params = std::move(p); }
  const nlohmann::json& params() const { return base_.params; }
  // Accepts `candidate` if it fails and is smaller than `best`.
  bool try_candidate(const std::vector<sim::Decision>& candidate, std::vector<sim::Decision>& best,
                     scenarios::RunReport& best_report) {
    if (!budget_left()) return false;
    std::vector<sim::Decision> rec;
    scenarios::RunReport rep;
    if (!fails(candidate, &rec, &rep)) return false;
    if (!better(rec, rep.loop_events, best, best_report.loop_events)) return false;
    best = std::move(rec);
    best_report = std::move(rep);
    return true;
  }
  // A shrunk failure may take at most 25% more loop events than the original (a longer run is
  // harder to read, and cutting candidates off keeps each try cheap).
  void set_event_cap(uint64_t original_events) { event_cap_ = std::max<uint64_t>(original_events + original_events / 4, 200); }
  uint64_t runs() const { return runs_; }
  const std::string& invariant() const { return invariant_; }

 private:
  scenarios::RunConfig base_;
  std::string invariant_;
  ShrinkOptions opt_;
  uint64_t runs_ = 0;
  uint64_t event_cap_ = 0;
};

}  // namespace

ShrinkResult shrink_tape(const scenarios::RunConfig& base, const std::vector<sim::Decision>& tape, std::string invariant,
                         const ShrinkOptions& options) {
  ShrinkResult out;
  Shrinker s(base, std::move(invariant), options);
  std::vector<sim::Decision> best;
  scenarios::RunReport best_report;
  if (!s.fails(tape, &best, &best_report)) {
    out.runs = s.runs();
    out.invariant = s.invariant();
    return out;
  }
  out.reproduced = true;
  const uint64_t events_original = best_report.loop_events;
  const size_t decisions_original = best.size(), nonzero_original = nonzero(best);
  // 0. Fewer nodes: lower each count parameter to its minimum, else halfway, while the same
  // invariant still fails (the tape replays with site mismatches tolerated).
  if (const scenarios::ScenarioInfo* info = scenarios::find_scenario(base.scenario)) {
    for (const scenarios::ParamSpec& spec : info->params) {
      if (!spec.shrink_toward_min || !s.budget_left()) continue;
      nlohmann::json cur = s.params().is_object() ? s.params() : nlohmann::json::object();
      const int64_t was = cur.contains(spec.name) && cur[spec.name].is_number_integer() ? cur[spec.name].get<int64_t>()
                                                                                       : std::get<int64_t>(spec.def);
      for (int64_t to : {spec.min, spec.min + (was - spec.min) / 2}) {
        if (to >= was || !s.budget_left()) continue;
        nlohmann::json cand = cur;
        cand[spec.name] = to;
        const nlohmann::json keep = s.params();
        s.set_params(cand);
        std::vector<sim::Decision> rec;
        scenarios::RunReport rep;
        if (s.fails(best, &rec, &rep)) {
          out.params_lowered.push_back(spec.name + " " + std::to_string(was) + " -> " + std::to_string(to));
          best = std::move(rec);
          best_report = std::move(rep);
          break;
        }
        s.set_params(keep);
      }
    }
  }
  s.set_event_cap(best_report.loop_events);
  out.decisions_before = decisions_original;
  out.nonzero_before = nonzero_original;
  out.events_before = events_original;

  bool progress = true;
  while (progress && s.budget_left()) {
    progress = false;
    // 1. Truncation: binary search for a short failing prefix.
    {
      size_t lo = 0, hi = best.size();
      while (lo < hi && s.budget_left()) {
        const size_t mid = lo + (hi - lo) / 2;
        std::vector<sim::Decision> cand(best.begin(), best.begin() + static_cast<std::ptrdiff_t>(mid));
        std::vector<sim::Decision> rec;
        if (s.fails(cand, &rec, nullptr)) hi = mid;
        else lo = mid + 1;
      }
      if (hi < best.size()) {
        std::vector<sim::Decision> cand(best.begin(), best.begin() + static_cast<std::ptrdiff_t>(hi));
        progress |= s.try_candidate(cand, best, best_report);
      }
    }
    // 2. Zero chunks, then 3. delete chunks, halving the chunk size.
    for (int mode = 0; mode < 2; ++mode) {
      for (size_t k = std::max<size_t>(best.size() / 2, 1); k >= 1 && s.budget_left(); k /= 2) {
        for (size_t i = 0; i < best.size() && s.budget_left();) {
          std::vector<sim::Decision> cand = best;
          const size_t end = std::min(i + k, cand.size());
          bool changes = false;
          if (mode == 0) {
            for (size_t j = i; j < end; ++j) {
              changes |= cand[j].value != 0;
              cand[j].value = 0;
            }
          } else {
            cand.erase(cand.begin() + static_cast<std::ptrdiff_t>(i), cand.begin() + static_cast<std::ptrdiff_t>(end));
            changes = true;
          }
          if (changes && s.try_candidate(cand, best, best_report)) {
            progress = true;  // the tape changed under us: retry at the same position
          } else {
            i += k;
          }
        }
        if (k == 1) break;
      }
    }
    // 4. Lower single values by halving.
    for (size_t i = 0; i < best.size() && s.budget_left(); ++i) {
      if (best[i].value <= 1) continue;
      std::vector<sim::Decision> cand = best;
      cand[i].value /= 2;
      progress |= s.try_candidate(cand, best, best_report);
    }
  }
  out.invariant = s.invariant();
  out.tape = std::move(best);
  out.report = std::move(best_report);
  out.runs = s.runs();
  out.decisions_after = out.tape.size();
  out.nonzero_after = nonzero(out.tape);
  out.events_after = out.report.loop_events;
  out.params = s.params();
  return out;
}

}  // namespace tools
