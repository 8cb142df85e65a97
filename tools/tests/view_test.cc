// simfs view: the page is written, the embedded trace cannot break out of its <script> element,
// bad input gives the documented exit code and leaves no file. Runs the real binary, like
// cli_test.cc. The in-browser behaviour is tested by tools/viewer/test/view.test.mjs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tools/subprocess.h"
#include "tools/view.h"

namespace tools {
namespace {

namespace fs = std::filesystem;

ChildResult simfs(std::vector<std::string> args) {
  args.insert(args.begin(), SIMFS_BINARY);
  return run_child(args, 120000, /*quiet_stderr=*/true);
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("simfs-view-test-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// Occurrences of `needle` in `hay`, ignoring ASCII case (HTML end tags are case-insensitive).
size_t count_ci(std::string hay, std::string needle) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  hay = lower(std::move(hay));
  needle = lower(std::move(needle));
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

const std::string kTemplate = SIMFS_SOURCE_DIR "/tools/viewer/viewer.html";
const std::string kSmall = SIMFS_SOURCE_DIR "/tests/fixtures/small.jsonl";
const std::string kInjection = SIMFS_SOURCE_DIR "/tests/fixtures/injection.jsonl";

// The JSON between <script type="application/json" id="simfs-trace"> and its end tag.
nlohmann::json embedded_trace(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"simfs-trace\">";
  const size_t a = html.find(open);
  EXPECT_NE(a, std::string::npos);
  if (a == std::string::npos) return nullptr;
  const size_t b = html.find("</script>", a);
  auto j = nlohmann::json::parse(html.substr(a + open.size(), b - a - open.size()), nullptr, false);
  EXPECT_FALSE(j.is_discarded());
  return j;
}

TEST(ScriptSafeJson, EscapesEverythingThatCouldEndTheElement) {
  const std::string nasty = "</script><script>alert(1)</script> <!-- & \xE2\x80\xA8 \xE2\x80\xA9 >";
  nlohmann::json j = {{"msg", nasty}, {"n", 1}};
  const std::string s = script_safe_json(j);
  EXPECT_EQ(s.find('<'), std::string::npos) << s;
  EXPECT_EQ(s.find('>'), std::string::npos) << s;
  EXPECT_EQ(s.find('&'), std::string::npos) << s;
  EXPECT_EQ(s.find("\xE2\x80\xA8"), std::string::npos) << s;
  EXPECT_EQ(s.find("\xE2\x80\xA9"), std::string::npos) << s;
  EXPECT_NE(s.find("\\u003c/script\\u003e"), std::string::npos) << s;
  EXPECT_NE(s.find("\\u2028"), std::string::npos) << s;
  EXPECT_EQ(nlohmann::json::parse(s), j) << "escaping must not change the value";
  // Invalid UTF-8 is replaced, not thrown.
  EXPECT_NO_THROW(script_safe_json(nlohmann::json("bad \xFF byte")));
}

TEST(View, WritesASelfContainedPage) {
  const fs::path dir = temp_dir("page");
  const fs::path out = dir / "small.html";
  ChildResult r = simfs({"view", kSmall, "-o", out.string()});
  ASSERT_EQ(r.exit_code, 0);
  const std::string html = slurp(out);
  ASSERT_FALSE(html.empty());
  EXPECT_EQ(html.find(kViewerTraceMarker), std::string::npos) << "the marker must be replaced";
  // Self-contained: no script, stylesheet or font is loaded from anywhere.
  EXPECT_EQ(count_ci(html, "<script src"), 0u);
  EXPECT_EQ(count_ci(html, "<link"), 0u);
  EXPECT_EQ(count_ci(html, "http://"), 0u);
  EXPECT_EQ(count_ci(html, "https://"), 0u);
  EXPECT_EQ(count_ci(html, "@import"), 0u);
  const nlohmann::json t = embedded_trace(html);
  ASSERT_TRUE(t.is_object());
  EXPECT_EQ(t["header"]["run"]["scenario"], "fixture");
  ASSERT_EQ(t["events"].size(), 9u);
  EXPECT_EQ(t["events"][8]["message"], "a \"quoted\" <b>message</b>");
  EXPECT_EQ(t["end"]["result"], "fail");
  fs::remove_all(dir);
}

TEST(View, DefaultOutputIsTheTraceWithAnHtmlSuffix) {
  const fs::path dir = temp_dir("default");
  fs::copy_file(kSmall, dir / "run.jsonl");
  ASSERT_EQ(simfs({"view", (dir / "run.jsonl").string()}).exit_code, 0);
  EXPECT_TRUE(fs::exists(dir / "run.html"));
  fs::remove_all(dir);
}

TEST(View, TraceStringsCannotInjectScript) {
  const fs::path dir = temp_dir("inject");
  const fs::path out = dir / "inject.html";
  ASSERT_EQ(simfs({"view", kInjection, "-o", out.string()}).exit_code, 0);
  const std::string html = slurp(out);
  const std::string page = slurp(kTemplate);
  const std::string trace_text = slurp(kInjection);
  ASSERT_GT(count_ci(trace_text, "</script"), 3u) << "the fixture must carry the payloads";
  ASSERT_NE(trace_text.find("\xE2\x80\xA8"), std::string::npos);
  // Every "</script" (any case) in the page is one of the template's own closing tags.
  EXPECT_EQ(count_ci(html, "</script"), count_ci(page, "</script"));
  EXPECT_EQ(count_ci(html, "<script"), count_ci(page, "<script"));
  EXPECT_EQ(count_ci(html, "<!--"), count_ci(page, "<!--"));
  EXPECT_EQ(count_ci(html, "<img"), 0u);
  EXPECT_EQ(html.find("\xE2\x80\xA8"), std::string::npos);
  EXPECT_EQ(html.find("\xE2\x80\xA9"), std::string::npos);
  // And the strings survive intact for the viewer to show.
  const nlohmann::json t = embedded_trace(html);
  ASSERT_TRUE(t.is_object());
  EXPECT_EQ(t["events"][0]["msg"], "</script><script>window.__pwned=1;alert(1)</script>");
  EXPECT_EQ(t["header"]["nodes"][1]["name"], "client\xE2\x80\xA8two\xE2\x80\xA9");
  fs::remove_all(dir);
}

TEST(View, BadTracesExitThreeAndLeaveNoFile) {
  const fs::path dir = temp_dir("bad");
  const std::string good = slurp(kSmall);
  const fs::path out = dir / "out.html";

  const std::string truncated = good.substr(0, good.find("{\"i\":5"));
  spit(dir / "truncated.jsonl", truncated);
  EXPECT_EQ(simfs({"view", (dir / "truncated.jsonl").string(), "-o", out.string()}).exit_code, 3);
  EXPECT_FALSE(fs::exists(out));

  spit(dir / "cut.jsonl", good.substr(0, good.find("{\"i\":5") + 10));  // cut mid-line
  EXPECT_EQ(simfs({"view", (dir / "cut.jsonl").string(), "-o", out.string()}).exit_code, 3);
  EXPECT_FALSE(fs::exists(out));

  std::string corrupt = good;
  corrupt.insert(corrupt.find("{\"i\":3"), "garbage\n");
  spit(dir / "corrupt.jsonl", corrupt);
  EXPECT_EQ(simfs({"view", (dir / "corrupt.jsonl").string(), "-o", out.string()}).exit_code, 3);
  EXPECT_FALSE(fs::exists(out));

  spit(dir / "empty.jsonl", "");
  EXPECT_EQ(simfs({"view", (dir / "empty.jsonl").string(), "-o", out.string()}).exit_code, 3);
  EXPECT_FALSE(fs::exists(out));

  // Nothing but the expected file is ever left in the directory (no temporary files).
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path().extension(), ".jsonl") << e.path();

  // --partial views a truncated trace anyway (the run was cut short: worth looking at).
  EXPECT_EQ(simfs({"view", (dir / "truncated.jsonl").string(), "-o", out.string(), "--partial"}).exit_code, 0);
  const nlohmann::json t = embedded_trace(slurp(out));
  ASSERT_TRUE(t.is_object());
  EXPECT_EQ(t["events"].size(), 5u);
  EXPECT_TRUE(t["end"].is_null());
  fs::remove_all(dir);
}

TEST(View, UsageErrorsExitTwo) {
  const fs::path dir = temp_dir("usage");
  EXPECT_EQ(simfs({"view"}).exit_code, 2);
  EXPECT_EQ(simfs({"view", kSmall, "--frob"}).exit_code, 2);
  EXPECT_EQ(simfs({"view", kSmall, "-o"}).exit_code, 2);
  EXPECT_EQ(simfs({"view", kSmall, kSmall}).exit_code, 2);
  EXPECT_EQ(simfs({"view", (dir / "missing.jsonl").string()}).exit_code, 2);
  EXPECT_EQ(simfs({"view", kSmall, "-o", "/nonexistent-dir/x.html"}).exit_code, 2);
  fs::copy_file(kSmall, dir / "t.jsonl");
  EXPECT_EQ(simfs({"view", (dir / "t.jsonl").string(), "-o", (dir / "t.jsonl").string()}).exit_code, 2)
      << "must refuse to overwrite its input";
  EXPECT_EQ(slurp(dir / "t.jsonl"), slurp(kSmall));
  EXPECT_EQ(simfs({"view", "--help"}).exit_code, 0);
  fs::remove_all(dir);
}

TEST(View, EmbedsAWhyResultOrRejectsABadOne) {
  const fs::path dir = temp_dir("why");
  const std::string why = SIMFS_SOURCE_DIR "/tests/fixtures/small.why.json";
  const fs::path out = dir / "v.html";
  ASSERT_EQ(simfs({"view", kSmall, "-o", out.string(), "--why", why}).exit_code, 0);
  const std::string html = slurp(out);
  EXPECT_NE(html.find("\"inevitable_at_ns\":60000"), std::string::npos);
  // The why message ("a \"quoted\" <b>message</b>") is embedded script-safe like the trace.
  EXPECT_EQ(html.find("<b>message</b>\",\"failed_at_ns"), std::string::npos);
  EXPECT_EQ(html.find("__SIMFS_WHY_JSON__"), std::string::npos);
  // Without --why the slot holds null.
  ASSERT_EQ(simfs({"view", kSmall, "-o", out.string()}).exit_code, 0);
  EXPECT_NE(slurp(out).find("id=\"simfs-why\">null</script>"), std::string::npos);
  // A file that is not a why result: exit 3, no page. A missing one: exit 2.
  fs::remove(out);
  std::ofstream(dir / "bad.json") << "{\"checkpoints\": [{\"t_ns\": 1, \"p\": 7}]}";
  EXPECT_EQ(simfs({"view", kSmall, "-o", out.string(), "--why", (dir / "bad.json").string()}).exit_code, 3);
  std::ofstream(dir / "junk.json") << "{not json";
  EXPECT_EQ(simfs({"view", kSmall, "-o", out.string(), "--why", (dir / "junk.json").string()}).exit_code, 3);
  EXPECT_EQ(simfs({"view", kSmall, "-o", out.string(), "--why", (dir / "missing.json").string()}).exit_code, 2);
  EXPECT_FALSE(fs::exists(out));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tools
