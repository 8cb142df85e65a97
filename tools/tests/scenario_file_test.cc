// Scenario parameters and scenario files (scenarios/params.h, scenarios/scenario_file.h,
// docs/scenario-schema.md): one test per class of error message, the declarations themselves
// (defaults inside their ranges), the example files (each parses and runs one seed), and the
// CLI around them (run, replay, tapes, list, fuzz).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "oracle/fs_checker.h"
#include "scenarios/run.h"
#include "scenarios/scenario.h"
#include "scenarios/scenario_file.h"
#include "tools/scenario_arg.h"
#include "tools/subprocess.h"

namespace tools {
namespace {

namespace stdfs = std::filesystem;
using scenarios::Params;
using scenarios::ParamSpec;
using scenarios::ParamType;
using scenarios::ScenarioFile;

std::string parse(const std::string& text, ScenarioFile* out = nullptr) {
  ScenarioFile f;
  std::string e = scenarios::parse_scenario_file(text, "f.json", &f);
  if (out) *out = f;
  return e;
}

// ---- each class of error ----

TEST(ScenarioFileErrors, WrongTypeNamesThePathTheRangeAndTheValue) {
  EXPECT_EQ(parse(R"({"scenario": "single_mount", "params": {"meta_blocks": "x"}})"),
            "f.json: at /params/meta_blocks: expected an integer in 1041..1048576, got \"x\"");
  EXPECT_EQ(parse(R"({"scenario": "single_mount", "params": {"meta_blocks": 2048.5}})"),
            "f.json: at /params/meta_blocks: expected an integer in 1041..1048576, got 2048.5");
  EXPECT_EQ(parse(R"({"scenario": "single_mount", "params": {"swarm": 1}})"),
            "f.json: at /params/swarm: expected true or false, got 1");
  EXPECT_EQ(parse(R"({"scenario": "register", "params": {"workload_end": 5}})"),
            "f.json: at /params/workload_end: expected a duration such as \"250ms\" or \"2s\" (units ns, us, ms, s) in "
            "0ns..60s, got 5");
  EXPECT_NE(parse(R"({"scenario": "register", "params": {"workload_end": "5 s"}})").find(", got \"5 s\""), std::string::npos);
  EXPECT_EQ(parse(R"({"scenario": "register", "params": {"faults": "crash"}})"),
            "f.json: at /params/faults: expected a list of values from [crash, power_loss, partition, clog, pause, clock, "
            "disk_errors, swizzle], got \"crash\"");
  EXPECT_EQ(parse(R"({"scenario": "register", "params": {"faults": ["crash", 3]}})"),
            "f.json: at /params/faults/1: expected one of crash, power_loss, partition, clog, pause, clock, disk_errors, "
            "swizzle, got 3");
  EXPECT_EQ(parse(R"({"scenario": "register", "params": []})"),
            "f.json: at /params: expected an object of parameters, got an array");
  EXPECT_EQ(parse(R"({"scenario": 7})"),
            "f.json: at /scenario: expected a scenario name (one of register, journal, echo, single_mount, cluster_smoke, multi_mount, swarm, compaction_storm, failover, mount_unmount_race, fence_and_reclaim, nightly), got 7");
  EXPECT_EQ(parse(R"({"scenario": "echo", "description": {}})"), "f.json: at /description: expected a string, got an object");
}

TEST(ScenarioFileErrors, OutOfRange) {
  EXPECT_EQ(parse(R"({"scenario": "single_mount", "params": {"meta_blocks": 64}})"),
            "f.json: at /params/meta_blocks: out of range: expected an integer in 1041..1048576, got 64");
  EXPECT_EQ(parse(R"({"scenario": "register", "params": {"replicas": -1}})"),
            "f.json: at /params/replicas: out of range: expected an integer in 1..15, got -1");
  EXPECT_EQ(parse(R"({"scenario": "register", "params": {"replicas": 18446744073709551615}})"),
            "f.json: at /params/replicas: out of range: expected an integer in 1..15, got 18446744073709551615");
  EXPECT_EQ(parse(R"({"scenario": "register", "params": {"workload_end": "61s"}})"),
            "f.json: at /params/workload_end: out of range: expected a duration such as \"250ms\" or \"2s\" (units ns, us, "
            "ms, s) in 0ns..60s, got \"61s\"");
  // A duration that overflows 64 bits is malformed, not a wrapped-around small value.
  EXPECT_NE(parse(R"({"scenario": "register", "params": {"workload_end": "99999999999999999999s"}})").find("got \"9999"),
            std::string::npos);
}

TEST(ScenarioFileErrors, UnknownNamesSuggestTheClosest) {
  EXPECT_EQ(parse(R"({"scenario": "single_mount", "params": {"meta_block": 4096}})"),
            "f.json: at /params/meta_block: unknown parameter of scenario single_mount (did you mean \"meta_blocks\"?)");
  EXPECT_EQ(parse(R"({"scenario": "single_mount", "params": {"zzzzzzzz": 1}})"),
            "f.json: at /params/zzzzzzzz: unknown parameter of scenario single_mount (see 'simfs list')");
  EXPECT_EQ(parse(R"({"scenario": "single_mnt"})"),
            "f.json: at /scenario: unknown scenario \"single_mnt\" (did you mean \"single_mount\"?); one of register, "
            "journal, echo, single_mount, cluster_smoke, multi_mount, swarm, compaction_storm, failover, mount_unmount_race, fence_and_reclaim, nightly");
  EXPECT_EQ(parse(R"({"scenario": "echo", "parms": {}})"),
            "f.json: at /parms: unknown key (did you mean \"params\"?); a scenario file has scenario, description, bug, params");
  EXPECT_EQ(parse(R"({"scenario": "echo", "bug": "stale_replay"})"),
            "f.json: at /bug: scenario echo has no planted bug \"stale_replay\" (did you mean \"stale_reply\"?); it has "
            "short_dedup_window, stale_reply, no_retransmit");
  EXPECT_EQ(parse(R"({"params": {}})"),
            "f.json: at /scenario: missing: name the scenario to run (one of register, journal, echo, single_mount, cluster_smoke, multi_mount, swarm, compaction_storm, failover, mount_unmount_race, fence_and_reclaim, nightly)");
}

TEST(ScenarioFileErrors, EnumValues) {
  EXPECT_EQ(parse(R"({"scenario": "single_mount", "params": {"faults": ["crash", "crsh"]}})"),
            "f.json: at /params/faults/1: unknown value \"crsh\" (did you mean \"crash\"?); allowed: crash, power_loss, "
            "pause, disk_errors");
  // A real fault kind the scenario does not tolerate says so.
  EXPECT_EQ(parse(R"({"scenario": "single_mount", "params": {"faults": ["partition"]}})"),
            "f.json: at /params/faults/0: \"partition\" is not allowed in this scenario; allowed: crash, power_loss, pause, "
            "disk_errors");
  EXPECT_EQ(parse(R"({"scenario": "single_mount", "params": {"faults": ["crash", "pause", "crash"]}})"),
            "f.json: at /params/faults/2: \"crash\" is listed twice");
}

TEST(ScenarioFileErrors, RelationsBetweenParameters) {
  EXPECT_EQ(parse(R"({"scenario": "journal", "params": {"fault_window_end": "4s"}})"),
            "f.json: at /params/fault_window_end: 4s is after workload_end (3s): the workload must outlive the faults");
  EXPECT_EQ(parse(R"({"scenario": "echo", "params": {"fault_window_start": "2500ms"}})"),
            "f.json: at /params/fault_window_start: 2500ms is after fault_window_end (2s)");
  std::string all_zero = R"({"scenario": "single_mount", "params": {)";
  for (int k = 0; k < oracle::FsOp::kKinds; ++k)
    all_zero += std::string(k == 0 ? "" : ", ") + "\"weight_" + oracle::FsOp::kind_name(static_cast<oracle::FsOp::Kind>(k)) + "\": 0";
  EXPECT_EQ(parse(all_zero + "}}"), "f.json: at /params/weight_create: every operation weight is 0: nothing to run");
}

TEST(ScenarioFileErrors, SyntaxTrailingGarbageAndDuplicates) {
  EXPECT_EQ(parse("{\"scenario\": \"echo\"}\n  x"), "f.json: at line 2, column 3: trailing characters after the JSON object");
  EXPECT_EQ(parse("{\"scenario\": \"echo\"} {}"), "f.json: at line 1, column 22: trailing characters after the JSON object");
  const std::string bad = parse("{\"scenario\": \"echo\",\n \"params\": {\"clients\": 2,}}");
  EXPECT_EQ(bad.rfind("f.json: at line 2, column 26: invalid JSON: ", 0), 0u) << bad;
  EXPECT_EQ(parse("{\"scenario\": \"echo\", \"params\": {\"clients\": 2, \"clients\": 3}}"),
            "f.json: at /params/clients: duplicate key \"clients\" (JSON readers disagree on which copy wins)");
  EXPECT_EQ(parse("{\"scenario\": \"echo\", \"scenario\": \"echo\"}"),
            "f.json: at /scenario: duplicate key \"scenario\" (JSON readers disagree on which copy wins)");
  // Nested deeper (in an array in an ignored position) still names the right path.
  EXPECT_EQ(parse(R"({"scenario": "echo", "params": {"faults": [{"a": 1, "a": 2}]}})"),
            "f.json: at /params/faults/0/a: duplicate key \"a\" (JSON readers disagree on which copy wins)");
}

TEST(ScenarioFileErrors, NotAnObjectEmptyTooLargeUnreadable) {
  EXPECT_EQ(parse("[1, 2]"),
            "f.json: expected a JSON object ({\"scenario\": ..., \"params\": {...}}) at the top level, got an array");
  EXPECT_EQ(parse("\"single_mount\""),
            "f.json: expected a JSON object ({\"scenario\": ..., \"params\": {...}}) at the top level, got \"single_mount\"");
  EXPECT_EQ(parse(" \n"), "f.json: empty: expected a JSON object such as {\"scenario\": \"echo\", \"params\": {}}");
  EXPECT_EQ(parse(std::string(scenarios::kScenarioFileMaxBytes + 1, ' ')),
            "f.json: too large (1048577 bytes; a scenario file is at most 1 MiB)");
  ScenarioArg a;
  EXPECT_EQ(resolve_scenario_arg("/nonexistent/x.json", &a), "/nonexistent/x.json: cannot read scenario file: No such file or directory");
  EXPECT_EQ(resolve_scenario_arg("/tmp/", &a), "/tmp/: cannot read scenario file: it is a directory");
  // Control characters and invalid UTF-8 in user input are escaped in messages.
  const std::string e = parse("{\"scenario\": \"echo\", \"params\": {\"a\\nb\": 1}}");
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  const std::string u = parse("{\"scenario\": \"ec\xff\"}");
  EXPECT_EQ(u.find('\xff'), std::string::npos) << u;
}

// ---- what parses ----

TEST(ScenarioFile, ValidFileResolvesEveryParameter) {
  ScenarioFile f;
  ASSERT_EQ(parse(R"({"scenario": "single_mount", "description": "d", "bug": "leak_on_delete",
                      "params": {"data_blocks": 64, "fault_window_end": "1500ms", "faults": ["pause"]}})",
                  &f),
            "");
  EXPECT_EQ(f.scenario, "single_mount");
  EXPECT_EQ(f.bug, "leak_on_delete");
  EXPECT_EQ(f.params.integer("data_blocks"), 64);
  EXPECT_EQ(f.params.integer("meta_blocks"), 4096);  // default
  EXPECT_EQ(f.params.duration("fault_window_end"), 1500 * sim::kMillisecond);
  EXPECT_EQ(f.params.list("faults"), std::vector<std::string>{"pause"});
  EXPECT_EQ(f.params_json["fault_window_end"], "1500ms");
  EXPECT_EQ(f.params_json.size(), scenarios::find_scenario("single_mount")->params.size());
}

