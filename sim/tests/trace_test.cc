#include "sim/trace.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace sim {
namespace {

using nlohmann::json;

std::vector<json> parse_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));  // throws if invalid
  return out;
}

TEST(Hex64, Format) {
  EXPECT_EQ(hex64(0), "0x0000000000000000");
  EXPECT_EQ(hex64(0xdeadbeef), "0x00000000deadbeef");
  EXPECT_EQ(hex64(UINT64_MAX), "0xffffffffffffffff");
  EXPECT_EQ(hex64(0x0123456789abcdefull), "0x0123456789abcdef");
}

RC_GTEST_PROP(Hex64Prop, RoundTripsAndIsFixedWidth, (uint64_t v)) {
  const std::string s = hex64(v);
  RC_ASSERT(s.size() == 18u);
  RC_ASSERT(s.substr(0, 2) == "0x");
  for (size_t i = 2; i < s.size(); ++i) RC_ASSERT((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'));
  RC_ASSERT(std::strtoull(s.c_str(), nullptr, 16) == v);
}

TEST(Trace, JsonLinesAreValidJson) {
  std::ostringstream out;
  Trace t;
  t.set_sink(&out);
  EXPECT_TRUE(t.enabled());
  t.write_header(R"({"format":"simfs-trace","version":1})");
  EXPECT_EQ(t.event(5, 2, "send", {{"msg", uint64_t{7}}, {"neg", int64_t{-3}}, {"ok", true}, {"name", "x"}}), 0u);
  EXPECT_EQ(t.event(9, -1, "crash", {{"max", UINT64_MAX}, {"min", INT64_MIN}, {"no", false}}, /*fault=*/true), 1u);
  t.event(10, 0, "empty", {});
  t.write_end(R"("digest":"0x1")");
  const auto lines = parse_lines(out.str());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0]["format"], "simfs-trace");
  EXPECT_EQ(lines[1]["i"], 0);
  EXPECT_EQ(lines[1]["t"], 5);
  EXPECT_EQ(lines[1]["node"], 2);
  EXPECT_EQ(lines[1]["kind"], "send");
  EXPECT_FALSE(lines[1].contains("fault"));
  EXPECT_EQ(lines[1]["msg"], 7);
  EXPECT_EQ(lines[1]["neg"], -3);
  EXPECT_EQ(lines[1]["ok"], true);
  EXPECT_EQ(lines[1]["name"], "x");
  EXPECT_EQ(lines[2]["i"], 1);
  EXPECT_TRUE(lines[2]["node"].is_null());
  EXPECT_EQ(lines[2]["fault"], true);
  EXPECT_EQ(lines[2]["max"].get<uint64_t>(), UINT64_MAX);
  EXPECT_EQ(lines[2]["min"].get<int64_t>(), INT64_MIN);
  EXPECT_EQ(lines[2]["no"], false);
  EXPECT_EQ(lines[3].size(), 4u);  // i, t, node, kind
  EXPECT_EQ(lines[4]["end"], true);
  EXPECT_EQ(lines[4]["digest"], "0x1");
  EXPECT_EQ(t.count(), 3u);
}

TEST(Trace, EndWithoutExtraMembers) {
  std::ostringstream out;
  Trace t;
  t.set_sink(&out);
  t.write_end("");
  const auto lines = parse_lines(out.str());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], json({{"end", true}}));
}

TEST(Trace, EscapesStrings) {
  const std::string nasty = std::string("q\"uote back\\slash new\nline cr\r tab\t bell\x07 nul") + '\0' +
                            " us\x1f del\x7f utf8 \xc3\xa9 \xe2\x82\xac";
  std::ostringstream out;
  Trace t;
  t.set_sink(&out);
  t.event(1, 0, nasty, {{"key\"with\nnasties", nasty}, {"plain", "ok"}});
  t.flush();
  const std::string text = out.str();
  // One event, one line: the newline inside the strings must be escaped.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  const auto lines = parse_lines(text);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["kind"].get<std::string>(), nasty);
  EXPECT_EQ(lines[0]["key\"with\nnasties"].get<std::string>(), nasty);
  EXPECT_EQ(lines[0]["plain"], "ok");
  EXPECT_NE(text.find("\\u0007"), std::string::npos);
  EXPECT_NE(text.find("\\u0000"), std::string::npos);
  EXPECT_NE(text.find("\\u001f"), std::string::npos);
}

// Keys are string literals naming identifiers (TraceKey), so only kinds and values carry
// arbitrary text; both must survive JSON escaping.
RC_GTEST_PROP(TraceProp, AnyAsciiStringRoundTripsThroughJson, (std::string s)) {
  for (char& c : s) c = static_cast<char>(static_cast<unsigned char>(c) & 0x7f);
  std::ostringstream out;
  Trace t;
  t.set_sink(&out);
  t.event(1, 0, s, {{"value", s}});
  t.flush();
  const auto lines = parse_lines(out.str());
  RC_ASSERT(lines.size() == 1u);
  RC_ASSERT(lines[0]["kind"].get<std::string>() == s);
  RC_ASSERT(lines[0]["value"].get<std::string>() == s);
}

