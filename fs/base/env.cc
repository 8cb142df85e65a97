// The one file of fs/ that reaches the simulation object: NodeEnv is the narrow view of it.
#include "fs/base/env.h"

#include "sim/simulation.h"

namespace simfs::fs {

uint64_t NodeEnv::event(std::string_view kind, std::initializer_list<sim::TraceField> fields, bool fault) {
  return node_->sim().event(node_->id(), kind, fields, fault);
}
uint64_t NodeEnv::choose(const sim::Site& site, uint64_t bound) { return node_->sim().chooser().choose(site, bound); }
bool NodeEnv::chance(const sim::Site& site, uint64_t num, uint64_t den) {
  return node_->sim().chooser().chance(site, num, den);
}
int64_t NodeEnv::range(const sim::Site& site, int64_t lo, int64_t hi) {
  return node_->sim().chooser().range(site, lo, hi);
}

}  // namespace simfs::fs
