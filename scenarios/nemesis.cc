#include "scenarios/nemesis.h"

#include <algorithm>

namespace scenarios {

using sim::Site;
using sim::Stream;

namespace {
constexpr Site kSiteSwarm{"nemesis.swarm", Stream::kFaults};
constexpr Site kSiteGap{"nemesis.gap", Stream::kFaults};
constexpr Site kSiteKind{"nemesis.kind", Stream::kFaults};
constexpr Site kSiteNode{"nemesis.node", Stream::kFaults};
constexpr Site kSiteDuration{"nemesis.duration", Stream::kFaults};
constexpr Site kSiteSplit{"nemesis.partition.split", Stream::kFaults};
constexpr Site kSiteShape{"nemesis.partition.shape", Stream::kFaults};
constexpr Site kSiteClock{"nemesis.clock", Stream::kFaults};
constexpr Site kSiteClockAmount{"nemesis.clock.amount", Stream::kFaults};
constexpr Site kSiteDevice{"nemesis.device", Stream::kFaults};

}  // namespace

const char* fault_kind_name(uint32_t k) {
  switch (k) {
    case kFaultCrash: return "crash";
    case kFaultPowerLoss: return "power_loss";
    case kFaultPartition: return "partition";
    case kFaultClog: return "clog";
    case kFaultPause: return "pause";
    case kFaultClock: return "clock";
    case kFaultDiskErrors: return "disk_errors";
    case kFaultSwizzle: return "swizzle";
  }
  return "?";
}

std::vector<std::string> fault_kind_names(uint32_t mask) {
  std::vector<std::string> names;
  for (uint32_t bit = 1; bit <= kFaultSwizzle; bit <<= 1) {
    if (mask & bit) names.emplace_back(fault_kind_name(bit));
  }
  return names;
}

uint32_t fault_kinds_of(const std::vector<std::string>& names) {
  uint32_t mask = 0;
  for (uint32_t bit = 1; bit <= kFaultSwizzle; bit <<= 1) {
    for (const std::string& n : names) {
      if (n == fault_kind_name(bit)) mask |= bit;
    }
  }
  return mask;
}

std::vector<ParamSpec> nemesis_params(uint32_t tolerated, sim::Time window_start, sim::Time window_end) {
  const std::vector<std::string> kinds = fault_kind_names(tolerated);
  ParamSpec faults = enum_list_param("faults", kinds, kinds, "fault kinds the nemesis may inject (only those this scenario tolerates)");
  faults.known = fault_kind_names(~0u);
  return {
      faults,
      bool_param("swarm", true, "swarm testing: each seed switches every allowed fault kind on or off at random"),
      duration_param("fault_window_start", window_start, 0, 60 * sim::kSecond, "when the nemesis starts injecting faults"),
      duration_param("fault_window_end", window_end, 0, 60 * sim::kSecond, "when the nemesis stops and heals everything"),
  };
}

void apply_nemesis_params(const Params& p, NemesisConfig* cfg) {
  cfg->allowed = fault_kinds_of(p.list("faults"));
  cfg->swarm = p.flag("swarm");
  cfg->window_start = p.duration("fault_window_start");
  cfg->window_end = p.duration("fault_window_end");
}

std::string check_fault_window(const Params& p) {
  const sim::Time start = p.duration("fault_window_start"), end = p.duration("fault_window_end");
  if (start > end) {
    return "at /params/fault_window_start: " + format_duration(start) + " is after fault_window_end (" +
           format_duration(end) + ")";
  }
  if (p.has("workload_end") && end > p.duration("workload_end")) {
    return "at /params/fault_window_end: " + format_duration(end) + " is after workload_end (" +
           format_duration(p.duration("workload_end")) + "): the workload must outlive the faults";
  }
  return "";
}

Nemesis::Nemesis(sim::Simulation& sim, sim::Network* net, std::vector<sim::BlockDevice*> devices, NemesisConfig cfg)
    : sim_(sim), net_(net), devices_(std::move(devices)), cfg_(std::move(cfg)) {}

void Nemesis::start() {
  sim_.spawn("nemesis", [this] { run(); });
}

int Nemesis::pick_node(bool must_be_up, bool net) {
  std::vector<int> c;
  for (int n : (net && !cfg_.net_nodes.empty()) ? cfg_.net_nodes : cfg_.nodes) {
    if (!must_be_up || sim_.node(n).up()) c.push_back(n);
  }
  if (c.empty()) return -1;
  return c[sim_.chooser().choose(kSiteNode, c.size())];
}

void Nemesis::run() {
  enabled_ = 0;
  for (uint32_t bit = 1; bit != 0 && bit <= kFaultSwizzle; bit <<= 1) {
    if (!(cfg_.allowed & bit)) continue;
    // 1 = on: value 0 is the simplest choice (no fault), so shrinking a tape turns kinds off.
    if (!cfg_.swarm || sim_.chooser().choose(kSiteSwarm, 2) == 1) enabled_ |= bit;
  }
  std::string kinds;
  for (uint32_t bit = 1; bit <= kFaultSwizzle; bit <<= 1) {
    if (enabled_ & bit) kinds += std::string(kinds.empty() ? "" : ",") + fault_kind_name(bit);
  }
  sim_.event(-1, "swarm", {{"faults", kinds}});
  if (sim_.now() < cfg_.window_start) sim_.sched().sleep(cfg_.window_start - sim_.now());
  std::vector<uint32_t> kinds_on;
  for (uint32_t bit = 1; bit <= kFaultSwizzle; bit <<= 1) {
    if (enabled_ & bit) kinds_on.push_back(bit);
  }
  while (!kinds_on.empty()) {
    sim_.sched().sleep(sim_.chooser().range(kSiteGap, cfg_.gap_min, cfg_.gap_max));
    if (sim_.now() >= cfg_.window_end) break;
    one_fault();
  }
  if (sim_.now() < cfg_.window_end) sim_.sched().sleep(cfg_.window_end - sim_.now());
  heal();
}

void Nemesis::one_fault() {
  std::vector<uint32_t> kinds_on;
  for (uint32_t bit = 1; bit <= kFaultSwizzle; bit <<= 1) {
    if (enabled_ & bit) kinds_on.push_back(bit);
  }
  const uint32_t kind = kinds_on[sim_.chooser().choose(kSiteKind, kinds_on.size())];
  // Faults end by the end of the window, so heal() happens on time.
  const sim::Duration d = std::min<sim::Duration>(sim_.chooser().range(kSiteDuration, cfg_.fault_min, cfg_.fault_max),
                                                  cfg_.window_end - sim_.now());
  ++faults_;
  switch (kind) {
    case kFaultCrash: {
      int n = pick_node(true, false);
      if (n < 0) return;
      sim_.node(n).crash();
      sim_.sched().sleep(d);
      sim_.node(n).restart();
      break;
    }
    case kFaultPowerLoss: {
      if (devices_.empty()) return;
      sim::BlockDevice* dev = devices_[sim_.chooser().choose(kSiteDevice, devices_.size())];
      for (int n : cfg_.nodes) sim_.node(n).crash();
      dev->power_loss();
      sim_.sched().sleep(d);
      for (int n : cfg_.nodes) sim_.node(n).restart();
      break;
    }
    case kFaultPartition: {
      std::vector<int> order = cfg_.net_nodes.empty() ? cfg_.nodes : cfg_.net_nodes;
      if (!net_ || order.size() < 2) return;
      // Fisher-Yates through the chooser so the split is on the tape.
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[sim_.chooser().choose(kSiteSplit, i)]);
      const uint64_t shape = sim_.chooser().choose(kSiteShape, 3);  // 0 symmetric, 1 asymmetric, 2 isolate
      if (shape == 2) {
        net_->isolate(order[0]);
      } else {
        const size_t k = 1 + sim_.chooser().choose(kSiteSplit, order.size() - 1);
        std::vector<int> a(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k));
        std::vector<int> b(order.begin() + static_cast<std::ptrdiff_t>(k), order.end());
        net_->partition(a, b, shape == 0);
      }
      sim_.sched().sleep(d);
      net_->heal();
      break;
    }
    case kFaultClog: {
      if (!net_) return;
      int n = pick_node(false, true);
      if (n < 0) return;
      net_->clog(n, -1, d);
      sim_.sched().sleep(d);
      break;
    }
    case kFaultSwizzle: {
      // Clog nodes one after another, each until a common end: a rolling, staggered outage.
      if (!net_) return;
      std::vector<int> order = cfg_.net_nodes.empty() ? cfg_.nodes : cfg_.net_nodes;
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[sim_.chooser().choose(kSiteSplit, i)]);
      const sim::Time end = sim_.now() + d;
      const sim::Duration step = d / static_cast<sim::Duration>(order.size() + 1);
      for (int n : order) {
        net_->clog(n, -1, end - sim_.now());
        sim_.sched().sleep(step);
      }
      if (end > sim_.now()) sim_.sched().sleep(end - sim_.now());
      break;
    }
    case kFaultPause: {
      int n = pick_node(true, false);
      if (n < 0) return;
      sim_.node(n).pause();
      sim_.sched().sleep(d);
      sim_.node(n).resume();
      break;
    }
    case kFaultClock: {
      int n = pick_node(false, false);
      if (n < 0) return;
      const uint64_t what = sim_.chooser().choose(kSiteClock, 3);
      const int64_t amount = sim_.chooser().range(kSiteClockAmount, -2 * sim::kSecond, 2 * sim::kSecond);
      if (what == 0) sim_.node(n).set_clock_offset(amount);
      else if (what == 1) sim_.node(n).jump_clock(amount);
      else sim_.node(n).set_clock_drift_ppm(amount / sim::kMillisecond / 4);  // up to ±500 ppm
      break;
    }
    case kFaultDiskErrors: {
      if (devices_.empty()) return;
      sim::BlockDevice* dev = devices_[sim_.chooser().choose(kSiteDevice, devices_.size())];
      sim::DiskFaultRates r;
      r.read_eio = 20000;  // 2% of reads for the burst
      r.write_eio = 20000;
      dev->set_fault_rates(r);
      sim_.event(-1, "disk_fault", {{"dev", dev->id()}, {"burst_ns", d}, {"read_eio", r.read_eio}, {"write_eio", r.write_eio}}, true);
      sim_.sched().sleep(d);
      dev->set_fault_rates({});
      break;
    }
  }
}

void Nemesis::heal() {
  if (net_) net_->heal();
  for (sim::BlockDevice* dev : devices_) dev->set_fault_rates({});
  for (int n : cfg_.nodes) {
    sim::Node& node = sim_.node(n);
    node.resume();
    if (!node.up()) node.restart();
  }
  healed_ = true;
  healed_at_ = sim_.now();
  sim_.event(-1, "heal_all", {});
}

}  // namespace scenarios
