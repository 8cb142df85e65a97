#include "scenarios/run.h"

#include <memory>
#include <sstream>
#include <nlohmann/json.hpp>

#include "scenarios/scenario.h"
#include "scenarios/scenario_file.h"

namespace scenarios {

const char* result_name(RunReport::Result r) {
  switch (r) {
    case RunReport::Result::kPass: return "pass";
    case RunReport::Result::kFail: return "fail";
    case RunReport::Result::kError: return "error";
  }
  return "?";
}

RunReport run_scenario(const RunConfig& cfg) {
  RunReport rep;
  rep.scenario = cfg.scenario;
  rep.seed = cfg.seed;
  rep.bug = cfg.bug;
  const ScenarioInfo* info = find_scenario(cfg.scenario);
  if (!info) {
    rep.result = RunReport::Result::kError;
    rep.error = "unknown scenario '" + cfg.scenario + "'";
    return rep;
  }
  if (!cfg.bug.empty()) {
    bool known = false;
    for (const auto& b : info->bugs) known = known || b == cfg.bug;
    if (!known) {
      rep.result = RunReport::Result::kError;
      rep.error = "scenario '" + cfg.scenario + "' has no planted bug '" + cfg.bug + "'";
      return rep;
    }
  }
  ScenarioOptions opts{cfg.bug, {}};
  if (std::string e = resolve_params(*info, cfg.params, &opts.params); !e.empty()) {
    rep.result = RunReport::Result::kError;
    rep.error = "bad parameters for scenario '" + cfg.scenario + "': " + e;
    return rep;
  }
  rep.params = params_to_json(*info, opts.params);
  std::unique_ptr<sim::TapeStrategy> tape;
  std::unique_ptr<sim::PrefixThenRandomStrategy> prefix;
  sim::Strategy* strategy = nullptr;  // null: random from cfg.seed
  if (cfg.tape && cfg.random_after_tape) {
    prefix = std::make_unique<sim::PrefixThenRandomStrategy>(*cfg.tape, cfg.suffix_seed);
    strategy = prefix.get();
  } else if (cfg.tape) {
    tape = std::make_unique<sim::TapeStrategy>(*cfg.tape);
    strategy = tape.get();
  }

  sim::Simulation s(cfg.seed, strategy);
  s.chooser().set_recording(cfg.record_tape);
  s.trace().set_sink(cfg.trace_out);
  std::unique_ptr<Scenario> scen = info->make(opts);
  scen->setup(s);
  rep.drawn = scen->drawn();

  nlohmann::ordered_json header;
  header["format"] = "simfs-trace";
  header["version"] = 1;
  header["run"] = {{"seed", sim::hex64(cfg.seed)},
                   {"scenario", cfg.scenario},
                   {"bug", cfg.bug},
                   {"params", rep.params},
                   {"tape", cfg.tape != nullptr},
                   {"build", cfg.build_id}};
  if (!rep.drawn.empty()) header["run"]["drawn"] = rep.drawn;
  nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
  for (int i = 0; i < s.node_count(); ++i) nodes.push_back({{"id", i}, {"name", s.node(i).name()}});
  header["nodes"] = nodes;
  s.trace().write_header(header.dump());

  sim::Simulation::RunResult r = s.run(scen->time_limit(), cfg.max_events);
  switch (r.outcome) {
    case sim::Simulation::Outcome::kHarnessError:
      rep.result = RunReport::Result::kError;
      rep.error = r.message;
      break;
    case sim::Simulation::Outcome::kEventLimit:
      rep.result = RunReport::Result::kError;
      rep.error = "event budget of " + std::to_string(cfg.max_events) + " exhausted (livelock?)";
      break;
    case sim::Simulation::Outcome::kViolation:
    case sim::Simulation::Outcome::kDeadlock:
      rep.result = RunReport::Result::kFail;
      break;
    case sim::Simulation::Outcome::kQuiescent:
    case sim::Simulation::Outcome::kTimeLimit:
      scen->finish(s);
      rep.result = s.violations().empty() ? RunReport::Result::kPass : RunReport::Result::kFail;
      break;
  }
  rep.violations = s.violations();
  rep.digest = s.digest();
  rep.trace_events = s.trace().count();
  rep.loop_events = s.loop().events_dispatched();
  rep.decisions = s.chooser().decisions();
  rep.messages = scen->messages_sent();
  rep.sim_ns = s.now();
  if (cfg.record_tape) {
    rep.tape = s.chooser().tape();
    rep.tape_times = s.chooser().tape_times();
    rep.site_names = s.chooser().site_names();
  }
  if (tape) rep.tape_mismatches = tape->site_mismatches();
  if (prefix) rep.tape_mismatches = prefix->site_mismatches();

  nlohmann::ordered_json end;
  end["result"] = result_name(rep.result);
  end["digest"] = sim::hex64(rep.digest);
  end["events"] = rep.trace_events;
  end["sim_ns"] = rep.sim_ns;
  std::string e = end.dump();
  s.trace().write_end(std::string_view(e).substr(1, e.size() - 2));
  s.trace().close();
  // Tasks reference the scenario's objects: unwind them before the scenario goes away.
  s.shutdown();
  if (cfg.capture_images) {
    for (const sim::BlockDevice* d : scen->devices()) {
      std::ostringstream img;
      d->save_image(img);
      rep.images.emplace_back(d->name(), img.str());
    }
  }
  scen.reset();
  return rep;
}

}  // namespace scenarios