TEST(ScenarioFile, DurationsRoundTrip) {
  for (int64_t ns : {int64_t{0}, int64_t{7}, int64_t{1500}, int64_t{2'000'000}, int64_t{2'500'000'000}, int64_t{3'000'000'000}}) {
    EXPECT_EQ(scenarios::parse_duration(scenarios::format_duration(ns)), ns);
  }
  EXPECT_EQ(scenarios::format_duration(2'500'000'000), "2500ms");
  EXPECT_FALSE(scenarios::parse_duration("1.5s"));
  EXPECT_FALSE(scenarios::parse_duration("s"));
  EXPECT_FALSE(scenarios::parse_duration("10m"));
  EXPECT_FALSE(scenarios::parse_duration("-1s"));
}

// ---- the declarations ----

TEST(ScenarioParams, EveryDefaultIsInsideItsOwnRangeAndResolves) {
  for (const auto& info : scenarios::all_scenarios()) {
    EXPECT_FALSE(info.params.empty()) << info.name;
    std::vector<std::string> names;
    for (const ParamSpec& p : info.params) {
      SCOPED_TRACE(info.name + "/" + p.name);
      EXPECT_EQ(std::count(names.begin(), names.end(), p.name), 0) << "declared twice";
      names.push_back(p.name);
      EXPECT_FALSE(p.doc.empty());
      switch (p.type) {
        case ParamType::kInt:
        case ParamType::kDuration: {
          const int64_t d = std::get<int64_t>(p.def);
          EXPECT_LE(p.min, d);
          EXPECT_LE(d, p.max);
          break;
        }
        case ParamType::kBool: EXPECT_TRUE(std::holds_alternative<bool>(p.def)); break;
        case ParamType::kEnum:
          EXPECT_NE(std::find(p.allowed.begin(), p.allowed.end(), std::get<std::string>(p.def)), p.allowed.end());
          break;
        case ParamType::kEnumList:
          for (const auto& v : std::get<std::vector<std::string>>(p.def))
            EXPECT_NE(std::find(p.allowed.begin(), p.allowed.end(), v), p.allowed.end()) << v;
          break;
      }
      // The canonical form of the default parses back to it.
      Params got;
      nlohmann::json one = nlohmann::json::object();
      one[p.name] = scenarios::param_value_json(p, p.def);
      ASSERT_EQ(scenarios::resolve_params(info, one, &got), "");
      EXPECT_EQ(got, scenarios::default_params(info.params));
    }
    Params all;
    EXPECT_EQ(scenarios::resolve_params(info, nullptr, &all), "");
    EXPECT_EQ(all, scenarios::default_params(info.params));
    Params round;
    EXPECT_EQ(scenarios::resolve_params(info, scenarios::params_to_json(info, all), &round), "");
    EXPECT_EQ(round, all);
  }
}

TEST(ScenarioParams, ExplicitDefaultsRunExactlyLikeNoParams) {
  for (const auto& info : scenarios::all_scenarios()) {
    scenarios::RunConfig a;
    a.scenario = info.name;
    a.seed = 5;
    scenarios::RunConfig b = a;
    b.params = scenarios::params_to_json(info, scenarios::default_params(info.params));
    const auto ra = scenarios::run_scenario(a), rb = scenarios::run_scenario(b);
    EXPECT_EQ(ra.result, scenarios::RunReport::Result::kPass) << info.name << " " << ra.error;
    EXPECT_EQ(ra.digest, rb.digest) << info.name;
    EXPECT_EQ(ra.params, rb.params) << info.name;
  }
}

TEST(ScenarioParams, BadParamsAreAHarnessErrorNotACrash) {
  scenarios::RunConfig c;
  c.scenario = "register";
  c.seed = 1;
  c.params = {{"replicas", 99}};
  const auto r = scenarios::run_scenario(c);
  EXPECT_EQ(r.result, scenarios::RunReport::Result::kError);
  EXPECT_EQ(r.error, "bad parameters for scenario 'register': at /params/replicas: out of range: expected an integer in 1..15, got 99");
}

std::vector<std::string> ops_of(const std::string& trace) {
  std::vector<std::string> ops;
  std::istringstream in(trace);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("kind", "") == "op_call") ops.push_back(j.value("op", ""));
  }
  return ops;
}

