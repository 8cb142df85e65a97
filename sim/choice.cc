#include "sim/choice.h"

namespace sim {

const char* stream_name(Stream s) {
  switch (s) {
    case Stream::kScheduler: return "scheduler";
    case Stream::kNetwork: return "network";
    case Stream::kDisk: return "disk";
    case Stream::kFaults: return "faults";
    case Stream::kWorkload: return "workload";
    case Stream::kFs: return "fs";
    case Stream::kCount: break;
  }
  return "?";
}

RandomStrategy::RandomStrategy(uint64_t run_seed) {
  for (int i = 0; i < static_cast<int>(Stream::kCount); ++i) {
    streams_[i].reseed(Random::stream_seed(run_seed, stream_name(static_cast<Stream>(i))));
  }
}

uint64_t TapeStrategy::choose(const Site& site, uint64_t bound) {
  if (pos_ >= tape_.size()) return 0;
  const Decision& d = tape_[pos_++];
  if (d.site_id != site.id) ++site_mismatches_;
  return d.value < bound ? d.value : bound - 1;
}

void Chooser::record(const Site& site, uint64_t bound, uint64_t v) {
  tape_.push_back(Decision{site.id, bound, v});
  tape_times_.push_back(clock_ ? *clock_ : 0);
  if (site_names_.size() < 4096 && !site_names_.count(site.id)) site_names_.emplace(site.id, site.name);
}

}  // namespace sim
