// simfs merge RESULTS... [-o OUT] [--junit FILE]: combines the --results files of a campaign's
// shards. Deterministic: the output depends only on the set of inputs, not their order or which
// shard finished first. Failures are deduplicated by fingerprint, keeping the smallest run index
// k as the representative and summing the counts.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tools/campaign.h"
#include "tools/cli.h"

namespace tools {

int cmd_merge(Args& args, const std::string& prog) {
  (void)prog;
  std::vector<std::string> inputs;
  std::string out_path, junit_path;
  while (!args.done()) {
    bool missing = false;
    const std::string cur = args.peek();
    if (cur == "-h" || cur == "--help") {
      std::puts("usage: simfs merge RESULTS.jsonl... [-o OUT.jsonl] [--junit FILE]\n"
                "exit codes: 0 no failures, 1 some failure, 2 usage error, 3 inconsistent or corrupt inputs");
      return kExitPass;
    }
    if (auto v = args.option("-o", &missing)) {
      out_path = *v;
    } else if (auto v = args.option("--junit", &missing)) {
      junit_path = *v;
    } else if (missing) {
      std::fprintf(stderr, "simfs merge: option %s needs a value\n", cur.c_str());
      return kExitUsage;
    } else if (cur.size() > 1 && cur[0] == '-') {
      std::fprintf(stderr, "simfs merge: unknown option '%s'\n", cur.c_str());
      return kExitUsage;
    } else {
      inputs.push_back(args.next());
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "simfs merge: no results files given\n");
    return kExitUsage;
  }
  std::map<std::string, nlohmann::json> failures;  // fingerprint -> representative line
  std::map<std::string, uint64_t> counts;
  std::string campaign_seed, shard_count;
  std::set<std::string> shards_seen;
  uint64_t runs = 0, failed = 0, harness = 0;
  double wall = 0, sim_s = 0;
  for (const std::string& path : inputs) {
    std::ifstream in(path);
    if (!in) {
      std::fprintf(stderr, "simfs merge: cannot read '%s'\n", path.c_str());
      return kExitUsage;
    }
    std::string line;
    size_t lineno = 0;
    bool summary = false;
    while (std::getline(in, line)) {
      ++lineno;
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        std::fprintf(stderr, "simfs merge: %s:%zu: not a JSON object\n", path.c_str(), lineno);
        return kExitHarness;
      }
      if (j.value("summary", false)) {
        summary = true;
        const std::string cs = j.value("campaign_seed", ""), sh = j.value("shard", "0/1");
        const std::string n = sh.substr(sh.find('/') + 1);
        if (campaign_seed.empty()) campaign_seed = cs, shard_count = n;
        if (cs != campaign_seed || n != shard_count) {
          std::fprintf(stderr, "simfs merge: %s is from another campaign (seed %s, shard %s; expected seed %s, %s shards)\n",
                       path.c_str(), cs.c_str(), sh.c_str(), campaign_seed.c_str(), shard_count.c_str());
          return kExitHarness;
        }
        if (!shards_seen.insert(sh).second) {
          std::fprintf(stderr, "simfs merge: shard %s given twice\n", sh.c_str());
          return kExitHarness;
        }
        runs += j.value("runs", uint64_t{0});
        failed += j.value("failures", uint64_t{0});
        harness += j.value("harness_errors", uint64_t{0});
        wall += j.value("wall_s", 0.0);
        sim_s += j.value("sim_s", 0.0);
        continue;
      }
      if (!j.contains("fingerprint") || !j.contains("k") || !j["k"].is_number_unsigned()) {
        std::fprintf(stderr, "simfs merge: %s:%zu: not a failure line\n", path.c_str(), lineno);
        return kExitHarness;
      }
      const std::string fp = j["fingerprint"];
      counts[fp] += j.value("count", uint64_t{1});
      auto it = failures.find(fp);
      if (it == failures.end() || j["k"].get<uint64_t>() < it->second["k"].get<uint64_t>()) failures[fp] = j;
    }
    if (!summary) {
      std::fprintf(stderr, "simfs merge: %s has no summary line (truncated, or the shard did not finish)\n", path.c_str());
      return kExitHarness;
    }
  }
  std::vector<nlohmann::json> order;
  for (auto& [fp, j] : failures) {
    j["count"] = counts[fp];
    order.push_back(j);
  }
  std::sort(order.begin(), order.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a["k"].get<uint64_t>() != b["k"].get<uint64_t>() ? a["k"].get<uint64_t>() < b["k"].get<uint64_t>()
                                                            : a["fingerprint"] < b["fingerprint"];
  });
  std::ostringstream out;
  for (const auto& j : order) out << j.dump() << "\n";
  nlohmann::ordered_json sum{{"summary", true},      {"merged", true},          {"campaign_seed", campaign_seed},
                             {"shards", shards_seen.size()}, {"shard_count", shard_count}, {"runs", runs},
                             {"failures", failed},   {"harness_errors", harness}, {"unique_failures", order.size()}};
  out << sum.dump() << "\n";
  if (shards_seen.size() != std::stoull(shard_count.empty() ? "1" : shard_count)) {
    std::fprintf(stderr, "simfs merge: warning: %zu of %s shards present\n", shards_seen.size(), shard_count.c_str());
  }
  if (out_path.empty()) {
    std::fputs(out.str().c_str(), stdout);
  } else {
    std::ofstream f(out_path, std::ios::trunc);
    f << out.str();
    if (!f) {
      std::fprintf(stderr, "simfs merge: cannot write '%s'\n", out_path.c_str());
      return kExitUsage;
    }
  }
  if (!junit_path.empty()) {
    std::ofstream f(junit_path, std::ios::trunc);
    f << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"simfs-fuzz-merged\" tests=\""
      << order.size() + 1 << "\" failures=\"" << order.size() << "\" errors=\"0\" skipped=\"0\">\n";
    f << "    <properties><property name=\"campaign_seed\" value=\"" << xml_escape(campaign_seed)
      << "\"/><property name=\"shards\" value=\"" << shards_seen.size() << "\"/><property name=\"runs\" value=\"" << runs
      << "\"/></properties>\n";
    f << "    <testcase classname=\"campaign\" name=\"" << runs << " runs, " << failed << " failed\"/>\n";
    for (const auto& j : order) {
      f << "    <testcase classname=\"" << xml_escape(j.value("scenario", "")) << "\" name=\""
        << xml_escape(j.value("invariant", "") + " seed " + j.value("seed", "")) << "\"><failure message=\""
        << xml_escape(j.value("message", "")) << "\" type=\"" << xml_escape(j.value("invariant", "")) << "\">"
        << xml_escape("replay: " + j.value("replay", "")) << "</failure></testcase>\n";
    }
    f << "  </testsuite>\n</testsuites>\n";
  }
  std::fprintf(stderr, "merged %zu shard(s): %llu runs, %llu failed, %zu unique failure(s)\n", shards_seen.size(),
               static_cast<unsigned long long>(runs), static_cast<unsigned long long>(failed), order.size());
  if (harness) return kExitHarness;
  return failed ? kExitFail : kExitPass;
}

}  // namespace tools
