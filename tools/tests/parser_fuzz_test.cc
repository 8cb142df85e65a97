// The trace and tape parsers take files from users and from crashed runs: no input may crash
// them. RapidCheck feeds random text and mutations (byte flips, truncation, splices) of real
// traces and tapes; parsing must return an error or a value, and whatever parses must export.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <sstream>

#include "scenarios/run.h"
#include "tools/tape_file.h"
#include "tools/trace_export.h"
#include "tools/trace_reader.h"

namespace tools {
namespace {

const std::string& real_trace() {
  static const std::string t = [] {
    std::ostringstream out;
    scenarios::RunConfig cfg;
    cfg.scenario = "register";
    cfg.seed = 3;
    cfg.bug = "read_one_replica";
    cfg.trace_out = &out;
    scenarios::run_scenario(cfg);
    return out.str();
  }();
  return t;
}

const std::string& real_tape() {
  static const std::string t = [] {
    scenarios::RunConfig cfg;
    cfg.scenario = "echo";
    cfg.seed = 1;
    cfg.record_tape = true;
    scenarios::RunReport r = scenarios::run_scenario(cfg);
    return tape_to_json(TapeFile{"echo", 1, "", r.tape, r.site_names, "", "", r.params});
  }();
  return t;
}

std::string mutate(std::string s, const std::vector<std::pair<size_t, uint8_t>>& flips, size_t cut) {
  for (const auto& [pos, byte] : flips) {
    if (!s.empty()) s[pos % s.size()] = static_cast<char>(byte);
  }
  if (!s.empty()) s.resize(cut % (s.size() + 1));
  return s;
}

void parse_and_export(const std::string& text) {
  TraceFile t;
  if (read_trace(text, &t).empty()) {
    auto j = export_chrome(t);
    RC_ASSERT(j.contains("traceEvents"));
    (void)export_shiviz(t);
  }
}

RC_GTEST_PROP(ParserFuzz, TraceReaderSurvivesRandomText, (const std::string& text)) { parse_and_export(text); }

RC_GTEST_PROP(ParserFuzz, TraceReaderSurvivesMutatedTraces,
              (const std::vector<std::pair<size_t, uint8_t>>& flips, size_t cut)) {
  parse_and_export(mutate(real_trace(), flips, cut));
}

RC_GTEST_PROP(ParserFuzz, TraceReaderSurvivesMutatedLines, (size_t line, const std::string& replacement)) {
  // Replace one whole line with arbitrary text (valid JSON of the wrong shape included).
  std::vector<std::string> lines;
  std::istringstream in(real_trace());
  std::string l;
  while (std::getline(in, l)) lines.push_back(l);
  const std::vector<std::string> shapes = {replacement, "{}", "[]", "null", "{\"i\":\"x\"}", "{\"end\":true}",
                                           "{\"i\":0,\"t\":-5,\"node\":7,\"kind\":3}", "{\"format\":\"simfs-trace\"}"};
  lines[line % lines.size()] = shapes[line % shapes.size()];
  std::string text;
  for (const auto& x : lines) text += x + "\n";
  parse_and_export(text);
}

RC_GTEST_PROP(ParserFuzz, TapeParserSurvivesRandomAndMutatedTapes,
              (const std::string& text, const std::vector<std::pair<size_t, uint8_t>>& flips, size_t cut)) {
  TapeFile t;
  (void)tape_from_json(text, &t);
  std::string mutated = mutate(real_tape(), flips, cut);
  std::string err = tape_from_json(mutated, &t);
  if (err.empty()) {
    // Whatever parsed must be usable: every decision names a site.
    for (const auto& d : t.decisions) RC_ASSERT(t.site_names.count(d.site_id) == 1);
  }
}

TEST(ParserFuzz, TheUnmutatedInputsParse) {
  TraceFile t;
  EXPECT_EQ(read_trace(real_trace(), &t), "");
  TapeFile tape;
  EXPECT_EQ(tape_from_json(real_tape(), &tape), "");
  EXPECT_FALSE(tape.decisions.empty());
}

}  // namespace
}  // namespace tools