TEST(ScenarioParams, OperationWeightsShapeTheMix) {
  // Equal weights (any value) are the uniform draw of the default: the same run.
  scenarios::RunConfig base;
  base.scenario = "single_mount";
  base.seed = 3;
  scenarios::RunConfig twos = base;
  twos.params = nlohmann::json::object();
  for (const auto& p : scenarios::find_scenario("single_mount")->params) {
    if (p.name.rfind("weight_", 0) == 0) twos.params[p.name] = 2;
  }
  EXPECT_EQ(scenarios::run_scenario(base).digest, scenarios::run_scenario(twos).digest);

  // Only creates and writes: nothing else is called.
  scenarios::RunConfig cw = base;
  cw.params = nlohmann::json::object();
  for (const auto& p : scenarios::find_scenario("single_mount")->params) {
    if (p.name.rfind("weight_", 0) == 0) cw.params[p.name] = 0;
  }
  cw.params["weight_create"] = 1;
  cw.params["weight_write"] = 3;
  std::ostringstream trace;
  cw.trace_out = &trace;
  const auto r = scenarios::run_scenario(cw);
  EXPECT_EQ(r.result, scenarios::RunReport::Result::kPass) << r.error;
  const auto ops = ops_of(trace.str());
  ASSERT_GT(ops.size(), 100u);
  size_t writes = 0;
  for (const auto& op : ops) {
    EXPECT_TRUE(op.rfind("create(", 0) == 0 || op.rfind("write(", 0) == 0) << op;
    writes += op.rfind("write(", 0) == 0;
  }
  EXPECT_GT(writes, ops.size() / 2);  // 3:1
}

