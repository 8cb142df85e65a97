#include "fs/base/bugs.h"

namespace simfs::fs {

const std::vector<BugInfo>& all_bugs() {
  static const std::vector<BugInfo> bugs = {
#define SIMFS_BUG_INFO(e, name, what) {Bug::e, name, what},
      SIMFS_FS_BUGS(SIMFS_BUG_INFO)
#undef SIMFS_BUG_INFO
  };
  return bugs;
}

const char* bug_name(Bug b) {
  for (const BugInfo& i : all_bugs())
    if (i.bug == b) return i.name;
  return "?";
}

std::optional<Bug> bug_from_name(std::string_view name) {
  for (const BugInfo& i : all_bugs())
    if (name == i.name) return i.bug;
  return std::nullopt;
}

}  // namespace simfs::fs
