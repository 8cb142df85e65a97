#include <cstdio>

#include "scenarios/scenario.h"
#include "tools/cli.h"

namespace tools {

int cmd_list(Args& args) {
  if (!args.done()) {
    std::fprintf(stderr, "simfs list: unexpected argument '%s'\n", args.peek().c_str());
    return kExitUsage;
  }
  for (const auto& s : scenarios::all_scenarios()) {
    std::printf("%s\n    %s\n", s.name.c_str(), s.description.c_str());
    std::printf("    invariants:");
    for (const auto& i : s.invariants) std::printf(" %s", i.c_str());
    std::printf("\n    planted bugs (--bug):");
    for (const auto& b : s.bugs) std::printf(" %s", b.c_str());
    std::printf("\n");
  }
  return kExitPass;
}

}  // namespace tools
