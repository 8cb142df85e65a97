// The CLI contract (docs/cli.md): exit codes, --json fields, replay commands, tapes, fuzz.
// These run the real simfs binary in child processes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tools/campaign.h"
#include "tools/seed.h"
#include "tools/subprocess.h"

namespace tools {
namespace {

namespace fs = std::filesystem;

ChildResult simfs(std::vector<std::string> args) {
  args.insert(args.begin(), SIMFS_BINARY);
  return run_child(args, 120000, /*quiet_stderr=*/true);
}

nlohmann::json json_of(const ChildResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out;
  return j;
}

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("simfs-cli-test-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

TEST(ParseSeed, AcceptsDecimalAndHex) {
  EXPECT_EQ(parse_seed("0", nullptr), 0u);
  EXPECT_EQ(parse_seed("12345", nullptr), 12345u);
  EXPECT_EQ(parse_seed("0x10", nullptr), 16u);
  EXPECT_EQ(parse_seed("0XfF", nullptr), 255u);
  EXPECT_EQ(parse_seed("18446744073709551615", nullptr), UINT64_MAX);
  EXPECT_EQ(parse_seed("0xffffffffffffffff", nullptr), UINT64_MAX);
}

TEST(ParseSeed, RejectsGarbageWithAReason) {
  for (const char* bad : {"", "-1", "+1", "abc", "010", "0x", "0x1g", "1.5", "12 ", "18446744073709551616",
                          "0x1ffffffffffffffff"}) {
    std::string err;
    EXPECT_FALSE(parse_seed(bad, &err).has_value()) << bad;
    EXPECT_NE(err.find("bad seed"), std::string::npos) << bad;
  }
}

TEST(Campaign, SeedsAndFingerprints) {
  EXPECT_NE(campaign_run_seed(1, 0), campaign_run_seed(1, 1));
  EXPECT_NE(campaign_run_seed(1, 0), campaign_run_seed(2, 0));
  EXPECT_EQ(normalize_message("read ts (12,3) at 45"), "read ts (#,#) at #");
  EXPECT_EQ(normalize_message("block 0x1f2e at seed 0xABC"), "block # at seed #");
  // Quoted names vary between runs of one bug; the operation does not.
  EXPECT_EQ(normalize_message("rmdir(53,3) [dir 11 'dd', dir2 6 'e'] returned ok"),
            normalize_message("rmdir(63,3) [dir 10 'c', dir2 10 'a'] returned ok"));
  EXPECT_NE(normalize_message("rmdir(1) returned ok"), normalize_message("unlink(1) returned ok"));
  EXPECT_EQ(normalize_message("a \"quoted\" word and an 'unclosed"), "a \"?\" word and an 'unclosed");
  EXPECT_EQ(fingerprint_of("s", "inv", "value 1"), fingerprint_of("s", "inv", "value 999"));
  EXPECT_NE(fingerprint_of("s", "inv", "read"), fingerprint_of("s", "inv", "write"));
  EXPECT_NE(fingerprint_of("s", "a", "m"), fingerprint_of("s", "b", "m"));
  EXPECT_EQ(xml_escape("<a&\"'>"), "&lt;a&amp;&quot;&apos;&gt;");
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(simfs({}).exit_code, 2);
  EXPECT_EQ(simfs({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(simfs({"run"}).exit_code, 2);
  EXPECT_EQ(simfs({"run", "register"}).exit_code, 2);                       // no seed
  EXPECT_EQ(simfs({"run", "no_such_scenario", "--seed", "1"}).exit_code, 2);
  EXPECT_EQ(simfs({"run", "register", "--seed", "-1"}).exit_code, 2);
  EXPECT_EQ(simfs({"run", "register", "--seed", "010"}).exit_code, 2);
  EXPECT_EQ(simfs({"run", "register", "--seed", ""}).exit_code, 2);
  EXPECT_EQ(simfs({"run", "register", "--seed", "zz"}).exit_code, 2);
  EXPECT_EQ(simfs({"run", "register", "--seed"}).exit_code, 2);             // missing value
  EXPECT_EQ(simfs({"run", "register", "--seed", "1", "--frob"}).exit_code, 2);
  EXPECT_EQ(simfs({"run", "register", "--seed", "1", "--bug", "no_such_bug"}).exit_code, 2);
  EXPECT_EQ(simfs({"run", "register", "--seed", "1", "--trace", "/nonexistent-dir/t.jsonl"}).exit_code, 2);
  EXPECT_EQ(simfs({"fuzz", "register"}).exit_code, 2);                      // no --runs/--time
  EXPECT_EQ(simfs({"fuzz", "register", "--runs", "0"}).exit_code, 2);
  EXPECT_EQ(simfs({"fuzz", "register", "--runs", "5", "--shard", "3/2"}).exit_code, 2);
  EXPECT_EQ(simfs({"fuzz", "register", "--time", "soon"}).exit_code, 2);
  EXPECT_EQ(simfs({"run", "--help"}).exit_code, 0);
}

TEST(Cli, ListNamesScenariosFirst) {
  ChildResult r = simfs({"list"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("register\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("register.real_time"), std::string::npos);
}

TEST(Cli, JsonHasTheContractFields) {
  ChildResult r = simfs({"run", "register", "--seed", "7", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto j = json_of(r);
  for (const char* k : {"scenario", "seed", "result", "digest", "events", "sim_ns", "wall_ms", "violations", "replay"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["scenario"], "register");
  EXPECT_EQ(j["seed"], "0x0000000000000007");
  EXPECT_EQ(j["result"], "pass");
  EXPECT_TRUE(j["violations"].empty());
  EXPECT_GT(j["events"].get<uint64_t>(), 100u);
}

TEST(Cli, SameSeedSameDigestAcrossProcessesAndSeedForms) {
  auto a = json_of(simfs({"run", "register", "--seed", "255", "--json"}));
  auto b = json_of(simfs({"run", "register", "--seed", "0xff", "--json"}));
  auto c = json_of(simfs({"run", "register", "256", "--json"}));  // positional seed
  EXPECT_EQ(a["digest"], b["digest"]);
  EXPECT_NE(a["digest"], c["digest"]);
}

TEST(Cli, TracingDoesNotChangeTheDigest) {
  fs::path dir = temp_dir("trace");
  auto a = json_of(simfs({"run", "register", "--seed", "9", "--json"}));
  auto b = json_of(simfs({"run", "register", "--seed", "9", "--json", "--trace", (dir / "t.jsonl").string()}));
  EXPECT_EQ(a["digest"], b["digest"]);
  std::ifstream in(dir / "t.jsonl");
  std::string line, last;
  size_t lines = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "line " << lines << ": " << line;
    if (lines == 0) {
      EXPECT_EQ(j["format"], "simfs-trace");
    }
    last = line;
    ++lines;
  }
  auto end = nlohmann::json::parse(last);
  EXPECT_EQ(end["end"], true);
  EXPECT_EQ(end["digest"], a["digest"]);
  EXPECT_EQ(lines, a["events"].get<size_t>() + 2);  // header + events + end
  fs::remove_all(dir);
}

TEST(Cli, PlantedBugIsCaughtAndItsReplayCommandReproducesIt) {
  ChildResult r = simfs({"run", "register", "--seed", "3", "--bug", "read_one_replica", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  auto j = json_of(r);
  EXPECT_EQ(j["result"], "fail");
  ASSERT_FALSE(j["violations"].empty());
  EXPECT_EQ(j["violations"][0]["invariant"], "register.real_time");
  EXPECT_FALSE(j["violations"][0]["witness"].empty());
  // The printed command, run through a shell, reproduces the same failure.
  ChildResult again = run_child({"/bin/sh", "-c", j["replay"].get<std::string>() + " --json"}, 60000, true);
  EXPECT_EQ(again.exit_code, 1);
  auto j2 = json_of(again);
  EXPECT_EQ(j2["digest"], j["digest"]);
}

TEST(Cli, TapeRecordAndReplayGiveTheSameRun) {
  fs::path dir = temp_dir("tape");
  const std::string tape = (dir / "tape.json").string();
  auto a = json_of(simfs({"run", "register", "--seed", "11", "--json", "--record-tape", tape}));
  auto b = json_of(simfs({"run", "--tape", tape, "--json"}));
  EXPECT_EQ(a["digest"], b["digest"]);
  EXPECT_EQ(b["tape_site_mismatches"], 0);
  // A tape replayed under another seed still gives the recorded run: the tape decides.
  auto c = json_of(simfs({"run", "register", "--seed", "12", "--tape", tape, "--json"}));
  EXPECT_EQ(a["digest"], c["digest"]);
  fs::remove_all(dir);
}

TEST(Cli, CorruptTapesAreHarnessErrors) {
  fs::path dir = temp_dir("badtape");
  const std::string tape = (dir / "tape.json").string();
  json_of(simfs({"run", "register", "--seed", "11", "--json", "--record-tape", tape}));
  std::string text;
  {
    std::ifstream in(tape);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  const std::string bad = (dir / "bad.json").string();
  for (const std::string& content : {text.substr(0, text.size() / 2), std::string("garbage"), std::string("{}"),
                                     std::string(R"({"format":"simfs-tape","version":1,"scenario":"register","seed":"1","sites":[],"decisions":[[5,2,1]]})")}) {
    std::ofstream(bad, std::ios::trunc) << content;
    ChildResult r = simfs({"run", "--tape", bad, "--json"});
    EXPECT_EQ(r.exit_code, 3) << content.substr(0, 80);
  }
  EXPECT_EQ(simfs({"run", "--tape", (dir / "missing.json").string()}).exit_code, 2);
  fs::remove_all(dir);
}

TEST(Cli, SavesDeviceImages) {
  fs::path dir = temp_dir("images");
  ChildResult r = simfs({"run", "journal", "--seed", "3", "--save-images", dir.string()});
  EXPECT_EQ(r.exit_code, 0);
  std::ifstream in(dir / "journal-disk.img", std::ios::binary);
  std::string magic(8, '\0');
  in.read(magic.data(), 8);
  EXPECT_EQ(magic, "SIMFSIMG");
  // A missing directory is created; one that cannot be (under a regular file) is a usage error.
  EXPECT_EQ(simfs({"run", "journal", "--seed", "3", "--save-images", (dir / "new" / "deeper").string()}).exit_code, 0);
  EXPECT_TRUE(fs::exists(dir / "new" / "deeper" / "journal-disk.img"));
  EXPECT_EQ(simfs({"run", "journal", "--seed", "3", "--save-images", (dir / "journal-disk.img" / "x").string()}).exit_code, 2);
  fs::remove_all(dir);
}

TEST(Cli, CheckDeterminismPasses) {
  ChildResult r = simfs({"run", "register", "--seed", "5", "--check-determinism", "--json"});
  EXPECT_EQ(r.exit_code, 0);
  auto j = json_of(r);
  EXPECT_EQ(j["deterministic"], true);
  EXPECT_EQ(j["digests"][0], j["digests"][1]);
}

TEST(Replay, TraceTapeAndArtifactReproduceTheirDigest) {
  fs::path dir = temp_dir("replay");
  const std::string trace = (dir / "t.jsonl").string(), tape = (dir / "t.json").string();
  auto orig = json_of(simfs({"run", "register", "--seed", "3", "--bug", "read_one_replica", "--json", "--trace", trace,
                             "--record-tape", tape}));
  for (const std::string& input : {trace, tape}) {
    ChildResult r = simfs({"replay", input, "--json"});
    EXPECT_EQ(r.exit_code, 1) << input;  // a reproduced failure
    auto j = json_of(r);
    EXPECT_EQ(j["digest"], orig["digest"]);
    EXPECT_EQ(j["digest_matches"], true);
  }
  // A passing run replays with exit 0.
  json_of(simfs({"run", "echo", "--seed", "4", "--json", "--trace", trace}));
  EXPECT_EQ(simfs({"replay", trace}).exit_code, 0);
  fs::remove_all(dir);
}

TEST(Replay, BadInputsAreRejected) {
  fs::path dir = temp_dir("replay-bad");
  const std::string trace = (dir / "t.jsonl").string();
  json_of(simfs({"run", "register", "--seed", "3", "--json", "--trace", trace}));
  std::string text;
  {
    std::ifstream in(trace);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  const std::string bad = (dir / "bad.jsonl").string();
  // Truncated (no end line), garbage, a tampered digest.
  std::string tampered = text;
  const size_t at = tampered.rfind("\"digest\":\"0x") + 12;
  tampered[at] = tampered[at] == '0' ? '1' : '0';
  for (const std::string& content : {text.substr(0, text.size() / 2), std::string("not a trace\n"), tampered}) {
    std::ofstream(bad, std::ios::trunc) << content;
    EXPECT_EQ(simfs({"replay", bad}).exit_code, 3) << content.substr(0, 60);
  }
  EXPECT_EQ(simfs({"replay", (dir / "missing").string()}).exit_code, 2);
  EXPECT_EQ(simfs({"replay"}).exit_code, 2);
  fs::remove_all(dir);
}

TEST(Shrink, MakesASmallerTapeThatStillFailsTheSameInvariant) {
  fs::path dir = temp_dir("shrink");
  const std::string tape = (dir / "t.json").string(), out = (dir / "small.json").string();
  auto orig = json_of(simfs({"run", "echo", "--seed", "1", "--bug", "short_dedup_window", "--json", "--record-tape", tape}));
  ASSERT_EQ(orig["result"], "fail");
  ChildResult r = simfs({"shrink", tape, "-o", out, "--json", "--max-runs", "400"});
  ASSERT_EQ(r.exit_code, 0);
  auto j = json_of(r);
  EXPECT_EQ(j["invariant"], orig["violations"][0]["invariant"]);
  EXPECT_LT(j["nonzero_after"].get<int>(), j["nonzero_before"].get<int>());
  EXPECT_LE(j["events_after"].get<int>(), j["events_before"].get<int>() * 5 / 4);
  // The shrunk tape replays to the same failure, and its printed replay command works.
  ChildResult again = run_child({"/bin/sh", "-c", j["replay"].get<std::string>() + " --json"}, 60000, true);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(json_of(again)["violations"][0]["invariant"], j["invariant"]);
  EXPECT_TRUE(fs::exists(j["trace"].get<std::string>()));
  EXPECT_EQ(simfs({"replay", out}).exit_code, 1);
  // Fewer nodes: one client is enough for this bug, and the shrunk tape carries that.
  EXPECT_EQ(j["params_lowered"], nlohmann::json::array({"clients 3 -> 1"}));
  std::ifstream shrunk(out);
  EXPECT_EQ(nlohmann::json::parse(shrunk)["params"]["clients"], 1);
  EXPECT_EQ(json_of(again)["params"]["clients"], 1);
  fs::remove_all(dir);
}

TEST(Shrink, KeepsNodesTheFailureNeeds) {
  // A stale read needs a second client to notice it: clients stay at 2.
  fs::path dir = temp_dir("shrink-keep");
  const std::string tape = (dir / "t.json").string(), out = (dir / "small.json").string();
  ASSERT_EQ(simfs({"run", "register", "--seed", "7", "--bug", "read_one_replica", "--record-tape", tape}).exit_code, 1);
  auto j = json_of(simfs({"shrink", tape, "-o", out, "--json", "--max-runs", "300"}));
  for (const auto& p : j["params_lowered"]) EXPECT_NE(p.get<std::string>().rfind("clients", 0), 0u) << p;
  std::ifstream shrunk(out);
  const auto params = nlohmann::json::parse(shrunk)["params"];
  EXPECT_EQ(params["clients"], 2);
  EXPECT_EQ(simfs({"run", "--tape", out}).exit_code, 1);
  fs::remove_all(dir);
}

TEST(Shrink, APassingRunCannotBeShrunk) {
  fs::path dir = temp_dir("shrink-pass");
  const std::string tape = (dir / "t.json").string();
  json_of(simfs({"run", "echo", "--seed", "1", "--json", "--record-tape", tape}));
  EXPECT_EQ(simfs({"shrink", tape}).exit_code, 3);
  EXPECT_EQ(simfs({"shrink"}).exit_code, 2);
  fs::remove_all(dir);
}

TEST(Export, CommandWritesFilesAndRejectsBadInput) {
  fs::path dir = temp_dir("export");
  const std::string trace = (dir / "t.jsonl").string();
  json_of(simfs({"run", "register", "--seed", "3", "--json", "--trace", trace}));
  EXPECT_EQ(simfs({"export", "--format", "perfetto", trace, "-o", (dir / "p.json").string()}).exit_code, 0);
  auto j = nlohmann::json::parse(std::ifstream(dir / "p.json"), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_GT(j["traceEvents"].size(), 10u);
  EXPECT_EQ(simfs({"export", "--format", "shiviz", trace, "-o", (dir / "s.log").string()}).exit_code, 0);
  EXPECT_TRUE(fs::exists(dir / "s.log"));
  EXPECT_EQ(simfs({"export", "--format", "svg", trace, "-o", (dir / "x").string()}).exit_code, 2);
  EXPECT_EQ(simfs({"export", "--format", "chrome", (dir / "missing.jsonl").string(), "-o", (dir / "x").string()}).exit_code, 2);
  std::ofstream(dir / "bad.jsonl") << "{\"format\":\"simfs-trace\",\"version\":1}\nnot json\n";
  EXPECT_EQ(simfs({"export", "--format", "chrome", (dir / "bad.jsonl").string(), "-o", (dir / "x").string()}).exit_code, 3);
  fs::remove_all(dir);
}

std::vector<nlohmann::json> jsonl(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

TEST(Merge, ShardsMergeToTheUnshardedCampaignWhateverTheOrder) {
  fs::path dir = temp_dir("merge");
  const std::string art = (dir / "a").string();
  std::vector<std::string> shards;

  for (int i = 0; i < 3; ++i) {
    shards.push_back((dir / ("r" + std::to_string(i) + ".jsonl")).string());
    simfs({"fuzz", "register", "--runs", "24", "--shard", std::to_string(i) + "/3", "--bug", "ack_before_durable",
           "--results", shards.back(), "--artifacts", art, "--no-shrink"});
  }
  const std::string whole = (dir / "whole.jsonl").string();
  simfs({"fuzz", "register", "--runs", "24", "--bug", "ack_before_durable", "--results", whole, "--artifacts", art,
         "--no-shrink"});
  const std::string m1 = (dir / "m1.jsonl").string(), m2 = (dir / "m2.jsonl").string();
  ChildResult r1 = simfs({"merge", shards[2], shards[0], shards[1], "-o", m1});
  ChildResult r2 = simfs({"merge", shards[0], shards[1], shards[2], "-o", m2, "--junit", (dir / "j.xml").string()});
  EXPECT_EQ(r1.exit_code, r2.exit_code);
  auto a = jsonl(m1), b = jsonl(m2), w = jsonl(whole);
  EXPECT_EQ(a, b) << "merge output must not depend on input order";
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(w.empty());
  EXPECT_EQ(a.back()["runs"], w.back()["runs"]);
  EXPECT_EQ(a.back()["failures"], w.back()["failures"]);
  // Same unique failures, same representatives (smallest k) and counts.
  std::map<std::string, std::tuple<uint64_t, uint64_t>> fa, fw;
  for (size_t i = 0; i + 1 < a.size(); ++i) fa[a[i]["fingerprint"]] = {a[i]["k"], a[i]["count"]};
  for (size_t i = 0; i + 1 < w.size(); ++i) fw[w[i]["fingerprint"]] = {w[i]["k"], w[i]["count"]};
  EXPECT_EQ(fa, fw);
  EXPECT_EQ(r1.exit_code, w.back()["failures"].get<int>() > 0 ? 1 : 0);
  fs::remove_all(dir);
}

TEST(Merge, RejectsMixedOrBrokenInputs) {
  fs::path dir = temp_dir("merge-bad");
  const std::string a = (dir / "a.jsonl").string(), b = (dir / "b.jsonl").string();
  simfs({"fuzz", "register", "--runs", "2", "--shard", "0/2", "--results", a, "--artifacts", (dir / "x").string()});
  simfs({"fuzz", "register", "--runs", "2", "--shard", "1/2", "--campaign-seed", "9", "--results", b, "--artifacts",
         (dir / "x").string()});
  EXPECT_EQ(simfs({"merge", a, b}).exit_code, 3);  // different campaigns
  EXPECT_EQ(simfs({"merge", a, a}).exit_code, 3);  // a shard twice
  std::ofstream((dir / "t.jsonl").string()) << "{\"k\":1,\"fingerprint\":\"x\"}\n";  // no summary line
  EXPECT_EQ(simfs({"merge", (dir / "t.jsonl").string()}).exit_code, 3);
  EXPECT_EQ(simfs({"merge", (dir / "missing.jsonl").string()}).exit_code, 2);
  EXPECT_EQ(simfs({"merge"}).exit_code, 2);
  fs::remove_all(dir);
}

TEST(Fuzz, ShardAutoReadsTheEnvironment) {
  // Through /bin/sh so the variables reach the child.
  fs::path dir = temp_dir("auto");
  const std::string res = (dir / "r.jsonl").string();
  const std::string cmd = std::string("SIMFS_SHARD=2/4 ") + SIMFS_BINARY + " fuzz register --runs 8 --shard auto --results " +
                          res + " --artifacts " + (dir / "x").string();
  ChildResult r = run_child({"/bin/sh", "-c", cmd}, 60000, true);
  EXPECT_EQ(r.exit_code, 0);
  auto lines = jsonl(res);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["shard"], "2/4");
  EXPECT_EQ(lines.back()["runs"], 2);
  const std::string slurm = std::string("SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=4 SLURM_ARRAY_TASK_COUNT=2 ") + SIMFS_BINARY +
                            " fuzz register --runs 8 --shard auto --results " + res + " --artifacts " + (dir / "x").string();
  EXPECT_EQ(run_child({"/bin/sh", "-c", slurm}, 60000, true).exit_code, 0);
  EXPECT_EQ(jsonl(res).back()["shard"], "1/2");
  const std::string k8s = std::string("JOB_COMPLETION_INDEX=1 ") + SIMFS_BINARY + " fuzz register --runs 4 --shard auto";
  EXPECT_EQ(run_child({"/bin/sh", "-c", k8s}, 60000, true).exit_code, 2);  // needs --shard-count
  fs::remove_all(dir);
}

TEST(Fuzz, CleanCampaignPasses) {
  fs::path dir = temp_dir("fuzz-clean");
  ChildResult r = simfs({"fuzz", "register", "--runs", "12", "--jobs", "2", "--results", (dir / "r.jsonl").string(),
                         "--artifacts", (dir / "a").string()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("12 passed, 0 failed"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

TEST(Fuzz, PlantedBugGivesDedupedFailuresWithArtifacts) {
  fs::path dir = temp_dir("fuzz-bug");
  const std::string results = (dir / "r.jsonl").string();
  ChildResult r = simfs({"fuzz", "register", "--runs", "20", "--bug", "read_one_replica", "--results", results,
                         "--junit", (dir / "j.xml").string(), "--artifacts", (dir / "a").string()});
  EXPECT_EQ(r.exit_code, 1);
  std::ifstream in(results);
  std::string line;
  int failures = 0;
  bool summary = false;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("summary")) {
      summary = true;
      EXPECT_EQ(j["runs"], 20);
      EXPECT_GT(j["failures"].get<int>(), 0);
      continue;
    }
    ++failures;
    EXPECT_EQ(j["invariant"], "register.real_time");
    const fs::path art = j["artifacts"].get<std::string>();
    EXPECT_TRUE(fs::exists(art / "trace.jsonl"));
    EXPECT_TRUE(fs::exists(art / "tape.json"));
    EXPECT_TRUE(fs::exists(art / "replay.sh"));
  }
  EXPECT_TRUE(summary);
  EXPECT_GE(failures, 1);
  EXPECT_LE(failures, 3);  // deduplicated by fingerprint
  EXPECT_TRUE(fs::exists(dir / "j.xml"));
  fs::remove_all(dir);
}

TEST(Fuzz, ShardsCoverTheCampaignExactlyOnce) {
  // Three shards of 9 runs each run 3; their failure counts add up to the whole campaign's.
  fs::path dir = temp_dir("fuzz-shards");
  int total_failures = 0;
  for (int i = 0; i < 3; ++i) {
    const std::string res = (dir / ("r" + std::to_string(i) + ".jsonl")).string();
    simfs({"fuzz", "register", "--runs", "9", "--shard", std::to_string(i) + "/3", "--bug", "read_one_replica",
           "--results", res, "--artifacts", (dir / "a").string()});
    std::ifstream in(res);
    std::string line, last;
    while (std::getline(in, line)) last = line;
    auto j = nlohmann::json::parse(last);
    EXPECT_EQ(j["runs"], 3);
    total_failures += j["failures"].get<int>();
  }
  const std::string all = (dir / "all.jsonl").string();
  simfs({"fuzz", "register", "--runs", "9", "--bug", "read_one_replica", "--results", all, "--artifacts", (dir / "a").string()});
  std::ifstream in(all);
  std::string line, last;
  while (std::getline(in, line)) last = line;
  EXPECT_EQ(nlohmann::json::parse(last)["failures"].get<int>(), total_failures);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tools
