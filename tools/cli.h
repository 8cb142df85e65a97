// Shared pieces of the simfs command line: exit codes, argument cursor, build id.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tools {

// Exit codes: part of the CLI contract (docs/cli.md).
constexpr int kExitPass = 0;
constexpr int kExitFail = 1;      // an invariant was violated
constexpr int kExitUsage = 2;     // bad command line or arguments
constexpr int kExitHarness = 3;   // nondeterminism, corrupt input, harness failure

// Walks argv. Options take their value as the next argument or after '='.
class Args {
 public:
  Args(int argc, char** argv, int start) {
    for (int i = start; i < argc; ++i) items_.emplace_back(argv[i]);
  }
  bool done() const { return pos_ >= items_.size(); }
  const std::string& peek() const { return items_[pos_]; }
  std::string next() { return items_[pos_++]; }
  // If the current item is `--name` or `--name=value`, consumes it and returns the value
  // (taking the following argument for the first form). Sets *missing if no value follows.
  std::optional<std::string> option(const std::string& name, bool* missing);
  bool flag(const std::string& name);

 private:
  std::vector<std::string> items_;
  size_t pos_ = 0;
};

std::string build_id();
// Quotes a shell argument if it needs it.
std::string shell_quote(const std::string& s);

int cmd_list(Args& args);
int cmd_run(Args& args, const std::string& prog);
int cmd_fuzz(Args& args, const std::string& prog);
int cmd_replay(Args& args, const std::string& prog);
int cmd_shrink(Args& args, const std::string& prog);
int cmd_why(Args& args, const std::string& prog);
int cmd_export(Args& args, const std::string& prog);
int cmd_merge(Args& args, const std::string& prog);
int cmd_fsck(Args& args);
int cmd_view(Args& args, const std::string& prog);

}  // namespace tools
