// Replays every case in scenarios/regressions/ (see its README).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "scenarios/run.h"

namespace scenarios {
namespace {

namespace stdfs = std::filesystem;

std::optional<uint64_t> parse_hex_or_dec(const std::string& s) {
  try {
    size_t pos = 0;
    uint64_t v = std::stoull(s, &pos, s.rfind("0x", 0) == 0 ? 16 : 10);
    if (pos != s.size()) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

TEST(RegressionCorpus, EveryCaseBehavesAsRecorded) {
  const stdfs::path dir = stdfs::path(SIMFS_SOURCE_DIR) / "scenarios" / "regressions";
  std::vector<stdfs::path> cases;
  for (const auto& entry : stdfs::directory_iterator(dir)) {  // determinism-ok: sorted below
    if (entry.path().extension() == ".json" && entry.path().filename().string().find(".tape.") == std::string::npos)
      cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  ASSERT_FALSE(cases.empty());
  for (const stdfs::path& p : cases) {
    SCOPED_TRACE(p.filename().string());
    std::ifstream in(p);
    nlohmann::json c = nlohmann::json::parse(in, nullptr, false);
    ASSERT_FALSE(c.is_discarded()) << "not JSON";
    ASSERT_TRUE(c.contains("scenario") && c.contains("seed") && c.contains("expect") && c.contains("why"));
    RunConfig cfg;
    cfg.scenario = c["scenario"];
    auto seed = parse_hex_or_dec(c["seed"].get<std::string>());
    ASSERT_TRUE(seed.has_value()) << "bad seed";
    cfg.seed = *seed;
    cfg.bug = c.value("bug", "");
    std::vector<sim::Decision> tape;
    if (!c.value("tape", "").empty()) {
      std::ifstream tin(dir / c["tape"].get<std::string>());
      nlohmann::json t = nlohmann::json::parse(tin, nullptr, false);
      ASSERT_FALSE(t.is_discarded()) << "bad tape";
      std::vector<uint64_t> ids;
      for (const auto& s : t["sites"]) ids.push_back(sim::fnv1a64(s.get<std::string>()));
      for (const auto& d : t["decisions"]) tape.push_back({ids.at(d[0].get<size_t>()), d[1], d[2]});
      cfg.tape = &tape;
    }
    RunReport r = run_scenario(cfg);
    const std::string expect = c["expect"];
    if (expect == "pass") {
      EXPECT_EQ(r.result, RunReport::Result::kPass)
          << (r.violations.empty() ? r.error : r.violations[0].invariant + ": " + r.violations[0].message);
    } else {
      ASSERT_EQ(r.result, RunReport::Result::kFail);
      EXPECT_EQ(r.violations[0].invariant, c.value("invariant", ""));
    }
  }
}

}  // namespace
}  // namespace scenarios