TEST(ScenarioParams, NodeCountsAndFaultKindsTakeEffect) {
  scenarios::RunConfig c;
  c.scenario = "register";
  c.seed = 2;
  c.params = {{"replicas", 5}, {"clients", 3}, {"faults", {"crash"}}, {"swarm", false}};
  std::ostringstream trace;
  c.trace_out = &trace;
  const auto r = scenarios::run_scenario(c);
  EXPECT_EQ(r.result, scenarios::RunReport::Result::kPass) << r.error;
  std::istringstream in(trace.str());
  std::string header;
  std::getline(in, header);
  const auto h = nlohmann::json::parse(header);
  EXPECT_EQ(h["nodes"].size(), 8u);
  EXPECT_EQ(h["run"]["params"]["replicas"], 5);
  EXPECT_EQ(h["run"]["params"]["faults"], nlohmann::json::array({"crash"}));
  EXPECT_NE(trace.str().find(R"("kind":"swarm","faults":"crash")"), std::string::npos);
}

// ---- the example files ----

std::vector<stdfs::path> example_files() {
  std::vector<stdfs::path> files;
  for (const auto& e : stdfs::directory_iterator(stdfs::path(SIMFS_SOURCE_DIR) / "scenarios" / "examples")) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ScenarioExamples, EveryExampleParsesAndPassesOneSeed) {
  const auto files = example_files();
  ASSERT_GE(files.size(), 4u);
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    ScenarioArg a;
    ASSERT_EQ(resolve_scenario_arg(path.string(), &a), "");
    ScenarioFile f;
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    ASSERT_EQ(scenarios::parse_scenario_file(ss.str(), path.string(), &f), "");
    EXPECT_FALSE(f.description.empty());
    scenarios::RunConfig c;
    c.scenario = a.scenario;
    c.seed = 1;
    c.bug = a.bug;
    c.params = a.params;
    std::ostringstream trace;
    c.trace_out = &trace;
    const auto r = scenarios::run_scenario(c);
    EXPECT_EQ(r.result, scenarios::RunReport::Result::kPass) << r.error;
    if (path.filename() == "single_mount_small_disk.json") {
      // It exists to reach the ENOSPC paths.
      EXPECT_NE(trace.str().find("\"kind\":\"fs_enospc\""), std::string::npos);
    }
  }
}