// Field values may carry arbitrary bytes (free-text logs, file names): the line must still be
// valid JSON. Valid UTF-8 comes back unchanged; other bytes are escaped one by one.
RC_GTEST_PROP(TraceProp, ArbitraryBytesStillGiveValidJson, (std::vector<uint8_t> bytes)) {
  const std::string s(bytes.begin(), bytes.end());
  std::ostringstream out;
  Trace t;
  t.set_sink(&out);
  t.event(1, 0, "log", {{"msg", s}});
  t.flush();
  std::vector<json> lines;
  try {
    lines = parse_lines(out.str());
  } catch (const json::exception& e) {
    RC_FAIL(std::string("invalid JSON: ") + e.what());
  }
  RC_ASSERT(lines.size() == 1u);
  RC_ASSERT(lines[0]["msg"].is_string());
}

TEST(Trace, Utf8PassesThroughAndInvalidBytesAreEscaped) {
  const std::string valid = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
  const std::string invalid = std::string("a\xff b\xc3 c\xed\xa0\x80 d\xc0\xaf e\x80");
  std::ostringstream out;
  Trace t;
  t.set_sink(&out);
  t.event(1, 0, "log", {{"valid", valid}, {"invalid", invalid}});
  t.flush();
  const auto lines = parse_lines(out.str());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["valid"].get<std::string>(), valid);
  const std::string back = lines[0]["invalid"].get<std::string>();
  EXPECT_EQ(back.substr(0, 1), "a");
  EXPECT_NE(back.find(" b"), std::string::npos);
  EXPECT_NE(back.find(" e"), std::string::npos);
}

// A fixed sequence of events; `variant` changes exactly one thing in it (0: nothing).
uint64_t digest_of(int variant, std::ostream* sink = nullptr) {
  Trace t;
  t.set_sink(sink);
  t.event(variant == 1 ? 11 : 10, variant == 2 ? 1 : 0, variant == 3 ? "sent" : "send",
          {{"msg", uint64_t{variant == 4 ? 8u : 7u}},
           variant == 5 ? TraceField{"msh", 3} : TraceField{"to", 3},
           {"s", variant == 6 ? "hellp" : "hello"},
           {"b", variant == 7}},
          variant == 8);
  if (variant == 9) {
    t.event(20, -1, "tick", {{"n", int64_t{5}}});  // signed instead of unsigned
  } else if (variant == 10) {
    t.event(20, -1, "tick", {{"n", true}});  // a bool instead of a number
  } else if (variant == 11) {
    t.event(20, -1, "tick", {{"n", "5"}});  // string instead of number
  } else if (variant == 12) {
    t.event(20, -1, "tick", {{"n", uint64_t{5}}, {"extra", uint64_t{0}}});
  } else if (variant == 13) {
    t.event(20, -1, "tick", {});
  } else {
    t.event(20, -1, "tick", {{"n", uint64_t{5}}});
  }
  if (variant == 14) {
    t.event(30, 0, "ab", {{"x", "c"}, {"y", ""}});
  } else if (variant == 15) {
    t.event(30, 0, "ab", {{"x", ""}, {"y", "c"}});  // same bytes, split differently
  } else {
    t.event(30, 0, "ab", {{"x", "c"}, {"y", ""}});
  }
  if (variant == 16) t.event(40, 0, "one-more", {});
  return t.digest();
}

TEST(Trace, DigestChangesWhenAnythingChanges) {
  const uint64_t base = digest_of(0);
  EXPECT_EQ(base, digest_of(0));
  EXPECT_EQ(base, digest_of(14));  // variant 14 is identical to the base
  std::set<uint64_t> seen{base};
  for (int v = 1; v <= 16; ++v) {
    if (v == 14) continue;
    const uint64_t d = digest_of(v);
    EXPECT_NE(d, base) << "variant " << v;
    EXPECT_TRUE(seen.insert(d).second) << "variant " << v << " collides";
  }
}

TEST(Trace, DigestIdenticalWithAndWithoutSink) {
  for (int v = 0; v <= 16; ++v) {
    std::ostringstream out;
    EXPECT_EQ(digest_of(v, nullptr), digest_of(v, &out)) << "variant " << v;
    EXPECT_FALSE(out.str().empty());
  }
}

