// simfs: the command-line front end. Subcommands live in cmd_*.cc files.
#include <cstdio>
#include <cstring>
#include <string>

#include "tools/cli.h"

namespace {

const char* kUsage =
    "usage: simfs <command> [options]\n"
    "\n"
    "commands:\n"
    "  list                         scenarios, their invariants and planted bugs\n"
    "  run SCENARIO --seed S        one deterministic run (see 'simfs run --help')\n"
    "  fuzz SCENARIO... --runs N    a campaign: many seeds, one process each (see 'simfs fuzz --help')\n"
    "  replay FILE                  re-run a trace, tape or failure artifact; verify its digest\n"
    "  shrink FAILURE [-o OUT]      minimise a failing run's decision tape\n"
    "  why FAILURE                  when did the failure become inevitable? (see 'simfs why --help')\n"
    "  export --format F TRACE -o FILE   Perfetto/Chrome JSON or a ShiViz log\n"
    "  merge RESULTS... [-o OUT]    combine the --results files of a campaign's shards\n"
    "  fsck META_IMAGE DATA_IMAGE   check the filesystem in device images (or: fsck DIR)\n"
    "  view TRACE [-o OUT.html]     a self-contained HTML trace viewer for the browser\n"
    "\n"
    "exit codes: 0 pass, 1 invariant violated, 2 usage error, 3 harness error\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return tools::kExitUsage;
  }
  const std::string cmd = argv[1];
  const std::string prog = argv[0];
  tools::Args args(argc, argv, 2);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return tools::kExitPass;
  }
  if (cmd == "list") return tools::cmd_list(args);
  if (cmd == "run") return tools::cmd_run(args, prog);
  if (cmd == "fuzz") return tools::cmd_fuzz(args, prog);
  if (cmd == "replay") return tools::cmd_replay(args, prog);
  if (cmd == "shrink") return tools::cmd_shrink(args, prog);
  if (cmd == "why") return tools::cmd_why(args, prog);
  if (cmd == "export") return tools::cmd_export(args, prog);
  if (cmd == "merge") return tools::cmd_merge(args, prog);
  if (cmd == "fsck") return tools::cmd_fsck(args);
  if (cmd == "view") return tools::cmd_view(args, prog);
  std::fprintf(stderr, "simfs: unknown command '%s' (try 'simfs --help')\n", cmd.c_str());
  return tools::kExitUsage;
}