// ---- the CLI ----

ChildResult sh(const std::string& cmd) { return run_child({"/bin/sh", "-c", cmd}, 300000); }

std::string temp_dir(const std::string& name) {
  stdfs::path p = stdfs::temp_directory_path() / ("simfs-scenfile-test-" + name + "-" + std::to_string(getpid()));
  stdfs::remove_all(p);
  stdfs::create_directories(p);
  return p.string();
}

const std::string kBin = SIMFS_BINARY;
const std::string kSmall = std::string(SIMFS_SOURCE_DIR) + "/scenarios/examples/single_mount_small_disk.json";

TEST(ScenarioFileCli, RunRecordsParamsAndTheReplayNamesTheFile) {
  const std::string d = temp_dir("run");
  ChildResult r = sh(kBin + " run " + kSmall + " --seed 2 --json --trace " + d + "/t.jsonl --record-tape " + d + "/tape.json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["scenario"], "single_mount");
  EXPECT_EQ(j["scenario_file"], kSmall);
  EXPECT_EQ(j["params"]["data_blocks"], 48);
  EXPECT_EQ(j["replay"], kBin + " run " + kSmall + " --seed 0x0000000000000002");
  const std::string digest = j["digest"];

  // The printed replay command reproduces it.
  ChildResult again = sh(j["replay"].get<std::string>() + " --json");
  EXPECT_EQ(nlohmann::json::parse(again.out)["digest"], digest);
  // The trace header and the tape carry the params, so replay re-creates them.
  for (const std::string& input : {d + "/t.jsonl", d + "/tape.json"}) {
    ChildResult rep = sh(kBin + " replay " + input + " --json");
    EXPECT_EQ(rep.exit_code, 0) << input << ": " << rep.out;
    const auto rj = nlohmann::json::parse(rep.out);
    EXPECT_EQ(rj["digest"], digest) << input;
    EXPECT_EQ(rj["digest_matches"], true) << input;
    EXPECT_EQ(rj["params"]["data_blocks"], 48) << input;
  }
  ChildResult tape = sh(kBin + " run --tape " + d + "/tape.json --json");
  EXPECT_EQ(nlohmann::json::parse(tape.out)["digest"], digest);
  // The file and a tape recorded with other params disagree: a usage error.
  ChildResult other = sh(kBin + " run --seed 1 single_mount --record-tape " + d + "/default.json > /dev/null; " + kBin +
                         " run " + kSmall + " --tape " + d + "/default.json 2>&1");
  EXPECT_EQ(other.exit_code, 2) << other.out;
  EXPECT_NE(other.out.find("tape was recorded with other parameters"), std::string::npos) << other.out;
  // --check-determinism re-runs the file.
  ChildResult det = sh(kBin + " run " + kSmall + " --seed 2 --check-determinism --json");
  EXPECT_EQ(det.exit_code, 0) << det.out;
  EXPECT_EQ(nlohmann::json::parse(det.out)["deterministic"], true);
  stdfs::remove_all(d);
}

TEST(ScenarioFileCli, BadFilesExitTwoWithTheMessage) {
  const std::string d = temp_dir("bad");
  std::ofstream(d + "/bad.json") << R"({"scenario": "single_mount", "params": {"meta_blocks": "x"}})";
  for (const std::string& cmd : {" run " + d + "/bad.json --seed 1", " fuzz " + d + "/bad.json --runs 1"}) {
    ChildResult r = sh(kBin + cmd + " 2>&1");
    EXPECT_EQ(r.exit_code, 2) << cmd;
    EXPECT_NE(r.out.find(d + "/bad.json: at /params/meta_blocks: expected an integer in 1041..1048576, got \"x\""), std::string::npos)
        << r.out;
  }
  ChildResult missing = sh(kBin + " run ./nope.json --seed 1 2>&1");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.out.find("./nope.json: cannot read scenario file"), std::string::npos) << missing.out;
  stdfs::remove_all(d);
}

