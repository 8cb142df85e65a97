// Trace reader and exporters: golden files for a hand-written fixture, structural checks on
// real scenario traces, and rejection of malformed traces.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "scenarios/run.h"
#include "tools/trace_export.h"
#include "tools/trace_reader.h"

namespace tools {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TraceFile fixture() {
  TraceFile t;
  std::string err = read_trace(slurp(SIMFS_SOURCE_DIR "/tests/fixtures/small.jsonl"), &t);
  EXPECT_EQ(err, "");
  return t;
}

TraceFile run_trace(const std::string& scenario, uint64_t seed, const std::string& bug = "") {
  std::ostringstream out;
  scenarios::RunConfig cfg;
  cfg.scenario = scenario;
  cfg.seed = seed;
  cfg.bug = bug;
  cfg.trace_out = &out;
  scenarios::run_scenario(cfg);
  TraceFile t;
  EXPECT_EQ(read_trace(out.str(), &t), "");
  return t;
}

// The trace of the first seed (from 1) whose run with `bug` fails.
TraceFile failing_trace(const std::string& scenario, const std::string& bug) {
  for (uint64_t seed = 1; seed < 60; ++seed) {
    TraceFile t = run_trace(scenario, seed, bug);
    if (t.end.value("result", "") == "fail") return t;
  }
  ADD_FAILURE() << scenario << " --bug " << bug << " did not fail in 60 seeds";
  return {};
}

TEST(TraceReader, ReadsTheFixture) {
  TraceFile t = fixture();
  EXPECT_EQ(t.events.size(), 9u);
  EXPECT_FALSE(t.truncated());
  EXPECT_EQ(t.node_names(), (std::vector<std::string>{"server", "client"}));
}

TEST(TraceReader, RejectsMalformedTracesNamingTheLine) {
  const std::string good = slurp(SIMFS_SOURCE_DIR "/tests/fixtures/small.jsonl");
  TraceFile t;
  EXPECT_EQ(read_trace("", &t), "empty trace");
  EXPECT_NE(read_trace("{\"format\":\"other\"}\n", &t).find("line 1"), std::string::npos);
  std::string bad_line = good;
  bad_line.insert(bad_line.find("{\"i\":3"), "garbage\n");
  EXPECT_NE(read_trace(bad_line, &t).find("line 5"), std::string::npos);
  std::string gap = good;
  gap.replace(gap.find("{\"i\":3"), 6, "{\"i\":4");
  EXPECT_NE(read_trace(gap, &t).find("out of sequence"), std::string::npos);
  std::string backwards = good;
  backwards.replace(backwards.find("\"t\":52000"), 9, "\"t\":10");
  EXPECT_NE(read_trace(backwards, &t).find("backwards"), std::string::npos);
  EXPECT_NE(read_trace(good + "{\"i\":9,\"t\":1,\"node\":null,\"kind\":\"x\"}\n", &t).find("after the end"), std::string::npos);
  // An event may carry a field named "end" (a key range's end): it is no end line, and a
  // non-boolean "end" is no reason to throw.
  std::string end_field = good;
  end_field.replace(end_field.find("{\"i\":3,"), 7, "{\"end\":\"4.0.1\",\"i\":3,");
  EXPECT_EQ(read_trace(end_field, &t), "");
  EXPECT_EQ(t.events.size(), 9u);
  EXPECT_FALSE(t.truncated());
  // Truncated is readable: the trace of a crashed run is still worth exporting.
  EXPECT_EQ(read_trace(good.substr(0, good.find("{\"i\":5")), &t), "");
  EXPECT_TRUE(t.truncated());
  EXPECT_EQ(t.events.size(), 5u);
}

TEST(Export, ChromeMatchesGolden) {
  const std::string got = export_chrome(fixture()).dump() + "\n";
  const std::string want = slurp(SIMFS_SOURCE_DIR "/tests/fixtures/small.chrome.json");
  EXPECT_EQ(got, want) << "regenerate with: simfs export --format chrome tests/fixtures/small.jsonl -o tests/fixtures/small.chrome.json";
}

TEST(Export, ShivizMatchesGolden) {
  const std::string got = export_shiviz(fixture());
  const std::string want = slurp(SIMFS_SOURCE_DIR "/tests/fixtures/small.shiviz.log");
  EXPECT_EQ(got, want) << "regenerate with: simfs export --format shiviz tests/fixtures/small.jsonl -o tests/fixtures/small.shiviz.log";
}

// Structural properties of the Chrome export of real runs, faults and a violation included.
TEST(Export, ChromeStructureOnRealRuns) {
  struct Case {
    std::string scenario, bug;
    bool has_network;
  };
  for (const Case& c : {Case{"register", "", true}, Case{"echo", "", true}, Case{"register", "read_one_replica", true},
                        Case{"journal", "ack_before_flush", false}}) {
    const std::string& scenario = c.scenario;
    const std::string& bug = c.bug;
    TraceFile t = bug.empty() ? run_trace(scenario, 3) : failing_trace(scenario, bug);
    auto j = export_chrome(t);
    ASSERT_TRUE(j.contains("traceEvents"));
    std::set<uint64_t> flow_out;
    std::map<int, double> last_ts;
    std::map<uint64_t, int> async_open;
    size_t sends = 0, recvs = 0, violations = 0;
    for (const auto& e : j["traceEvents"]) {
      if (e["ph"] == "M") continue;
      const int pid = e["pid"];
      const double ts = e["ts"];
      EXPECT_GE(ts, last_ts[pid]) << "timestamps must not go backwards on a track";
      last_ts[pid] = ts;
      if (e.contains("flow_out")) {
        flow_out.insert(e["bind_id"].get<uint64_t>());
        ++sends;
      }
      if (e.contains("flow_in")) {
        EXPECT_TRUE(flow_out.count(e["bind_id"].get<uint64_t>())) << "flow_in without an earlier flow_out";
        ++recvs;
      }
      if (e["ph"] == "b") ++async_open[e["id"].get<uint64_t>()];
      if (e["ph"] == "e") {
        EXPECT_EQ(async_open[e["id"].get<uint64_t>()], 1) << "async end without its begin";
        --async_open[e["id"].get<uint64_t>()];
      }
      if (e["cat"] == "invariant") ++violations;
    }
    EXPECT_EQ(sends > 0, c.has_network) << scenario;
    EXPECT_EQ(recvs > 0, c.has_network) << scenario;
    EXPECT_EQ(violations, bug.empty() ? 0u : 1u) << scenario << " " << bug;
  }
}

// ShiViz: each host's own entry counts its events; a receive dominates the send's clock.
TEST(Export, ShivizVectorClocksAreConsistent) {
  TraceFile t = run_trace("echo", 5);
  std::istringstream in(export_shiviz(t));
  std::string regex, delim, text, hostline;
  std::getline(in, regex);
  std::getline(in, delim);
  EXPECT_EQ(delim, "");
  std::map<std::string, uint64_t> own;
  size_t n = 0;
  while (std::getline(in, text) && std::getline(in, hostline)) {
    const size_t sp = hostline.find(' ');
    ASSERT_NE(sp, std::string::npos);
    const std::string host = hostline.substr(0, sp);
    auto clock = nlohmann::json::parse(hostline.substr(sp + 1));
    EXPECT_EQ(clock[host].get<uint64_t>(), ++own[host]) << "own entry must count the host's events";
    for (auto it = clock.begin(); it != clock.end(); ++it) {
      if (it.key() != host) {
        EXPECT_LE(it->get<uint64_t>(), own[it.key()]) << "knows more of " << it.key() << " than happened";
      }
    }
    ++n;
  }
  EXPECT_GT(n, 100u);
}

}  // namespace
}  // namespace tools