TEST(Trace, HeaderAndEndAreNotInTheDigest) {
  Trace a, b;
  std::ostringstream out;
  b.set_sink(&out);
  b.write_header(R"({"build":"abc"})");
  a.event(1, 0, "x", {});
  b.event(1, 0, "x", {});
  b.write_end(R"("wall_ms":12)");
  EXPECT_EQ(a.digest(), b.digest());
  EXPECT_EQ(a.count(), b.count());
}

TEST(Trace, DigestMixesExtra) {
  Trace t;
  t.event(1, 0, "x", {});
  EXPECT_NE(t.digest(1), t.digest(2));
  EXPECT_EQ(t.digest(1), t.digest(1));
  Trace empty;
  EXPECT_NE(empty.digest(), t.digest());
}

TEST(Trace, LargeTracesAreFlushedAndComplete) {
  std::ostringstream out;
  {
    Trace t;
    t.set_sink(&out);
    for (uint64_t i = 0; i < 5000; ++i) t.event(static_cast<Time>(i), 1, "tick", {{"i2", i}, {"pad", "xxxxxxxxxxxxxxxxxxxxxxxx"}});
    EXPECT_FALSE(out.str().empty());  // flushed on its own past the buffer size
  }  // the destructor flushes the rest
  const auto lines = parse_lines(out.str());
  ASSERT_EQ(lines.size(), 5000u);
  for (uint64_t i = 0; i < 5000; ++i) {
    ASSERT_EQ(lines[i]["i"].get<uint64_t>(), i);
    ASSERT_EQ(lines[i]["i2"].get<uint64_t>(), i);
  }
}

TEST(Trace, NoOutputWithoutSink) {
  Trace t;
  EXPECT_FALSE(t.enabled());
  t.write_header("{}");
  EXPECT_EQ(t.event(1, 0, "x", {}), 0u);
  EXPECT_EQ(t.event(1, 0, "x", {}), 1u);
  t.write_end("");
  t.flush();
  EXPECT_EQ(t.count(), 2u);
}

TEST(Trace, CloseFlushesAndIgnoresLaterEvents) {
  std::ostringstream out;
  Trace t;
  t.set_sink(&out);
  t.event(1, 0, "before", {});
  const uint64_t d = t.digest();
  t.close();
  EXPECT_FALSE(t.enabled());
  const std::string text = out.str();
  EXPECT_NE(text.find("before"), std::string::npos);  // flushed by close
  t.event(2, 0, "after", {});
  t.write_end("");
  t.flush();
  EXPECT_EQ(out.str(), text);
  EXPECT_EQ(t.count(), 1u);
  EXPECT_EQ(t.digest(), d);
}

struct Ev {
  Time t;
  int node;
  std::string kind;
  uint64_t u;
  std::string s;
  int64_t i;
  bool b;
  bool fault;
};

uint64_t digest_events(const std::vector<Ev>& evs) {
  Trace t;
  for (const Ev& e : evs) t.event(e.t, e.node, e.kind, {{"u", e.u}, {"s", e.s}, {"i", e.i}, {"b", e.b}}, e.fault);
  return t.digest();
}

RC_GTEST_PROP(TraceProp, AnySingleChangeChangesTheDigest, ()) {
  auto evs = *rc::gen::nonEmpty(rc::gen::container<std::vector<Ev>>(rc::gen::build<Ev>(
      rc::gen::set(&Ev::t, rc::gen::inRange<Time>(0, 1000)), rc::gen::set(&Ev::node, rc::gen::inRange(-1, 4)),
      rc::gen::set(&Ev::kind, rc::gen::element<std::string>("send", "recv", "crash")),
      rc::gen::set(&Ev::u, rc::gen::arbitrary<uint64_t>()), rc::gen::set(&Ev::s, rc::gen::arbitrary<std::string>()),
      rc::gen::set(&Ev::i, rc::gen::arbitrary<int64_t>()), rc::gen::set(&Ev::b, rc::gen::arbitrary<bool>()),
      rc::gen::set(&Ev::fault, rc::gen::arbitrary<bool>()))));
  const uint64_t base = digest_events(evs);
  RC_ASSERT(digest_events(evs) == base);
  const size_t k = *rc::gen::inRange<size_t>(0, evs.size());
  Ev& e = evs[k];
  switch (*rc::gen::inRange(0, 8)) {
    case 0: e.t += *rc::gen::inRange<Time>(1, 100); break;
    case 1: e.node = e.node == 3 ? -1 : e.node + 1; break;
    case 2: e.kind += "x"; break;
    case 3: e.u ^= uint64_t{1} << *rc::gen::inRange(0, 64); break;
    case 4: e.s.push_back(*rc::gen::arbitrary<char>()); break;
    case 5: e.i = ~e.i; break;
    case 6: e.b = !e.b; break;
    case 7: e.fault = !e.fault; break;
  }
  RC_ASSERT(digest_events(evs) != base);
}

}  // namespace
}  // namespace sim