TEST(ScenarioFileCli, ListShowsParameters) {
  ChildResult r = sh(kBin + " list --json");
  ASSERT_EQ(r.exit_code, 0);
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  bool found = false;
  for (const auto& s : j) {
    for (const auto& p : s["params"]) {
      if (s["name"] == "single_mount" && p["name"] == "meta_blocks") {
        found = true;
        EXPECT_EQ(p["type"], "int");
        EXPECT_EQ(p["default"], 4096);
        EXPECT_EQ(p["min"], 1041);
      }
    }
  }
  EXPECT_TRUE(found);
  ChildResult text = sh(kBin + " list");
  EXPECT_NE(text.out.find("meta_blocks"), std::string::npos);
}

TEST(ScenarioFileCli, FuzzRunsAFileAndRecordsItInResults) {
  const std::string d = temp_dir("fuzz");
  // The file plants a bug, so there is a failure to record.
  std::ofstream(d + "/stale.json") << R"({"scenario": "echo", "bug": "stale_reply", "params": {"clients": 2}})";
  ChildResult r = sh("cd " + d + " && " + kBin + " fuzz ./stale.json --runs 4 --jobs 1 --no-shrink --results r.jsonl 2>/dev/null");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  std::ifstream in(d + "/r.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["scenario"], "echo");
  EXPECT_EQ(j["scenario_file"], "./stale.json");
  EXPECT_EQ(j["replay"].get<std::string>().find(kBin + " run ./stale.json --seed "), 0u) << j["replay"];
  EXPECT_NE(j["artifacts"].get<std::string>().find("artifacts/stale-"), std::string::npos) << j["artifacts"];
  // The artifact's trace and tape replay with the file's params and bug.
  ChildResult rep = sh("cd " + d + " && " + kBin + " replay " + j["artifacts"].get<std::string>() + " --json");
  EXPECT_EQ(rep.exit_code, 1) << rep.out;
  EXPECT_EQ(nlohmann::json::parse(rep.out)["params"]["clients"], 2);
  stdfs::remove_all(d);
}

}  // namespace
}  // namespace tools
